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
	batch, closed, _ := q.take()
	if len(batch) != 1 || closed {
		t.Fatalf("take = %q, %v", batch, closed)
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
	if ok, over := q.push([]byte("x")); ok || over {
		t.Errorf("push after close = %v, %v; want refused, no overflow", ok, over)
	}
	batch, closed, final := q.take()
	if len(batch) != 1 || !closed || len(final) != 1 || string(final[0]) != "bye" {
		t.Errorf("take after close = %q, %v, %q; want the queued stanza and the first final", batch, closed, final)
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
	c := &conn{srv: s, q: newOutbound(1 << 20), bw: bufio.NewWriterSize(io.Discard, 8<<10)}
	msg := []byte(`<message from="a@b/c" to="d@e/f" type="chat"><body>` + strings.Repeat("x", 500) + `</body></message>`)
	run := func() {
		for range 4 {
			c.Deliver(msg)
		}
		batch, _, _ := c.q.take()
		n := 0
		for _, b := range batch {
			c.writeRaw(b)
			m.stanzaOut(b)
			n += len(b)
		}
		c.bw.Flush()
		c.q.written(n)
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per batch, want 0", a)
	}
}
