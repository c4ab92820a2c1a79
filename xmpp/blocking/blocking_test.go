package blocking_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/blocking"
)

func TestCommands(t *testing.T) {
	type step struct{ send, want string }
	tests := []struct {
		name  string
		max   int
		steps []step
	}{
		{"empty list", 0, []step{
			{command("blocklist"), "iq result blocklist"},
		}},
		{"block, then the list in canonical form and byte order", 0, []step{
			{command("block", "Romeo@Montague.NET/Orchard", "montague.net", "iago@shakespeare.lit", "example.org/bot", "montague.net"), "iq result"},
			{command("blocklist"), "iq result blocklist example.org/bot iago@shakespeare.lit montague.net romeo@montague.net/Orchard"},
		}},
		{"unblock some, then all", 0, []step{
			{command("block", "x@example.net", "y@example.net", "example.org"), "iq result"},
			{command("unblock", "X@example.net", "nobody@example.net"), "iq result"},
			{command("blocklist"), "iq result blocklist example.org y@example.net"},
			{command("unblock"), "iq result"},
			{command("blocklist"), "iq result blocklist"},
		}},
		{"block with no item", 0, []step{
			{command("block"), "iq error bad-request from alice"},
		}},
		{"item without jid", 0, []step{
			{`<iq type="set" id="x"><block xmlns="urn:xmpp:blocking"><item/></block></iq>`, "iq error jid-malformed from alice"},
		}},
		{"malformed JIDs change nothing", 0, []step{
			{command("block", "ok@example.net", "@example.net"), "iq error jid-malformed from alice"},
			{command("block", "example.net/"), "iq error jid-malformed from alice"},
			{command("unblock", ""), "iq error jid-malformed from alice"},
			{command("blocklist"), "iq result blocklist"},
		}},
		{"get carrying a block, set carrying a blocklist", 0, []step{
			{strings.Replace(command("block", "x@example.net"), `type="set"`, `type="get"`, 1), "iq error bad-request from alice"},
			{strings.Replace(command("blocklist"), `type="get"`, `type="set"`, 1), "iq error bad-request from alice"},
			{`<iq type="set" id="x"><blocked xmlns="urn:xmpp:blocking"/></iq>`, "iq error bad-request from alice"},
		}},
		{"the list is bounded", 2, []step{
			{command("block", "x@example.net", "y@example.net"), "iq result"},
			{command("block", "z@example.net"), "iq error policy-violation from alice"},
			{command("block", "x@example.net"), "iq result"}, // adds nothing
			{command("blocklist"), "iq result blocklist x@example.net y@example.net"},
		}},
		{"another account's list", 0, []step{
			{`<iq type="get" id="x" to="bob@localhost"><blocklist xmlns="urn:xmpp:blocking"/></iq>`, "iq error service-unavailable from bob"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, blocking.Config{MaxItems: tc.max}, "a")
			for i, s := range tc.steps {
				if got := f.iq(t, "a", s.send); got != s.want {
					t.Errorf("step %d: %s\n got %q\nwant %q", i+1, s.send, got, s.want)
				}
			}
		})
	}
}

func TestDiscoFeature(t *testing.T) {
	f := setup(t, blocking.Config{}, "a")
	found := false
	for _, feat := range f.env.Router.Features(1) { // router.ToServer
		found = found || feat == blocking.NS
	}
	if !found {
		t.Errorf("server features %q lack %s", f.env.Router.Features(1), blocking.NS)
	}
}

// TestPushes: changes reach every resource that fetched its list
// (XEP-0191 "interested resources"), the one that made the change too,
// and no other.
func TestPushes(t *testing.T) {
	f := setup(t, blocking.Config{}, "a", "b")
	f.iq(t, "a", command("blocklist"))
	f.route(t, "a", command("block", "x@example.net", "Y@example.net"))
	f.expect(t, map[string][]string{"a": {"iq set block x@example.net y@example.net", "iq result"}})

	f.iq(t, "b", command("blocklist"))
	f.route(t, "b", command("unblock"))
	f.expect(t, map[string][]string{
		"a": {"iq set unblock"},
		"b": {"iq set unblock", "iq result"},
	})

	f.env.Router.Unbind(context.Background(), f.session["a"])
	f.session["a"], f.conn["a"] = f.env.Bind(t, fullJIDs["a"], true) // a new session of the resource
	f.route(t, "b", command("block", "z@example.net"))
	f.expect(t, map[string][]string{"b": {"iq set block z@example.net", "iq result"}})
}

func TestMatching(t *testing.T) {
	f := setup(t, blocking.Config{}, "a")
	f.block(t, "a", "bob@localhost", "carol@localhost/c", "example.net", "localhost/bot")
	tests := []struct {
		addr string
		want bool
	}{
		{"bob@localhost/phone", true}, // a bare JID: every resource
		{"bob@localhost", true},
		{"carol@localhost/c", true}, // a full JID: only that resource
		{"carol@localhost/other", false},
		{"carol@localhost", false},
		{"x@example.net/r", true}, // a domain: everything at it
		{"x@example.net", true},
		{"example.net", true},
		{"example.net/r", true},
		{"sub.example.net", false}, // but no subdomain
		{"localhost/bot", true},    // a domain/resource
		{"dave@localhost/bot", true},
		{"localhost/other", false},
		{"localhost", false},
		{"dave@localhost", false},
	}
	for _, tc := range tests {
		got, err := f.h.Blocks(context.Background(), "alice", jid.MustParse(tc.addr).String())
		if err != nil || got != tc.want {
			t.Errorf("Blocks(alice, %s) = %v, %v; want %v", tc.addr, got, err, tc.want)
		}
	}
	if got, _ := f.h.Blocks(context.Background(), "bob", "alice@localhost"); got {
		t.Error("Blocks(bob, alice) = true: alice's list applies to bob")
	}
	for user, want := range map[string]bool{"alice": true, "bob": false, "dave": false} {
		if got, err := f.h.BlocksAnyone(context.Background(), user); err != nil || got != want {
			t.Errorf("BlocksAnyone(%s) = %v, %v; want %v", user, got, err, want)
		}
	}
}

// TestEnforcement: what a blocked JID's stanzas to the user and the
// user's stanzas to a blocked JID become (XEP-0191 §3.3). alice (a, b)
// blocks the items; phone is bob, c is carol.
func TestEnforcement(t *testing.T) {
	const bob = "bob@localhost"
	tests := []struct {
		name    string
		blocked []string
		from    string
		send    string
		want    map[string][]string
	}{
		// Inbound: alice appears unavailable.
		{"message to the bare JID", []string{bob}, "phone", chat("alice@localhost", "hi"),
			map[string][]string{"phone": {"message error service-unavailable from alice"}}},
		{"message to a full JID", []string{bob}, "phone", chat("alice@localhost/a", "hi"),
			map[string][]string{"phone": {"message error service-unavailable from alice/a"}}},
		{"message to a non-canonical address", []string{bob}, "phone", chat("Alice@LOCALHOST", "hi"),
			map[string][]string{"phone": {"message error service-unavailable from Alice@LOCALHOST"}}}, // as addressed
		{"message to an escaped address", []string{bob}, "phone", chat("alice@localhost/&#x61;", "hi"),
			map[string][]string{"phone": {"message error service-unavailable from alice/a"}}},
		{"error message", []string{bob}, "phone",
			`<message type="error" to="alice@localhost/a"><error type="cancel"><gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
			nil},
		{"IQ get", []string{bob}, "phone", `<iq type="get" id="v" to="alice@localhost/a"><query xmlns="jabber:iq:version"/></iq>`,
			map[string][]string{"phone": {"iq error service-unavailable from alice/a"}}},
		{"IQ result", []string{bob}, "phone", `<iq type="result" id="v" to="alice@localhost/a"/>`, nil},
		{"subscription request", []string{bob}, "phone", `<presence type="subscribe" to="alice@localhost"/>`, nil},
		{"directed presence", []string{bob}, "phone", `<presence to="alice@localhost/a"/>`, nil},
		{"probe", []string{bob}, "phone", `<presence type="probe" to="alice@localhost"/>`, nil},
		{"blocked by a full JID", []string{"bob@localhost/phone"}, "phone", chat("alice@localhost", "hi"),
			map[string][]string{"phone": {"message error service-unavailable from alice"}}},
		{"blocked by the domain", []string{"localhost"}, "c", chat("alice@localhost", "hi"),
			map[string][]string{"c": {"message error service-unavailable from alice"}}},

		// Outbound: not-acceptable with <blocked/>.
		{"own message", []string{bob}, "a", chat(bob, "hi"),
			map[string][]string{"a": {"message error not-acceptable+blocked from bob"}}},
		{"own IQ", []string{bob}, "a", `<iq type="get" id="v" to="bob@localhost/phone"><query xmlns="jabber:iq:version"/></iq>`,
			map[string][]string{"a": {"iq error not-acceptable+blocked from bob/phone"}}},
		{"own subscription request", []string{bob}, "a", `<presence type="subscribe" to="bob@localhost"/>`,
			map[string][]string{"a": {"presence error not-acceptable+blocked from bob"}}},
		{"own IQ result", []string{bob}, "a", `<iq type="result" id="v" to="bob@localhost/phone"/>`, nil},
		{"own message to a blocked domain", []string{"localhost"}, "a", chat("carol@localhost/c", "hi"),
			map[string][]string{"a": {"message error not-acceptable+blocked from carol/c"}}},
		{"own message to a remote blocked domain", []string{"example.net"}, "a", chat("x@example.net", "hi"),
			map[string][]string{"a": {"message error not-acceptable+blocked from x@example.net"}}},

		// What passes.
		{"someone else", []string{bob}, "c", chat("alice@localhost", "hi"),
			map[string][]string{"a": {"message hi from carol/c"}, "b": {"message hi from carol/c"}}},
		{"another resource of a blocked full JID", []string{"bob@localhost/pc"}, "phone", chat("alice@localhost/a", "hi"),
			map[string][]string{"a": {"message hi from bob/phone"}}},
		{"the user's own resources, even when blocked", []string{"alice@localhost", "localhost"}, "b", chat("alice@localhost/a", "hi"),
			map[string][]string{"a": {"message hi from alice/b"}}},
		{"the server, even when its domain is blocked", []string{"localhost"}, "a", `<iq type="get" id="v" to="localhost"><query xmlns="jabber:iq:version"/></iq>`,
			map[string][]string{"a": {"iq error service-unavailable from localhost"}}}, // no handler in this fixture
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, blocking.Config{}, "a", "b", "phone", "c")
			f.block(t, "a", tc.blocked...)
			f.takeAll(t)
			f.route(t, tc.from, tc.send)
			f.expect(t, tc.want)
		})
	}
}

// TestBlockedCallNeverRings: bob blocked alice. Her call offer is refused
// with service-unavailable before jingle, offline storage or push see it:
// no device rings, nothing is stored, the app server gets no
// notification. Once bob unblocks her, the offer is stored and pushed.
func TestBlockedCallNeverRings(t *testing.T) {
	t.Run("online", func(t *testing.T) {
		f := setup(t, blocking.Config{}, "a", "phone", "pc")
		f.block(t, "phone", "alice@localhost")
		f.takeAll(t)
		f.route(t, "a", propose("bob@localhost", "c1"))
		f.expect(t, map[string][]string{"a": {"message error service-unavailable from bob"}})
		f.unblock(t, "pc", "alice@localhost")
		f.takeAll(t)
		f.route(t, "a", propose("bob@localhost", "c2"))
		f.expect(t, map[string][]string{
			"phone": {"message propose c2 from alice/a"},
			"pc":    {"message propose c2 from alice/a"},
		})
	})
	t.Run("offline", func(t *testing.T) {
		f := setup(t, blocking.Config{}, "a", "app")
		if err := f.env.Store.Block(context.Background(), "bob", []string{"alice@localhost"}); err != nil {
			t.Fatal(err)
		}
		f.route(t, "a", propose("bob@localhost", "c1"))
		f.route(t, "a", chat("bob@localhost", "hi"))
		f.expect(t, map[string][]string{"a": {
			"message error service-unavailable from bob",
			"message error service-unavailable from bob",
		}})
		if n := f.stored(t, "bob"); n != 0 {
			t.Errorf("%d messages stored for bob, want none", n)
		}
		// bob logs in to unblock her, and leaves.
		phone, conn := f.env.Bind(t, fullJIDs["phone"], false)
		f.session["phone"], f.conn["phone"] = phone, conn
		f.unblock(t, "phone", "alice@localhost")
		f.env.Router.Unbind(context.Background(), phone)
		delete(f.conn, "phone")
		f.route(t, "a", propose("bob@localhost", "c2"))
		if n := f.stored(t, "bob"); n != 1 {
			t.Errorf("%d messages stored for bob after the unblock, want the offer", n)
		}
		if err := f.push.Close(context.Background()); err != nil { // waits for the notifications
			t.Fatal(err)
		}
		got := f.conn["app"].Take()
		if len(got) != 1 || !strings.HasPrefix(summary(t, got[0]), "iq set pubsub") {
			t.Errorf("the app server got %q, want one notification (for the unblocked call)", got)
		}
		if got := f.metric(t, "ringd_blocking_refused_total", "direction", "in", "kind", "message"); got != 2 {
			t.Errorf("ringd_blocking_refused_total{in,message} = %v, want 2", got)
		}
	})
}

// TestPresenceOnChange: blocking and unblocking a contact exchange the
// presence the roster allows (XEP-0191 §3.3, §3.4).
func TestPresenceOnChange(t *testing.T) {
	tests := []struct {
		name    string
		sub     storage.Subscription // alice's item for bob; bob's for alice mirrors it
		blocked string
		block   map[string][]string
		unblock map[string][]string
	}{
		{"both", storage.SubBoth, "bob@localhost",
			map[string][]string{"phone": {"presence unavailable from alice/a"}, "a": {"presence unavailable from bob/phone", "iq result"}},
			map[string][]string{"phone": {"presence from alice/a"}, "a": {"presence from bob/phone", "iq result"}}},
		{"bob sees alice only", storage.SubFrom, "bob@localhost",
			map[string][]string{"phone": {"presence unavailable from alice/a"}, "a": {"iq result"}},
			map[string][]string{"phone": {"presence from alice/a"}, "a": {"iq result"}}},
		{"alice sees bob only", storage.SubTo, "bob@localhost",
			map[string][]string{"a": {"presence unavailable from bob/phone", "iq result"}},
			map[string][]string{"a": {"presence from bob/phone", "iq result"}}},
		{"no subscription", storage.SubNone, "bob@localhost",
			map[string][]string{"a": {"iq result"}},
			map[string][]string{"a": {"iq result"}}},
		{"a resource that is not online", storage.SubBoth, "bob@localhost/pc",
			map[string][]string{"a": {"iq result"}},
			map[string][]string{"a": {"iq result"}}},
		{"by domain", storage.SubBoth, "localhost",
			map[string][]string{"phone": {"presence unavailable from alice/a"}, "a": {"presence unavailable from bob/phone", "iq result"}},
			map[string][]string{"phone": {"presence from alice/a"}, "a": {"presence from bob/phone", "iq result"}}},
	}
	mirror := map[storage.Subscription]storage.Subscription{
		storage.SubBoth: storage.SubBoth, storage.SubFrom: storage.SubTo, storage.SubTo: storage.SubFrom, storage.SubNone: storage.SubNone,
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := setup(t, blocking.Config{}, "a", "phone")
			for user, it := range map[string]storage.RosterItem{
				"alice": {Contact: "bob@localhost", Subscription: tc.sub},
				"bob":   {Contact: "alice@localhost", Subscription: mirror[tc.sub]},
			} {
				if _, err := f.env.Store.PutRosterItem(ctx, user, it); err != nil {
					t.Fatal(err)
				}
			}
			f.route(t, "a", command("block", tc.blocked))
			f.expect(t, tc.block)
			f.route(t, "a", command("unblock", tc.blocked))
			f.expect(t, tc.unblock)
		})
	}
}

// TestCache: each list is read once, a change takes effect at once, a
// full cache stays correct, and an unreadable list refuses rather than
// lets a blocked JID through.
func TestCache(t *testing.T) {
	t.Run("loaded once", func(t *testing.T) {
		f := setup(t, blocking.Config{}, "a", "phone")
		for range 5 {
			f.route(t, "a", chat("bob@localhost", "hi"))
			f.route(t, "phone", chat("alice@localhost", "hi"))
		}
		if got := f.metric(t, "ringd_blocking_list_loads_total"); got != 2 {
			t.Errorf("ringd_blocking_list_loads_total = %v, want 2 (alice's and bob's)", got)
		}
		f.block(t, "phone", "alice@localhost")
		f.takeAll(t)
		f.route(t, "a", chat("bob@localhost", "hi"))
		f.expect(t, map[string][]string{"a": {"message error service-unavailable from bob"}})
	})
	t.Run("full", func(t *testing.T) {
		f := setup(t, blocking.Config{MaxCached: 2}, "a", "phone", "c")
		f.block(t, "phone", "alice@localhost")
		for range 3 {
			f.takeAll(t)
			f.route(t, "c", chat("alice@localhost", "hi"))
			f.route(t, "a", chat("carol@localhost", "hi"))
			f.route(t, "a", chat("bob@localhost", "hi"))
			f.expect(t, map[string][]string{
				"a": {"message hi from carol/c", "message error service-unavailable from bob"},
				"c": {"message hi from alice/a"},
			})
		}
		if got := f.metric(t, "ringd_blocking_list_evictions_total"); got == 0 {
			t.Error("ringd_blocking_list_evictions_total = 0 with 3 users and room for 2")
		}
		if got := f.metric(t, "ringd_blocking_lists_cached"); got > 2 {
			t.Errorf("ringd_blocking_lists_cached = %v, want at most 2", got)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		f := setup(t, blocking.Config{}, "a", "phone")
		f.env.Store.Close()
		f.route(t, "a", chat("bob@localhost", "hi"))
		f.expect(t, map[string][]string{"a": {"message error internal-server-error from bob"}})
	})
}

// TestConcurrentChanges runs blocks and unblocks while the gate checks
// stanzas (for the race detector), then checks the final state is
// enforced.
func TestConcurrentChanges(t *testing.T) {
	f := setup(t, blocking.Config{}, "a", "b", "phone", "c")
	var wg sync.WaitGroup
	for _, from := range []string{"phone", "c"} {
		wg.Go(func() {
			for i := range 200 {
				f.route(t, from, chat("alice@localhost", fmt.Sprint(i)))
			}
		})
	}
	for i := range 20 {
		who := []string{"a", "b"}[i%2]
		f.route(t, who, command("block", "bob@localhost"))
		f.route(t, who, command("unblock"))
	}
	wg.Wait()
	f.block(t, "a", "bob@localhost")
	f.takeAll(t)
	f.route(t, "phone", chat("alice@localhost", "late"))
	f.route(t, "c", chat("alice@localhost", "late"))
	f.expect(t, map[string][]string{
		"phone": {"message error service-unavailable from alice"},
		"a":     {"message late from carol/c"},
		"b":     {"message late from carol/c"},
	})
}
