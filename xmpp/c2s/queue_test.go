package c2s

import (
	"bufio"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestOutbound(t *testing.T) {
	q := newOutbound(10)
	if ok, over := q.push([]byte("12345")); !ok || over {
		t.Fatalf("push 5 of 10 = %v, %v; want ok", ok, over)
	}
	var w batch
	q.take(&w)
	if len(w.stanzas) != 1 || w.closed {
		t.Fatalf("take = %v, %v", w.stanzas, w.closed)
	}
	// Taken but not written still counts against the bound.
	if ok, over := q.push([]byte("123456")); ok || !over {
		t.Errorf("push 6 with 5 in flight = %v, %v; want overflow", ok, over)
	}
	q.written(5)
	if ok, over := q.push([]byte("123456")); !ok || over {
		t.Errorf("push 6 after the batch was written = %v, %v; want ok", ok, over)
	}
	if !q.close([]byte("bye")) {
		t.Error("first close = false")
	}
	if q.close([]byte("again")) {
		t.Error("second close = true")
	}
	q.take(&w)
	if len(w.stanzas) != 1 || !w.closed || len(w.final) != 1 || string(w.final[0]) != "bye" {
		t.Errorf("take after close = %v, %v, %q; want the queued stanza and the first final", w.stanzas, w.closed, w.final)
	}
	// After close, stanzas are still taken (to be requeued) until sealed.
	if ok, over := q.push([]byte("x")); !ok || over {
		t.Errorf("push after close = %v, %v; want taken", ok, over)
	}
	if held := q.seal(); len(held) != 1 || string(held[0].b) != "x" {
		t.Errorf("seal = %v, want the stanza pushed after the last take", held)
	}
	if ok, over := q.push([]byte("y")); ok || over {
		t.Errorf("push after seal = %v, %v; want refused, no overflow", ok, over)
	}
}

func TestVersionOK(t *testing.T) {
	tests := []struct {
		v    string
		want bool
	}{
		{"1.0", true},
		{"1.1", true},
		{"01.10", true},
		{"", false},
		{"1", false},
		{"1.", false},
		{"2.0", false},
		{"0.9", false},
		{"1.x", false},
	}
	for _, tc := range tests {
		if got := versionOK(tc.v); got != tc.want {
			t.Errorf("versionOK(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestWithClientNS(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"message", `<message to="a@b"><body/></message>`, `<message xmlns="jabber:client" to="a@b"><body/></message>`},
		{"self-closing", `<presence/>`, `<presence xmlns="jabber:client"/>`},
		{"no attributes", `<iq>x</iq>`, `<iq xmlns="jabber:client">x</iq>`},
		{"already declared", `<iq xmlns="jabber:client" id="1"/>`, `<iq xmlns="jabber:client" id="1"/>`},
		{"xmlns only in a value", `<iq id='xmlns="x"'/>`, `<iq xmlns="jabber:client" id='xmlns="x"'/>`},
		{"prefixed element", `<stream:error xmlns:stream="s"/>`, `<stream:error xmlns:stream="s"/>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(withClientNS(nil, []byte(tc.in))); got != tc.want {
				t.Errorf("withClientNS(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestDeliverWriteNoAlloc guards the per-stanza path of a bound session on
// our side: Deliver, the writer's take, the metric and the buffered write.
func TestDeliverWriteNoAlloc(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{OutboundQueueBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)}, metrics: m}
	c := &conn{srv: s, bw: bufio.NewWriterSize(io.Discard, 8<<10)}
	sess := newSession(s, c)
	c.sess = sess
	msg := []byte(`<message from="a@b/c" to="d@e/f" type="chat"><body>` + strings.Repeat("x", 500) + `</body></message>`)
	run := func() {
		for range 4 {
			sess.Deliver(msg)
		}
		sess.q.take(&c.wb)
		for _, e := range c.wb.stanzas {
			c.writeRaw(e.b)
			m.stanzaOut(e.b)
		}
		c.bw.Flush()
		sess.q.written(c.wb.release)
		sess.routedH.Add(1) // the reader's count per stanza
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per batch, want 0", a)
	}
}

// TestOutboundSM walks the XEP-0198 side of the queue: counting from
// <enabled/>, the window, acks (stale, too high), resumption and sealing.
func TestOutboundSM(t *testing.T) {
	q := newOutbound(1 << 20)
	var w batch
	take := func() []string {
		t.Helper()
		q.take(&w)
		var got []string
		for _, e := range w.stanzas {
			got = append(got, string(e.b))
		}
		q.written(w.release)
		return got
	}
	q.push([]byte("<iq before/>"))
	q.enable([]byte("<enabled/>"), 3, 2)
	for _, s := range []string{"<m1/>", "<m2/>"} {
		q.push([]byte(s))
	}
	if got := take(); strings.Join(got, "") != "<iq before/><enabled/><m1/><m2/>" || w.uncounted != 2 {
		t.Fatalf("first take = %q, uncounted %d; want everything, 2 uncounted", got, w.uncounted)
	}
	if !w.request {
		t.Error("no <r/> once the queue ran empty")
	}
	for _, s := range []string{"<m3/>", "<m4/>", "<m5/>"} {
		q.push([]byte(s))
	}
	if got := take(); strings.Join(got, "") != "<m3/>" {
		t.Fatalf("take with 2 unacknowledged of 3 = %q, want only <m3/>", got)
	}
	if w.request {
		t.Error("a second <r/> while one is outstanding")
	}
	if ok, sent, _ := q.ack(5); ok || sent != 3 {
		t.Errorf("ack(5) after 3 sent = %v, %d; want refused, 3", ok, sent)
	}
	if ok, _, _ := q.ack(2); !ok {
		t.Error("ack(2) refused")
	}
	if ok, _, _ := q.ack(1); !ok {
		t.Error("a stale ack(1) refused")
	}
	if got := take(); strings.Join(got, "") != "<m4/><m5/>" || !w.request {
		t.Fatalf("take after ack(2) = %q (request %v), want <m4/><m5/> and a request", got, w.request)
	}
	if queued, unacked, outH, ackH := q.counts(); queued != 0 || unacked != 3 || outH != 5 || ackH != 2 {
		t.Errorf("counts = %d, %d, %d, %d; want 0, 3, 5, 2", queued, unacked, outH, ackH)
	}
	// A broken connection: hibernation bounds what is held by the window.
	if q.detach() {
		t.Error("detach with 3 held of 3 reports over")
	}
	if ok, over := q.push([]byte("<m6/>")); !ok || !over {
		t.Errorf("push of a 4th while detached = %v, %v; want taken and over", ok, over)
	}
	// Resumption: the client had m3 (h 3); m4… are written again.
	if ok, _, _ := q.resume(7); ok {
		t.Error("resume(7) after 5 sent accepted")
	}
	if ok, _, _ := q.resume(3); !ok {
		t.Fatal("resume(3) refused")
	}
	if got := take(); strings.Join(got, "") != "<m4/><m5/><m6/>" {
		t.Fatalf("take after resumption = %q, want <m4/><m5/><m6/>", got)
	}
	if _, _, outH, _ := q.counts(); outH != 6 {
		t.Errorf("h after resending = %d, want 6", outH)
	}
	q.push([]byte("<m7/>"))
	if held := q.seal(); len(held) != 4 || string(held[0].b) != "<m4/>" || string(held[3].b) != "<m7/>" {
		t.Errorf("seal = %v, want m4…m7", held)
	}
	if q.pending != 0 {
		t.Errorf("%d bytes pending after seal", q.pending)
	}
}

func TestRing(t *testing.T) {
	var r ring
	next, want := 0, 0
	for round := range 50 {
		for range round % 23 {
			r.push(entry{b: []byte{byte(next)}})
			next++
		}
		k := min(r.len(), round%17)
		for i := range k {
			if got := r.buf[(r.head+i)&(len(r.buf)-1)].b[0]; got != byte(want+i) {
				t.Fatalf("round %d: element %d = %d, want %d", round, i, got, byte(want+i))
			}
		}
		if n, _ := r.pop(k, nil); n != k {
			t.Fatalf("pop(%d) = %d bytes", k, n)
		}
		want += k
	}
	rest := r.appendTo(nil)
	if len(rest) != next-want || len(rest) > 0 && rest[0].b[0] != byte(want) {
		t.Errorf("appendTo = %d elements, want %d from %d", len(rest), next-want, want)
	}
}

// TestDeliverWriteAckNoAlloc: with stream management on, the per-stanza
// path (Deliver, take into the unacked ring, write, ack) allocates nothing
// once the ring has grown.
func TestDeliverWriteAckNoAlloc(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{cfg: Config{OutboundQueueBytes: 1 << 20, Logger: slog.New(slog.DiscardHandler)}, metrics: m}
	c := &conn{srv: s, bw: bufio.NewWriterSize(io.Discard, 8<<10)}
	sess := newSession(s, c)
	c.sess = sess
	sess.q.enable([]byte(`<enabled xmlns="urn:xmpp:sm:3"/>`), 1000, 10)
	msg := []byte(`<message from="a@b/c" to="d@e/f" type="chat"><body>` + strings.Repeat("x", 500) + `</body></message>`)
	run := func() {
		for range 4 {
			sess.Deliver(msg)
		}
		sess.q.take(&c.wb)
		for _, e := range c.wb.stanzas {
			c.writeRaw(e.b)
			m.stanzaOut(e.b)
		}
		if c.wb.request {
			c.writeRaw(smRequest)
		}
		c.bw.Flush()
		sess.q.written(c.wb.release)
		_, _, sent, _ := sess.q.counts()
		sess.q.ack(sent - 1) // the client acks all but the last
		sess.routedH.Add(1)
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per batch, want 0", a)
	}
}
