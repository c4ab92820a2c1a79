package blocking_test

import (
	"context"
	"fmt"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/xmpp/blocking"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
	"github.com/ringd/ringd/xmpp/wire"
)

// discard is a connection that takes everything and keeps nothing.
type discard struct{}

func (discard) Deliver([]byte) bool { return true }
func (discard) Close(string)        {}

// gateCase is the gate asked about one message from alice/a, with the
// block lists of alice and bob set up first (through the store, then
// loaded by a first check, as after any first use).
type gateCase struct {
	name         string
	to           string
	alice, bob   []string
	wantRefusals bool
}

func hundred(except string) []string {
	var out []string
	for i := range 100 {
		out = append(out, fmt.Sprintf("user%d@example.net", i))
	}
	return append(out, "example.org/"+except)
}

var gateCases = []gateCase{
	{name: "nobody blocks", to: "bob@localhost"},
	{name: "to a full JID", to: "bob@localhost/phone"},
	{name: "callee blocks 101 others", to: "bob@localhost", bob: hundred("x")},
	{name: "caller blocks 101 others", to: "bob@localhost", alice: hundred("x")},
	{name: "non-canonical to", to: "Bob@localhost"},
	{name: "callee blocks the caller", to: "bob@localhost", bob: []string{"alice@localhost"}, wantRefusals: true},
}

func gateSetup(tb testing.TB, c gateCase) (*blocking.Handler, *router.Session, *wire.Stanza) {
	tb.Helper()
	env := routertest.New(tb, "alice", "bob")
	h, err := blocking.New(blocking.Config{Store: env.Store, Rosters: env.Store})
	if err != nil {
		tb.Fatal(err)
	}
	h.Register(env.Router)
	ctx := context.Background()
	for user, jids := range map[string][]string{"alice": c.alice, "bob": c.bob} {
		if err := env.Store.Block(ctx, user, jids); err != nil {
			tb.Fatal(err)
		}
	}
	a, err := env.Router.Bind(jid.MustParse("alice@localhost/a"), discard{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := env.Router.Bind(jid.MustParse("bob@localhost/phone"), discard{}); err != nil {
		tb.Fatal(err)
	}
	st := routertest.Parse(tb, chat(c.to, "hi"))
	if got := h.GateStanza(ctx, a, st); got != c.wantRefusals {
		tb.Fatalf("GateStanza() = %v, want %v", got, c.wantRefusals)
	}
	return h, a, st
}

// TestGateAllocations holds the gate to its promise: when the sender's
// list is empty and the addressee's is cached, a check allocates nothing.
func TestGateAllocations(t *testing.T) {
	for _, c := range gateCases {
		if len(c.alice) > 0 || c.wantRefusals || c.name == "non-canonical to" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			h, a, st := gateSetup(t, c)
			ctx := context.Background()
			if n := testing.AllocsPerRun(1000, func() { h.GateStanza(ctx, a, st) }); n != 0 {
				t.Errorf("GateStanza allocates %v times per check, want 0", n)
			}
		})
	}
}

// BenchmarkGate measures the check the router makes before routing each
// stanza: go test -run '^$' -bench Gate -benchmem ./xmpp/blocking/
func BenchmarkGate(b *testing.B) {
	for _, c := range gateCases {
		b.Run(c.name, func(b *testing.B) {
			h, a, st := gateSetup(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h.GateStanza(ctx, a, st)
			}
		})
	}
}
