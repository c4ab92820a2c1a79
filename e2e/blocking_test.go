package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// XEP-0191 blocking, with calls: clients/blocking.py drives the block
// list with slixmpp's XEP-0191 plugin. A blocked caller's offer must come
// back as an error at once (XEP-0191 §3.3: service-unavailable, as if the
// callee were not there), ring no device, be neither stored nor pushed,
// and ring again once the callee unblocks.

// atOnce bounds how long an offer that can never be delivered may take to
// be refused: far below any ring timeout, with room for a loaded machine
// and -race.
const atOnce = 3 * time.Second

// wantRefused fails the test unless client got, for its message with id,
// an error from from with condition cond (type cancel), carrying
// <blocked/> when blocked is set, within atOnce.
func wantRefused(t *testing.T, events []Event, client, id, from, cond string, blocked bool) {
	t.Helper()
	i := slices.IndexFunc(events, func(e Event) bool {
		return e.Event == "refused" && e.Client == client && e.ID == id
	})
	if i < 0 {
		t.Errorf("%s: no error for its message %s", client, id)
		return
	}
	e := events[i]
	if e.From != from || e.Condition != cond || e.ErrorType != "cancel" || (e.Text == "blocked") != blocked {
		t.Errorf("%s: message %s refused with %v; want %s (cancel) from %s, <blocked/> %v", client, id, e, cond, from, blocked)
	}
	if ms := time.Duration(e.Count) * time.Millisecond; ms > atOnce {
		t.Errorf("%s: message %s refused after %v, want at once (under %v)", client, id, ms, atOnce)
	}
}

// wantNoBody fails the test unless none of the clients received a
// message with body.
func wantNoBody(t *testing.T, events []Event, body string, clients ...string) {
	t.Helper()
	for _, e := range events {
		if e.Event == "message" && e.Body == body && slices.Contains(clients, e.Client) {
			t.Errorf("%s received %q from %s, which was blocked", e.Client, body, e.From)
		}
	}
}

// blockingEvents returns client's events of kind event ("blocklist",
// "blocking_push") as "what message".
func blockingEvents(events []Event, client, event string) []string {
	var out []string
	for _, e := range events {
		if e.Event == event && e.Client == client {
			out = append(out, e.What+" "+e.Message)
		}
	}
	return out
}

// TestBlockedCaller: bob's phone blocks alice while both of bob's devices
// are online. Her call and her chat message come back with
// service-unavailable at once and reach neither device; the phone's
// message to her gets not-acceptable with <blocked/>; a call to an account
// that does not exist is refused at once too (RFC 6121 §8.5.2.2.1). Only
// the phone fetched its list, so only the phone gets the pushes. Once it
// unblocks alice, her next call rings both devices.
func TestBlockedCaller(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	ev := startAliceBob(t, s, "blocking.py", "online").Finish(t)

	wantRefused(t, ev, "alice", "propose-call-1", bob.JID, "service-unavailable", false)
	wantRefused(t, ev, "alice", "chat-1", bob.JID, "service-unavailable", false)
	wantRefused(t, ev, "phone", "chat-2", alice.JID, "not-acceptable", true)
	wantRefused(t, ev, "alice", "propose-call-nobody", "nobody@localhost", "service-unavailable", false)
	wantJMI(t, ev, "phone", "propose call-2")
	wantJMI(t, ev, "laptop", "propose call-2")
	wantNoBody(t, ev, "hello?", "phone", "laptop")
	wantNoBody(t, ev, "do not call me", "alice")

	if got, want := blockingEvents(ev, "phone", "blocklist"), []string{" ", " alice@localhost"}; !slices.Equal(got, want) {
		t.Errorf("phone's block lists %q, want %q", got, want)
	}
	if got, want := blockingEvents(ev, "phone", "blocking_push"), []string{"block alice@localhost", "unblock alice@localhost"}; !slices.Equal(got, want) {
		t.Errorf("phone's pushes %q, want %q", got, want)
	}
	if got := blockingEvents(ev, "laptop", "blocking_push"); len(got) != 0 {
		t.Errorf("laptop, which never fetched its list, got pushes %q", got)
	}

	for name, want := range map[string]float64{
		`ringd_blocking_refused_total{direction="in",kind="message"}`:  2,
		`ringd_blocking_refused_total{direction="out",kind="message"}`: 1,
		"ringd_offline_stored_total":                                   0,
	} {
		if got := s.Metric(t, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	// The offer to nobody could never be delivered; call-2 still rings.
	wantOutcomes(t, s, map[string]float64{"failed": 1})
}

// TestBlockedCallerOffline: bob registered an app server for push,
// blocked alice and went offline. Her call and message are refused at
// once: nothing is stored (bob's next login brings nothing) and the app
// server is not woken. After bob unblocks her, her call is stored and
// pushed, and his phone gets it at its next login.
func TestBlockedCallerOffline(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob, pushApp}})
	c := startAliceBob(t, s, "blocking.py", "offline", "--app", pushAppFull, "--app-password="+pushApp.Password)
	for n := 1; n <= 2; n++ {
		waitFor(t, clientTimeout, func() bool { return count(c.Events(), "ready") >= n || !c.running() })
		// bob is offline once only the app server and alice are bound.
		waitFor(t, 10*time.Second, func() bool { return s.Metric(t, "ringd_router_sessions") == 2 })
		c.Send(t, "go")
	}
	ev := c.Finish(t)

	wantRefused(t, ev, "alice", "propose-call-1", bob.JID, "service-unavailable", false)
	wantRefused(t, ev, "alice", "chat-1", bob.JID, "service-unavailable", false)
	wantJMI(t, ev, "phone-unblock")
	wantNoBody(t, ev, "hello?", "phone-unblock", "phone-later")
	wantJMI(t, ev, "phone-later", "propose call-2")
	jmiFrom(t, ev, "phone-later", "propose", "call-2", aliceDesk)

	if pushes := count(ev, "push"); pushes != 1 {
		t.Errorf("the app server got %d notifications, want 1 (for the call after the unblock)", pushes)
	}
	for name, want := range map[string]float64{
		`ringd_blocking_refused_total{direction="in",kind="message"}`: 2,
		"ringd_offline_stored_total":                                  1,
		"ringd_push_notifications_total":                              1,
	} {
		if got := s.Metric(t, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// count returns how many events are of kind event.
func count(events []Event, event string) int {
	n := 0
	for _, e := range events {
		if e.Event == event {
			n++
		}
	}
	return n
}

// TestBlockedPresence: presence does not cross a block, in either
// direction (XEP-0191 §3.3). alice and bob see each other's presence;
// bob's phone blocks alice, and each gets the other's unavailable
// presence. While the block stands, neither side's status changes reach
// the other, nor does a second resource of alice that logs in (its
// initial presence, or the answers to the probes its login makes).
// After the unblock, each gets the other's current presence at once, and
// status changes flow again.
func TestBlockedPresence(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	ev := startAliceBob(t, s, "blocking.py", "presence").Finish(t)

	const aliceLaptop = "alice@localhost/laptop"
	phase := ""
	var blockedPhase, sawStatus []string
	for _, e := range ev {
		if e.Event == "phase" {
			phase = e.Message
			continue
		}
		if e.Event != "presence" || e.Type != "available" && e.Type != "unavailable" {
			continue
		}
		crossing := e.Client == "phone" && (e.From == aliceDesk || e.From == aliceLaptop) ||
			(e.Client == "alice" || e.Client == "laptop") && e.From == bobPhone
		if !crossing {
			continue
		}
		got := e.Client + " < " + e.From + " " + e.Type + " " + e.Status
		if phase == "blocked" {
			blockedPhase = append(blockedPhase, got)
		}
		if phase == "unblocking" && e.Status != "" {
			sawStatus = append(sawStatus, got)
		}
	}
	if phase != "unblocking" {
		t.Fatalf("the scenario ended in phase %q, want unblocking", phase)
	}
	if len(blockedPhase) != 0 {
		t.Errorf("presence crossed the block:\n  %s", strings.Join(blockedPhase, "\n  "))
	}
	// Each side's first presence after the unblock is the current one (the
	// last status set while blocked), then the new statuses.
	for _, want := range []string{
		"alice < " + bobPhone + " available phone blocked 2",
		"laptop < " + bobPhone + " available phone blocked 2",
		"phone < " + aliceDesk + " available alice blocked",
		"alice < " + bobPhone + " available phone unblocked",
		"laptop < " + bobPhone + " available phone unblocked",
		"phone < " + aliceDesk + " available alice unblocked",
	} {
		if !slices.Contains(sawStatus, want) {
			t.Errorf("after the unblock, no %q; got:\n  %s", want, strings.Join(sawStatus, "\n  "))
		}
	}
	if got := s.Metric(t, `ringd_blocking_refused_total`); got != 0 {
		t.Errorf("ringd_blocking_refused_total = %v, want 0 (nobody sent the other anything)", got)
	}
}
