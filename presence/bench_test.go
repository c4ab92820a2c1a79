package presence

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// memRosters serves rosters from memory, so that benchmarks measure this
// package rather than SQLite.
type memRosters map[string][]storage.RosterItem

func (m memRosters) Roster(_ context.Context, user string) ([]storage.RosterItem, int64, error) {
	return m[user], 1, nil
}

func (m memRosters) RosterItem(_ context.Context, user, contact string) (storage.RosterItem, error) {
	for _, it := range m[user] {
		if it.Contact == contact {
			return it, nil
		}
	}
	return storage.RosterItem{}, storage.ErrNotFound
}

// nopConn takes every stanza and keeps none.
type nopConn struct{}

func (nopConn) Deliver([]byte) bool { return true }
func (nopConn) Close(string)        {}

// blocks says whether a broadcast fixture has XEP-0191 blocking wired
// and how many of alice's online contacts she blocked.
type blocks struct {
	wired   bool
	blocked int
}

func (b blocks) String() string {
	switch {
	case !b.wired:
		return "blocking=off"
	case b.blocked == 0:
		return "blocking=on"
	}
	return fmt.Sprintf("blocking=on,blocked=%d", b.blocked)
}

// broadcastFixture: alice has contacts subscribed to her presence, online
// of them available with one resource each, and one other resource of her
// own; it returns alice's available session and a status change from it.
// With bl.wired, xmpp/blocking is the Blocker, and alice blocked the first
// bl.blocked contacts.
func broadcastFixture(tb testing.TB, contacts, online int, bl blocks) (*env, *router.Session, *wire.Stanza) {
	tb.Helper()
	m := memRosters{}
	for i := range contacts {
		c := fmt.Sprintf("c%d", i)
		m["alice"] = append(m["alice"], storage.RosterItem{Contact: long(c), Subscription: storage.SubFrom})
		m[c] = []storage.RosterItem{{Contact: long("alice"), Subscription: storage.SubTo}}
	}
	var e *env
	if bl.wired {
		e = newEnvBlocking(tb, m)
		var jids []string
		for i := range bl.blocked {
			jids = append(jids, long(fmt.Sprintf("c%d", i)))
		}
		if err := e.store.Block(e.ctx, "alice", jids); err != nil {
			tb.Fatalf("Block() = %v", err)
		}
	} else {
		e = newEnvWith(tb, m)
	}
	bind := func(j string) *router.Session {
		s, err := e.r.Bind(jid.MustParse(long(j)), nopConn{})
		if err != nil {
			tb.Fatalf("Bind(%s) = %v", j, err)
		}
		return s
	}
	avail := func(s *router.Session) {
		st, err := wire.NewFramedDecoder(strings.NewReader(`<presence/>`), wire.Limits{}).Next()
		if err != nil {
			tb.Fatalf("decode: %v", err)
		}
		e.r.Route(e.ctx, s, st)
	}
	for i := range online {
		avail(bind(fmt.Sprintf("c%d/r", i)))
	}
	avail(bind("alice/laptop"))
	alice := bind("alice/phone")
	avail(alice)
	st, err := wire.NewFramedDecoder(strings.NewReader(
		`<presence><show>away</show><status>in a meeting</status><priority>5</priority></presence>`), wire.Limits{}).Next()
	if err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return e, alice, st
}

// BenchmarkBroadcast measures a status change fanned out to alice's
// contacts, without and with XEP-0191 blocking wired (whose common case,
// nobody blocking anybody, should cost little):
// go test -run '^$' -bench Broadcast -benchmem ./presence/
func BenchmarkBroadcast(b *testing.B) {
	for _, online := range []int{0, 10, 100} {
		variants := []blocks{{}, {wired: true}}
		if online > 0 {
			variants = append(variants, blocks{wired: true, blocked: online / 10})
		}
		for _, bl := range variants {
			b.Run(fmt.Sprintf("contacts=200/online=%d/%v", online, bl), func(b *testing.B) {
				e, alice, st := broadcastFixture(b, 200, online, bl)
				b.ReportAllocs()
				for b.Loop() {
					e.r.Route(e.ctx, alice, st)
				}
			})
		}
	}
}

// TestBroadcastAllocs guards the allocations of a subsequent broadcast:
// a fixed few (the router's Stanza, the stamped copy, its records here
// and on the session, the storage timeout's context) and, per account
// reached, one
// session snapshot (router.Sessions) and one addressed copy
// (router.WithTo). Offline contacts cost nothing.
// With blocking wired and nobody blocking anybody, the checks add no
// allocation: the block lists are cached after the first broadcast.
func TestBroadcastAllocs(t *testing.T) {
	const online = 10
	var allocs []float64
	for _, bl := range []blocks{{}, {wired: true}} {
		e, alice, st := broadcastFixture(t, 200, online, bl)
		got := testing.AllocsPerRun(100, func() { e.r.Route(e.ctx, alice, st) })
		// +1 account: alice's own.
		if limit := float64(9 + 2*(online+1)); got > limit {
			t.Errorf("%v: allocations per broadcast = %v, want at most %v", bl, got, limit)
		}
		allocs = append(allocs, got)
	}
	if allocs[1] > allocs[0] {
		t.Errorf("allocations per broadcast = %v with blocking wired, %v without: want no more", allocs[1], allocs[0])
	}
}
