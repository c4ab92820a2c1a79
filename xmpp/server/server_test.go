package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/xmpp/server"
)

// syncBuffer is a log sink the test can read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type running struct {
	logs, notices *syncBuffer
	cancel        context.CancelFunc
	done          chan error
}

func start(t *testing.T, dataDir string) *running {
	t.Helper()
	r := &running{logs: &syncBuffer{}, notices: &syncBuffer{}, done: make(chan error, 1)}
	cfg := server.Config{
		DataDir:   dataDir,
		C2S:       server.C2SConfig{Listen: "127.0.0.1:0", ListenTLS: "127.0.0.1:0"},
		WebSocket: server.WebSocketConfig{Listen: "127.0.0.1:0"},
		Metrics:   server.MetricsConfig{Listen: "127.0.0.1:0"},
		Notices:   r.notices,
		Version:   "test",
	}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- srv.Run(ctx) }()
	waitFor(t, "ringd started", func() bool { return strings.Contains(r.logs.String(), "ringd started") })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func (r *running) addr(t *testing.T, listener string) string {
	t.Helper()
	m := regexp.MustCompile(`listener=` + listener + ` addr=(\S+)`).FindStringSubmatch(r.logs.String())
	if m == nil {
		t.Fatalf("no %s listener in logs:\n%s", listener, r.logs.String())
	}
	return m[1]
}

func TestRunLifecycle(t *testing.T) {
	dir := t.TempDir()
	r := start(t, dir)

	if !regexp.MustCompile(`created admin@localhost with password \S{12,}`).MatchString(r.notices.String()) {
		t.Errorf("first start notice %q, want the admin password", r.notices.String())
	}
	for _, f := range []string{"ringd.db", "secret", "tls/cert.pem", "tls/key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("first start did not create %s: %v", f, err)
		}
	}
	metrics := "http://" + r.addr(t, "metrics")
	for path, want := range map[string]string{
		"/healthz": "ok",
		"/metrics": "ringd_c2s_connections",
	} {
		resp, err := http.Get(metrics + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, want 200 with %q", path, resp.StatusCode, want)
		}
	}
	for _, want := range []string{"go_goroutines", "ringd_router_sessions", "ringd_c2s_auth_total", "ringd_presence_broadcasts_total"} {
		resp, err := http.Get(metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	conn, err := tls.Dial("tcp", r.addr(t, "c2s-tls"), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("direct TLS: %v", err)
	}
	if v := conn.ConnectionState().Version; v < tls.VersionTLS12 {
		t.Errorf("TLS version %x, want ≥ 1.2", v)
	}
	conn.Close()
	_, err = tls.Dial("tcp", r.addr(t, "c2s-tls"), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if err == nil {
		t.Error("a TLS 1.1 handshake succeeded, want it refused")
	}
	r.stop(t)

	cert, err := os.ReadFile(filepath.Join(dir, "tls/cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	r2 := start(t, dir)
	defer r2.stop(t)
	if r2.notices.String() != "" {
		t.Errorf("second start printed %q, want nothing", r2.notices.String())
	}
	cert2, _ := os.ReadFile(filepath.Join(dir, "tls/cert.pem"))
	if !bytes.Equal(cert, cert2) {
		t.Error("second start replaced the certificate")
	}
	if c, err := net.Dial("tcp", r2.addr(t, "c2s")); err != nil {
		t.Errorf("c2s after restart: %v", err)
	} else {
		c.Close()
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"cert without key", server.Config{TLS: server.TLSConfig{Cert: "c.pem"}}, "cert and key"},
		{"unknown driver", server.Config{Storage: server.StorageConfig{Driver: "postgres"}}, "unknown driver"},
		{"tiny stanza limit", server.Config{Limits: server.LimitsConfig{MaxStanzaBytes: 100}}, "max_stanza_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := server.New(tc.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New() = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
