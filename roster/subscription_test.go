package roster

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ringd/ringd/storage"
)

// befriend runs the full handshake between a and b, ending in "both", and
// discards what it delivered.
func befriend(a, b *client) {
	aBare, bBare := bareOf(a), bareOf(b)
	a.send(`<presence type="subscribe" to="` + bBare + `"/>`)
	b.send(`<presence type="subscribed" to="` + aBare + `"/>`)
	b.send(`<presence type="subscribe" to="` + aBare + `"/>`)
	a.send(`<presence type="subscribed" to="` + bBare + `"/>`)
	a.take()
	b.take()
}

func bareOf(c *client) string { return c.s.BareString() }

// checkItem compares the stored item of contact in user's roster.
func (h *harness) checkItem(user, contact string, want *storage.RosterItem) {
	h.t.Helper()
	got := h.item(user, contact)
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		h.t.Errorf("%s's item %s = %+v, want %+v", user, contact, got, want)
	case got.Contact != want.Contact || got.Name != want.Name || got.Subscription != want.Subscription ||
		got.Ask != want.Ask || got.Approved != want.Approved || !slices.Equal(got.Groups, want.Groups):
		h.t.Errorf("%s's item %s = %+v, want %+v", user, contact, *got, *want)
	}
}

func (h *harness) checkPending(user string, want ...string) {
	h.t.Helper()
	if got := h.pending(user); !slices.Equal(got, want) {
		h.t.Errorf("pending requests to %s = %v, want %v", user, got, want)
	}
}

// TestSubscriptionHandshake runs RFC 6121 §3.1 both ways between two online
// users: each step's roster pushes, delivered stanzas and presence.
func TestSubscriptionHandshake(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	a := h.login("alice@example.com/phone")
	b := h.login("bob@example.com/phone")

	steps := []struct {
		name         string
		from         *client
		x            string
		wantA, wantB []string
	}{
		{"alice asks bob (§3.1.2, A.2.1 None → None + Pending Out, A.3.1 None → None + Pending In)",
			a, `<presence type="subscribe" to="bob@example.com" id="s1"/>`,
			[]string{"push ver=1 [bob@example.com none ask=subscribe]"},
			[]string{"presence subscribe from=alice@example.com to=bob@example.com"}},
		{"bob approves (§3.1.5, A.2.3 None + Pending In → From, A.3.3 None + Pending Out → To)",
			b, `<presence type="subscribed" to="alice@example.com" id="s2"/>`,
			[]string{
				"push ver=2 [bob@example.com to]",
				"presence subscribed from=bob@example.com to=alice@example.com",
				"presence available from=bob@example.com/phone to=alice@example.com",
			},
			[]string{"push ver=1 [alice@example.com from]"}},
		{"bob asks alice (A.2.1 From → From + Pending Out, A.3.1 To → To + Pending In)",
			b, `<presence type="subscribe" to="alice@example.com" id="s3"/>`,
			[]string{"presence subscribe from=bob@example.com to=alice@example.com"},
			[]string{"push ver=2 [alice@example.com from ask=subscribe]"}},
		{"alice approves (A.2.3 To + Pending In → Both, A.3.3 From + Pending Out → Both)",
			a, `<presence type="subscribed" to="bob@example.com" id="s4"/>`,
			[]string{"push ver=3 [bob@example.com both]"},
			[]string{
				"push ver=3 [alice@example.com both]",
				"presence subscribed from=alice@example.com to=bob@example.com",
				"presence available from=alice@example.com/phone to=bob@example.com",
			}},
		{"alice asks again: auto-reply, her presence from bob again (A.3.1 Both *)",
			a, `<presence type="subscribe" to="bob@example.com" id="s5"/>`,
			[]string{"presence available from=bob@example.com/phone to=alice@example.com"},
			nil},
		{"bob approves again: nothing (A.2.3 Both)",
			b, `<presence type="subscribed" to="alice@example.com" id="s6"/>`,
			nil, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.from.send(st.x)
			a.expect(st.wantA...)
			b.expect(st.wantB...)
		})
	}
	h.checkItem("alice", "bob@example.com", &storage.RosterItem{Contact: "bob@example.com", Subscription: storage.SubBoth})
	h.checkItem("bob", "alice@example.com", &storage.RosterItem{Contact: "alice@example.com", Subscription: storage.SubBoth})
	h.checkPending("alice")
	h.checkPending("bob")
}

// TestSubscriptionStanza checks what the contact receives: the sender's
// bare JID as 'from' whatever the client wrote (§3.1.2), the contact's
// bare JID as 'to' (§3.1.3), id and extended content kept.
func TestSubscriptionStanza(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	a := h.login("alice@example.com/phone")
	b := h.login("bob@example.com/phone")
	a.send(`<presence from="mallory@example.com/x" type="subscribe" to="bob@example.com/laptop" id="x&amp;1"><nick xmlns="http://jabber.org/protocol/nick">Al</nick></presence>`)
	got := b.take()
	if len(got) != 1 {
		t.Fatalf("bob received %d stanzas, want 1", len(got))
	}
	raw := string(got[0])
	for _, want := range []string{`from="alice@example.com"`, `to="bob@example.com"`, `id="x&amp;1"`, `<nick xmlns="http://jabber.org/protocol/nick">Al</nick>`} {
		if !strings.Contains(raw, want) {
			t.Errorf("delivered %s, want it to contain %s", raw, want)
		}
	}
	for _, bad := range []string{"mallory", "laptop"} {
		if strings.Contains(raw, bad) {
			t.Errorf("delivered %s, want no %q", raw, bad)
		}
	}
	// The stored request is the delivered stanza.
	reqs, err := h.store.SubscriptionRequests(h.ctx, "bob")
	if err != nil || len(reqs) != 1 || string(reqs[0].Stanza) != raw {
		t.Errorf("stored requests = %v, %v; want one holding %s", reqs, err, raw)
	}
}

// TestSubscriptionIdempotent checks that repeated and meaningless stanzas
// change nothing and are not delivered (Appendix A "no state change" rows).
func TestSubscriptionIdempotent(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	a := h.login("alice@example.com/phone")
	b := h.login("bob@example.com/phone")

	steps := []struct {
		name         string
		from         *client
		x            string
		wantA, wantB []string
	}{
		{"alice asks", a, `<presence type="subscribe" to="bob@example.com"/>`,
			[]string{"push ver=1 [bob@example.com none ask=subscribe]"},
			[]string{"presence subscribe from=alice@example.com to=bob@example.com"}},
		{"alice asks again (A.2.1 None + Pending Out, A.3.1 None + Pending In: no state change)",
			a, `<presence type="subscribe" to="bob@example.com"/>`, nil, nil},
		{"bob unsubscribes from a non-subscription (A.2.2 None, A.3.2 None + Pending Out)",
			b, `<presence type="unsubscribe" to="alice@example.com"/>`, nil, nil},
		{"bob denies (A.2.4 None + Pending In → None, A.3.4 None + Pending Out → None)",
			b, `<presence type="unsubscribed" to="alice@example.com"/>`,
			[]string{
				"push ver=2 [bob@example.com none]",
				"presence unsubscribed from=bob@example.com to=alice@example.com",
			}, nil},
		{"bob denies again (A.2.4 None)", b, `<presence type="unsubscribed" to="alice@example.com"/>`, nil, nil},
		{"alice sends subscribed unasked, pre-approving bob (A.2.3 None, §3.4)",
			a, `<presence type="subscribed" to="bob@example.com"/>`,
			[]string{"push ver=3 [bob@example.com none approved=true]"}, nil},
		{"alice pre-approves again", a, `<presence type="subscribed" to="bob@example.com"/>`, nil, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.from.send(st.x)
			a.expect(st.wantA...)
			b.expect(st.wantB...)
		})
	}
	h.checkPending("bob")
	h.checkItem("bob", "alice@example.com", nil)
}

// TestPreApproval runs RFC 6121 §3.4: a pre-approved request is approved
// by the server without reaching the contact; a cancelled pre-approval
// (§3.2.2) leaves the request to the contact again.
func TestPreApproval(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob", "carol")
	a := h.login("alice@example.com/phone")
	b := h.login("bob@example.com/phone")
	c := h.login("carol@example.com/phone")

	steps := []struct {
		name                string
		from                *client
		x                   string
		wantA, wantB, wantC []string
	}{
		{"bob pre-approves alice", b, `<presence type="subscribed" to="alice@example.com"/>`,
			nil, []string{"push ver=1 [alice@example.com none approved=true]"}, nil},
		{"alice asks and is approved at once", a, `<presence type="subscribe" to="bob@example.com"/>`,
			[]string{
				"push ver=1 [bob@example.com none ask=subscribe]",
				"push ver=2 [bob@example.com to]",
				"presence subscribed from=bob@example.com to=alice@example.com",
				"presence available from=bob@example.com/phone to=alice@example.com",
			},
			[]string{"push ver=2 [alice@example.com from]"}, nil},
		{"bob pre-approves carol", b, `<presence type="subscribed" to="carol@example.com"/>`,
			nil, []string{"push ver=3 [carol@example.com none approved=true]"}, nil},
		{"bob cancels the pre-approval", b, `<presence type="unsubscribed" to="carol@example.com"/>`,
			nil, []string{"push ver=4 [carol@example.com none]"}, nil},
		{"carol's request now reaches bob", c, `<presence type="subscribe" to="bob@example.com"/>`,
			nil, []string{"presence subscribe from=carol@example.com to=bob@example.com"},
			[]string{"push ver=1 [bob@example.com none ask=subscribe]"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.from.send(st.x)
			a.expect(st.wantA...)
			b.expect(st.wantB...)
			c.expect(st.wantC...)
		})
	}
	h.checkPending("bob", "carol@example.com")
	h.checkItem("bob", "alice@example.com", &storage.RosterItem{Contact: "alice@example.com", Subscription: storage.SubFrom})
}

// TestPendingRequestRedelivery checks RFC 6121 §3.1.3: a request to an
// offline user is kept and delivered at every initial presence until it
// is answered or withdrawn; it is no roster item.
func TestPendingRequestRedelivery(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob", "carol")
	a := h.login("alice@example.com/phone")
	c := h.login("carol@example.com/phone")
	a.send(`<presence type="subscribe" to="bob@example.com"/>`)
	a.send(`<presence type="subscribe" to="bob@example.com"/>`)
	c.send(`<presence type="subscribe" to="bob@example.com"/>`)
	c.send(`<presence type="unsubscribe" to="bob@example.com"/>`) // withdrawn (A.3.2 None + Pending In → None)
	a.take()
	c.take()
	h.checkPending("bob", "alice@example.com")

	b1 := h.bind("bob@example.com/phone")
	b1.send(`<iq type="get" id="g1"><query xmlns="jabber:iq:roster"/></iq>`)
	b1.expect("result id=g1 ver=0")
	b1.available()
	b1.expect("presence subscribe from=alice@example.com to=bob@example.com")

	b2 := h.bind("bob@example.com/tablet")
	b2.available()
	b2.expect("presence subscribe from=alice@example.com to=bob@example.com")
	b1.expect()

	a.send(`<presence type="subscribe" to="bob@example.com"/>`)
	b1.expect()
	b2.expect()

	b1.send(`<presence type="subscribed" to="alice@example.com"/>`)
	b1.expect("push ver=1 [alice@example.com from]")
	b2.expect() // not an interested resource
	h.checkPending("bob")

	b3 := h.bind("bob@example.com/laptop")
	b3.available()
	b3.expect()
}

// TestUnsubscribeAndCancel runs §3.3 (unsubscribe) and §3.2 (cancel) after
// a mutual subscription, with the unavailable presence each one sends.
func TestUnsubscribeAndCancel(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	a := h.login("alice@example.com/phone")
	b := h.login("bob@example.com/phone")
	befriend(a, b)

	steps := []struct {
		name         string
		from         *client
		x            string
		wantA, wantB []string
	}{
		{"alice unsubscribes (A.2.2 Both → From, A.3.2 Both → To, §3.3.3 unavailable)",
			a, `<presence type="unsubscribe" to="bob@example.com"/>`,
			[]string{
				"push ver=4 [bob@example.com from]",
				"presence unavailable from=bob@example.com/phone to=alice@example.com",
			},
			[]string{
				"push ver=4 [alice@example.com to]",
				"presence unsubscribe from=alice@example.com to=bob@example.com",
			}},
		{"alice cancels bob's subscription (A.2.4 From → None, A.3.4 To → None, §3.2.2 unavailable)",
			a, `<presence type="unsubscribed" to="bob@example.com"/>`,
			[]string{"push ver=5 [bob@example.com none]"},
			[]string{
				"presence unavailable from=alice@example.com/phone to=bob@example.com",
				"push ver=5 [alice@example.com none]",
				"presence unsubscribed from=alice@example.com to=bob@example.com",
			}},
		{"alice cancels again: nothing (A.2.4 None)",
			a, `<presence type="unsubscribed" to="bob@example.com"/>`, nil, nil},
		{"alice unsubscribes again: routed, nothing changes (A.2.2 None, A.3.2 None)",
			a, `<presence type="unsubscribe" to="bob@example.com"/>`, nil, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.from.send(st.x)
			a.expect(st.wantA...)
			b.expect(st.wantB...)
		})
	}
	h.checkItem("alice", "bob@example.com", &storage.RosterItem{Contact: "bob@example.com", Subscription: storage.SubNone})
	h.checkItem("bob", "alice@example.com", &storage.RosterItem{Contact: "alice@example.com", Subscription: storage.SubNone})
}

// TestRemoveCascade checks RFC 6121 §2.5.2: removing an item cancels the
// subscriptions both ways, as the contact's server sees it.
func TestRemoveCascade(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob", "carol", "dave")
	a := h.login("alice@example.com/phone")
	b := h.login("bob@example.com/phone")
	c := h.login("carol@example.com/phone")
	d := h.login("dave@example.com/phone")
	befriend(a, b)

	remove := func(id, contact string) string {
		return `<iq type="set" id="` + id + `"><query xmlns="jabber:iq:roster"><item jid="` + contact + `" subscription="remove"/></query></iq>`
	}
	t.Run("both", func(t *testing.T) {
		a.send(remove("r1", "bob@example.com"))
		a.expect(
			"push ver=4 [bob@example.com remove]",
			"presence unavailable from=bob@example.com/phone to=alice@example.com",
			"result id=r1",
		)
		b.expect(
			"push ver=4 [alice@example.com to]",
			"presence unsubscribe from=alice@example.com to=bob@example.com",
			"presence unavailable from=alice@example.com/phone to=bob@example.com",
			"push ver=5 [alice@example.com none]",
			"presence unsubscribed from=alice@example.com to=bob@example.com",
		)
		h.checkItem("alice", "bob@example.com", nil)
		h.checkItem("bob", "alice@example.com", &storage.RosterItem{Contact: "alice@example.com", Subscription: storage.SubNone})
	})
	t.Run("pending out: the request is withdrawn", func(t *testing.T) {
		a.send(`<presence type="subscribe" to="carol@example.com"/>`)
		a.take()
		c.take()
		h.checkPending("carol", "alice@example.com")
		a.send(remove("r2", "carol@example.com"))
		a.expect("push ver=6 [carol@example.com remove]", "result id=r2")
		c.expect("presence unsubscribe from=alice@example.com to=carol@example.com")
		h.checkPending("carol")
	})
	t.Run("pending in: the request is denied", func(t *testing.T) {
		a.send(`<iq type="set" id="s3"><query xmlns="jabber:iq:roster"><item jid="dave@example.com"/></query></iq>`)
		d.send(`<presence type="subscribe" to="alice@example.com"/>`)
		a.take()
		d.take()
		h.checkPending("alice", "dave@example.com")
		a.send(remove("r3", "dave@example.com"))
		a.expect("push ver=8 [dave@example.com remove]", "result id=r3")
		d.expect(
			"push ver=2 [alice@example.com none]",
			"presence unsubscribed from=alice@example.com to=dave@example.com",
		)
		h.checkPending("alice")
	})
	t.Run("item of another domain", func(t *testing.T) {
		a.send(`<iq type="set" id="s4"><query xmlns="jabber:iq:roster"><item jid="zoe@example.net"/></query></iq>`)
		a.send(remove("r4", "zoe@example.net"))
		a.expect("push ver=9 [zoe@example.net none]", "result id=s4", "push ver=10 [zoe@example.net remove]", "result id=r4")
	})
}

// TestSubscriptionAddressing covers stanzas that reach no roster.
func TestSubscriptionAddressing(t *testing.T) {
	h := newHarness(t, Config{}, "alice")
	a := h.login("alice@example.com/phone")
	tests := []struct {
		name string
		x    string
		want []string
	}{
		{"account that does not exist: unsubscribed (§3.1.3)", `<presence type="subscribe" to="nobody@example.com"/>`,
			[]string{
				"push ver=1 [nobody@example.com none ask=subscribe]",
				"push ver=2 [nobody@example.com none]",
				"presence unsubscribed from=nobody@example.com to=alice@example.com",
			}},
		{"unsubscribe to an account that does not exist: ignored", `<presence type="unsubscribe" to="nobody2@example.com"/>`, nil},
		{"own account: ignored", `<presence type="subscribe" to="alice@example.com"/>`, nil},
		{"the server: ignored", `<presence type="subscribe" to="example.com"/>`, nil},
		{"another domain: the router answers", `<presence type="subscribe" to="zoe@example.net"/>`,
			[]string{"presence error from=zoe@example.net cancel remote-server-not-found"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.send(tc.x)
			a.expect(tc.want...)
		})
	}
}

// TestSubscriptionToUnavailableSessions checks that subscription stanzas
// go to available resources only and pushes to interested ones only.
func TestSubscriptionToUnavailableSessions(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	a := h.login("alice@example.com/phone")
	bInterested := h.bind("bob@example.com/phone")
	bInterested.send(`<iq type="get" id="g"><query xmlns="jabber:iq:roster"/></iq>`)
	bInterested.take()
	bBare := h.bind("bob@example.com/tablet") // neither interested nor available

	a.send(`<presence type="subscribe" to="bob@example.com"/>`)
	bInterested.expect()
	bBare.expect()
	bInterested.send(`<presence type="subscribed" to="alice@example.com"/>`)
	bInterested.expect("push ver=1 [alice@example.com from]")
	bBare.expect()
	// bob has no available resource, so alice gets no presence from him.
	a.expect(
		"push ver=1 [bob@example.com none ask=subscribe]",
		"push ver=2 [bob@example.com to]",
		"presence subscribed from=bob@example.com to=alice@example.com",
	)
}

// TestSubscriptionConcurrent drives both sides of a subscription from
// several sessions at once (run with -race): no deadlock, and every stored
// state is one of RFC 6121 Appendix A's.
func TestSubscriptionConcurrent(t *testing.T) {
	h := newHarness(t, Config{}, "alice", "bob")
	var clients []*client
	for _, full := range []string{"alice@example.com/1", "alice@example.com/2", "bob@example.com/1", "bob@example.com/2"} {
		clients = append(clients, h.login(full))
	}
	types := []string{"subscribe", "subscribed", "unsubscribe", "unsubscribed"}
	var wg sync.WaitGroup
	for i, c := range clients {
		to := "bob@example.com"
		if strings.HasPrefix(c.full, "bob") {
			to = "alice@example.com"
		}
		wg.Go(func() {
			for n := range 40 {
				c.send(`<presence type="` + types[(n*(i+1))%len(types)] + `" to="` + to + `"/>`)
				if n%10 == 0 {
					c.send(`<iq type="set" id="r"><query xmlns="jabber:iq:roster"><item jid="` + to + `" name="n"/></query></iq>`)
				}
			}
		})
	}
	wg.Wait()
	for _, p := range [][2]string{{"alice", "bob@example.com"}, {"bob", "alice@example.com"}} {
		it := h.item(p[0], p[1])
		pending := slices.Contains(h.pending(p[0]), p[1])
		st := stateOf(it, pending)
		if (st.from && st.pendingIn) || (st.to && st.pendingOut) || (st.approved && (st.from || st.pendingIn)) {
			t.Errorf("%s's state for %s = %v, not an RFC 6121 state", p[0], p[1], st)
		}
	}
}
