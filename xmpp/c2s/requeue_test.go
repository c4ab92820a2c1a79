package c2s

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/presence"
	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/router"
)

// Sessions that end for good hand back what they held: resume timeout,
// MaxUnacked, slow consumers, clean close, Shutdown; and offline bursts
// that must not overrun a session.

// withFeatures registers presence and offline storage, so that ended
// sessions broadcast unavailable presence and requeued messages are
// stored.
func withFeatures(t testing.TB, rt *router.Router, store *sqlite.Store) {
	p, err := presence.New(presence.Config{Router: rt, Rosters: store})
	if err != nil {
		t.Fatal(err)
	}
	p.Register(rt)
	o, err := offline.New(offline.Config{Router: rt, Store: store, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	o.Register(rt)
}

// offlineIDs returns the ids of the messages stored for user, oldest
// first.
func (ts *testServer) offlineIDs(t testing.TB, user string) []string {
	t.Helper()
	msgs, err := ts.store.OfflineMessages(context.Background(), user, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, attr(string(m.Stanza), "id"))
	}
	return out
}

// waitMetric waits until the metric has the value want.
func (ts *testServer) waitMetric(t testing.TB, want float64, name string, labels ...string) {
	t.Helper()
	waitFor(t, ioTimeout, func() error {
		if got := ts.metric(t, name, labels...); got != want {
			return fmt.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
		return nil
	})
}

// addContacts makes alice and bob each other's contacts with a mutual
// subscription, so that each sees the other's presence.
func addContacts(t testing.TB, ts *testServer) {
	t.Helper()
	ctx := context.Background()
	for _, pair := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		item := storage.RosterItem{Contact: pair[1] + "@" + testDomain, Subscription: storage.SubBoth}
		if _, err := ts.store.PutRosterItem(ctx, pair[0], item); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSMResumeTimeout: a session nobody resumes ends after ResumeTimeout:
// its contacts see it go unavailable and the messages it never got acked
// are stored offline, in order; resuming it afterwards fails.
func TestSMResumeTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	ts := startServerWith(t, withFeatures, func(c *Config, _ *router.Config) { c.ResumeTimeout = timeout })
	addContacts(t, ts)
	alice, _ := login(t, ts, "alice", "a")
	alice.send(`<presence/>`)
	alice.expect(regexp.MustCompile(`<presence [^>]*from="alice@ringd\.test/a"`))
	bob, bfull, id := smLogin(t, ts, "bob", "phone", true)
	bob.send(`<presence/>`)
	alice.expect(regexp.MustCompile(`<presence [^>]*from="bob@ringd\.test/phone"`))
	alice.sendMessages(bfull, "m", 1, 3)
	bob.expect(regexp.MustCompile(`id="m3"`))
	bob.cut()
	start := time.Now()
	alice.expect(regexp.MustCompile(`<presence [^>]*type="unavailable" from="bob@ringd\.test/phone"`))
	if d := time.Since(start); d < timeout {
		t.Errorf("unavailable after %v, before ResumeTimeout %v", d, timeout)
	}
	waitFor(t, ioTimeout, func() error {
		if got := ts.offlineIDs(t, "bob"); !slices.Equal(got, ids("m", 1, 3)) {
			return fmt.Errorf("stored for bob: %q, want m1…m3", got)
		}
		return nil
	})
	ts.waitMetric(t, 0, "ringd_c2s_sm_hibernating")
	if got := ts.metric(t, "ringd_c2s_requeued_total", "kind", "message"); got != 3 {
		t.Errorf("requeued_total{kind=message} = %v, want 3", got)
	}
	c := authClient(t, ts, "bob")
	c.send(`<resume xmlns="` + nsSM + `" previd="` + id + `" h="3"/>`)
	if m := c.expect(reFailed); m[1] != `<item-not-found xmlns="`+nsStanzas+`"/>` {
		t.Errorf("resume after the timeout: %s", m[0])
	}
	// The next login gets the stored messages.
	c.bind("laptop")
	c.send(`<presence/>`)
	c.expect(regexp.MustCompile(`id="m1"(?s:.*)id="m2"(?s:.*)id="m3"`))
	c.closeStream()
	alice.closeStream()
}

// TestSMMaxUnacked: a connected client gets at most MaxUnacked stanzas
// unacknowledged (the rest waits for its acks); a hibernating session that
// would hold more ends, its stanzas stored offline.
func TestSMMaxUnacked(t *testing.T) {
	ts := startServerWith(t, withFeatures, func(c *Config, _ *router.Config) {
		c.MaxUnacked = 3
		c.AckEvery = 100
	})
	t.Run("window", func(t *testing.T) {
		bob, bfull, _ := smLogin(t, ts, "bob", "window", false)
		alice, _ := login(t, ts, "alice", "a")
		sess := ts.session(t, bfull)
		alice.sendMessages(bfull, "m", 1, 5)
		waitFor(t, ioTimeout, func() error {
			if held := sess.q.held(); held != 5 {
				return fmt.Errorf("%d held, want 5", held)
			}
			return nil
		})
		got, requests := bob.messages(3)
		if !slices.Equal(got, ids("m", 1, 3)) {
			t.Errorf("got %q, want m1…m3", got)
		}
		if requests == 0 {
			bob.expect(reRequest) // the window is full: the server asks
		}
		bob.send(`<a xmlns="` + nsSM + `" h="1"/>`)
		if got, _ := bob.messages(1); got[0] != "m4" {
			t.Errorf("after acking 1 got %q, want m4", got)
		}
		if queued, unacked, outH, _ := sess.q.counts(); queued != 1 || unacked != 3 || outH != 4 {
			t.Errorf("queued %d, unacked %d, sent %d; want 1, 3, 4 (the window)", queued, unacked, outH)
		}
		bob.send(`<a xmlns="` + nsSM + `" h="4"/>`)
		bob.messages(1)
		bob.send(`<a xmlns="` + nsSM + `" h="5"/>`)
		bob.closeStream()
		alice.closeStream()
		if got := ts.offlineIDs(t, "bob"); len(got) != 0 {
			t.Errorf("stored %q, want nothing", got)
		}
	})
	t.Run("hibernating", func(t *testing.T) {
		bob, bfull, _ := smLogin(t, ts, "bob", "hib", true)
		alice, _ := login(t, ts, "alice", "a")
		bob.cut()
		ts.waitMetric(t, 1, "ringd_c2s_sm_hibernating")
		alice.sendMessages(bfull, "h", 1, 4)
		waitFor(t, ioTimeout, func() error {
			if got := ts.offlineIDs(t, "bob"); !slices.Equal(got, ids("h", 1, 4)) {
				return fmt.Errorf("stored for bob: %q, want h1…h4", got)
			}
			return nil
		})
		ts.waitMetric(t, 0, "ringd_c2s_sm_hibernating")
		if n := len(ts.router.Sessions("bob@ringd.test")); n != 0 {
			t.Errorf("%d sessions of bob still bound", n)
		}
		alice.closeStream()
		drainOffline(t, ts, "bob")
	})
}

// drainOffline empties user's offline store.
func drainOffline(t testing.TB, ts *testServer, user string) {
	t.Helper()
	ctx := context.Background()
	msgs, err := ts.store.OfflineMessages(ctx, user, 0)
	if err != nil {
		t.Fatal(err)
	}
	var del []int64
	for _, m := range msgs {
		del = append(del, m.ID)
	}
	if err := ts.store.DeleteOffline(ctx, user, del); err != nil {
		t.Fatal(err)
	}
}

// TestSMSlowConsumer: a client that acks nothing gets MaxUnacked stanzas;
// the rest queues until OutboundQueueBytes, then it is cut off with
// policy-violation. Nothing the server accepted is lost: what the client
// held is requeued, and what overflowed its queue is stored directly.
// Requeueing races with the sender's later messages, which go to storage
// once the session is gone, so only the set is fixed, not the order
// (delivery is at-least-once, in any order).
func TestSMSlowConsumer(t *testing.T) {
	ts := startServerWith(t, withFeatures, func(c *Config, _ *router.Config) {
		c.MaxUnacked = 2
		c.OutboundQueueBytes = 8 << 10
	})
	bob, bfull, _ := smLogin(t, ts, "bob", "slow", true)
	alice, _ := login(t, ts, "alice", "a")
	const n = 20
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `<message to="%s" type="chat" id="m%d"><body>%s</body></message>`, bfull, i, strings.Repeat("x", 1000))
	}
	alice.send(b.String())
	var got []string
	for {
		e := bob.element()
		if strings.HasPrefix(e, "<message") {
			got = append(got, attr(e, "id"))
		}
		if strings.HasPrefix(e, "<stream:error>") {
			if !strings.Contains(e, "<policy-violation ") {
				t.Fatalf("got %s, want policy-violation", e)
			}
			break
		}
	}
	bob.send(`</stream:stream>`)
	bob.expectClosed()
	var stored []string
	waitFor(t, ioTimeout, func() error {
		stored = ts.offlineIDs(t, "bob")
		if len(stored) < n {
			return fmt.Errorf("stored %q", stored)
		}
		return nil
	})
	sorted := slices.Clone(stored)
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Compare(len(a), len(b))*2 + cmp.Compare(a, b) })
	if !slices.Equal(sorted, ids("m", 1, n)) || len(got) > 2 {
		t.Errorf("received %q (MaxUnacked 2), stored %q, want each of m1…m%d stored once", got, stored, n)
	}
	if ts.metric(t, "ringd_c2s_slow_consumer_disconnects_total") != 1 {
		t.Error("no slow consumer disconnect counted")
	}
	alice.closeStream()
}

// TestSMCloseWithUnacked: a clean close leaves nothing behind except what
// the client did not acknowledge, which is stored offline.
func TestSMCloseWithUnacked(t *testing.T) {
	ts := startServerWith(t, withFeatures)
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", true)
	alice, _ := login(t, ts, "alice", "a")
	alice.sendMessages(bfull, "m", 1, 3)
	bob.messages(3)
	bob.send(`<a xmlns="` + nsSM + `" h="1"/></stream:stream>`)
	// The server's last word: its handled count, a request, the close.
	bob.expect(regexp.MustCompile(`<a xmlns="` + nsSM + `" h="0"/>`))
	bob.expect(regexp.MustCompile(`</stream:stream>`))
	bob.expectClosed()
	waitFor(t, ioTimeout, func() error {
		if got := ts.offlineIDs(t, "bob"); !slices.Equal(got, ids("m", 2, 3)) {
			return fmt.Errorf("stored for bob: %q, want m2, m3", got)
		}
		return nil
	})
	if got := ts.metric(t, "ringd_c2s_sm_hibernating"); got != 0 {
		t.Errorf("hibernating = %v after a clean close", got)
	}
	alice.closeStream()
}

// TestSMShutdown: Shutdown ends connected and hibernating sessions alike
// and stores what they held before it returns.
func TestSMShutdown(t *testing.T) {
	ts := startServerWith(t, withFeatures)
	bob, bfull, _ := smLogin(t, ts, "bob", "hib", true)
	carol, cfull, _ := smLogin(t, ts, "carol", "phone", true)
	alice, _ := login(t, ts, "alice", "a")
	alice.sendMessages(bfull, "b", 1, 2)
	bob.messages(2)
	bob.cut()
	ts.waitMetric(t, 1, "ringd_c2s_sm_hibernating")
	alice.sendMessages(bfull, "b", 3, 3)
	alice.sendMessages(cfull, "c", 1, 2)
	carol.messages(2)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- ts.srv.Shutdown(ctx)
	}()
	carol.expect(regexp.MustCompile(`<stream:error><system-shutdown xmlns="` + nsStreams + `"/></stream:error></stream:stream>`))
	carol.send(`</stream:stream>`)
	alice.expect(regexp.MustCompile(`<stream:error><system-shutdown `))
	alice.send(`</stream:stream>`)
	if err := <-done; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	if got := ts.offlineIDs(t, "bob"); !slices.Equal(got, ids("b", 1, 3)) {
		t.Errorf("stored for bob: %q, want b1…b3", got)
	}
	if got := ts.offlineIDs(t, "carol"); !slices.Equal(got, ids("c", 1, 2)) {
		t.Errorf("stored for carol: %q, want c1, c2", got)
	}
	if got := ts.metric(t, "ringd_c2s_sm_hibernating"); got != 0 {
		t.Errorf("hibernating = %v after Shutdown", got)
	}
}

// TestSMRequeueBounces: without offline storage, a message the ended
// session held goes back to its sender as service-unavailable; so does an
// IQ request (the resource it was for is gone).
func TestSMRequeueBounces(t *testing.T) {
	ts := startServer(t)
	bob, bfull, _ := smLogin(t, ts, "bob", "phone", false)
	alice, afull := login(t, ts, "alice", "a")
	alice.send(`<message to="` + bfull + `" type="chat" id="m1"><body>hi</body></message>` +
		`<iq to="` + bfull + `" type="get" id="q1"><query xmlns="jabber:iq:version"/></iq>`)
	bob.expect(regexp.MustCompile(`<iq [^>]*id="q1"`))
	bob.send(`</stream:stream>`)
	bob.expect(regexp.MustCompile(`</stream:stream>`))
	bob.expectClosed()
	for _, want := range []string{
		`<message type="error" id="m1" from="` + bfull + `" to="` + afull + `"><error type="cancel"><service-unavailable xmlns="` + nsStanzas + `"/></error></message>`,
		`<iq type="error" id="q1" from="` + bfull + `" to="` + afull + `"><error type="cancel"><service-unavailable xmlns="` + nsStanzas + `"/></error></iq>`,
	} {
		if got := alice.element(); got != want {
			t.Errorf("alice got %s, want %s", got, want)
		}
	}
	for _, kind := range []string{"message", "iq"} {
		if got := ts.metric(t, "ringd_c2s_requeued_total", "kind", kind); got != 1 {
			t.Errorf("requeued_total{kind=%s} = %v, want 1", kind, got)
		}
	}
	alice.closeStream()
}

// TestOfflineBurst: offline messages delivered at initial presence wait
// for the writer (WaitQueued) instead of overrunning the queue bound. With
// stream management, delivery stops once MaxUnacked are unacknowledged
// (the acks can only be read after it), and the rest stays stored.
func TestOfflineBurst(t *testing.T) {
	setup := func(t testing.TB, rt *router.Router, store *sqlite.Store) {
		p, err := presence.New(presence.Config{Router: rt, Rosters: store})
		if err != nil {
			t.Fatal(err)
		}
		p.Register(rt)
		o, err := offline.New(offline.Config{Router: rt, Store: store, Domain: testDomain, PageBytes: 4 << 10})
		if err != nil {
			t.Fatal(err)
		}
		o.Register(rt)
	}
	ts := startServerWith(t, setup, func(c *Config, _ *router.Config) {
		c.OutboundQueueBytes = 16 << 10
		c.MaxUnacked = 40
	})
	const n = 100 // 100 KB: six times the queue bound
	store := func(t *testing.T) {
		for i := 1; i <= n; i++ {
			raw := fmt.Sprintf(`<message from="alice@ringd.test/a" to="bob@ringd.test" type="chat" id="o%d"><body>%s</body>`+
				`<stanza-id xmlns="urn:xmpp:sid:0" id="s%d" by="bob@ringd.test"/></message>`, i, strings.Repeat("x", 1000), i)
			if _, err := ts.store.PushOffline(context.Background(), "bob", []byte(raw), time.Now(), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("without stream management", func(t *testing.T) {
		store(t)
		bob, _ := login(t, ts, "bob", "a")
		bob.send(`<presence/>`)
		var got []string
		for len(got) < n {
			if e := bob.element(); strings.HasPrefix(e, "<message") {
				got = append(got, attr(e, "id"))
			}
		}
		if !slices.Equal(got, ids("o", 1, n)) {
			t.Errorf("got %q", got)
		}
		bob.closeStream()
		if got := ts.metric(t, "ringd_c2s_slow_consumer_disconnects_total"); got != 0 {
			t.Errorf("slow_consumer_disconnects_total = %v, want 0", got)
		}
	})
	t.Run("stream management", func(t *testing.T) {
		store(t)
		bob, _, _ := smLogin(t, ts, "bob", "b", false)
		// The answer to the IQ comes after everything initial presence
		// made offline delivery queue. Bob acks whenever asked.
		bob.send(`<presence/><iq type="get" id="done" to="` + testDomain + `"><ping xmlns="urn:xmpp:ping"/></iq>`)
		var got []string
		h := 0
		for done := false; !done; {
			e := bob.element()
			switch {
			case e == string(smRequest):
				bob.send(fmt.Sprintf(`<a xmlns="%s" h="%d"/>`, nsSM, h))
			case strings.HasPrefix(e, "<message"):
				got = append(got, attr(e, "id"))
				h++
			case strings.HasPrefix(e, "<iq"):
				done = attr(e, "id") == "done"
				h++
			case strings.HasPrefix(e, "<presence"):
				h++
			}
		}
		bob.send(fmt.Sprintf(`<a xmlns="%s" h="%d"/>`, nsSM, h))
		stored := ts.offlineIDs(t, "bob")
		t.Logf("delivered %d, left stored %d", len(got), len(stored))
		if len(got) == 0 || len(stored) == 0 || !slices.Equal(append(got, stored...), ids("o", 1, n)) {
			t.Errorf("received %q, stored %q; want o1…o%d split between them", got, stored, n)
		}
		if got := ts.metric(t, "ringd_c2s_slow_consumer_disconnects_total"); got != 0 {
			t.Errorf("slow_consumer_disconnects_total = %v, want 0", got)
		}
		bob.send(`</stream:stream>`)
		bob.expect(regexp.MustCompile(`</stream:stream>`))
		bob.expectClosed()
	})
}
