package turn_test

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/ringd/ringd/turn"
)

// coturn is a turnserver process (Debian package coturn) on loopback.
type coturn struct {
	addr string // 127.0.0.1:port, UDP and TCP
	out  *syncBuffer
}

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

// startCoturn runs turnserver with TURN REST authentication
// (use-auth-secret) for secret and realm, allowing loopback peers, until
// the test ends. Without turnserver the test is skipped, or fails when
// CI=true (scripts/test.sh installs coturn).
func startCoturn(t testing.TB, secret turn.Secret, realm string) *coturn {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("turnserver not found: install the Debian package coturn (scripts/test.sh does)")
		}
		t.Skip("turnserver not found: apt-get install coturn to run the coturn interop tests (CI=true fails instead)")
	}
	dir := t.TempDir()
	// turnserver cannot listen on port 0: pick a port free for UDP and TCP
	// and retry on the rare collision.
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		out := &syncBuffer{}
		cmd := exec.Command(bin, "-n",
			"--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
			"--relay-ip=127.0.0.1", "--min-port=49152", "--max-port=65535",
			"--use-auth-secret", "--static-auth-secret="+string(secret), "--realm="+realm,
			"--allow-loopback-peers", "--no-cli", "--no-tls", "--no-dtls", "--no-rfc5780",
			"--no-software-attribute", "--log-file=stdout", "--simple-log",
			"--pidfile="+filepath.Join(dir, "turnserver.pid"), "--db="+filepath.Join(dir, "turndb"),
		)
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = procAttr()
		if err := cmd.Start(); err != nil {
			t.Fatalf("start turnserver: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(ioTimeout):
				cmd.Process.Kill()
				<-exited
			}
		}
		c := &coturn{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: out}
		if c.ready(exited) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("turnserver output:\n%s", out)
				}
			})
			return c
		}
		stop()
		if attempt == 3 {
			t.Fatalf("turnserver did not answer on %s:\n%s", c.addr, out)
		}
	}
}

// ready polls with STUN binding requests until coturn answers.
func (c *coturn) ready(exited <-chan struct{}) bool {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return false
	}
	defer conn.Close()
	dst, _ := net.ResolveUDPAddr("udp4", c.addr)
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	buf := make([]byte, 1500)
	deadline := time.Now().Add(ioTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		conn.WriteTo(req.Raw, dst)
		conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, _, err := conn.ReadFrom(buf); err == nil && stun.IsMessage(buf[:n]) {
			return true
		}
	}
	return false
}

// freePort returns a loopback port that was free for UDP and TCP.
func freePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp4", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// TestCoturnInterop: credentials ringd hands out through XEP-0215 for an
// external coturn are accepted by a real coturn, over UDP and TCP, and two
// clients exchange datagrams through its relays; coturn refuses expired
// and tampered ones with 401, as the embedded relay does. The embedded
// relay's credentials work on coturn too when both share the secret.
func TestCoturnInterop(t *testing.T) {
	co := startCoturn(t, testSecret, testRealm)
	host, portStr, _ := net.SplitHostPort(co.addr)
	port, _ := strconv.Atoi(portStr)
	external := []turn.Service{
		{Type: "stun", Host: host, Port: port, Transport: "udp"},
		{Type: "turn", Host: host, Port: port, Transport: "udp", Secret: testSecret},
		{Type: "turn", Host: host, Port: port, Transport: "tcp", Secret: testSecret},
	}
	alice := discover(t, external, "alice@localhost")
	bob := discover(t, external, "bob@localhost")
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			as, bs := find(t, alice, "turn", tr), find(t, bob, "turn", tr)
			a := newClient(t, as.addr(), tr, as.Username, as.Password)
			b := newClient(t, bs.addr(), tr, bs.Username, bs.Password)
			if err := a.allocate(); err != nil {
				t.Fatalf("alice: Allocate on coturn: %v", err)
			}
			if err := b.allocate(); err != nil {
				t.Fatalf("bob: Allocate on coturn: %v", err)
			}
			if err := a.CreatePermission(b.relay.LocalAddr()); err != nil {
				t.Fatalf("alice: CreatePermission: %v", err)
			}
			if err := b.CreatePermission(a.relay.LocalAddr()); err != nil {
				t.Fatalf("bob: CreatePermission: %v", err)
			}
			exchange(t, a, b, "hello bob via coturn over "+tr)
			exchange(t, b, a, "hello alice via coturn over "+tr)
		})
	}

	t.Run("embedded relay's credentials", func(t *testing.T) {
		srv, _ := startRelay(t, turn.Config{})
		embedded := find(t, discover(t, srv.Services(), "carol@localhost"), "turn", "udp")
		if err := newClient(t, co.addr, "udp", embedded.Username, embedded.Password).allocate(); err != nil {
			t.Fatalf("Allocate on coturn with the embedded relay's credentials: %v", err)
		}
	})

	good := turn.NewCredentials(testSecret, "alice@localhost", time.Now().Add(time.Hour))
	expired := turn.NewCredentials(testSecret, "alice@localhost", time.Now().Add(-time.Minute))
	for _, tc := range []struct{ name, username, password string }{
		{"expired", expired.Username, expired.Password},
		{"tampered password", good.Username, flip(good.Password)},
		{"other secret", good.Username, turn.NewCredentials("not-the-secret", "alice@localhost", good.Expires).Password},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newClient(t, co.addr, "udp", tc.username, tc.password).allocate()
			if code := turnCode(err); code != 401 {
				t.Errorf("coturn: Allocate with %s credentials = %v (code %d), want error 401", tc.name, err, code)
			}
		})
	}
}
