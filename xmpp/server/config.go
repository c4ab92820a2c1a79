package server

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/ringd/ringd/turn"
)

// Config is everything the server needs; cmd/ringd fills it from the TOML
// file. The zero value of every field means "use the default" (see
// withDefaults), so Config{} runs a working server for localhost.
type Config struct {
	Domain  string   // default "localhost"
	Admins  []string // bare JIDs with admin rights; default admin@<domain>
	DataDir string   // default "./data"

	C2S       C2SConfig
	WebSocket WebSocketConfig
	TLS       TLSConfig
	Storage   StorageConfig
	Metrics   MetricsConfig
	Limits    LimitsConfig
	Offline   OfflineConfig
	Delivery  DeliveryConfig
	Jingle    JingleConfig
	// TURN configures the embedded STUN/TURN relay and XEP-0215.
	TURN TURNConfig
	// StreamManagement configures XEP-0198.
	StreamManagement StreamManagementConfig

	// Version is what XEP-0092 reports; default "dev".
	Version string

	// Notices receives the one-time first-start message with the admin
	// password; nil is os.Stdout.
	Notices io.Writer
}

// C2SConfig configures client-to-server TCP listeners.
type C2SConfig struct {
	Listen    string // STARTTLS; default "127.0.0.1:5222"; "-" disables
	ListenTLS string // direct TLS, XEP-0368; default "127.0.0.1:5223"; "-" disables
}

// WebSocketConfig configures the RFC 7395 listener.
type WebSocketConfig struct {
	Listen string // default "127.0.0.1:5280"; "-" disables
	Path   string // default "/xmpp-websocket"
}

// TLSConfig names the certificate; both empty means a self-signed
// certificate generated on first start under DataDir.
type TLSConfig struct {
	Cert string
	Key  string
}

// StorageConfig selects the backend.
type StorageConfig struct {
	Driver string // "sqlite" (default) or "mysql"
	// DSN for the driver; for sqlite the default is <DataDir>/ringd.db.
	DSN string
	// Connection pool (mysql only); zero values take storage/mysql's
	// defaults.
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// MetricsConfig configures the Prometheus listener.
type MetricsConfig struct {
	Listen string // default "127.0.0.1:9090"; "-" disables
	// Pprof also serves Go's profiles under /debug/pprof/ on the same
	// listener, for operators who profile a live server.
	Pprof bool
}

// LimitsConfig bounds what one client may do.
type LimitsConfig struct {
	MaxStanzaBytes     int           // default 256 KiB
	AuthTimeout        time.Duration // from connect to bound resource; default 30s
	MaxResources       int           // sessions per account; default 10
	OutboundQueueBytes int           // per-session queued bytes before the session is cut; default 1 MiB
	ShutdownTimeout    time.Duration // how long a graceful stop may take; default 10s
}

// DeliveryConfig configures delivery guarantees.
type DeliveryConfig struct {
	// DedupeWindow is how long a message's origin-id (or id) is remembered
	// per sender and recipient, so a client's retry is acknowledged but not
	// delivered twice; default 10 minutes.
	DedupeWindow time.Duration
	// DisableInflightRecords turns off the durable in-flight record of
	// messages queued for clients with stream management (xmpp/inflight):
	// senders are then acknowledged without it, and a crash loses what
	// recipients had not acknowledged.
	DisableInflightRecords bool
	// InflightLinger is how long a batch of in-flight records waits before
	// it is committed; default 5ms (inflight.DefaultLinger).
	InflightLinger time.Duration
}

// JingleConfig configures call signalling.
type JingleConfig struct {
	// RingTimeout ends an unanswered call as missed; default 60s.
	RingTimeout time.Duration
}

// TURNConfig configures the embedded STUN/TURN relay (package turn) and
// the XEP-0215 services clients are told about (package extdisco): the
// relay's when Enabled, and External ones such as coturn. Zero fields take
// turn's defaults.
type TURNConfig struct {
	Enabled           bool           // run the embedded relay
	Listen            string         // UDP and TCP; default "127.0.0.1:3478"
	PublicIP          netip.Addr     // relay and service address; default the listen IP
	RelayPorts        turn.PortRange // default 49152-65535
	Realm             string         // default Domain
	Secret            turn.Secret    // empty: generated once into <DataDir>/turn-secret
	TTL               time.Duration  // credential lifetime; default 24h
	UserQuota         int            // allocations per user at once; default 10
	AllowPrivatePeers bool           // relay to loopback/private peers (tests only)
	// External services (type, host, port, transport, secret); clients get
	// TURN REST credentials for those with a secret.
	External []turn.Service
}

// StreamManagementConfig configures XEP-0198.
type StreamManagementConfig struct {
	ResumeTimeout time.Duration // how long a cut session waits for resumption; default 5m
	MaxUnacked    int           // stanzas a client may leave unacknowledged; default 1000
	Location      string        // host:port offered for resumption; empty: the same address
}

// OfflineConfig configures offline message storage (XEP-0160).
type OfflineConfig struct {
	Quota int // messages kept per account; default 1000
}

// Disabled is the listen address that turns a listener off.
const Disabled = "-"

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config { return c.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if len(c.Admins) == 0 {
		c.Admins = []string{"admin@" + c.Domain}
	}
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.C2S.Listen == "" {
		c.C2S.Listen = "127.0.0.1:5222"
	}
	if c.C2S.ListenTLS == "" {
		c.C2S.ListenTLS = "127.0.0.1:5223"
	}
	if c.WebSocket.Listen == "" {
		c.WebSocket.Listen = "127.0.0.1:5280"
	}
	if c.WebSocket.Path == "" {
		c.WebSocket.Path = "/xmpp-websocket"
	}
	if c.Storage.Driver == "" {
		c.Storage.Driver = "sqlite"
	}
	if c.Metrics.Listen == "" {
		c.Metrics.Listen = "127.0.0.1:9090"
	}
	if c.Limits.ShutdownTimeout <= 0 {
		c.Limits.ShutdownTimeout = 10 * time.Second
	}
	if c.Jingle.RingTimeout <= 0 {
		c.Jingle.RingTimeout = 60 * time.Second
	}
	if c.Delivery.DedupeWindow <= 0 {
		c.Delivery.DedupeWindow = 10 * time.Minute
	}
	if c.Delivery.InflightLinger <= 0 {
		c.Delivery.InflightLinger = 5 * time.Millisecond
	}
	if c.StreamManagement.ResumeTimeout <= 0 {
		c.StreamManagement.ResumeTimeout = 5 * time.Minute
	}
	if c.StreamManagement.MaxUnacked <= 0 {
		c.StreamManagement.MaxUnacked = 1000
	}
	if c.TURN.Listen == "" {
		c.TURN.Listen = turn.DefaultListen
	}
	if c.TURN.RelayPorts == (turn.PortRange{}) {
		c.TURN.RelayPorts = turn.PortRange{Min: turn.DefaultRelayPortMin, Max: turn.DefaultRelayPortMax}
	}
	if c.TURN.Realm == "" {
		c.TURN.Realm = c.Domain
	}
	if c.TURN.TTL <= 0 {
		c.TURN.TTL = turn.DefaultTTL
	}
	if c.TURN.UserQuota <= 0 {
		c.TURN.UserQuota = turn.DefaultUserQuota
	}
	if c.Offline.Quota <= 0 {
		c.Offline.Quota = 1000
	}
	if c.Limits.MaxStanzaBytes <= 0 {
		c.Limits.MaxStanzaBytes = 256 << 10
	}
	if c.Limits.AuthTimeout <= 0 {
		c.Limits.AuthTimeout = 30 * time.Second
	}
	if c.Limits.MaxResources <= 0 {
		c.Limits.MaxResources = 10
	}
	if c.Limits.OutboundQueueBytes <= 0 {
		c.Limits.OutboundQueueBytes = 1 << 20
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		errs = append(errs, errors.New("tls: cert and key must be given together"))
	}
	switch c.Storage.Driver {
	case "sqlite", "mysql":
	default:
		errs = append(errs, fmt.Errorf("storage: unknown driver %q (want sqlite or mysql)", c.Storage.Driver))
	}
	if c.Storage.Driver == "mysql" && c.Storage.DSN == "" {
		errs = append(errs, errors.New("storage: driver mysql needs a dsn"))
	}
	if c.Limits.MaxStanzaBytes < 10<<10 {
		errs = append(errs, fmt.Errorf("limits: max_stanza_bytes %d is below the 10000 bytes RFC 6120 §13.12 requires", c.Limits.MaxStanzaBytes))
	}
	return errors.Join(errs...)
}
