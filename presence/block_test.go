package presence

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ringd/ringd/xmpp/router"
)

// item is a block list item from a short JID ("eve", "eve/2"), or a
// domain as it is ("example.com").
func item(j string) string {
	if strings.Contains(j, ".") {
		return j
	}
	return long(j)
}

// blockIQ is a XEP-0191 command (block or unblock) for the items.
func blockIQ(name string, items ...string) string {
	var b strings.Builder
	b.WriteString(`<iq type="set" id="` + name + `"><` + name + ` xmlns="urn:xmpp:blocking">`)
	for _, j := range items {
		b.WriteString(`<item jid="` + item(j) + `"/>`)
	}
	b.WriteString(`</` + name + `></iq>`)
	return b.String()
}

// TestBlockedPresence: presence the feature sends itself (broadcasts,
// probe answers at login, directed presence to a bare JID, the
// unavailable presence of a session that ends) never crosses a XEP-0191
// block, whichever side blocked (§3.3), and flows again after an unblock
// (§3.4). The roster is baseRoster's; blocks are in the store before
// anyone logs in.
func TestBlockedPresence(t *testing.T) {
	cases := []struct {
		name    string
		blocks  map[string][]string // user → blocked items (see item)
		online  []string
		bound   []string
		steps   []step
		want    map[string][]string
		ordered bool
	}{
		{
			name:   "nobody blocks: everyone sees alice",
			online: everyone,
			bound:  []string{"alice/phone"},
			steps:  []step{send("alice/phone", `<presence/>`)},
			want: map[string][]string{
				"alice/phone": {
					"available alice/phone>alice",
					"available alice/laptop>alice/phone delay(example.com," + stamp(1) + ")",
					"available carol/1>alice/phone delay(example.com," + stamp(3) + ")",
					"available dave/1>alice/phone delay(example.com," + stamp(4) + ")",
				},
				"alice/laptop": {"available alice/phone>alice"},
				"bob/1":        {"available alice/phone>bob"},
				"carol/1":      {"available alice/phone>carol"},
			},
		},
		{
			name:   "the user blocked a contact: neither sees the other at login",
			blocks: map[string][]string{"alice": {"carol", "dave"}},
			online: everyone,
			bound:  []string{"alice/phone"},
			steps:  []step{send("alice/phone", `<presence/>`)},
			want: map[string][]string{
				"alice/phone": {
					"available alice/phone>alice",
					"available alice/laptop>alice/phone delay(example.com," + stamp(1) + ")",
				},
				"alice/laptop": {"available alice/phone>alice"},
				"bob/1":        {"available alice/phone>bob"},
			},
		},
		{
			name:   "a contact blocked the user: the same",
			blocks: map[string][]string{"carol": {"alice"}, "dave": {"alice/phone"}},
			online: everyone,
			bound:  []string{"alice/phone"},
			steps:  []step{send("alice/phone", `<presence/>`)},
			want: map[string][]string{
				"alice/phone": {
					"available alice/phone>alice",
					"available alice/laptop>alice/phone delay(example.com," + stamp(1) + ")",
				},
				"alice/laptop": {"available alice/phone>alice"},
				"bob/1":        {"available alice/phone>bob"},
			},
		},
		{
			name:   "a full JID blocks that resource only",
			blocks: map[string][]string{"alice": {"carol/1"}},
			online: []string{"alice/laptop", "carol/1", "carol/2"},
			steps:  []step{send("alice/laptop", `<presence><show>away</show></presence>`)},
			want: map[string][]string{
				"alice/laptop": {"available alice/laptop>alice show=away"},
				"carol/2":      {"available alice/laptop>carol show=away"},
			},
		},
		{
			name:   "a blocked domain hides every contact, never the user's own resources",
			blocks: map[string][]string{"alice": {"example.com"}},
			online: everyone,
			steps:  []step{send("alice/laptop", `<presence><show>dnd</show></presence>`)},
			want: map[string][]string{
				"alice/laptop": {"available alice/laptop>alice show=dnd"},
			},
		},
		{
			name:   "a blocked contact's broadcasts do not reach the user",
			blocks: map[string][]string{"alice": {"carol"}},
			online: []string{"alice/laptop", "carol/1"},
			steps: []step{
				send("carol/1", `<presence><status>here</status></presence>`),
				unbind("carol/1"),
			},
			want: map[string][]string{
				"carol/1": {"available carol/1>carol status=here"},
			},
		},
		{
			name:   "no unavailable presence across a block when a session ends",
			blocks: map[string][]string{"bob": {"alice"}},
			online: []string{"alice/laptop", "bob/1", "carol/1"},
			steps:  []step{unbind("alice/laptop")},
			want: map[string][]string{
				"carol/1": {"unavailable alice/laptop>carol"},
			},
		},
		{
			name:   "directed presence to a bare JID skips a blocked resource",
			blocks: map[string][]string{"alice": {"eve/2"}},
			online: []string{"alice/laptop", "eve/1", "eve/2"},
			steps: []step{
				send("alice/laptop", `<presence to="eve@example.com"/>`),
				unbind("alice/laptop"),
			},
			ordered: true,
			want: map[string][]string{
				"eve/1": {"available alice/laptop>eve", "unavailable alice/laptop>eve"},
			},
		},
		{
			name:   "after an unblock presence flows again",
			blocks: map[string][]string{"alice": {"carol"}},
			online: []string{"alice/laptop", "carol/1"},
			steps: []step{
				send("alice/laptop", blockIQ("unblock", "carol")),
				send("alice/laptop", `<presence><show>chat</show></presence>`),
				send("carol/1", `<presence><show>xa</show></presence>`),
			},
			ordered: true,
			want: map[string][]string{
				// The blocking feature's current presence on unblock, then
				// the broadcasts.
				"alice/laptop": {
					"available carol/1>alice/laptop",
					"iq result >alice/laptop",
					"available alice/laptop>alice show=chat",
					"available carol/1>alice show=xa",
				},
				"carol/1": {
					"available alice/laptop>carol/1",
					"available alice/laptop>carol show=chat",
					"available carol/1>carol show=xa",
				},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvBlocking(t, nil)
			baseRoster(e)
			for user, items := range tc.blocks {
				var jids []string
				for _, j := range items {
					jids = append(jids, item(j))
				}
				if err := e.store.Block(e.ctx, user, jids); err != nil {
					t.Fatalf("Block(%s) = %v", user, err)
				}
			}
			e.start(tc.bound, tc.online)
			e.clock.Set(t0.Add(10 * time.Second))
			if got := e.play(tc.steps); !equalDeliveries(got, tc.want, tc.ordered) {
				t.Errorf("deliveries:%s\nwant:%s", formatDeliveries(got), formatDeliveries(tc.want))
			}
		})
	}
}

// TestBlockRevokesDirected: blocking a JID that got directed presence
// from the user's sessions sends it unavailable presence from them, once,
// and the session's own unavailable presence later does not reach it
// again.
func TestBlockRevokesDirected(t *testing.T) {
	cases := []struct {
		name   string
		online []string
		bound  []string
		steps  []step
		want   map[string][]string
	}{
		{
			name:   "an unsubscribed contact",
			online: []string{"alice/laptop", "eve/1"},
			steps: []step{
				send("alice/laptop", `<presence to="eve@example.com"/>`),
				send("alice/laptop", blockIQ("block", "eve")),
				unbind("alice/laptop"),
			},
			want: map[string][]string{
				"eve/1":        {"available alice/laptop>eve", "unavailable alice/laptop>eve"},
				"alice/laptop": {"iq result >alice/laptop"},
			},
		},
		{
			name:   "a full JID that got it",
			online: []string{"alice/laptop", "eve/1", "eve/2"},
			steps: []step{
				send("alice/laptop", `<presence to="eve@example.com/2"/>`),
				send("alice/laptop", blockIQ("block", "eve/2")),
				unbind("alice/laptop"),
			},
			want: map[string][]string{
				"eve/2":        {"available alice/laptop>eve/2", "unavailable alice/laptop>eve/2"},
				"alice/laptop": {"iq result >alice/laptop"},
			},
		},
		{
			name:   "one resource of a bare JID that got it",
			online: []string{"alice/laptop", "eve/1", "eve/2"},
			steps: []step{
				send("alice/laptop", `<presence to="eve@example.com"/>`),
				send("alice/laptop", blockIQ("block", "eve/2")),
				unbind("alice/laptop"),
			},
			want: map[string][]string{
				"eve/1":        {"available alice/laptop>eve", "unavailable alice/laptop>eve"},
				"eve/2":        {"available alice/laptop>eve", "unavailable alice/laptop>eve"},
				"alice/laptop": {"iq result >alice/laptop"},
			},
		},
		{
			name:   "from another resource of the user, by domain",
			online: []string{"alice/laptop", "alice/phone", "eve/1"},
			steps: []step{
				send("alice/phone", `<presence to="eve@example.com/1"/>`),
				send("alice/laptop", blockIQ("block", "example.com")),
				unbind("alice/phone"),
			},
			want: map[string][]string{
				"eve/1":        {"available alice/phone>eve/1", "unavailable alice/phone>eve/1"},
				"alice/laptop": {"iq result >alice/laptop", "unavailable alice/phone>alice"},
			},
		},
		{
			name:   "a subscriber gets the blocking feature's unavailable only",
			online: []string{"alice/laptop", "bob/1"},
			steps: []step{
				send("alice/laptop", `<presence to="bob@example.com"/>`),
				send("alice/laptop", blockIQ("block", "bob")),
				unbind("alice/laptop"),
			},
			want: map[string][]string{
				"bob/1":        {"available alice/laptop>bob", "unavailable alice/laptop>bob/1"},
				"alice/laptop": {"iq result >alice/laptop"},
			},
		},
		{
			name:   "a subscriber, from a session that never went available",
			bound:  []string{"alice/phone"},
			online: []string{"bob/1"},
			steps: []step{
				send("alice/phone", `<presence to="bob@example.com"/>`),
				send("alice/phone", blockIQ("block", "bob")),
				unbind("alice/phone"),
			},
			want: map[string][]string{
				"bob/1":       {"available alice/phone>bob", "unavailable alice/phone>bob"},
				"alice/phone": {"iq result >alice/phone"},
			},
		},
		{
			name:   "somebody else is left alone",
			online: []string{"alice/laptop", "eve/1"},
			steps: []step{
				send("alice/laptop", `<presence to="eve@example.com"/>`),
				send("alice/laptop", blockIQ("block", "dave")),
			},
			want: map[string][]string{
				"eve/1":        {"available alice/laptop>eve"},
				"alice/laptop": {"iq result >alice/laptop"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvBlocking(t, nil)
			baseRoster(e)
			e.start(tc.bound, tc.online)
			if got := e.play(tc.steps); !equalDeliveries(got, tc.want, true) {
				t.Errorf("deliveries:%s\nwant:%s", formatDeliveries(got), formatDeliveries(tc.want))
			}
		})
	}
}

// failingBlocker cannot read any block list.
type failingBlocker struct{}

var errStoreDown = errors.New("store down")

func (failingBlocker) BlocksAnyone(context.Context, string) (bool, error) { return false, errStoreDown }

func (failingBlocker) Blocks(context.Context, string, string) (bool, error) {
	return false, errStoreDown
}

// TestUnreadableBlockList: when block lists cannot be read, presence to
// and from contacts is withheld (a blocked JID must not see it), and the
// user's own resources still see each other.
func TestUnreadableBlockList(t *testing.T) {
	e := newEnv(t)
	p, err := New(Config{Router: e.r, Rosters: e.store, Blocker: failingBlocker{}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	p.Register(e.r) // replaces the env's handler
	baseRoster(e)
	for _, j := range []string{"alice/laptop", "alice/phone", "bob/1", "carol/1"} {
		e.bind(j)
		e.send(j, `<presence/>`)
	}
	got := e.takeAll()
	want := map[string][]string{
		"alice/laptop": {"available alice/laptop>alice", "available alice/phone>alice"},
		"alice/phone": {
			"available alice/phone>alice",
			"available alice/laptop>alice/phone delay(example.com," + t0.Format(stampLayout) + ")",
		},
		"bob/1":   {"available bob/1>bob"},
		"carol/1": {"available carol/1>carol"},
	}
	if !equalDeliveries(got, want, false) {
		t.Errorf("deliveries:%s\nwant:%s", formatDeliveries(got), formatDeliveries(want))
	}
}

// TestBlockViewAllocations: with the block lists cached, asking a view
// allocates nothing, whether or not a block stands between the sessions.
func TestBlockViewAllocations(t *testing.T) {
	e := newEnvBlocking(t, nil)
	if err := e.store.Block(e.ctx, "bob", []string{long("eve")}); err != nil {
		t.Fatal(err)
	}
	a, b, c := e.bind("alice/phone").s, e.bind("bob/1").s, e.bind("eve/1").s
	l := e.bind("alice/laptop").s
	cases := []struct {
		from, to *router.Session
		want     bool
	}{
		{a, b, false}, {b, a, false}, {a, l, false},
		{b, c, true}, {c, b, true}, // bob blocked eve: both ways
	}
	ask := func() {
		for _, tc := range cases {
			v := e.p.blockView(e.ctx, tc.from)
			if got := v.hides(tc.to); got != tc.want {
				t.Errorf("view of %s hides %s = %v, want %v", tc.from.FullString(), tc.to.FullString(), got, tc.want)
			}
		}
	}
	ask() // loads the lists
	if n := testing.AllocsPerRun(1000, ask); n != 0 {
		t.Errorf("%v allocations per round, want 0", n)
	}
}
