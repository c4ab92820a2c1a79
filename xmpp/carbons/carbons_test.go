package carbons_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ringd/ringd/xmpp/carbons"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
	"github.com/ringd/ringd/xmpp/wire"
)

// discardOffline stands in for offline storage: it keeps nothing and
// reports success, as offline storage does for a message it stored.
type discardOffline struct{}

func (discardOffline) StoreOffline(context.Context, *router.Session, router.Account, *wire.Stanza, []byte) error {
	return nil
}

var _ router.OfflineHandler = discardOffline{}

type inner struct {
	From string `xml:"from,attr"`
	To   string `xml:"to,attr"`
	Type string `xml:"type,attr"`
	Body string `xml:"jabber:client body"`
	SID  []struct {
		By string `xml:"by,attr"`
	} `xml:"urn:xmpp:sid:0 stanza-id"`
}

type wrapper struct {
	Forwarded *struct {
		Message *inner `xml:"jabber:client message"`
	} `xml:"urn:xmpp:forward:0 forwarded"`
}

type stanzaXML struct {
	XMLName  xml.Name
	From     string   `xml:"from,attr"`
	To       string   `xml:"to,attr"`
	Type     string   `xml:"type,attr"`
	Body     string   `xml:"body"`
	Sent     *wrapper `xml:"urn:xmpp:carbons:2 sent"`
	Received *wrapper `xml:"urn:xmpp:carbons:2 received"`
	Error    *struct {
		Cond []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

func short(j string) string { return strings.ReplaceAll(j, "@localhost", "") }

// describe summarises a stanza delivered to the session full, checking the
// structure of carbons on the way: from the account's bare JID, to full,
// a forwarded jabber:client message inside.
func describe(t *testing.T, full, raw string) string {
	t.Helper()
	var m stanzaXML
	if err := xml.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("delivered %q: %v", raw, err)
	}
	kind := m.XMLName.Local
	if m.Type == "error" {
		cond := "?"
		if m.Error != nil && len(m.Error.Cond) > 0 {
			cond = m.Error.Cond[0].XMLName.Local
		}
		if kind == "iq" {
			return "iq error " + cond
		}
		if m.Error != nil {
			return "error " + cond
		}
	}
	if kind == "iq" {
		return "iq " + m.Type
	}
	w, dir := m.Sent, "sent"
	if m.Received != nil {
		w, dir = m.Received, "received"
	}
	if w == nil {
		return fmt.Sprintf("direct:%s %s→%s %q", m.Type, short(m.From), short(m.To), m.Body)
	}
	bare, _, _ := strings.Cut(full, "/")
	if m.XMLName.Space != wire.NSClient || m.From != bare || m.To != full {
		t.Errorf("carbon wrapper is {%s}message from %q to %q, want {jabber:client}message from %q to %q", m.XMLName.Space, m.From, m.To, bare, full)
	}
	if w.Forwarded == nil || w.Forwarded.Message == nil {
		t.Fatalf("carbon %q has no forwarded jabber:client message", raw)
	}
	in := w.Forwarded.Message
	switch {
	case dir == "sent" && len(in.SID) != 0:
		t.Errorf("sent carbon %q carries a stanza-id, want none", raw)
	case dir == "received" && (len(in.SID) != 1 || in.SID[0].By != bare):
		t.Errorf("received carbon %q: stanza-ids %v, want one by %s", raw, in.SID, bare)
	}
	return fmt.Sprintf("%s:%s %s→%s %q", dir, m.Type, short(in.From), short(in.To), in.Body)
}

type fixture struct {
	env      *routertest.Env
	carbons  *carbons.Handler
	sessions map[string]*router.Session
	conns    map[string]*routertest.Conn
}

// setup binds alice/a and alice/b (carbons enabled), alice/c (disabled),
// alice/d (enabled, priority -1) and bob/x (enabled); carol exists but is
// offline.
func setup(t *testing.T) *fixture {
	t.Helper()
	env := routertest.New(t, "alice", "bob", "carol")
	env.Router.SetOfflineHandler(discardOffline{})
	h, err := carbons.New(carbons.Config{})
	if err != nil {
		t.Fatal(err)
	}
	h.Register(env.Router)
	f := &fixture{env: env, carbons: h, sessions: map[string]*router.Session{}, conns: map[string]*routertest.Conn{}}
	for _, full := range []string{"alice@localhost/a", "alice@localhost/b", "alice@localhost/c", "alice@localhost/d", "bob@localhost/x"} {
		_, res, _ := strings.Cut(full, "/")
		f.sessions[res], f.conns[res] = env.Bind(t, full, true)
	}
	f.sessions["d"].SetPresence(true, -1, []byte(`<presence from="alice@localhost/d"><priority>-1</priority></presence>`))
	for _, res := range []string{"a", "b", "d", "x"} {
		env.Route(t, f.sessions[res], `<iq type="set" id="on"><enable xmlns="urn:xmpp:carbons:2"/></iq>`)
		if got := f.take(t, res); !slices.Equal(got, []string{"iq result"}) {
			t.Fatalf("%s enabling carbons got %q, want an IQ result", res, got)
		}
	}
	return f
}

func (f *fixture) take(t *testing.T, res string) []string {
	t.Helper()
	var out []string
	for _, raw := range f.conns[res].Take() {
		out = append(out, describe(t, f.sessions[res].FullString(), raw))
	}
	return out
}

func TestCopies(t *testing.T) {
	const hi = `"hi"`
	tests := []struct {
		name string
		from string
		msg  string
		want map[string][]string // by resource; absent: nothing
	}{
		{
			name: "chat to a bare JID is copied to the sender's other resources",
			from: "a", msg: `<message type="chat" to="bob@localhost" id="m1"><body>hi</body></message>`,
			want: map[string][]string{
				"x": {"direct:chat alice/a→bob " + hi},
				"b": {"sent:chat alice/a→bob " + hi},
				"d": {"sent:chat alice/a→bob " + hi},
			},
		},
		{
			name: "chat to a full JID is copied to the recipient's other resources",
			from: "x", msg: `<message type="chat" to="alice@localhost/a"><body>hi</body></message>`,
			want: map[string][]string{
				"a": {"direct:chat bob/x→alice/a " + hi},
				"b": {"received:chat bob/x→alice/a " + hi},
				"d": {"received:chat bob/x→alice/a " + hi},
			},
		},
		{
			name: "chat to a bare JID is copied to a negative-priority resource",
			from: "x", msg: `<message type="chat" to="alice@localhost"><body>hi</body></message>`,
			want: map[string][]string{
				"a": {"direct:chat bob/x→alice " + hi},
				"b": {"direct:chat bob/x→alice " + hi},
				"c": {"direct:chat bob/x→alice " + hi},
				"d": {"received:chat bob/x→alice " + hi},
			},
		},
		{
			name: "normal message with a body",
			from: "a", msg: `<message to="bob@localhost"><body>hi</body></message>`,
			want: map[string][]string{
				"x": {"direct: alice/a→bob " + hi},
				"b": {"sent: alice/a→bob " + hi},
				"d": {"sent: alice/a→bob " + hi},
			},
		},
		{
			name: "normal message with only a receipt",
			from: "a", msg: `<message to="bob@localhost/x"><received xmlns="urn:xmpp:receipts" id="m1"/></message>`,
			want: map[string][]string{
				"x": {`direct: alice/a→bob/x ""`},
				"b": {`sent: alice/a→bob/x ""`},
				"d": {`sent: alice/a→bob/x ""`},
			},
		},
		{
			name: "normal message without body or IM payload",
			from: "a", msg: `<message to="bob@localhost"><x xmlns="urn:example"/></message>`,
			want: map[string][]string{"x": {`direct: alice/a→bob ""`}},
		},
		{
			name: "private",
			from: "a", msg: `<message type="chat" to="bob@localhost"><body>hi</body><private xmlns="urn:xmpp:carbons:2"/></message>`,
			want: map[string][]string{"x": {"direct:chat alice/a→bob " + hi}},
		},
		{
			name: "no-copy hint",
			from: "x", msg: `<message type="chat" to="alice@localhost/a"><body>hi</body><no-copy xmlns="urn:xmpp:hints"/></message>`,
			want: map[string][]string{"a": {"direct:chat bob/x→alice/a " + hi}},
		},
		{
			name: "private past the indexed children",
			from: "a", msg: `<message type="chat" to="bob@localhost"><body>hi</body><a xmlns="urn:x"/><b xmlns="urn:x"/><c xmlns="urn:x"/><d xmlns="urn:x"/><e xmlns="urn:x"/><f xmlns="urn:x"/><g xmlns="urn:x"/><private xmlns="urn:xmpp:carbons:2"/></message>`,
			want: map[string][]string{"x": {"direct:chat alice/a→bob " + hi}},
		},
		{
			name: "headline",
			from: "a", msg: `<message type="headline" to="bob@localhost"><body>hi</body></message>`,
			want: map[string][]string{"x": {"direct:headline alice/a→bob " + hi}},
		},
		{
			name: "error to a full JID",
			from: "x", msg: `<message type="error" to="alice@localhost/a" id="m1"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
			want: map[string][]string{
				"a": {"error item-not-found"},
				"b": {`received: bob/x→alice/a ""`},
				"d": {`received: bob/x→alice/a ""`},
			},
		},
		{
			name: "note to self is copied once to each resource that did not get it",
			from: "a", msg: `<message type="chat" to="alice@localhost"><body>hi</body></message>`,
			want: map[string][]string{
				"a": {"direct:chat alice/a→alice " + hi},
				"b": {"direct:chat alice/a→alice " + hi},
				"c": {"direct:chat alice/a→alice " + hi},
				"d": {"sent:chat alice/a→alice " + hi},
			},
		},
		{
			name: "message to another resource of the same account",
			from: "a", msg: `<message type="chat" to="alice@localhost/b"><body>hi</body></message>`,
			want: map[string][]string{
				"b": {"direct:chat alice/a→alice/b " + hi},
				"d": {"sent:chat alice/a→alice/b " + hi},
			},
		},
		{
			name: "recipient offline",
			from: "a", msg: `<message type="chat" to="carol@localhost"><body>hi</body></message>`,
			want: map[string][]string{
				"b": {"sent:chat alice/a→carol " + hi},
				"d": {"sent:chat alice/a→carol " + hi},
			},
		},
		{
			name: "message declaring its namespace, as on WebSocket",
			from: "a", msg: `<message xmlns="jabber:client" type="chat" to="bob@localhost/x"><body>hi</body></message>`,
			want: map[string][]string{
				"x": {"direct:chat alice/a→bob/x " + hi},
				"b": {"sent:chat alice/a→bob/x " + hi},
				"d": {"sent:chat alice/a→bob/x " + hi},
			},
		},
		{
			name: "forged from and stanza-id are not copied",
			from: "a", msg: `<message type="chat" from="mallory@localhost/z" to="bob@localhost"><stanza-id xmlns="urn:xmpp:sid:0" id="forged" by="alice@localhost"/><body>hi</body></message>`,
			want: map[string][]string{
				"x": {"direct:chat alice/a→bob " + hi},
				"b": {"sent:chat alice/a→bob " + hi},
				"d": {"sent:chat alice/a→bob " + hi},
			},
		},
		{
			name: "client-made carbon is refused",
			from: "a", msg: `<message to="alice@localhost" id="f1"><received xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0"><message xmlns="jabber:client" from="bob@localhost/x" to="alice@localhost/a" type="chat"><body>forged</body></message></forwarded></received></message>`,
			want: map[string][]string{"a": {"error bad-request"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			f.env.Route(t, f.sessions[tc.from], tc.msg)
			for _, res := range []string{"a", "b", "c", "d", "x"} {
				if got, want := f.take(t, res), tc.want[res]; !slices.Equal(got, want) {
					t.Errorf("%s got %q, want %q", res, got, want)
				}
			}
		})
	}
}

func TestEnableDisable(t *testing.T) {
	tests := []struct {
		name        string
		before      string // an IQ sent first, or ""
		iq          string
		want        string
		wantEnabled bool
	}{
		{"enable", "", `<iq type="set" id="1"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq result", true},
		{"enable addressed to the own bare JID", "", `<iq type="set" id="1" to="carol@localhost"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq result", true},
		{"enable twice", `<iq type="set" id="0"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, `<iq type="set" id="1"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq result", true},
		{"disable", `<iq type="set" id="0"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, `<iq type="set" id="1"><disable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq result", false},
		{"disable when not enabled", "", `<iq type="set" id="1"><disable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq result", false},
		{"get", "", `<iq type="get" id="1"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq error bad-request", false},
		{"unknown element", "", `<iq type="set" id="1"><toggle xmlns="urn:xmpp:carbons:2"/></iq>`, "iq error bad-request", false},
		{"addressed to the server", "", `<iq type="set" id="1" to="localhost"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq error service-unavailable", false},
		{"addressed to another account", "", `<iq type="set" id="1" to="alice@localhost"><enable xmlns="urn:xmpp:carbons:2"/></iq>`, "iq error service-unavailable", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t)
			s, c := f.env.Bind(t, "carol@localhost/p", true)
			if tc.before != "" {
				f.env.Route(t, s, tc.before)
				c.Take()
			}
			f.env.Route(t, s, tc.iq)
			var got []string
			for _, raw := range c.Take() {
				got = append(got, describe(t, s.FullString(), raw))
			}
			if want := []string{tc.want}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
			if got := f.carbons.Enabled(s); got != tc.wantEnabled {
				t.Errorf("Enabled = %v, want %v", got, tc.wantEnabled)
			}
		})
	}
}

func TestDisabledSessionGetsNoCopies(t *testing.T) {
	f := setup(t)
	f.env.Route(t, f.sessions["b"], `<iq type="set" id="off"><disable xmlns="urn:xmpp:carbons:2"/></iq>`)
	f.take(t, "b")
	f.env.Route(t, f.sessions["x"], `<message type="chat" to="alice@localhost/a"><body>hi</body></message>`)
	if got := f.take(t, "b"); len(got) != 0 {
		t.Errorf("b got %q after disabling carbons, want nothing", got)
	}
	if got, want := f.take(t, "d"), []string{`received:chat bob/x→alice/a "hi"`}; !slices.Equal(got, want) {
		t.Errorf("d got %q, want %q", got, want)
	}
}

func TestUnavailableSessionGetsNoCopies(t *testing.T) {
	f := setup(t)
	f.sessions["b"].SetPresence(false, 0, nil)
	f.env.Route(t, f.sessions["a"], `<message type="chat" to="bob@localhost"><body>hi</body></message>`)
	if got := f.take(t, "b"); len(got) != 0 {
		t.Errorf("unavailable b got %q, want nothing", got)
	}
}

func TestUnbindForgets(t *testing.T) {
	f := setup(t)
	a := f.sessions["a"]
	f.env.Router.Unbind(context.Background(), a)
	if f.carbons.Enabled(a) {
		t.Errorf("Enabled(unbound session) = true, want false")
	}
	again, _ := f.env.Bind(t, "alice@localhost/a", true)
	if f.carbons.Enabled(again) {
		t.Errorf("Enabled(new session on the same resource) = true, want false")
	}
}

func TestEnableOfReplacedSession(t *testing.T) {
	f := setup(t)
	old := f.sessions["c"]
	f.env.Bind(t, "alice@localhost/c", true) // replaces it
	f.env.Route(t, old, `<iq type="set" id="late"><enable xmlns="urn:xmpp:carbons:2"/></iq>`)
	if f.carbons.Enabled(old) {
		t.Errorf("Enabled(replaced session) = true, want false")
	}
}

func TestDiscoFeature(t *testing.T) {
	f := setup(t)
	for _, target := range []router.Target{router.ToServer, router.ToOwnAccount, router.ToOtherAccount} {
		if got := f.env.Router.Features(target); !slices.Contains(got, carbons.NS) {
			t.Errorf("Features(%d) = %q, want it to contain %s", target, got, carbons.NS)
		}
	}
}
