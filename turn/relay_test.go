package turn_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/turn"
)

// TestRelayWithXEP0215Credentials is the acceptance test: two
// users get credentials through XEP-0215, allocate relays on the embedded
// server with pion clients, and exchange datagrams through them, with
// the clients reaching the server over UDP and over TCP.
func TestRelayWithXEP0215Credentials(t *testing.T) {
	srv, reg := startRelay(t, turn.Config{AllowPrivatePeers: true})
	alice := discover(t, srv.Services(), "alice@localhost")
	bob := discover(t, srv.Services(), "bob@localhost")

	stunSvc := find(t, alice, "stun", "udp")
	if stunSvc.Username != "" || stunSvc.Password != "" {
		t.Errorf("STUN service carries credentials: %+v", stunSvc)
	}
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			waitFor(t, "earlier allocations to be released", func() bool { return metric(t, reg, "ringd_turn_allocations") == 0 })
			as, bs := find(t, alice, "turn", tr), find(t, bob, "turn", tr)
			if !strings.HasSuffix(as.Username, ":alice@localhost") || as.Restricted != "1" || as.Expires == "" {
				t.Errorf("alice's service = %+v, want a username for alice@localhost, restricted, with expiry", as)
			}
			a := newClient(t, as.addr(), tr, as.Username, as.Password)
			b := newClient(t, bs.addr(), tr, bs.Username, bs.Password)
			if err := a.allocate(); err != nil {
				t.Fatalf("alice: Allocate: %v", err)
			}
			if err := b.allocate(); err != nil {
				t.Fatalf("bob: Allocate: %v", err)
			}
			if err := a.CreatePermission(b.relay.LocalAddr()); err != nil {
				t.Fatalf("alice: CreatePermission: %v", err)
			}
			if err := b.CreatePermission(a.relay.LocalAddr()); err != nil {
				t.Fatalf("bob: CreatePermission: %v", err)
			}
			for i := range 3 {
				exchange(t, a, b, fmt.Sprintf("hello bob %d over %s", i, tr))
				exchange(t, b, a, fmt.Sprintf("hello alice %d over %s", i, tr))
			}
			if got := metric(t, reg, "ringd_turn_allocations"); got != 2 {
				t.Errorf("ringd_turn_allocations = %v, want 2", got)
			}
			// STUN binding works on the same port.
			if tr == "udp" {
				mapped, err := a.SendBindingRequest()
				if err != nil || mapped.String() != a.conn.LocalAddr().String() {
					t.Errorf("SendBindingRequest = %v, %v; want %v", mapped, err, a.conn.LocalAddr())
				}
			}
		})
	}
	if got := metric(t, reg, "ringd_turn_allocations_total", "result", "created"); got != 4 {
		t.Errorf("ringd_turn_allocations_total{created} = %v, want 4", got)
	}
	for _, dir := range []string{"to_peer", "from_peer"} {
		if got := metric(t, reg, "ringd_turn_relayed_bytes_total", "direction", dir); got < float64(6*len("hello bob 0 over udp")) {
			t.Errorf("ringd_turn_relayed_bytes_total{%s} = %v, want the payloads counted", dir, got)
		}
	}
	waitFor(t, "the allocations to be released", func() bool { return metric(t, reg, "ringd_turn_allocations") == 0 })
}

// TestRelayIPv6: with an IPv6 public address, clients get IPv6 relays.
func TestRelayIPv6(t *testing.T) {
	if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	srv, _ := startRelay(t, turn.Config{Listen: "[::1]:0", AllowPrivatePeers: true})
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			as := find(t, discover(t, srv.Services(), "alice@localhost"), "turn", tr)
			bs := find(t, discover(t, srv.Services(), "bob@localhost"), "turn", tr)
			if as.Host != "::1" {
				t.Errorf("service host = %q, want ::1", as.Host)
			}
			a := newClient(t, as.addr(), tr, as.Username, as.Password)
			b := newClient(t, bs.addr(), tr, bs.Username, bs.Password)
			if err := a.allocate(); err != nil {
				t.Fatalf("alice: Allocate: %v", err)
			}
			if err := b.allocate(); err != nil {
				t.Fatalf("bob: Allocate: %v", err)
			}
			if ip := a.relay.LocalAddr().(*net.UDPAddr).IP; ip.To4() != nil {
				t.Errorf("relay address %v, want IPv6", ip)
			}
			if err := a.CreatePermission(b.relay.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			if err := b.CreatePermission(a.relay.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			exchange(t, a, b, "hello over IPv6")
		})
	}
}

// TestRelayRefusesBadCredentials: expired, tampered and foreign
// credentials are refused with 401 Unauthorized, over UDP and TCP.
func TestRelayRefusesBadCredentials(t *testing.T) {
	srv, reg := startRelay(t, turn.Config{AllowPrivatePeers: true})
	addr := srv.Services()[0].Host + ":" + fmt.Sprint(srv.Services()[0].Port)
	good := turn.NewCredentials(testSecret, "alice@localhost", time.Now().Add(time.Hour))
	expired := turn.NewCredentials(testSecret, "alice@localhost", time.Now().Add(-time.Minute))
	later := turn.NewCredentials(testSecret, "alice@localhost", time.Now().Add(48*time.Hour))
	ts, _, _ := strings.Cut(later.Username, ":")
	tests := []struct {
		name, username, password string
		reason                   string // ringd_turn_auth_failures_total label
	}{
		{"expired", expired.Username, expired.Password, "expired"},
		{"tampered password", good.Username, flip(good.Password), "invalid"},
		{"extended expiry", ts + ":alice@localhost", good.Password, "invalid"},
		{"other user", strings.Replace(good.Username, "alice", "mallory", 1), good.Password, "invalid"},
		{"other secret", good.Username, turn.NewCredentials("not-the-secret", "alice@localhost", good.Expires).Password, "invalid"},
		{"not a TURN REST username", "alice", good.Password, "invalid"},
	}
	for _, tr := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				before := metric(t, reg, "ringd_turn_auth_failures_total", "reason", tc.reason)
				c := newClient(t, addr, tr, tc.username, tc.password)
				err := c.allocate()
				if code := turnCode(err); code != 401 {
					t.Fatalf("Allocate with %s credentials = %v (code %d), want error 401", tc.name, err, code)
				}
				if got := metric(t, reg, "ringd_turn_auth_failures_total", "reason", tc.reason); got != before+1 {
					t.Errorf("ringd_turn_auth_failures_total{%s} = %v, want %v", tc.reason, got, before+1)
				}
			})
		}
	}
	t.Run("good", func(t *testing.T) {
		c := newClient(t, addr, "udp", good.Username, good.Password)
		if err := c.allocate(); err != nil {
			t.Fatalf("Allocate with good credentials: %v", err)
		}
	})
	if got := metric(t, reg, "ringd_turn_allocations_total", "result", "unauthorized"); got != float64(2*len(tests)) {
		t.Errorf("ringd_turn_allocations_total{unauthorized} = %v, want %d", got, 2*len(tests))
	}
}

// flip changes the first character of a base64 string.
func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestRelayDeniesPrivatePeers: by default a client may allocate, but not
// open a permission to, or send to, a loopback peer.
func TestRelayDeniesPrivatePeers(t *testing.T) {
	srv, reg := startRelay(t, turn.Config{})
	svc := find(t, discover(t, srv.Services(), "alice@localhost"), "turn", "udp")
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	for _, tr := range []string{"udp", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			svc := find(t, discover(t, srv.Services(), "alice@localhost"), "turn", tr)
			c := newClient(t, svc.addr(), tr, svc.Username, svc.Password)
			if err := c.allocate(); err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			if err := c.CreatePermission(peer.LocalAddr()); turnCode(err) != 403 {
				t.Errorf("CreatePermission(%v) = %v, want error 403 Forbidden", peer.LocalAddr(), err)
			}
			if _, err := c.relay.WriteTo([]byte("let me in"), peer.LocalAddr()); turnCode(err) != 403 {
				t.Errorf("WriteTo(%v) = %v, want error 403 Forbidden", peer.LocalAddr(), err)
			}
		})
	}
	_ = svc
	if got := metric(t, reg, "ringd_turn_peers_denied_total"); got != 4 {
		t.Errorf("ringd_turn_peers_denied_total = %v, want 4", got)
	}
	if got := metric(t, reg, "ringd_turn_relayed_bytes_total", "direction", "to_peer"); got != 0 {
		t.Errorf("ringd_turn_relayed_bytes_total{to_peer} = %v, want 0", got)
	}
}

// TestRelayUserQuota: a user's allocations beyond the quota are refused
// with 486, and freed allocations count no more.
func TestRelayUserQuota(t *testing.T) {
	srv, reg := startRelay(t, turn.Config{AllowPrivatePeers: true, UserQuota: 2})
	svc := find(t, discover(t, srv.Services(), "alice@localhost"), "turn", "udp")
	var clients []*client
	for i := range 3 {
		c := newClient(t, svc.addr(), "udp", svc.Username, svc.Password)
		err := c.allocate()
		switch {
		case i < 2 && err != nil:
			t.Fatalf("allocation %d: %v", i+1, err)
		case i == 2 && turnCode(err) != 486:
			t.Fatalf("allocation 3 over a quota of 2 = %v, want error 486", err)
		}
		clients = append(clients, c)
	}
	bob := find(t, discover(t, srv.Services(), "bob@localhost"), "turn", "udp")
	if err := newClient(t, bob.addr(), "udp", bob.Username, bob.Password).allocate(); err != nil {
		t.Fatalf("bob's allocation while alice's quota is full: %v", err)
	}
	clients[0].relay.Close() // deallocates (refresh with lifetime 0)
	clients[0].relay = nil
	waitFor(t, "alice's first allocation to go", func() bool { return metric(t, reg, "ringd_turn_allocations") == 2 })
	if err := newClient(t, svc.addr(), "udp", svc.Username, svc.Password).allocate(); err != nil {
		t.Fatalf("allocation after one was freed: %v", err)
	}
	if got := metric(t, reg, "ringd_turn_allocations_total", "result", "quota"); got != 1 {
		t.Errorf("ringd_turn_allocations_total{quota} = %v, want 1", got)
	}
}

// TestRestartKeepsCredentials: credentials are stateless, so a relay
// restarted with the same secret accepts those issued before.
func TestRestartKeepsCredentials(t *testing.T) {
	checkGoroutines(t)
	first, err := turn.New(turn.Config{Listen: "127.0.0.1:0", Realm: testRealm, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := find(t, discover(t, first.Services(), "alice@localhost"), "turn", "udp")
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	second, _ := startRelay(t, turn.Config{})
	addr := find(t, discover(t, second.Services(), "bob@localhost"), "turn", "udp").addr()
	if err := newClient(t, addr, "udp", svc.Username, svc.Password).allocate(); err != nil {
		t.Fatalf("Allocate after restart with credentials issued before: %v", err)
	}
}

// TestLifecycle covers Start, Serve and Close out of order.
func TestLifecycle(t *testing.T) {
	checkGoroutines(t)
	cfg := turn.Config{Listen: "127.0.0.1:0", Realm: testRealm, Secret: testSecret}
	t.Run("close before start", func(t *testing.T) {
		s, err := turn.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close = %v", err)
		}
		if err := s.Start(context.Background()); err != turn.ErrServerClosed {
			t.Errorf("Start after Close = %v, want ErrServerClosed", err)
		}
	})
	t.Run("serve injected sockets", func(t *testing.T) {
		s, err := turn.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- s.Serve(pc, nil) }()
		waitFor(t, "Serve to start", func() bool { return len(s.Services()) > 0 })
		if err := s.Start(context.Background()); err == nil {
			t.Error("Start while serving succeeded")
		}
		if got := s.Services(); len(got) != 2 || got[1].Port != pc.LocalAddr().(*net.UDPAddr).Port {
			t.Errorf("Services() = %v, want STUN and TURN over UDP on %v", got, pc.LocalAddr())
		}
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("Close = %v", err)
		}
		if err := <-done; err != turn.ErrServerClosed {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
		if _, err := pc.WriteTo([]byte("x"), pc.LocalAddr()); err == nil {
			t.Error("the injected socket is still open after Close")
		}
	})
	t.Run("port in use", func(t *testing.T) {
		busy, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		c := cfg
		c.Listen = busy.LocalAddr().String()
		s, err := turn.New(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(context.Background()); err == nil {
			s.Close(context.Background())
			t.Error("Start on a busy port succeeded")
		}
	})
}

// TestNoCredentialsInLogs: at Debug level, with pion's lines included,
// the log never shows the secret, a password or a TURN REST username.
func TestNoCredentialsInLogs(t *testing.T) {
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, _ := startRelay(t, turn.Config{Logger: log})
	svc := find(t, discover(t, srv.Services(), "alice@localhost"), "turn", "udp")
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := newClient(t, svc.addr(), "udp", svc.Username, svc.Password)
	if err := c.allocate(); err != nil {
		t.Fatal(err)
	}
	c.CreatePermission(peer.LocalAddr()) // refused: loopback; pion logs it
	bad := newClient(t, svc.addr(), "tcp", svc.Username, flip(svc.Password))
	if err := bad.allocate(); turnCode(err) != 401 {
		t.Fatalf("Allocate with a bad password = %v, want 401", err)
	}
	if !strings.Contains(logs.String(), "TURN allocation created") || !strings.Contains(logs.String(), "reason=invalid") {
		t.Fatalf("no debug lines logged:\n%s", logs.String())
	}
	for _, s := range []string{string(testSecret), svc.Password, flip(svc.Password), svc.Username} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("log shows %q:\n%s", s, logs.String())
		}
	}
}
