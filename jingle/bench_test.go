package jingle_test

import (
	"context"
	"testing"

	"github.com/ringd/ringd/jingle"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

const chat = `<message type="chat" to="bob@localhost" id="m1"><body>hello</body>` +
	`<active xmlns="http://jabber.org/protocol/chatstates"/><origin-id xmlns="urn:xmpp:sid:0" id="o1"/>` +
	`<request xmlns="urn:xmpp:receipts"/></message>`

// TestFilterNonCallMessageAllocs: the filter is on every message's path.
func TestFilterNonCallMessageAllocs(t *testing.T) {
	f := setup(t, jingle.Config{})
	st := routertest.Parse(t, chat)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if f.h.FilterMessage(ctx, f.session["a"], st) {
			t.Fatal("FilterMessage handled a chat message")
		}
	})
	if allocs != 0 {
		t.Errorf("FilterMessage allocates %v times per chat message, want 0", allocs)
	}
}

func BenchmarkFilterMessage(b *testing.B) {
	for _, bc := range []struct{ name, msg string }{
		{"chat", chat},
		{"ringing", jmi("ringing", "alice@localhost", "c1", "")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := setup(b, jingle.Config{})
			st := routertest.Parse(b, bc.msg)
			ctx := context.Background()
			s := f.session["phone"]
			b.ReportAllocs()
			for b.Loop() {
				f.h.FilterMessage(ctx, s, st)
			}
		})
	}
}
