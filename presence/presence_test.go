package presence

import (
	"fmt"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// baseRoster gives alice one contact per subscription state, with the
// contacts' rosters agreeing: bob sees alice ("from" in alice's roster),
// carol and alice see each other, alice sees dave, eve and alice nothing.
func baseRoster(e *env) {
	e.subscription("alice", "bob", storage.SubFrom)
	e.subscription("alice", "carol", storage.SubBoth)
	e.subscription("alice", "dave", storage.SubTo)
	e.subscription("alice", "eve", storage.SubNone)
	e.subscription("bob", "alice", storage.SubTo)
	e.subscription("carol", "alice", storage.SubBoth)
	e.subscription("dave", "alice", storage.SubFrom)
	e.subscription("eve", "alice", storage.SubNone)
}

type rosterEdit struct {
	user, contact string
	sub           storage.Subscription
}

type step struct {
	unbind string // short full JID to unbind, or
	from   string // short full JID sending x
	x      string
}

func send(from, x string) step { return step{from: from, x: x} }
func unbind(j string) step     { return step{unbind: j} }

// stamp is the delay stamp of presence set n seconds after t0.
func stamp(n int) string {
	return fmt.Sprintf("2026-01-02T03:04:%02d.000Z", n)
}

// everyone is the usual set of available sessions: alice/laptop (set at
// t0+1s), bob/1 (2s), carol/1 (3s), dave/1 (4s), eve/1 (5s).
var everyone = []string{"alice/laptop", "bob/1", "carol/1", "dave/1", "eve/1"}

func TestPresence(t *testing.T) {
	cases := []struct {
		name   string
		roster []rosterEdit // applied after baseRoster
		bound  []string     // bound without presence
		online []string     // bound, then available at t0+1s, t0+2s, …
		steps  []step       // at t0+10s
		want   map[string][]string
		// ordered: the order of stanzas to one client matters
		ordered bool
	}{
		{
			name:   "initial presence goes to from/both and own resources, probes to/both",
			bound:  []string{"alice/phone"},
			online: everyone,
			steps:  []step{send("alice/phone", `<presence><priority>5</priority></presence>`)},
			want: map[string][]string{
				"alice/phone": {
					"available alice/phone>alice priority=5",
					"available alice/laptop>alice/phone delay(example.com," + stamp(1) + ")",
					"available carol/1>alice/phone delay(example.com," + stamp(3) + ")",
					"available dave/1>alice/phone delay(example.com," + stamp(4) + ")",
				},
				"alice/laptop": {"available alice/phone>alice priority=5"},
				"bob/1":        {"available alice/phone>bob priority=5"},
				"carol/1":      {"available alice/phone>carol priority=5"},
			},
		},
		{
			name:   "subsequent presence is broadcast without probes",
			online: append([]string{"alice/phone"}, everyone...),
			steps:  []step{send("alice/phone", `<presence><show>away</show><priority>-1</priority></presence>`)},
			want: map[string][]string{
				"alice/phone":  {"available alice/phone>alice show=away priority=-1"},
				"alice/laptop": {"available alice/phone>alice show=away priority=-1"},
				"bob/1":        {"available alice/phone>bob show=away priority=-1"},
				"carol/1":      {"available alice/phone>carol show=away priority=-1"},
			},
		},
		{
			name:   "a probe needs the contact's consent",
			roster: []rosterEdit{{"dave", "alice", storage.SubNone}},
			bound:  []string{"alice/phone"},
			online: []string{"dave/1"},
			steps:  []step{send("alice/phone", `<presence/>`)},
			want: map[string][]string{
				"alice/phone": {"available alice/phone>alice"},
			},
		},
		{
			name:   "a roster item for oneself changes nothing",
			roster: []rosterEdit{{"alice", "alice", storage.SubBoth}},
			bound:  []string{"alice/phone"},
			online: []string{"alice/laptop"},
			steps:  []step{send("alice/phone", `<presence/>`)},
			want: map[string][]string{
				"alice/phone": {
					"available alice/phone>alice",
					"available alice/laptop>alice/phone delay(example.com," + stamp(1) + ")",
				},
				"alice/laptop": {"available alice/phone>alice"},
			},
		},
		{
			name:   "unavailable presence is broadcast when a session ends",
			online: append([]string{"alice/phone"}, everyone...),
			steps:  []step{unbind("alice/phone")},
			want: map[string][]string{
				"alice/laptop": {"unavailable alice/phone>alice"},
				"bob/1":        {"unavailable alice/phone>bob"},
				"carol/1":      {"unavailable alice/phone>carol"},
			},
		},
		{
			name:   "explicit unavailable is broadcast whole and not repeated at the end",
			online: append([]string{"alice/phone"}, everyone...),
			steps: []step{
				send("alice/phone", `<presence type="unavailable"><status>bye</status></presence>`),
				unbind("alice/phone"),
			},
			want: map[string][]string{
				"alice/phone":  {"unavailable alice/phone>alice status=bye"},
				"alice/laptop": {"unavailable alice/phone>alice status=bye"},
				"bob/1":        {"unavailable alice/phone>bob status=bye"},
				"carol/1":      {"unavailable alice/phone>carol status=bye"},
			},
		},
		{
			name:   "going available again probes again",
			online: []string{"alice/phone", "carol/1"},
			steps: []step{
				send("alice/phone", `<presence type="unavailable"/>`),
				send("alice/phone", `<presence/>`),
			},
			ordered: true,
			want: map[string][]string{
				"alice/phone": {
					"unavailable alice/phone>alice",
					"available alice/phone>alice",
					"available carol/1>alice/phone delay(example.com," + stamp(2) + ")",
				},
				"carol/1": {"unavailable alice/phone>carol", "available alice/phone>carol"},
			},
		},
		{
			name:   "directed presence to an unsubscribed contact is taken back on disconnect",
			online: []string{"alice/phone", "bob/1", "eve/1"},
			steps: []step{
				send("alice/phone", `<presence to="eve@example.com"><status>hi</status></presence>`),
				unbind("alice/phone"),
			},
			ordered: true,
			want: map[string][]string{
				"eve/1": {"available alice/phone>eve status=hi", "unavailable alice/phone>eve"},
				"bob/1": {"unavailable alice/phone>bob"},
			},
		},
		{
			name:   "directed presence to a subscribed contact: one unavailable",
			online: []string{"alice/phone", "bob/1"},
			steps: []step{
				send("alice/phone", `<presence to="bob@example.com"/>`),
				unbind("alice/phone"),
			},
			ordered: true,
			want: map[string][]string{
				"bob/1": {"available alice/phone>bob", "unavailable alice/phone>bob"},
			},
		},
		{
			name:   "directed presence to a full JID",
			online: []string{"alice/phone", "eve/1", "eve/2"},
			steps: []step{
				send("alice/phone", `<presence to="eve@example.com/2"/>`),
				unbind("alice/phone"),
			},
			ordered: true,
			want: map[string][]string{
				"eve/2": {"available alice/phone>eve/2", "unavailable alice/phone>eve/2"},
			},
		},
		{
			name:   "directed unavailable presence takes it back early",
			online: []string{"alice/phone", "eve/1"},
			steps: []step{
				send("alice/phone", `<presence to="eve@example.com"/>`),
				send("alice/phone", `<presence type="unavailable" to="eve@example.com"/>`),
				unbind("alice/phone"),
			},
			ordered: true,
			want: map[string][]string{
				"eve/1": {"available alice/phone>eve", "unavailable alice/phone>eve"},
			},
		},
		{
			name:   "directed presence before initial presence",
			bound:  []string{"alice/phone"},
			online: []string{"bob/1", "eve/1"},
			steps: []step{
				send("alice/phone", `<presence to="eve@example.com"/>`),
				unbind("alice/phone"),
			},
			ordered: true,
			want: map[string][]string{
				"eve/1": {"available alice/phone>eve", "unavailable alice/phone>eve"},
			},
		},
		{
			name:   "directed presence to a nonexistent user or the server is ignored",
			online: []string{"alice/phone"},
			steps: []step{
				send("alice/phone", `<presence to="frank@example.com"/>`),
				send("alice/phone", `<presence to="frank@example.com/x"/>`),
				send("alice/phone", `<presence to="example.com"/>`),
				send("alice/phone", `<presence to="example.com/x"/>`),
			},
			want: map[string][]string{},
		},
		{
			name:   "directed presence to an offline resource is ignored",
			online: []string{"alice/phone", "eve/1"},
			steps: []step{
				send("alice/phone", `<presence to="eve@example.com/2"/>`),
				unbind("alice/phone"),
			},
			want: map[string][]string{},
		},
		{
			name:  "an invalid priority is a bad-request",
			bound: []string{"alice/phone"},
			online: []string{
				"bob/1",
			},
			steps: []step{send("alice/phone", `<presence id="p1"><priority>128</priority></presence>`)},
			want: map[string][]string{
				"alice/phone": {"error alice>alice/phone error=bad-request"},
			},
		},
		{
			name:   "an unknown type is a bad-request",
			online: []string{"alice/phone", "bob/1"},
			steps:  []step{send("alice/phone", `<presence type="bogus"/>`)},
			want: map[string][]string{
				"alice/phone": {"error alice>alice/phone error=bad-request"},
			},
		},
		{
			name:   "a client's probe is answered for subscribed contacts only",
			online: []string{"alice/phone", "bob/1", "carol/1", "carol/2", "eve/1"},
			steps: []step{
				send("alice/phone", `<presence type="probe" to="carol@example.com"/>`),
				send("alice/phone", `<presence type="probe" to="carol@example.com/2"/>`),
				send("alice/phone", `<presence type="probe" to="bob@example.com"/>`),
				send("alice/phone", `<presence type="probe" to="eve@example.com"/>`),
				send("alice/phone", `<presence type="probe" to="frank@example.com"/>`),
			},
			ordered: true,
			want: map[string][]string{
				"alice/phone": {
					"available carol/1>alice/phone delay(example.com," + stamp(3) + ")",
					"available carol/2>alice/phone delay(example.com," + stamp(4) + ")",
					"available carol/2>alice/phone delay(example.com," + stamp(4) + ")",
				},
			},
		},
		{
			name:   "a client's probe of its own account",
			online: []string{"alice/phone", "alice/laptop", "alice/tablet"},
			steps: []step{
				send("alice/phone", `<presence type="probe"/>`),
				send("alice/phone", `<presence type="probe" to="alice@example.com/tablet"/>`),
				send("alice/phone", `<presence type="probe" to="example.com"/>`),
			},
			ordered: true,
			want: map[string][]string{
				"alice/phone": {
					"available alice/laptop>alice/phone delay(example.com," + stamp(2) + ")",
					"available alice/tablet>alice/phone delay(example.com," + stamp(3) + ")",
					"available alice/tablet>alice/phone delay(example.com," + stamp(3) + ")",
				},
			},
		},
		{
			name:   "a presence error reaches a bound full JID only",
			online: []string{"alice/phone", "bob/1"},
			steps: []step{
				send("alice/phone", `<presence type="error" to="bob@example.com/1"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`),
				send("alice/phone", `<presence type="error" to="bob@example.com/2"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`),
				send("alice/phone", `<presence type="error" to="bob@example.com"><error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></presence>`),
			},
			want: map[string][]string{
				"bob/1": {"error alice/phone>bob/1 error=service-unavailable"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			baseRoster(e)
			for _, r := range tc.roster {
				e.subscription(r.user, r.contact, r.sub)
			}
			e.start(tc.bound, tc.online)
			e.clock.Set(t0.Add(10 * time.Second))
			if got := e.play(tc.steps); !equalDeliveries(got, tc.want, tc.ordered) {
				t.Errorf("deliveries:%s\nwant:%s", formatDeliveries(got), formatDeliveries(tc.want))
			}
		})
	}
}
