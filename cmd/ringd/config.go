package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/turn"
	"github.com/ringd/ringd/xmpp/server"
)

// fileConfig is the TOML file format. Only this package knows it: the
// toml tags are the keys users write, and toServer maps them onto
// server.Config. An empty or absent key leaves the server.Config field at
// its zero value, which the server replaces by its default.
type fileConfig struct {
	Domain   string   `toml:"domain"`
	Admins   []string `toml:"admins"`
	DataDir  string   `toml:"data_dir"`
	LogLevel string   `toml:"log_level"`

	C2S       fileC2S       `toml:"c2s"`
	WebSocket fileWebSocket `toml:"websocket"`
	TLS       fileTLS       `toml:"tls"`
	Storage   fileStorage   `toml:"storage"`
	Metrics   fileMetrics   `toml:"metrics"`
	Limits    fileLimits    `toml:"limits"`
	Offline   fileOffline   `toml:"offline"`
	Delivery  fileDelivery  `toml:"delivery"`
	SM        fileSM        `toml:"stream_management"`
	Jingle    fileJingle    `toml:"jingle"`
	TURN      fileTURN      `toml:"turn"`
}

// fileTURN is [turn] and its [[turn.external]] tables.
type fileTURN struct {
	Enabled           bool   `toml:"enabled"`
	Listen            string `toml:"listen"`
	PublicIP          string `toml:"public_ip"`
	RelayPorts        string `toml:"relay_ports"` // "49152-65535"
	Realm             string `toml:"realm"`
	Secret            string `toml:"secret"`
	TTL               string `toml:"ttl"`
	UserQuota         int    `toml:"user_quota"`
	AllowPrivatePeers bool   `toml:"allow_private_peers"`

	External []fileTURNService `toml:"external"`
}

type fileTURNService struct {
	Type      string `toml:"type"`
	Host      string `toml:"host"`
	Port      int    `toml:"port"`
	Transport string `toml:"transport"` // default "udp"
	Secret    string `toml:"secret"`
}

type fileJingle struct {
	RingTimeout string `toml:"ring_timeout"`
}

type fileDelivery struct {
	DedupeWindow    string `toml:"dedupe_window"`
	InflightRecords *bool  `toml:"inflight_records"` // absent: true
	InflightLinger  string `toml:"inflight_linger"`
}

type fileSM struct {
	ResumeTimeout string `toml:"resume_timeout"`
	MaxUnacked    int    `toml:"max_unacked"`
	Location      string `toml:"location"`
}

type fileOffline struct {
	Quota int `toml:"quota"`
}

type fileC2S struct {
	Listen    string `toml:"listen"`
	ListenTLS string `toml:"listen_tls"`
}

type fileWebSocket struct {
	Listen string `toml:"listen"`
	Path   string `toml:"path"`
}

type fileTLS struct {
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

type fileStorage struct {
	Driver       string `toml:"driver"`
	DSN          string `toml:"dsn"`
	MaxOpenConns int    `toml:"max_open_conns"`
	MaxIdleConns int    `toml:"max_idle_conns"`
	// ConnMaxLifetime is a duration string, parsed here so errors name the key.
	ConnMaxLifetime string `toml:"conn_max_lifetime"`
}

type fileMetrics struct {
	Listen string `toml:"listen"`
	Pprof  bool   `toml:"pprof"`
}

type fileLimits struct {
	MaxStanzaBytes int `toml:"max_stanza_bytes"`
	// AuthTimeout is a time.ParseDuration string such as "30s"; it is
	// parsed here rather than by the toml package so the error names the key.
	AuthTimeout        string `toml:"auth_timeout"`
	MaxResources       int    `toml:"max_resources"`
	OutboundQueueBytes int    `toml:"outbound_queue_bytes"`
	ShutdownTimeout    string `toml:"shutdown_timeout"`
}

// settings is a loaded configuration: what the server needs plus what only
// the binary uses.
type settings struct {
	server   server.Config
	logLevel slog.Level
}

// defaultDomain mirrors the server's default domain. The user commands need
// it to check JIDs; server.Config does not export its defaults.
const defaultDomain = "localhost"

// domain returns the served domain, PRECIS-normalised. loadConfig has
// already checked that it is valid.
func (s settings) domain() string {
	d := s.server.Domain
	if d == "" {
		d = defaultDomain
	}
	if j, err := jid.New("", d, ""); err == nil {
		return j.Domainpart()
	}
	return d
}

// loadConfig reads the TOML file at path. An empty path means no file:
// every setting takes its default. Errors name the file and, where the
// toml package knows it, the line (file:line, as editors expect).
func loadConfig(path string) (settings, error) {
	if path == "" {
		return settings{logLevel: slog.LevelInfo}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return settings{}, fmt.Errorf("config: %w", err)
	}
	s, err := parseConfig(string(data))
	if le := (*lineError)(nil); errors.As(err, &le) {
		return settings{}, fmt.Errorf("config %s:%d: %s", path, le.line, le.text())
	}
	if err != nil {
		return settings{}, fmt.Errorf("config %s: %w", path, err)
	}
	return s, nil
}

// lineError is a syntax or type error at a known line of the file.
type lineError struct {
	line int
	key  string // the key being decoded, when known
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.text()) }

func (e *lineError) text() string {
	if e.key == "" {
		return e.msg
	}
	return e.key + ": " + e.msg
}

// tomlLineRE matches the errors of the toml package that are not
// ParseErrors (type mismatches); they carry the line in their text.
var tomlLineRE = regexp.MustCompile(`^toml: line ([0-9]+)(?: \(last key ("(?:[^"\\]|\\.)*")\))?: (.*)$`)

// tomlError turns an error of toml.Decode into a lineError when it knows
// the line.
func tomlError(err error) error {
	if pe := (toml.ParseError{}); errors.As(err, &pe) {
		return &lineError{line: pe.Position.Line, key: pe.LastKey, msg: pe.Message}
	}
	m := tomlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	line, _ := strconv.Atoi(m[1])
	key, _ := strconv.Unquote(m[2]) // "" when absent
	return &lineError{line: line, key: key, msg: m[3]}
}

// parseConfig decodes and checks the TOML text.
func parseConfig(text string) (settings, error) {
	var fc fileConfig
	md, err := toml.Decode(text, &fc)
	if err != nil {
		return settings{}, tomlError(err)
	}
	if keys := unknownKeys(md); len(keys) > 0 {
		word := "key"
		if len(keys) > 1 {
			word = "keys"
		}
		return settings{}, fmt.Errorf("unknown %s %s", word, strings.Join(keys, ", "))
	}
	return fc.toSettings()
}

// unknownKeys returns the keys the file has but fileConfig lacks, leaving
// out the keys under an unknown table (the table itself is reported).
func unknownKeys(md toml.MetaData) []string {
	undecoded := md.Undecoded()
	seen := make(map[string]bool, len(undecoded))
	var keys []string
	for _, k := range undecoded {
		name := k.String()
		under := len(k) > 1 && seen[k[:len(k)-1].String()]
		if !seen[name] && !under {
			keys = append(keys, name)
		}
		seen[name] = true
	}
	slices.Sort(keys)
	return keys
}

// toSettings checks what the file format alone can check and converts.
// Every failure is reported, each naming its key.
func (fc fileConfig) toSettings() (settings, error) {
	var errs []error
	s := settings{logLevel: slog.LevelInfo}
	if fc.LogLevel != "" {
		lvl, err := parseLevel(fc.LogLevel)
		if err != nil {
			errs = append(errs, fmt.Errorf("log_level: %w", err))
		}
		s.logLevel = lvl
	}
	// Domain and admins are stored PRECIS-normalised, the form in which
	// the server compares JIDs.
	domain := fc.Domain
	if domain != "" {
		j, err := jid.New("", domain, "")
		if err != nil {
			errs = append(errs, fmt.Errorf("domain: %q is not a valid domain: %w", domain, err))
		} else {
			domain = j.Domainpart()
		}
	}
	var admins []string
	for _, a := range fc.Admins {
		j, err := jid.Parse(a)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("admins: %q is not a valid JID: %w", a, err))
		case j.Resourcepart() != "" || j.Localpart() == "":
			errs = append(errs, fmt.Errorf("admins: %q is not a bare JID of the form user@domain", a))
		default:
			admins = append(admins, j.String())
		}
	}
	var authTimeout time.Duration
	if fc.Limits.AuthTimeout != "" {
		d, err := time.ParseDuration(fc.Limits.AuthTimeout)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("limits.auth_timeout: %q is not a duration such as \"30s\" or \"1m30s\"", fc.Limits.AuthTimeout))
		case d < 0:
			errs = append(errs, fmt.Errorf("limits.auth_timeout: %q is negative", fc.Limits.AuthTimeout))
		}
		authTimeout = d
	}
	parse := func(key, v string) time.Duration {
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %q is not a duration such as \"30s\" or \"10m\"", key, v))
		case d < 0 && key != "storage.conn_max_lifetime":
			errs = append(errs, fmt.Errorf("%s: %q is negative", key, v))
		}
		return d
	}
	connMaxLifetime := parse("storage.conn_max_lifetime", fc.Storage.ConnMaxLifetime)
	shutdownTimeout := parse("limits.shutdown_timeout", fc.Limits.ShutdownTimeout)
	dedupeWindow := parse("delivery.dedupe_window", fc.Delivery.DedupeWindow)
	inflightLinger := parse("delivery.inflight_linger", fc.Delivery.InflightLinger)
	resumeTimeout := parse("stream_management.resume_timeout", fc.SM.ResumeTimeout)
	ringTimeout := parse("jingle.ring_timeout", fc.Jingle.RingTimeout)
	turnCfg := fc.TURN.toServer(parse("turn.ttl", fc.TURN.TTL), &errs)
	for _, l := range []struct {
		key string
		v   int
	}{
		{"limits.max_stanza_bytes", fc.Limits.MaxStanzaBytes},
		{"limits.max_resources", fc.Limits.MaxResources},
		{"limits.outbound_queue_bytes", fc.Limits.OutboundQueueBytes},
		{"offline.quota", fc.Offline.Quota},
		{"storage.max_open_conns", fc.Storage.MaxOpenConns},
		{"stream_management.max_unacked", fc.SM.MaxUnacked},
		{"turn.user_quota", fc.TURN.UserQuota},
	} {
		if l.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative (0 or absent means the default)", l.key, l.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return settings{}, err
	}
	s.server = server.Config{
		Domain:  domain,
		Admins:  admins,
		DataDir: fc.DataDir,
		C2S: server.C2SConfig{
			Listen:    fc.C2S.Listen,
			ListenTLS: fc.C2S.ListenTLS,
		},
		WebSocket: server.WebSocketConfig{
			Listen: fc.WebSocket.Listen,
			Path:   fc.WebSocket.Path,
		},
		TLS: server.TLSConfig{
			Cert: fc.TLS.Cert,
			Key:  fc.TLS.Key,
		},
		Storage: server.StorageConfig{
			Driver:          fc.Storage.Driver,
			DSN:             fc.Storage.DSN,
			MaxOpenConns:    fc.Storage.MaxOpenConns,
			MaxIdleConns:    fc.Storage.MaxIdleConns,
			ConnMaxLifetime: connMaxLifetime,
		},
		Metrics: server.MetricsConfig{
			Listen: fc.Metrics.Listen,
			Pprof:  fc.Metrics.Pprof,
		},
		Limits: server.LimitsConfig{
			MaxStanzaBytes:     fc.Limits.MaxStanzaBytes,
			AuthTimeout:        authTimeout,
			MaxResources:       fc.Limits.MaxResources,
			OutboundQueueBytes: fc.Limits.OutboundQueueBytes,
			ShutdownTimeout:    shutdownTimeout,
		},
		Jingle: server.JingleConfig{
			RingTimeout: ringTimeout,
		},
		Delivery: server.DeliveryConfig{
			DedupeWindow:           dedupeWindow,
			DisableInflightRecords: fc.Delivery.InflightRecords != nil && !*fc.Delivery.InflightRecords,
			InflightLinger:         inflightLinger,
		},
		StreamManagement: server.StreamManagementConfig{
			ResumeTimeout: resumeTimeout,
			MaxUnacked:    fc.SM.MaxUnacked,
			Location:      fc.SM.Location,
		},
		Offline: server.OfflineConfig{
			Quota: fc.Offline.Quota,
		},
		TURN: turnCfg,
	}
	return s, nil
}

// parseLevel parses a log level name as written in the config file and on
// the command line.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("%q is not a log level (want debug, info, warn or error)", s)
}

// toServer converts [turn], appending to errs an error naming the key for
// every value the file format alone can reject.
func (ft fileTURN) toServer(ttl time.Duration, errs *[]error) server.TURNConfig {
	c := server.TURNConfig{
		Enabled:           ft.Enabled,
		Listen:            ft.Listen,
		Realm:             ft.Realm,
		Secret:            turn.Secret(ft.Secret),
		TTL:               ttl,
		UserQuota:         ft.UserQuota,
		AllowPrivatePeers: ft.AllowPrivatePeers,
	}
	if ft.PublicIP != "" {
		ip, err := netip.ParseAddr(ft.PublicIP)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("turn.public_ip: %q is not an IP address", ft.PublicIP))
		}
		c.PublicIP = ip
	}
	if ft.RelayPorts != "" {
		r, err := turn.ParsePortRange(ft.RelayPorts)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("turn.relay_ports: %q is not a port range such as \"49152-65535\"", ft.RelayPorts))
		}
		c.RelayPorts = r
	}
	for i, e := range ft.External {
		key := fmt.Sprintf("turn.external[%d]", i+1)
		switch e.Type {
		case "stun", "stuns", "turn", "turns":
		default:
			*errs = append(*errs, fmt.Errorf("%s.type: %q is not stun, stuns, turn or turns", key, e.Type))
		}
		if e.Host == "" {
			*errs = append(*errs, fmt.Errorf("%s.host: missing", key))
		}
		if e.Port < 1 || e.Port > 65535 {
			*errs = append(*errs, fmt.Errorf("%s.port: %d is not a port (1 to 65535)", key, e.Port))
		}
		if e.Transport == "" {
			e.Transport = "udp"
		}
		if e.Transport != "udp" && e.Transport != "tcp" {
			*errs = append(*errs, fmt.Errorf("%s.transport: %q is not udp or tcp", key, e.Transport))
		}
		if (e.Type == "turn" || e.Type == "turns") && e.Secret == "" {
			*errs = append(*errs, fmt.Errorf("%s.secret: a TURN service needs its shared secret (coturn's static-auth-secret)", key))
		}
		c.External = append(c.External, turn.Service{Type: e.Type, Host: e.Host, Port: e.Port, Transport: e.Transport, Secret: turn.Secret(e.Secret)})
	}
	return c
}
