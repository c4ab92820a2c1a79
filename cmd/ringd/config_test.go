package main

import (
	"bufio"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/xmpp/server"
)

func TestLoadConfigNoFile(t *testing.T) {
	s, err := loadConfig("")
	if err != nil {
		t.Fatalf("loadConfig(%q) error: %v", "", err)
	}
	if !reflect.DeepEqual(s.server, server.Config{}) {
		t.Errorf("loadConfig(%q).server = %+v, want the zero Config (all defaults)", "", s.server)
	}
	if s.logLevel != slog.LevelInfo {
		t.Errorf("loadConfig(%q).logLevel = %v, want %v", "", s.logLevel, slog.LevelInfo)
	}
	if got := s.domain(); got != "localhost" {
		t.Errorf("domain() = %q, want %q", got, "localhost")
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name      string
		text      string
		want      server.Config
		wantLevel slog.Level
	}{
		{
			name:      "empty",
			text:      "",
			wantLevel: slog.LevelInfo,
		},
		{
			name:      "comments only",
			text:      "# nothing\n\n[c2s]\n",
			wantLevel: slog.LevelInfo,
		},
		{
			name: "every key",
			text: `
domain = "example.org"
admins = ["root@example.org", "ops@example.org"]
data_dir = "/var/lib/ringd"
log_level = "debug"

[c2s]
listen = "0.0.0.0:5222"
listen_tls = "-"

[websocket]
listen = ":8080"
path = "/ws"

[tls]
cert = "/etc/ringd/cert.pem"
key = "/etc/ringd/key.pem"

[storage]
driver = "mysql"
dsn = "ringd:pw@tcp(db:3306)/ringd"

[metrics]
listen = "-"

[limits]
max_stanza_bytes = 65536
auth_timeout = "1m30s"
max_resources = 3
outbound_queue_bytes = 4096
`,
			want: server.Config{
				Domain:    "example.org",
				Admins:    []string{"root@example.org", "ops@example.org"},
				DataDir:   "/var/lib/ringd",
				C2S:       server.C2SConfig{Listen: "0.0.0.0:5222", ListenTLS: "-"},
				WebSocket: server.WebSocketConfig{Listen: ":8080", Path: "/ws"},
				TLS:       server.TLSConfig{Cert: "/etc/ringd/cert.pem", Key: "/etc/ringd/key.pem"},
				Storage:   server.StorageConfig{Driver: "mysql", DSN: "ringd:pw@tcp(db:3306)/ringd"},
				Metrics:   server.MetricsConfig{Listen: "-"},
				Limits: server.LimitsConfig{
					MaxStanzaBytes:     65536,
					AuthTimeout:        90 * time.Second,
					MaxResources:       3,
					OutboundQueueBytes: 4096,
				},
			},
			wantLevel: slog.LevelDebug,
		},
		{
			name:      "domain and admins normalised",
			text:      `domain = "Example.ORG"` + "\n" + `admins = ["Root@Example.org"]`,
			want:      server.Config{Domain: "example.org", Admins: []string{"root@example.org"}},
			wantLevel: slog.LevelInfo,
		},
		{
			name:      "log level is case-insensitive",
			text:      `log_level = "WARN"`,
			wantLevel: slog.LevelWarn,
		},
		{
			name:      "relative data_dir kept as written",
			text:      `data_dir = "state/ringd"`,
			want:      server.Config{DataDir: "state/ringd"},
			wantLevel: slog.LevelInfo,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseConfig(tc.text)
			if err != nil {
				t.Fatalf("parseConfig(%q) error: %v", tc.text, err)
			}
			if !reflect.DeepEqual(s.server, tc.want) {
				t.Errorf("parseConfig(%q).server =\n%+v\nwant\n%+v", tc.text, s.server, tc.want)
			}
			if s.logLevel != tc.wantLevel {
				t.Errorf("parseConfig(%q).logLevel = %v, want %v", tc.text, s.logLevel, tc.wantLevel)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string // the error message, exactly
	}{
		{
			name: "unknown top-level key",
			text: "domain = \"x.org\"\ndomian = \"x.org\"\n",
			want: "unknown key domian",
		},
		{
			name: "unknown key in a table",
			text: "[c2s]\nlisten = \"-\"\nlisen = \"-\"\n",
			want: "unknown key c2s.lisen",
		},
		{
			name: "unknown table reported once",
			text: "[stun]\nsecret = \"x\"\nrealm = \"y\"\n",
			want: "unknown key stun",
		},
		{
			name: "unknown array of tables reported once",
			text: "[[peer]]\nhost = \"a\"\n[[peer]]\nhost = \"b\"\n",
			want: "unknown key peer",
		},
		{
			name: "several unknown keys",
			text: "b = 1\na = 2\n[limits]\nmax_stanzas = 3\n",
			want: "unknown keys a, b, limits.max_stanzas",
		},
		{
			name: "bad duration",
			text: "[limits]\nauth_timeout = \"30\"\n",
			want: `limits.auth_timeout: "30" is not a duration such as "30s" or "1m30s"`,
		},
		{
			name: "negative duration",
			text: "[limits]\nauth_timeout = \"-5s\"\n",
			want: `limits.auth_timeout: "-5s" is negative`,
		},
		{
			name: "negative limit",
			text: "[limits]\nmax_resources = -1\n",
			want: "limits.max_resources: -1 is negative (0 or absent means the default)",
		},
		{
			name: "bad TOML has its line",
			text: "domain = \"x.org\"\n\ndata_dir = data\n",
			want: `line 3: data_dir: expected value but found "data" instead`,
		},
		{
			name: "wrong type has its line",
			text: "domain = \"x.org\"\n[limits]\nmax_resources = \"ten\"\n",
			want: "line 3: limits.max_resources: incompatible types: TOML value has type string; destination has type integer",
		},
		{
			name: "table syntax error",
			text: "domain = \"x.org\"\n[c2s\nlisten = \"-\"\n",
			want: "line 3: expected '.' or ']' to end table name, but got '\\n' instead",
		},
		{
			name: "duplicate key",
			text: "domain = \"x.org\"\ndomain = \"y.org\"\n",
			want: "line 2: domain: Key 'domain' has already been defined.",
		},
		{
			name: "bad log level",
			text: `log_level = "loud"`,
			want: `log_level: "loud" is not a log level (want debug, info, warn or error)`,
		},
		{
			name: "admin with resource",
			text: `admins = ["root@x.org/phone"]`,
			want: `admins: "root@x.org/phone" is not a bare JID of the form user@domain`,
		},
		{
			name: "bad domain",
			text: `domain = "a@b"`,
			want: `domain: "a@b" is not a valid domain: `,
		},
		{
			name: "every problem reported",
			text: "log_level = \"loud\"\n[limits]\nmax_resources = -1\n",
			want: "log_level: \"loud\" is not a log level (want debug, info, warn or error)\nlimits.max_resources: -1 is negative (0 or absent means the default)",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(tc.text)
			if err == nil {
				t.Fatalf("parseConfig(%q) = nil error, want %q", tc.text, tc.want)
			}
			got := err.Error()
			if strings.HasSuffix(tc.want, " ") {
				if !strings.HasPrefix(got, tc.want) {
					t.Errorf("parseConfig(%q) error = %q, want prefix %q", tc.text, got, tc.want)
				}
			} else if got != tc.want {
				t.Errorf("parseConfig(%q) error = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("domain = \"x.org\"\ndata_dir = data\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.toml")
	tests := []struct {
		name string
		path string
		want string // prefix of the error
	}{
		{"syntax error as file:line", bad, "config " + bad + ":2: data_dir: expected value"},
		{"missing file", missing, "config: open " + missing + ": "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.path)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("loadConfig(%q) error = %v, want prefix %q", tc.path, err, tc.want)
			}
		})
	}
}

// TestExampleConfig checks that ringd.example.toml parses, holds exactly
// the documented defaults, and mentions every key of the file format.
func TestExampleConfig(t *testing.T) {
	const path = "ringd.example.toml"
	s, err := loadConfig(path)
	if err != nil {
		t.Fatalf("loadConfig(%q) error: %v", path, err)
	}
	// The example must spell out exactly the server's own defaults.
	if got, want := s.server.WithDefaults(), (server.Config{}).WithDefaults(); !reflect.DeepEqual(got, want) {
		t.Errorf("loadConfig(%q).server with defaults =\n%+v\nwant the server's defaults\n%+v", path, got, want)
	}
	if s.logLevel != slog.LevelInfo {
		t.Errorf("loadConfig(%q).logLevel = %v, want %v", path, s.logLevel, slog.LevelInfo)
	}

	listed, err := exampleKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	want := formatKeys(reflect.TypeFor[fileConfig](), "")
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("%s lists keys\n%v\nwant\n%v", path, listed, want)
	}
}

// exampleKeys returns the keys set or shown commented out in the file, as
// table.key.
func exampleKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	table := regexp.MustCompile(`^\[([a-z0-9_]+)\]`)
	key := regexp.MustCompile(`^#? ?([a-z0-9_]+) = `)
	var keys []string
	prefix := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := table.FindStringSubmatch(sc.Text()); m != nil {
			prefix = m[1] + "."
		} else if m := key.FindStringSubmatch(sc.Text()); m != nil {
			keys = append(keys, prefix+m[1])
		}
	}
	return keys, sc.Err()
}

// formatKeys returns every key of the file format, from the toml tags.
func formatKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for f := range t.Fields() {
		name := f.Tag.Get("toml")
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, formatKeys(f.Type, prefix+name+".")...)
			continue
		}
		keys = append(keys, prefix+name)
	}
	return keys
}
