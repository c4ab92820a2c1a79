package c2s

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"mellium.im/sasl"

	"github.com/ringd/ringd/xmpp/router"
)

// Stream management (XEP-0198) protocol tests: raw XML against a real
// server on loopback.

// The offline feature paces its delivery through this (xmpp/offline
// drainer).
var _ interface {
	WaitQueued(context.Context, int) error
} = (*session)(nil)

var (
	reEnabled = regexp.MustCompile(`^<enabled xmlns="` + nsSM + `"[^>]*/>`)
	reResumed = regexp.MustCompile(`^<resumed xmlns="` + nsSM + `"[^>]*/>`)
	reRequest = regexp.MustCompile(`^` + regexp.QuoteMeta(string(smRequest)))
	reFailed  = regexp.MustCompile(`^<failed xmlns="` + nsSM + `"[^>]*>(.*?)</failed>`)
	// reElement is one top-level element a bound client receives.
	reElement = regexp.MustCompile(`^(?s)(?:<[a-z]+ xmlns="` + nsSM + `"[^>]*/>|<failed xmlns="` + nsSM + `".*?</failed>|` +
		`<message[ >].*?</message>|<presence[^>]*/>|<presence[ >].*?</presence>|<iq[^>]*/>|<iq[ >].*?</iq>|` +
		`<stream:error>.*?</stream:error>|</stream:stream>)`)
)

// smLogin logs in, binds resource and enables stream management; id is
// the resumption id ("" without resume).
func smLogin(t testing.TB, ts *testServer, user, resource string, resume bool) (c *client, full, id string) {
	t.Helper()
	c, full = login(t, ts, user, resource)
	id = c.enable(resume)
	if resume && id == "" {
		t.Fatal("enabled without a resumption id")
	}
	return c, full, id
}

// enable enables stream management and returns the resumption id.
func (c *client) enable(resume bool) string {
	c.t.Helper()
	if resume {
		c.send(`<enable xmlns="` + nsSM + `" resume="true"/>`)
	} else {
		c.send(`<enable xmlns="` + nsSM + `"/>`)
	}
	return attr(c.expect(reEnabled)[0], "id")
}

// authClient connects over STARTTLS and authenticates as user; the next
// step is binding or resuming.
func authClient(t testing.TB, ts *testServer, user string) *client {
	t.Helper()
	c := dialClient(t, ts.starttls, ts.clientTLS)
	c.open()
	c.startTLS()
	c.open()
	if cond := c.auth(sasl.ScramSha256, user, testUsers[user]); cond != "" {
		t.Fatalf("auth as %s: failure %s", user, cond)
	}
	if f := c.open(); !strings.Contains(f, string(smFeature)) {
		t.Fatalf("features after SASL = %q, want %s", f, smFeature)
	}
	return c
}

// element reads the next top-level element.
func (c *client) element() string {
	c.t.Helper()
	return c.expect(reElement)[0]
}

// messages reads elements until n messages arrived and returns their ids
// and how many <r/> came meanwhile; any other element fails the test.
func (c *client) messages(n int) (ids []string, requests int) {
	c.t.Helper()
	for len(ids) < n {
		e := c.element()
		switch {
		case strings.HasPrefix(e, "<message"):
			ids = append(ids, attr(e, "id"))
		case e == string(smRequest):
			requests++
		default:
			c.t.Fatalf("got %s while waiting for message %d of %d", e, len(ids)+1, n)
		}
	}
	return ids, requests
}

// cut closes the TCP connection under the client without a word: no
// closing tag, no close_notify; with unread data the peer gets a reset.
func (c *client) cut() {
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.NetConn().Close()
		return
	}
	c.nc.Close()
}

// sendMessages sends messages id prefix+i with body i, for i in [from, to].
func (c *client) sendMessages(to, prefix string, from, last int) {
	c.t.Helper()
	var b strings.Builder
	for i := from; i <= last; i++ {
		fmt.Fprintf(&b, `<message to="%s" type="chat" id="%s%d"><body>%d</body></message>`, to, prefix, i, i)
	}
	c.send(b.String())
}

func ids(prefix string, from, last int) []string {
	var out []string
	for i := from; i <= last; i++ {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

// session returns the c2s session bound to the full JID.
func (ts *testServer) session(t testing.TB, full string) *session {
	t.Helper()
	rs := ts.router.Session("", full)
	if rs == nil {
		t.Fatalf("no session %s", full)
	}
	return rs.Conn().(*session)
}

// counts reports the queue's state: stanzas queued, unacknowledged, and
// the counters.
func (q *outbound) counts() (queued, unacked int, outH, ackH uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.unacked.len(), q.outH, q.ackH
}

// TestSMEnable: <enable/> with and without resumption (XEP-0198 §3, §5),
// the client's max, the configured location; <failed/> for a second
// <enable/>, for <resume/> once bound and for <enable/> before binding.
func TestSMEnable(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *router.Config) { c.ResumeLocation = "ringd.test:5222" })
	tests := []struct {
		name   string
		enable string
		want   *regexp.Regexp
	}{
		{
			name:   "with resumption",
			enable: `<enable xmlns="` + nsSM + `" resume="true"/>`,
			want:   regexp.MustCompile(`^<enabled xmlns="` + nsSM + `" id="[A-Z2-7]{26}" resume="true" max="300" location="ringd\.test:5222"/>$`),
		},
		{
			name:   "resume=1 and a shorter max",
			enable: `<enable xmlns="` + nsSM + `" resume="1" max="60"/>`,
			want:   regexp.MustCompile(`^<enabled xmlns="` + nsSM + `" id="[A-Z2-7]{26}" resume="true" max="60" location="ringd\.test:5222"/>$`),
		},
		{
			name:   "a longer max is ours",
			enable: `<enable xmlns='` + nsSM + `' resume='true' max='86400'/>`,
			want:   regexp.MustCompile(`^<enabled xmlns="` + nsSM + `" id="[A-Z2-7]{26}" resume="true" max="300" `),
		},
		{
			name:   "without resumption",
			enable: `<enable xmlns="` + nsSM + `"/>`,
			want:   regexp.MustCompile(`^<enabled xmlns="` + nsSM + `"/>$`),
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := login(t, ts, "alice", fmt.Sprint("r", i))
			c.send(tc.enable)
			if got := c.expect(reEnabled)[0]; !tc.want.MatchString(got) {
				t.Errorf("got %s, want a match for %s", got, tc.want)
			}
			// Enabling twice fails; the stream goes on.
			c.send(tc.enable)
			c.expect(regexp.MustCompile(`^<failed xmlns="` + nsSM + `"><unexpected-request xmlns="` + nsStanzas + `"/></failed>`))
			// So does resuming once bound.
			c.send(`<resume xmlns="` + nsSM + `" previd="x" h="0"/>`)
			c.expect(regexp.MustCompile(`^<failed xmlns="` + nsSM + `"><unexpected-request xmlns="` + nsStanzas + `"/></failed>`))
			c.send(`<r xmlns="` + nsSM + `"/>`)
			c.expect(regexp.MustCompile(`^<a xmlns="` + nsSM + `" h="0"/>`))
			c.closeStream()
		})
	}
	t.Run("before binding", func(t *testing.T) {
		c := authClient(t, ts, "alice")
		c.send(`<enable xmlns="` + nsSM + `" resume="true"/>`)
		c.expect(regexp.MustCompile(`^<failed xmlns="` + nsSM + `"><unexpected-request xmlns="` + nsStanzas + `"/></failed>`))
		c.bind("late")
		c.enable(true)
		c.closeStream()
	})
	if got := ts.metric(t, "ringd_c2s_sm_enabled_total"); got != float64(len(tests)+1) {
		t.Errorf("sm_enabled_total = %v, want %d", got, len(tests)+1)
	}
}

// TestSMAcks: the server counts what the client sent (answering <r/>
// with <a h/>), asks for acks itself, and drops what the client acked.
func TestSMAcks(t *testing.T) {
	ts := startServer(t, func(c *Config, _ *router.Config) { c.AckEvery = 2 })
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", false)
	alice, afull := login(t, ts, "alice", "a")
	sess := ts.session(t, bfull)

	// Inbound: every stanza counts once Route returned, whatever became
	// of it (a message, an IQ result nobody waits for, a presence).
	bob.sendMessages(afull, "b", 1, 2)
	bob.send(`<iq type="result" id="x"/><presence/><r xmlns="` + nsSM + `"/>`)
	bob.expect(regexp.MustCompile(`^<a xmlns="` + nsSM + `" h="4"/>`))
	if got, _ := alice.messages(2); !slices.Equal(got, ids("b", 1, 2)) {
		t.Errorf("alice got %q", got)
	}

	// Outbound: the server asks (<r/>) and keeps what is unacknowledged.
	alice.sendMessages(bfull, "a", 1, 5)
	got, requests := bob.messages(5)
	if !slices.Equal(got, ids("a", 1, 5)) {
		t.Errorf("bob got %q, want a1…a5", got)
	}
	if requests == 0 {
		bob.expect(reRequest) // after the last one
	}
	if _, unacked, outH, _ := sess.q.counts(); unacked != 5 || outH != 5 {
		t.Errorf("unacked %d, h %d; want 5, 5", unacked, outH)
	}
	bob.send(`<a xmlns="` + nsSM + `" h="3"/>`)
	waitFor(t, ioTimeout, func() error {
		if _, unacked, _, ackH := sess.q.counts(); unacked != 2 || ackH != 3 {
			return fmt.Errorf("unacked %d, acked %d; want 2, 3", unacked, ackH)
		}
		return nil
	})
	// An ack below the last one is stale, not an error.
	bob.send(`<a xmlns="` + nsSM + `" h="1"/><a xmlns="` + nsSM + `" h="5"/>`)
	waitFor(t, ioTimeout, func() error {
		if held := sess.q.held(); held != 0 {
			return fmt.Errorf("%d stanzas held", held)
		}
		return nil
	})
	bob.closeStream()
	alice.closeStream()
	if got := ts.metric(t, "ringd_c2s_requeued_total"); got != 0 {
		t.Errorf("requeued_total = %v, want 0", got)
	}
}

// TestSMHandledCountWrap: h counts modulo 2^32 both ways (XEP-0198 §4),
// and an h above what was sent ends the stream with
// handled-count-too-high.
func TestSMHandledCountWrap(t *testing.T) {
	ts := startServer(t)
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", false)
	alice, _ := login(t, ts, "alice", "a")
	sess := ts.session(t, bfull)

	sess.routedH.Store(math.MaxUint32 - 1)
	sess.inH.Store(math.MaxUint32 - 1)
	bob.send(`<iq type="result" id="1"/><iq type="result" id="2"/><iq type="result" id="3"/><r xmlns="` + nsSM + `"/>`)
	bob.expect(regexp.MustCompile(`^<a xmlns="` + nsSM + `" h="1"/>`))

	sess.q.mu.Lock()
	sess.q.outH, sess.q.ackH = math.MaxUint32-1, math.MaxUint32-1
	sess.q.mu.Unlock()
	alice.sendMessages(bfull, "m", 1, 3)
	bob.messages(3)
	bob.send(`<a xmlns="` + nsSM + `" h="1"/>`)
	waitFor(t, ioTimeout, func() error {
		if _, unacked, outH, ackH := sess.q.counts(); unacked != 0 || outH != 1 || ackH != 1 {
			return fmt.Errorf("unacked %d, sent %d, acked %d; want 0, 1, 1", unacked, outH, ackH)
		}
		return nil
	})
	alice.sendMessages(bfull, "m", 4, 4)
	bob.messages(1)
	bob.send(`<a xmlns="` + nsSM + `" h="3"/>`)
	bob.expect(regexp.MustCompile(`<stream:error><undefined-condition xmlns="` + nsStreams + `"/>` +
		`<handled-count-too-high xmlns="` + nsSM + `" h="3" send-count="2"/></stream:error>`))
	bob.expect(regexp.MustCompile(`</stream:stream>`))
	bob.expectClosed()
	alice.closeStream()
}

// TestSMResume: the connection is cut while messages are on their way;
// the client resumes on a new connection and, going by the h values,
// every message arrives exactly once across the two, in order.
func TestSMResume(t *testing.T) {
	ts := startServer(t)
	bob, bfull, id := smLogin(t, ts, "bob", "phone", true)
	alice, afull := login(t, ts, "alice", "a")
	sess := ts.session(t, bfull)

	bob.sendMessages(afull, "b", 1, 1) // the server's h for bob: 1
	alice.messages(1)
	alice.sendMessages(bfull, "m", 1, 10)
	first, _ := bob.messages(4) // handled 4, acks 2 of them
	bob.send(`<a xmlns="` + nsSM + `" h="2"/>`)
	waitFor(t, ioTimeout, func() error {
		if _, _, _, ackH := sess.q.counts(); ackH != 2 {
			return fmt.Errorf("acked %d, want 2", ackH)
		}
		return nil
	})
	bob.cut()
	ts.waitMetric(t, 1, "ringd_c2s_sm_hibernating")
	if n := ts.router.SessionCount(); n != 2 {
		t.Errorf("SessionCount = %d while hibernating, want 2 (still bound)", n)
	}
	alice.sendMessages(bfull, "m", 11, 15) // queued for the hibernating session
	waitFor(t, ioTimeout, func() error {
		if held := sess.q.held(); held != 13 {
			return fmt.Errorf("%d stanzas held, want 13", held)
		}
		return nil
	})

	bob2 := authClient(t, ts, "bob")
	bob2.send(`<resume xmlns="` + nsSM + `" previd="` + id + `" h="4"/>`)
	r := bob2.expect(reResumed)[0]
	if attr(r, "previd") != id || attr(r, "h") != "1" {
		t.Errorf("got %s, want previd %s and h 1", r, id)
	}
	second, _ := bob2.messages(11)
	if all := append(first, second...); !slices.Equal(all, ids("m", 1, 15)) {
		t.Errorf("received %q then %q, want m1…m15 once each, in order", first, second)
	}
	// The session goes on: bound as before, counting on from h.
	bob2.sendMessages(afull, "b", 2, 2)
	alice.messages(1)
	bob2.send(`<r xmlns="` + nsSM + `"/><a xmlns="` + nsSM + `" h="15"/>`)
	bob2.expect(regexp.MustCompile(`<a xmlns="` + nsSM + `" h="2"/>`))
	alice.sendMessages(bfull, "m", 16, 16)
	if got, _ := bob2.messages(1); got[0] != "m16" {
		t.Errorf("after resumption got %q", got)
	}
	bob2.send(`<a xmlns="` + nsSM + `" h="16"/>`)
	waitFor(t, ioTimeout, func() error {
		if held := sess.q.held(); held != 0 {
			return fmt.Errorf("%d stanzas held", held)
		}
		return nil
	})
	bob2.closeStream()
	alice.closeStream()
	for name, want := range map[string]float64{
		"ringd_c2s_sm_resumed_total": 1, "ringd_c2s_sm_hibernating": 0, "ringd_c2s_requeued_total": 0,
	} {
		if got := ts.metric(t, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestSMResumeTakeover: a resumption while the old connection is still
// open (the server has not noticed the cut) closes the old one and takes
// the session over.
func TestSMResumeTakeover(t *testing.T) {
	ts := startServer(t)
	bob, bfull, id := smLogin(t, ts, "bob", "phone", true)
	alice, _ := login(t, ts, "alice", "a")
	alice.sendMessages(bfull, "m", 1, 3)
	bob.messages(2) // m3 is unread

	bob2 := authClient(t, ts, "bob")
	bob2.send(`<resume xmlns="` + nsSM + `" previd="` + id + `" h="2"/>`)
	bob2.expect(reResumed)
	bob.expectClosed()
	alice.sendMessages(bfull, "m", 4, 4)
	if got, _ := bob2.messages(2); !slices.Equal(got, ids("m", 3, 4)) {
		t.Errorf("after takeover got %q, want m3, m4", got)
	}
	if n := ts.router.SessionCount(); n != 2 {
		t.Errorf("SessionCount = %d, want 2", n)
	}
	bob2.send(`<a xmlns="` + nsSM + `" h="4"/>`)
	bob2.closeStream()
	alice.closeStream()
}

// TestSMResumeFailed: an unknown id, another account's, a bad h: <failed/>
// (item-not-found without h, XEP-0198 §5), and the client binds instead.
func TestSMResumeFailed(t *testing.T) {
	ts := startServer(t)
	alice, _, aliceID := smLogin(t, ts, "alice", "a", true)
	tests := []struct {
		name, user, resume string
		want               string // <failed/>'s content
		h                  string // its h
	}{
		{
			name: "unknown id", user: "alice",
			resume: `<resume xmlns="` + nsSM + `" previd="NOSUCHID" h="0"/>`,
			want:   `<item-not-found xmlns="` + nsStanzas + `"/>`,
		},
		{
			name: "another account's session", user: "bob",
			resume: `<resume xmlns="` + nsSM + `" previd="` + aliceID + `" h="0"/>`,
			want:   `<item-not-found xmlns="` + nsStanzas + `"/>`,
		},
		{
			name: "h not a number", user: "alice",
			resume: `<resume xmlns="` + nsSM + `" previd="` + aliceID + `" h="-1"/>`,
			want:   `<bad-request xmlns="` + nsStanzas + `"/>`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := authClient(t, ts, tc.user)
			c.send(tc.resume)
			m := c.expect(reFailed)
			if m[1] != tc.want || attr(m[0], "h") != tc.h {
				t.Errorf("got %s, want %s with h %q", m[0], tc.want, tc.h)
			}
			c.bind("instead")
			c.closeStream()
		})
	}
	// alice's session was not touched.
	alice.send(`<r xmlns="` + nsSM + `"/>`)
	alice.expect(regexp.MustCompile(`^<a xmlns="` + nsSM + `" h="0"/>`))

	t.Run("h above what was sent", func(t *testing.T) {
		c := authClient(t, ts, "alice")
		c.send(`<resume xmlns="` + nsSM + `" previd="` + aliceID + `" h="7"/>`)
		m := c.expect(reFailed)
		want := `<undefined-condition xmlns="` + nsStanzas + `"/><handled-count-too-high xmlns="` + nsSM + `" h="7" send-count="0"/>`
		if m[1] != want || attr(m[0], "h") != "0" {
			t.Errorf("got %s, want %s with h 0", m[0], want)
		}
		// The session was taken from its connection and ended.
		alice.expectClosed()
		c.bind("a")
		c.send(`<resume xmlns="` + nsSM + `" previd="` + aliceID + `" h="0"/>`)
		c.expect(regexp.MustCompile(`^<failed xmlns="` + nsSM + `"><unexpected-request `))
		c.closeStream()
	})
	if got := ts.metric(t, "ringd_c2s_sm_resume_failed_total"); got != float64(len(tests)+1) {
		t.Errorf("sm_resume_failed_total = %v, want %d", got, len(tests)+1)
	}
}

// TestSMResumeWebSocket: a WebSocket that closes without <close/> lets a
// resumable session hibernate; the client resumes it over TCP.
func TestSMResumeWebSocket(t *testing.T) {
	ts := startServer(t)
	ws := wsLogin(t, ts, "bob", "web")
	ws.send(`<enable xmlns="` + nsSM + `" resume="true"/>`)
	id := attr(ws.expect(regexp.MustCompile(`^<enabled xmlns="` + nsSM + `"[^>]*/>$`))[0], "id")
	alice, _ := login(t, ts, "alice", "a")
	alice.sendMessages("bob@ringd.test/web", "m", 1, 2)
	ws.expect(regexp.MustCompile(`^<message xmlns="jabber:client" [^>]* id="m1">`))
	ws.ws.CloseNow()
	ts.waitMetric(t, 1, "ringd_c2s_sm_hibernating")
	bob := authClient(t, ts, "bob")
	bob.send(`<resume xmlns="` + nsSM + `" previd="` + id + `" h="1"/>`)
	bob.expect(reResumed)
	if got, _ := bob.messages(1); got[0] != "m2" {
		t.Errorf("resumed over TCP got %q, want m2", got)
	}
	bob.send(`<a xmlns="` + nsSM + `" h="2"/>`)
	bob.closeStream()
	alice.closeStream()
}
