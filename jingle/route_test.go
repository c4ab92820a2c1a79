package jingle_test

import (
	"context"
	"maps"
	"strings"
	"testing"

	"github.com/ringd/ringd/jingle"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

func TestPropose(t *testing.T) {
	tests := []struct {
		name   string
		msg    string
		want   map[string][]string
		stored int // offer messages kept for carol
	}{
		{
			name: "bare JID rings every available device, negative priority too",
			msg:  propose("bob@localhost", "c1"),
			want: map[string][]string{
				"phone":  {"propose c1 alice/a→bob"},
				"laptop": {"propose c1 alice/a→bob"},
				"desk":   {"propose c1 alice/a→bob"},
				"b":      {"sent:propose c1 alice/a→bob"},
			},
		},
		{
			name: "full JID rings that device only",
			msg:  propose("bob@localhost/desk", "c1"),
			want: map[string][]string{
				"desk":   {"propose c1 alice/a→bob/desk"},
				"phone":  {"received:propose c1 alice/a→bob/desk"},
				"laptop": {"received:propose c1 alice/a→bob/desk"},
				"b":      {"sent:propose c1 alice/a→bob/desk"},
			},
		},
		{
			name:   "nobody available: stored offline",
			msg:    propose("carol@localhost", "c1"),
			want:   map[string][]string{"b": {"sent:propose c1 alice/a→carol"}},
			stored: 1,
		},
		{
			name: "unknown account: refused at once",
			msg:  propose("nobody@localhost", "c1"),
			want: map[string][]string{"a": {"error service-unavailable"}},
		},
		{
			name: "normal message type rings too",
			msg:  strings.Replace(propose("bob@localhost", "c1"), ` type="chat"`, "", 1),
			want: map[string][]string{
				"phone":  {"propose c1 alice/a→bob"},
				"laptop": {"propose c1 alice/a→bob"},
				"desk":   {"propose c1 alice/a→bob"},
				"b":      {"sent:propose c1 alice/a→bob"},
			},
		},
		{
			name: "an error quoting an offer is not an offer",
			msg: `<message type="error" to="bob@localhost/desk"><propose xmlns="urn:xmpp:jingle-message:0" id="c1"/>` +
				`<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
			want: map[string][]string{
				"desk":   {"error service-unavailable"},
				"phone":  {"received:error service-unavailable"}, // carbons copies errors
				"laptop": {"received:error service-unavailable"},
				"b":      {"sent:error service-unavailable"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.route(t, "a", tc.msg)
			f.expect(t, tc.want)
			n, err := f.env.Store.CountOffline(context.Background(), "carol")
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.stored {
				t.Errorf("carol has %d stored messages, want %d", n, tc.stored)
			}
		})
	}
}

func TestProposeDelivered(t *testing.T) {
	f := setup(t, jingle.Config{})
	f.route(t, "a", `<message type="chat" to="bob@localhost" from="mallory@localhost/x"><propose xmlns="urn:xmpp:jingle-message:0" id="c1"/>`+
		`<stanza-id xmlns="urn:xmpp:sid:0" id="forged" by="bob@localhost"/></message>`)
	got := f.conn["laptop"].Take()
	if len(got) != 1 {
		t.Fatalf("laptop got %q, want the offer", got)
	}
	raw := got[0]
	if strings.Contains(raw, "forged") || strings.Contains(raw, "mallory") {
		t.Errorf("delivered %q keeps the client's stanza-id or from", raw)
	}
	if !strings.Contains(raw, `from="alice@localhost/a"`) || !strings.Contains(raw, `by="bob@localhost"`) {
		t.Errorf("delivered %q, want from alice@localhost/a and a stanza-id by bob@localhost", raw)
	}
}

func TestDuplicateProposeRingsNobodyTwice(t *testing.T) {
	f := setup(t, jingle.Config{})
	f.route(t, "a", propose("bob@localhost", "c1"))
	f.takeAll(t)
	// A retry from another resource of the caller (after a reconnect) with
	// a new message id is the same call.
	f.route(t, "b", strings.Replace(propose("bob@localhost", "c1"), "m-c1", "m-retry", 1))
	f.route(t, "a", propose("bob@localhost", "c1"))
	f.expect(t, nil)
	if got := f.metric(t, "ringd_jingle_duplicate_proposes_total"); got != 2 {
		t.Errorf("duplicates = %v, want 2", got)
	}
	// Stored offers are not stored twice either.
	f.route(t, "a", propose("carol@localhost", "c2"))
	f.route(t, "a", propose("carol@localhost", "c2"))
	if n, _ := f.env.Store.CountOffline(context.Background(), "carol"); n != 1 {
		t.Errorf("carol has %d stored offers, want 1", n)
	}
	// Another caller may use the same id: ids are per caller. (While
	// alice's c1 rings, bob's c1 would be glare, which alice wins.)
	f.route(t, "a", jmi("retract", "bob@localhost", "c1", "cancel"))
	f.takeAll(t)
	f.route(t, "phone", propose("alice@localhost", "c1"))
	if got := f.takeAll(t); len(got["a"]) != 1 || len(got["b"]) != 1 {
		t.Errorf("bob's call with alice's id: alice got %q, want one offer per device", got)
	}
}

func TestAnsweredElsewhere(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		msg     string
		want    map[string][]string
		outcome map[string]float64
	}{
		{
			name: "proceed reaches the caller; the callee's other devices stop",
			from: "phone", msg: jmi("proceed", "alice@localhost", "c1", ""),
			want: map[string][]string{
				"a":      {"proceed c1 bob/phone→alice"},
				"b":      {"proceed c1 bob/phone→alice"},
				"laptop": {"sent:proceed c1 bob/phone→alice"}, // carbons: no direct copy
				"desk":   {"proceed c1 bob/phone→alice"},      // no carbons: a direct copy
			},
			outcome: map[string]float64{},
		},
		{
			name: "proceed to the proposing resource",
			from: "desk", msg: jmi("proceed", "alice@localhost/a", "c1", ""),
			want: map[string][]string{
				"a":      {"proceed c1 bob/desk→alice/a"},
				"b":      {"received:proceed c1 bob/desk→alice/a"},
				"phone":  {"sent:proceed c1 bob/desk→alice/a"},
				"laptop": {"sent:proceed c1 bob/desk→alice/a"},
			},
			outcome: map[string]float64{},
		},
		{
			name: "reject is copied too",
			from: "laptop", msg: jmi("reject", "alice@localhost", "c1", "busy"),
			want: map[string][]string{
				"a":     {"reject c1 bob/laptop→alice busy"},
				"b":     {"reject c1 bob/laptop→alice busy"},
				"phone": {"sent:reject c1 bob/laptop→alice busy"},
				"desk":  {"reject c1 bob/laptop→alice busy"},
			},
			outcome: map[string]float64{"rejected": 1},
		},
		{
			name: "a private answer gets no carbon, so every device gets a copy",
			from: "phone",
			msg: `<message type="chat" to="alice@localhost"><proceed xmlns="urn:xmpp:jingle-message:0" id="c1"/>` +
				`<private xmlns="urn:xmpp:carbons:2"/></message>`,
			want: map[string][]string{
				"a":      {"proceed c1 bob/phone→alice"},
				"b":      {"proceed c1 bob/phone→alice"},
				"laptop": {"proceed c1 bob/phone→alice"},
				"desk":   {"proceed c1 bob/phone→alice"},
			},
			outcome: map[string]float64{},
		},
		{
			name: "a no-copy hint likewise",
			from: "phone",
			msg: `<message type="chat" to="alice@localhost"><proceed xmlns="urn:xmpp:jingle-message:0" id="c1"/>` +
				`<no-copy xmlns="urn:xmpp:hints"/></message>`,
			want: map[string][]string{
				"a":      {"proceed c1 bob/phone→alice"},
				"b":      {"proceed c1 bob/phone→alice"},
				"laptop": {"proceed c1 bob/phone→alice"},
				"desk":   {"proceed c1 bob/phone→alice"},
			},
			outcome: map[string]float64{},
		},
		{
			name: "accept to the callee's own bare JID (XEP-0353 0.3)",
			from: "phone", msg: jmi("accept", "bob@localhost", "c1", ""),
			want: map[string][]string{
				"laptop": {"accept c1 bob/phone→bob"},
				"desk":   {"accept c1 bob/phone→bob"},
			},
			outcome: map[string]float64{},
		},
		{
			name: "ringing reaches the caller only",
			from: "desk", msg: jmi("ringing", "alice@localhost", "c1", ""),
			want: map[string][]string{
				"a":      {"ringing c1 bob/desk→alice"},
				"b":      {"ringing c1 bob/desk→alice"},
				"phone":  {"sent:ringing c1 bob/desk→alice"},
				"laptop": {"sent:ringing c1 bob/desk→alice"},
			},
			outcome: map[string]float64{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.takeAll(t)
			f.route(t, tc.from, tc.msg)
			f.expect(t, tc.want)
			if got := f.outcomes(t); !maps.Equal(got, tc.outcome) {
				t.Errorf("outcomes %v, want %v", got, tc.outcome)
			}
		})
	}
}

func TestAnswerFromAStrangerIsNotAnAnswer(t *testing.T) {
	f := setup(t, jingle.Config{})
	f.route(t, "a", propose("bob@localhost", "c1"))
	f.takeAll(t)
	// carol guesses the id; the router delivers her message, but the
	// call is bob's to answer.
	carol, _ := f.env.Bind(t, "carol@localhost/x", true)
	f.env.Route(t, carol, jmi("reject", "alice@localhost", "c1", "busy"))
	if got := f.outcomes(t); len(got) != 0 {
		t.Errorf("outcomes %v after a stranger's reject, want none", got)
	}
	if got := f.metric(t, "ringd_jingle_calls_active"); got != 1 {
		t.Errorf("active calls = %v, want 1", got)
	}
}

func TestRetract(t *testing.T) {
	tests := []struct {
		name   string
		to     string
		before func(f *fixture)
		want   map[string][]string
	}{
		{
			name: "reaches every device the offer reached",
			to:   "bob@localhost",
			want: map[string][]string{
				"phone":  {"retract c1 alice/a→bob cancel"},
				"laptop": {"retract c1 alice/a→bob cancel"},
				"desk":   {"retract c1 alice/a→bob cancel"},
				"b":      {"sent:retract c1 alice/a→bob cancel"},
			},
		},
		{
			name:   "a device that went unavailable while ringing still hears it",
			to:     "bob@localhost",
			before: func(f *fixture) { f.session["desk"].SetPresence(false, 0, nil) },
			want: map[string][]string{
				"phone":  {"retract c1 alice/a→bob cancel"},
				"laptop": {"retract c1 alice/a→bob cancel"},
				"desk":   {"retract c1 alice/a→bob cancel"},
				"b":      {"sent:retract c1 alice/a→bob cancel"},
			},
		},
		{
			name: "addressed to one resource, it still reaches them all",
			to:   "bob@localhost/phone",
			want: map[string][]string{
				"phone":  {"retract c1 alice/a→bob/phone cancel"},
				"laptop": {"retract c1 alice/a→bob/phone cancel"},
				"desk":   {"retract c1 alice/a→bob/phone cancel"},
				"b":      {"sent:retract c1 alice/a→bob/phone cancel"},
			},
		},
		{
			name:   "a device that came online since hears it",
			to:     "bob@localhost",
			before: func(f *fixture) { f.session["tablet"].SetPresence(true, 5, []byte(`<presence/>`)) },
			want: map[string][]string{
				"phone":  {"retract c1 alice/a→bob cancel"},
				"laptop": {"retract c1 alice/a→bob cancel"},
				"desk":   {"retract c1 alice/a→bob cancel"},
				"tablet": {"retract c1 alice/a→bob cancel"},
				"b":      {"sent:retract c1 alice/a→bob cancel"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.takeAll(t)
			if tc.before != nil {
				tc.before(f)
			}
			f.route(t, "a", jmi("retract", tc.to, "c1", "cancel"))
			f.expect(t, tc.want)
			if got, want := f.outcomes(t), map[string]float64{"cancelled": 1}; !maps.Equal(got, want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
			if got := f.metric(t, "ringd_jingle_calls_active"); got != 0 {
				t.Errorf("active calls = %v, want 0", got)
			}
		})
	}
}

// TestOfflineMissedCall: an offer to an offline account is stored, its
// retract is stored after it, and the device reads both at its next login.
func TestOfflineMissedCall(t *testing.T) {
	f := setup(t, jingle.Config{})
	f.route(t, "a", propose("carol@localhost", "c1"))
	f.route(t, "a", jmi("retract", "carol@localhost", "c1", "cancel"))
	msgs, err := f.env.Store.OfflineMessages(context.Background(), "carol", 10)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, m := range msgs {
		stored = append(stored, summary(t, string(m.Stanza)))
	}
	if want := []string{"propose c1 alice/a→carol", "retract c1 alice/a→carol cancel"}; !equal(stored, want) {
		t.Fatalf("stored %q, want %q", stored, want)
	}
	s, c := f.env.Bind(t, "carol@localhost/x", true)
	f.env.Router.InitialPresenceSent(context.Background(), s)
	var got []string
	for _, raw := range c.Take() {
		got = append(got, summary(t, raw))
	}
	if want := []string{"propose c1 alice/a→carol", "retract c1 alice/a→carol cancel"}; !equal(got, want) {
		t.Errorf("carol's device got %q, want %q", got, want)
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestFinish(t *testing.T) {
	tests := []struct {
		name    string
		from    string
		msg     string
		want    map[string][]string
		outcome map[string]float64
	}{
		{
			name: "from the caller, to every device of the callee",
			from: "a", msg: jmi("finish", "bob@localhost", "c1", "success"),
			want: map[string][]string{
				"phone":  {"finish c1 alice/a→bob success"},
				"laptop": {"finish c1 alice/a→bob success"},
				"desk":   {"finish c1 alice/a→bob success"},
				"b":      {"sent:finish c1 alice/a→bob success"},
			},
			outcome: map[string]float64{"answered": 1},
		},
		{
			name: "from the callee, to every device of the caller",
			from: "phone", msg: jmi("finish", "alice@localhost", "c1", "connectivity-error"),
			want: map[string][]string{
				"a":      {"finish c1 bob/phone→alice connectivity-error"},
				"b":      {"finish c1 bob/phone→alice connectivity-error"},
				"laptop": {"sent:finish c1 bob/phone→alice connectivity-error"},
			},
			outcome: map[string]float64{"failed": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.route(t, "phone", jmi("proceed", "alice@localhost", "c1", ""))
			f.takeAll(t)
			f.route(t, tc.from, tc.msg)
			f.expect(t, tc.want)
			if got := f.outcomes(t); !maps.Equal(got, tc.outcome) {
				t.Errorf("outcomes %v, want %v", got, tc.outcome)
			}
		})
	}
}

func TestGlare(t *testing.T) {
	tests := []struct {
		name     string
		bobsID   string
		want     map[string][]string
		thenBob  string // what bob's client sends next, as XEP-0353 says
		thenWant map[string][]string
	}{
		{
			name:   "the new offer has the higher id and loses",
			bobsID: "c7",
			want: map[string][]string{
				"phone": {"reject c7 alice/a→bob/phone expired tie-break"},
			},
			// bob's client retracts its losing offer: nobody got it.
			thenBob:  jmi("retract", "alice@localhost", "c7", "expired"),
			thenWant: map[string][]string{},
		},
		{
			name:   "equal ids: the offer from the lower JID (alice) wins",
			bobsID: "c5",
			want: map[string][]string{
				"phone": {"reject c5 alice/a→bob/phone expired tie-break"},
			},
		},
		{
			name:   "the new offer has the lower id and wins",
			bobsID: "c3",
			want: map[string][]string{
				"phone":  {"retract c5 alice/a→bob expired tie-break"},
				"laptop": {"retract c5 alice/a→bob expired tie-break", "sent:propose c3 bob/phone→alice"},
				"desk":   {"retract c5 alice/a→bob expired tie-break"},
				"a":      {"reject c5 bob/phone→alice/a expired tie-break", "propose c3 bob/phone→alice"},
				"b":      {"propose c3 bob/phone→alice"},
			},
			// alice's client rejects the higher id itself: a repeat.
			thenBob: "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.route(t, "a", propose("bob@localhost", "c5"))
			f.takeAll(t)
			f.route(t, "phone", propose("alice@localhost", tc.bobsID))
			f.expect(t, tc.want)
			if tc.thenBob != "" {
				f.route(t, "phone", tc.thenBob)
				f.expect(t, tc.thenWant)
			}
			if got, want := f.outcomes(t), map[string]float64{"glare": 1}; !maps.Equal(got, want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
			if got := f.h.Active(); got != 1 {
				t.Errorf("%d calls active after glare, want exactly 1", got)
			}
			if got := f.metric(t, "ringd_jingle_calls_active"); got != 1 {
				t.Errorf("calls_active gauge = %v, want 1", got)
			}
		})
	}
}

func TestTooManyRinging(t *testing.T) {
	f := setup(t, jingle.Config{MaxRinging: 2})
	for _, id := range []string{"c1", "c2", "c3"} {
		f.route(t, "a", propose("bob@localhost", id))
	}
	got := f.takeAll(t)
	if want := []string{"error resource-constraint"}; !equal(got["a"], want) {
		t.Errorf("caller got %q, want %q", got["a"], want)
	}
	if len(got["phone"]) != 2 {
		t.Errorf("phone got %q, want two offers", got["phone"])
	}
	f.route(t, "a", jmi("retract", "bob@localhost", "c1", "cancel"))
	f.takeAll(t)
	f.route(t, "a", propose("bob@localhost", "c4"))
	if got := f.takeAll(t); len(got["phone"]) != 1 {
		t.Errorf("after a retract phone got %q, want the new offer", got["phone"])
	}
}

func TestServerIQ(t *testing.T) {
	tests := []struct {
		name string
		iq   string
		want string
	}{
		{"session-initiate", jingleIQ("localhost", "session-initiate", "s1", ""), "iq error service-unavailable"},
		{"unknown session", jingleIQ("localhost", "transport-info", "s1", ""), "iq error item-not-found"},
		{"no action", `<iq type="set" id="j" to="localhost"><jingle xmlns="urn:xmpp:jingle:1" sid="s1"/></iq>`, "iq error bad-request"},
		{"bad action", jingleIQ("localhost", "session-dance", "s1", ""), "iq error bad-request"},
		{"no sid", `<iq type="set" id="j" to="localhost"><jingle xmlns="urn:xmpp:jingle:1" action="session-initiate"/></iq>`, "iq error bad-request"},
		{"get", `<iq type="get" id="j" to="localhost"><jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="s1"/></iq>`, "iq error bad-request"},
		{"wrong element", `<iq type="set" id="j" to="localhost"><session xmlns="urn:xmpp:jingle:1"/></iq>`, "iq error bad-request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.route(t, "a", tc.iq)
			f.expect(t, map[string][]string{"a": {tc.want}})
		})
	}
}

func TestJingleIQsRoutedUnchanged(t *testing.T) {
	f := setup(t, jingle.Config{})
	iq := jingleIQ("bob@localhost/desk", "session-initiate", "c1", "")
	f.route(t, "a", iq)
	got := f.conn["desk"].Take()
	want := strings.Replace(iq, "<iq ", `<iq from="alice@localhost/a" `, 1)
	if len(got) != 1 || got[0] != want {
		t.Errorf("desk got %q, want %q", got, want)
	}
	// To a resource that is gone: the router's service-unavailable.
	f.route(t, "a", jingleIQ("bob@localhost/gone", "session-initiate", "c1", ""))
	f.expect(t, map[string][]string{"a": {"iq error service-unavailable"}})
}

func TestMessageToAnotherDomainIsLeftToTheRouter(t *testing.T) {
	f := setup(t, jingle.Config{})
	f.route(t, "a", propose("bob@example.net", "c1"))
	f.expect(t, map[string][]string{"a": {"error remote-server-not-found"}})
	if n := f.h.Len(); n != 0 {
		t.Errorf("registry has %d calls, want 0", n)
	}
}

func TestLongIDIsRoutedNotRemembered(t *testing.T) {
	f := setup(t, jingle.Config{})
	id := strings.Repeat("x", jingle.MaxIDBytes+1)
	f.route(t, "a", propose("bob@localhost", id))
	if got := f.takeAll(t); len(got["laptop"]) != 1 {
		t.Errorf("laptop got %q, want the offer", got["laptop"])
	}
	if n := f.h.Len(); n != 0 {
		t.Errorf("registry has %d calls, want 0", n)
	}
}

var _ = routertest.Parse

// TestNegativePriorityCaller: answers to the caller's bare JID reach the
// proposing device even when its priority is negative (XEP-0353
// Requirements), exactly once.
func TestNegativePriorityCaller(t *testing.T) {
	tests := []struct {
		name    string
		carbons bool
		bAway   bool // alice/b unavailable too: the router stores the answer
		msg     string
		want    map[string][]string
		stored  int
	}{
		{
			name: "without carbons: a direct copy",
			msg:  jmi("proceed", "alice@localhost", "c1", ""),
			want: map[string][]string{
				"a":      {"proceed c1 bob/phone→alice"},
				"b":      {"proceed c1 bob/phone→alice"},
				"laptop": {"sent:proceed c1 bob/phone→alice"},
				"desk":   {"proceed c1 bob/phone→alice"},
			},
		},
		{
			name: "with carbons: the received carbon only", carbons: true,
			msg: jmi("proceed", "alice@localhost", "c1", ""),
			want: map[string][]string{
				"a":      {"received:proceed c1 bob/phone→alice"},
				"b":      {"proceed c1 bob/phone→alice"},
				"laptop": {"sent:proceed c1 bob/phone→alice"},
				"desk":   {"proceed c1 bob/phone→alice"},
			},
		},
		{
			name: "ringing too",
			msg:  jmi("ringing", "alice@localhost", "c1", ""),
			want: map[string][]string{
				"a":      {"ringing c1 bob/phone→alice"},
				"b":      {"ringing c1 bob/phone→alice"},
				"laptop": {"sent:ringing c1 bob/phone→alice"},
			},
		},
		{
			name: "no other device: the proposer hears it, nothing is stored to replay at the next login", bAway: true,
			msg: jmi("reject", "alice@localhost", "c1", "busy"),
			want: map[string][]string{
				"a":      {"reject c1 bob/phone→alice busy"},
				"laptop": {"sent:reject c1 bob/phone→alice busy"},
				"desk":   {"reject c1 bob/phone→alice busy"},
			},
			stored: 0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, jingle.Config{})
			f.session["a"].SetPresence(true, -1, []byte(`<presence><priority>-1</priority></presence>`))
			if !tc.carbons {
				f.route(t, "a", `<iq type="set" id="off"><disable xmlns="urn:xmpp:carbons:2"/></iq>`)
			}
			if tc.bAway {
				f.session["b"].SetPresence(false, 0, nil)
			}
			f.route(t, "a", propose("bob@localhost", "c1"))
			f.takeAll(t)
			f.route(t, "phone", tc.msg)
			f.expect(t, tc.want)
			if n, _ := f.env.Store.CountOffline(context.Background(), "alice"); n != tc.stored {
				t.Errorf("alice has %d stored messages, want %d", n, tc.stored)
			}
		})
	}
}
