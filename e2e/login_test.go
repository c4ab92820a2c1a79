package e2e

import (
	"slices"
	"strings"
	"testing"
)

// loginArgs are login.py's options for u on addr.
func loginArgs(t *testing.T, addr string, directTLS bool, u user, extra ...string) []string {
	t.Helper()
	args := append(connArgs(t, addr, directTLS), "--jid", u.JID, "--password="+u.Password)
	return append(args, extra...)
}

// checkSession checks a session_start event: u's resource, SCRAM-SHA-256,
// TLS, and STARTTLS used exactly when wantStartTLS.
func checkSession(t *testing.T, e Event, u user, wantStartTLS bool) {
	t.Helper()
	if !strings.HasPrefix(e.JID, u.JID+"/") || len(e.JID) == len(u.JID)+1 {
		t.Errorf("bound JID: got %q, want %s/<resource>", e.JID, u.JID)
	}
	if e.Mechanism != "SCRAM-SHA-256" {
		t.Errorf("SASL mechanism: got %q, want SCRAM-SHA-256", e.Mechanism)
	}
	if !slices.Contains(e.Offered, "SCRAM-SHA-256") {
		t.Errorf("offered mechanisms: got %q, want SCRAM-SHA-256 among them", e.Offered)
	}
	if e.TLS == "" {
		t.Errorf("TLS version: got none, want TLS")
	}
	if e.StartTLS != wantStartTLS {
		t.Errorf("STARTTLS negotiated: got %v, want %v", e.StartTLS, wantStartTLS)
	}
}

// TestLogin logs in with SCRAM-SHA-256 over both c2s listeners.
func TestLogin(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})

	tests := []struct {
		name      string
		addr      string
		directTLS bool
		user      user
	}{
		{name: "starttls", addr: s.C2S, user: alice},
		{name: "direct-tls", addr: s.C2STLS, directTLS: true, user: alice},
		{name: "starttls-non-ascii-password", addr: s.C2S, user: bob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startClient(t, "login.py", loginArgs(t, tc.addr, tc.directTLS, tc.user)...)
			c.Finish(t)
			checkSession(t, c.MustFind(t, Event{Event: "session_start"}), tc.user, !tc.directTLS)
		})
	}
}

// TestLoginRejected checks that bad credentials get a SASL failure and
// that the server keeps serving the next login.
func TestLoginRejected(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice}})

	tests := []struct {
		name string
		user user
	}{
		{name: "wrong-password", user: user{alice.JID, "not-" + alice.Password}},
		{name: "unknown-user", user: user{"mallory@localhost", "whatever"}},
		{name: "empty-password", user: user{alice.JID, ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := startClient(t, "login.py", loginArgs(t, s.C2S, false, tc.user)...)
			c.FinishWith(t, exitAuthFailed)
			// RFC 6120 §6.5.10; the same answer whether or not the user exists.
			if e := c.MustFind(t, Event{Event: "failed_auth"}); e.Condition != "not-authorized" {
				t.Errorf("SASL failure condition: got %q, want not-authorized", e.Condition)
			}
			if e, ok := c.Find(Event{Event: "session_start"}); ok {
				t.Errorf("got %v after a failed authentication, want no session", e)
			}
		})
	}

	t.Run("then-correct-password", func(t *testing.T) {
		c := startClient(t, "login.py", loginArgs(t, s.C2S, false, alice)...)
		c.Finish(t)
		checkSession(t, c.MustFind(t, Event{Event: "session_start"}), alice, true)
	})
	if !s.Running() {
		t.Fatal("ringd exited after the failed logins")
	}
}

// TestUserAddWhileServing creates an account with `ringd user add` while
// the server runs, then logs in with it.
func TestUserAddWhileServing(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{bob}})
	s.AddUser(t, alice)
	c := startClient(t, "login.py", loginArgs(t, s.C2S, false, alice)...)
	c.Finish(t)
	checkSession(t, c.MustFind(t, Event{Event: "session_start"}), alice, true)
}
