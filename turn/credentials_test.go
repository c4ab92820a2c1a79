package turn

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	pturn "github.com/pion/turn/v5"
)

func TestNewCredentials(t *testing.T) {
	tests := []struct {
		name, secret, user string
		expires            time.Time
		wantUser, wantPass string
	}{
		// Known answers computed with Python's hmac module.
		{"protocol example", "north-wind", "alice@example.net", time.Unix(1732300000, 0), "1732300000:alice@example.net", "mdfdSatgi1lcC1oSr/Gft4zm5lQ="},
		{"far future", "s3cret", "bob@localhost", time.Unix(4102444800, 999_000_000), "4102444800:bob@localhost", "zlh76XjyifPrBTozVyNxadkvDuo="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCredentials(Secret(tc.secret), tc.user, tc.expires)
			if c.Username != tc.wantUser || c.Password != tc.wantPass {
				t.Errorf("NewCredentials(%q, %v) = %q, %q, want %q, %q", tc.user, tc.expires, c.Username, c.Password, tc.wantUser, tc.wantPass)
			}
			if want := time.Unix(tc.expires.Unix(), 0).UTC(); !c.Expires.Equal(want) || c.Expires.Location() != time.UTC {
				t.Errorf("Expires = %v, want %v", c.Expires, want)
			}
		})
	}
}

// TestCredentialsMatchPion holds that our credentials are exactly pion's
// GenerateLongTermTURNRESTCredentials ("expiry:user"), so pion's own
// handlers and tools agree with ours.
func TestCredentialsMatchPion(t *testing.T) {
	user, pass, err := pturn.GenerateLongTermTURNRESTCredentials("secret", "alice@localhost", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ts, _, _ := strings.Cut(user, ":")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatalf("pion username %q has no unix time: %v", user, err)
	}
	c := NewCredentials("secret", "alice@localhost", time.Unix(sec, 0))
	if c.Username != user || c.Password != pass {
		t.Errorf("NewCredentials = %q, %q; pion = %q, %q", c.Username, c.Password, user, pass)
	}
}

func TestParseUsername(t *testing.T) {
	tests := []struct {
		in       string
		wantExp  int64
		wantUser string
		wantErr  error
	}{
		{"1732300000:alice@example.net", 1732300000, "alice@example.net", nil},
		{"1:a:b", 1, "a:b", nil},
		{"1732300000", 0, "", ErrBadUsername},
		{"1732300000:", 0, "", ErrBadUsername},
		{":alice@example.net", 0, "", ErrBadUsername},
		{"-1:alice@example.net", 0, "", ErrBadUsername},
		{"+1:alice@example.net", 0, "", ErrBadUsername},
		{"12x:alice@example.net", 0, "", ErrBadUsername},
		{"99999999999999999999:alice", 0, "", ErrBadUsername},
		{"alice:1732300000", 0, "", ErrBadUsername},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			exp, user, err := ParseUsername(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseUsername(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if err == nil && (exp.Unix() != tc.wantExp || user != tc.wantUser) {
				t.Errorf("ParseUsername(%q) = %v, %q, want %d, %q", tc.in, exp.Unix(), user, tc.wantExp, tc.wantUser)
			}
		})
	}
}

// TestRedaction holds that secrets and passwords never print.
func TestRedaction(t *testing.T) {
	const secret = "do-not-print-me"
	c := NewCredentials(secret, "alice@localhost", time.Unix(1732300000, 0))
	svc := Service{Type: "turn", Host: "turn.example.net", Port: 3478, Transport: "udp", Secret: secret}
	cfg := Config{Secret: secret, Realm: "localhost"}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", Secret(secret), "svc", svc, "cred", c)
	for _, s := range []string{
		fmt.Sprint(Secret(secret)), fmt.Sprintf("%#v", Secret(secret)),
		fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprint(svc), fmt.Sprintf("%+v", svc), fmt.Sprintf("%#v", svc),
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg),
		logged.String(),
	} {
		if strings.Contains(s, secret) || strings.Contains(s, c.Password) {
			t.Errorf("printed %q: contains the secret or the password", s)
		}
	}
	if got := redact(`auth failed for "1732300000:alice@example.net" from 127.0.0.1:3478`); strings.Contains(got, "alice") || !strings.Contains(got, "127.0.0.1:3478") {
		t.Errorf("redact = %q, want the username hidden and the address kept", got)
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "turn-secret")
	s1, err := LoadOrCreateSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) < 20 {
		t.Errorf("generated secret has %d characters, want at least 20", len(s1))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode = %v, want 0600", fi.Mode().Perm())
	}
	s2, err := LoadOrCreateSecret(path)
	if err != nil || s2 != s1 {
		t.Errorf("second LoadOrCreateSecret = (different secret: %v), %v; want the same secret", s2 != s1, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d files, want only the secret", len(entries))
	}

	tests := []struct {
		name, content string
		want          Secret
		wantErr       bool
	}{
		{"operator's secret", "  configured-secret\n", "configured-secret", false},
		{"empty file", "\n", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "s")
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := LoadOrCreateSecret(p)
			if (err != nil) != tc.wantErr || string(got) != string(tc.want) {
				t.Errorf("LoadOrCreateSecret = %q, %v; want %q, error %v", string(got), err, string(tc.want), tc.wantErr)
			}
		})
	}
	if _, err := LoadOrCreateSecret(filepath.Join(dir, "missing-dir", "s")); err == nil {
		t.Error("LoadOrCreateSecret in a missing directory succeeded")
	}
}
