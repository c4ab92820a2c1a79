package router_test

import (
	"context"
	"encoding/xml"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
	"github.com/ringd/ringd/xmpp/wire"
)

// recConn records what the router delivers to a session.
type recConn = routertest.Conn

type fixture struct {
	r     *router.Router
	store storage.Store
	conns map[string]*recConn
	sess  map[string]*router.Session
}

// newFixture starts a router over a real SQLite store with the accounts
// alice, bob and carol; sessions lists full JIDs to bind with their
// presence (priority, or "-" for unavailable).
func newFixture(t testing.TB, sessions map[string]string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := st.CreateUser(ctx, u, storage.Credentials{Salt: []byte("s"), Iterations: 4096}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := router.New(router.Config{Domain: "localhost", Users: st})
	if err != nil {
		t.Fatal(err)
	}
	r.HandleIQ("urn:test:echo", router.ToServer|router.ToAccount, router.IQHandlerFunc(
		func(_ context.Context, iq *router.IQ) ([]byte, error) {
			if strings.Contains(string(iq.PayloadXML()), "fail") {
				return nil, stanza.Error{Condition: stanza.NotAcceptable}
			}
			if strings.Contains(string(iq.PayloadXML()), "crash") {
				return nil, errors.New("boom")
			}
			return []byte(`<echo xmlns="urn:test:echo">` + iq.Account() + `</echo>`), nil
		}))
	f := &fixture{r: r, store: st, conns: map[string]*recConn{}, sess: map[string]*router.Session{}}
	for full, pres := range sessions {
		c := &recConn{}
		s, err := r.Bind(jid.MustParse(full), c)
		if err != nil {
			t.Fatal(err)
		}
		if pres != "-" {
			prio := 0
			if pres == "-1" {
				prio = -1
			}
			s.SetPresence(true, prio, []byte(`<presence/>`))
		}
		f.conns[full], f.sess[full] = c, s
	}
	return f
}

func parse(t testing.TB, s string) *wire.Stanza {
	t.Helper()
	st, err := wire.NewFramedDecoder(strings.NewReader(s), wire.Limits{}).Next()
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return st
}

type delivered struct {
	XMLName xml.Name
	From    string `xml:"from,attr"`
	To      string `xml:"to,attr"`
	Type    string `xml:"type,attr"`
	ID      string `xml:"id,attr"`
	Body    string `xml:"body"`
	SID     []struct {
		ID string `xml:"id,attr"`
		By string `xml:"by,attr"`
	} `xml:"urn:xmpp:sid:0 stanza-id"`
	Error *struct {
		Type string `xml:"type,attr"`
		Cond []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
	Echo string `xml:"urn:test:echo echo"`
}

func decode(t *testing.T, raw string) delivered {
	t.Helper()
	var d delivered
	if err := xml.Unmarshal([]byte(raw), &d); err != nil {
		t.Fatalf("delivered stanza %q does not parse: %v", raw, err)
	}
	return d
}

func (d delivered) condition() string {
	if d.Error == nil || len(d.Error.Cond) == 0 {
		return ""
	}
	return d.Error.Cond[0].XMLName.Local
}

func TestRoute(t *testing.T) {
	sessions := map[string]string{
		"alice@localhost/a": "0",
		"bob@localhost/b":   "0",
		"bob@localhost/neg": "-1",
		"bob@localhost/off": "-",
	}
	type want struct {
		to   string // session that must receive something
		from string
		typ  string
		cond string // error condition, if an error
		sid  bool   // carries a stanza-id by the recipient's bare JID
		echo string
	}
	tests := []struct {
		name  string
		from  string
		in    string
		wants []want
	}{
		{
			name:  "chat to bare JID reaches available non-negative resources only",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="bob@localhost" id="m1"><body>hi</body></message>`,
			wants: []want{{to: "bob@localhost/b", from: "alice@localhost/a", typ: "chat", sid: true}},
		},
		{
			name:  "normal message to a bare JID with an uppercase localpart is normalised",
			from:  "alice@localhost/a",
			in:    `<message to="BOB@localhost" id="m1"><body>hi</body></message>`,
			wants: []want{{to: "bob@localhost/b", from: "alice@localhost/a", sid: true}},
		},
		{
			name:  "message to a connected full JID is delivered even without presence",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="bob@localhost/off" id="m2"><body>hi</body></message>`,
			wants: []want{{to: "bob@localhost/off", from: "alice@localhost/a", typ: "chat", sid: true}},
		},
		{
			name:  "chat to an absent resource falls back to the bare JID",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="bob@localhost/gone" id="m3"><body>hi</body></message>`,
			wants: []want{{to: "bob@localhost/b", from: "alice@localhost/a", typ: "chat", sid: true}},
		},
		{
			name:  "groupchat to an absent resource is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<message type="groupchat" to="bob@localhost/gone" id="m4"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", from: "bob@localhost/gone", typ: "error", cond: "service-unavailable"}},
		},
		{
			name:  "groupchat to a bare JID is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<message type="groupchat" to="bob@localhost" id="m4"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", from: "bob@localhost", typ: "error", cond: "service-unavailable"}},
		},
		{
			name:  "message to a user who does not exist is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="nobody@localhost" id="m5"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", from: "nobody@localhost", typ: "error", cond: "service-unavailable"}},
		},
		{
			name:  "chat to an existing user with nobody online is service-unavailable until offline storage",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="carol@localhost" id="m6"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", from: "carol@localhost", typ: "error", cond: "service-unavailable"}},
		},
		{
			name: "headline to a user with nobody online is dropped",
			from: "alice@localhost/a",
			in:   `<message type="headline" to="carol@localhost" id="m7"><body>hi</body></message>`,
		},
		{
			name: "an error is never answered with an error",
			from: "alice@localhost/a",
			in:   `<message type="error" to="nobody@localhost" id="m8"/>`,
		},
		{
			name:  "message to another domain is remote-server-not-found",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="bob@example.org" id="m9"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", from: "bob@example.org", typ: "error", cond: "remote-server-not-found"}},
		},
		{
			name:  "a malformed 'to' is jid-malformed",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="a@b@c" id="m10"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", typ: "error", cond: "jid-malformed"}},
		},
		{
			name:  "IQ with an unknown namespace to the server is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<iq type="get" to="localhost" id="q1"><query xmlns="urn:example:nope"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "localhost", typ: "error", cond: "service-unavailable"}},
		},
		{
			name:  "IQ without an id is bad-request",
			from:  "alice@localhost/a",
			in:    `<iq type="get" to="localhost"><query xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "localhost", typ: "error", cond: "bad-request"}},
		},
		{
			name:  "IQ get with two payloads is bad-request",
			from:  "alice@localhost/a",
			in:    `<iq type="get" id="q2"><a xmlns="urn:test:echo"/><b xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", typ: "error", cond: "bad-request"}},
		},
		{
			name:  "IQ with an unknown type is bad-request",
			from:  "alice@localhost/a",
			in:    `<iq type="fetch" id="q3"><a xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", typ: "error", cond: "bad-request"}},
		},
		{
			name:  "IQ to the server reaches its handler",
			from:  "alice@localhost/a",
			in:    `<iq type="get" to="localhost" id="q4"><q xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "localhost", typ: "result", echo: "alice@localhost"}},
		},
		{
			name:  "IQ without 'to' is handled for the sender's account",
			from:  "alice@localhost/a",
			in:    `<iq type="get" id="q5"><q xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", typ: "result", echo: "alice@localhost"}},
		},
		{
			name:  "IQ to another account's bare JID is handled for that account",
			from:  "alice@localhost/a",
			in:    `<iq type="get" to="carol@localhost" id="q6"><q xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "carol@localhost", typ: "result", echo: "carol@localhost"}},
		},
		{
			name:  "IQ to a bare JID that does not exist is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<iq type="get" to="nobody@localhost" id="q7"><q xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "nobody@localhost", typ: "error", cond: "service-unavailable"}},
		},
		{
			name:  "a handler's stanza error reaches the requester",
			from:  "alice@localhost/a",
			in:    `<iq type="set" to="localhost" id="q8"><q xmlns="urn:test:echo">fail</q></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "localhost", typ: "error", cond: "not-acceptable"}},
		},
		{
			name:  "a handler's internal error is internal-server-error",
			from:  "alice@localhost/a",
			in:    `<iq type="set" to="localhost" id="q9"><q xmlns="urn:test:echo">crash</q></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "localhost", typ: "error", cond: "internal-server-error"}},
		},
		{
			name: "IQ to a connected full JID is routed unchanged but for from",
			from: "alice@localhost/a",
			in: `<iq type="set" to="bob@localhost/off" id="j1" from="forged@localhost/x">` +
				`<jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="s1"/></iq>`,
			wants: []want{{to: "bob@localhost/off", from: "alice@localhost/a", typ: "set"}},
		},
		{
			name:  "IQ to a resource that is gone is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<iq type="set" to="bob@localhost/gone" id="j2"><jingle xmlns="urn:xmpp:jingle:1"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "bob@localhost/gone", typ: "error", cond: "service-unavailable"}},
		},
		{
			name: "IQ result to a resource that is gone is dropped",
			from: "alice@localhost/a",
			in:   `<iq type="result" to="bob@localhost/gone" id="j3"/>`,
		},
		{
			name:  "IQ to another domain is remote-server-not-found",
			from:  "alice@localhost/a",
			in:    `<iq type="get" to="example.org" id="r1"><q xmlns="urn:test:echo"/></iq>`,
			wants: []want{{to: "alice@localhost/a", from: "example.org", typ: "error", cond: "remote-server-not-found"}},
		},
		{
			name:  "message to the server itself is service-unavailable",
			from:  "alice@localhost/a",
			in:    `<message type="chat" to="localhost" id="s1"><body>hi</body></message>`,
			wants: []want{{to: "alice@localhost/a", from: "localhost", typ: "error", cond: "service-unavailable"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, sessions)
			f.r.Route(context.Background(), f.sess[tc.from], parse(t, tc.in))
			for full, c := range f.conns {
				got := c.Take()
				var expect []want
				for _, w := range tc.wants {
					if w.to == full {
						expect = append(expect, w)
					}
				}
				if len(got) != len(expect) {
					t.Fatalf("%s received %d stanzas %q, want %d", full, len(got), got, len(expect))
				}
				for i, w := range expect {
					d := decode(t, got[i])
					if w.from != "" && d.From != w.from {
						t.Errorf("%s got from=%q, want %q in %s", full, d.From, w.from, got[i])
					}
					if d.Type != w.typ {
						t.Errorf("%s got type=%q, want %q in %s", full, d.Type, w.typ, got[i])
					}
					if c := d.condition(); c != w.cond {
						t.Errorf("%s got condition %q, want %q in %s", full, c, w.cond, got[i])
					}
					if w.sid && (len(d.SID) != 1 || d.SID[0].By != jid.MustParse(full).Bare().String() || d.SID[0].ID == "") {
						t.Errorf("%s got stanza-ids %+v, want one by %s", full, d.SID, jid.MustParse(full).Bare())
					}
					if d.Echo != w.echo {
						t.Errorf("%s got echo %q, want %q", full, d.Echo, w.echo)
					}
				}
			}
		})
	}
}

func TestForgedStanzaIDIsReplaced(t *testing.T) {
	f := newFixture(t, map[string]string{"alice@localhost/a": "0", "bob@localhost/b": "0"})
	in := `<message type="chat" to="bob@localhost/b"><stanza-id xmlns="urn:xmpp:sid:0" id="forged" by="bob@localhost"/><body>x</body></message>`
	f.r.Route(context.Background(), f.sess["alice@localhost/a"], parse(t, in))
	got := f.conns["bob@localhost/b"].Take()
	if len(got) != 1 {
		t.Fatalf("bob got %q, want one message", got)
	}
	d := decode(t, got[0])
	if len(d.SID) != 1 || d.SID[0].ID == "forged" {
		t.Errorf("stanza-ids %+v, want only the server's", d.SID)
	}
	if d.Body != "x" {
		t.Errorf("body %q, want %q", d.Body, "x")
	}
}

func TestBind(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := router.New(router.Config{Domain: "localhost", Users: st, MaxResources: 2})
	if err != nil {
		t.Fatal(err)
	}
	var unbound []string
	r.OnUnbind(func(_ context.Context, s *router.Session) { unbound = append(unbound, s.FullString()) })

	first := &recConn{}
	s1, err := r.Bind(jid.MustParse("alice@localhost/phone"), first)
	if err != nil {
		t.Fatal(err)
	}
	second := &recConn{}
	s2, err := r.Bind(jid.MustParse("alice@localhost/phone"), second)
	if err != nil {
		t.Fatal(err)
	}
	if first.Closed() != "conflict" {
		t.Errorf("replaced session closed with %q, want conflict", first.Closed())
	}
	if got := r.Session("alice@localhost", "alice@localhost/phone"); got != s2 {
		t.Errorf("Session = %p, want the new session %p", got, s2)
	}
	r.Unbind(ctx, s1) // the replaced session's own unbind must not remove s2
	if got := r.SessionCount(); got != 1 {
		t.Errorf("SessionCount = %d, want 1", got)
	}
	if _, err := r.Bind(jid.MustParse("alice@localhost/laptop"), &recConn{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Bind(jid.MustParse("alice@localhost/tablet"), &recConn{}); !errors.Is(err, router.ErrResourceLimit) {
		t.Errorf("third Bind error = %v, want ErrResourceLimit", err)
	}
	if _, err := r.Bind(jid.MustParse("alice@localhost"), &recConn{}); err == nil {
		t.Error("Bind of a bare JID succeeded, want an error")
	}
	r.Unbind(ctx, s2)
	if want := []string{"alice@localhost/phone", "alice@localhost/phone"}; strings.Join(unbound, ",") != strings.Join(want, ",") {
		t.Errorf("unbound %q, want %q", unbound, want)
	}
}

type iqSeen struct{ n int }

func (o *iqSeen) ObserveIQ(context.Context, *router.Session, *wire.Stanza) { o.n++ }

func TestIQObserver(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"jingle IQ on the fast path", `<iq type="set" to="bob@localhost/b" id="1"><jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="s"/></iq>`, 1},
		{"jingle IQ to a non-canonical JID", `<iq type="set" to="BOB@localhost/b" id="2"><jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="s"/></iq>`, 1},
		{"other namespace", `<iq type="get" to="bob@localhost/b" id="3"><ping xmlns="urn:xmpp:ping"/></iq>`, 0},
		{"to a resource that is gone", `<iq type="set" to="bob@localhost/gone" id="4"><jingle xmlns="urn:xmpp:jingle:1"/></iq>`, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]string{"alice@localhost/a": "0", "bob@localhost/b": "0"})
			o := &iqSeen{}
			f.r.AddIQObserver("urn:xmpp:jingle:1", o)
			f.r.Route(context.Background(), f.sess["alice@localhost/a"], parse(t, tc.in))
			if o.n != tc.want {
				t.Errorf("observer saw %d IQs, want %d", o.n, tc.want)
			}
		})
	}
}
