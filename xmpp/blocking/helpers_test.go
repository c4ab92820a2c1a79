package blocking_test

import (
	"context"
	"encoding/xml"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringd/ringd/jingle"
	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/blocking"
	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/push"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

// fixture is a router with the features a blocked call must not reach
// (offline storage, push, jingle) wired as xmpp/server wires them, the
// blocking feature, and sessions by short name:
//
//	a, b        alice@localhost/a and /b
//	phone, pc   bob@localhost/phone and /pc
//	c           carol@localhost/c
//	app         pushapp@localhost/srv, bob's XEP-0357 app server
//
// bound is the list of those that are bound and available; the others are
// offline. dave exists and never logs in.
type fixture struct {
	env     *routertest.Env
	h       *blocking.Handler
	push    *push.Push
	reg     *prometheus.Registry
	session map[string]*router.Session
	conn    map[string]*routertest.Conn
}

var fullJIDs = map[string]string{
	"a": "alice@localhost/a", "b": "alice@localhost/b",
	"phone": "bob@localhost/phone", "pc": "bob@localhost/pc",
	"c": "carol@localhost/c", "app": "pushapp@localhost/srv",
}

func setup(t testing.TB, cfg blocking.Config, bound ...string) *fixture {
	t.Helper()
	env := routertest.New(t, "alice", "bob", "carol", "dave", "pushapp")
	reg := prometheus.NewRegistry()
	cfg.Store, cfg.Rosters, cfg.Registerer = env.Store, env.Store, reg
	h, err := blocking.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Register(env.Router)
	off, err := offline.New(offline.Config{Router: env.Router, Store: env.Store, Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	off.Register(env.Router)
	ps, err := push.New(push.Config{Router: env.Router, Store: env.Store})
	if err != nil {
		t.Fatal(err)
	}
	ps.Register(env.Router)
	jg, err := jingle.New(jingle.Config{Observers: []router.MessageObserver{ps}, Offline: off})
	if err != nil {
		t.Fatal(err)
	}
	jg.Register(env.Router)
	t.Cleanup(jg.Close)
	t.Cleanup(func() { ps.Close(context.Background()) })
	err = env.Store.PutPushRegistration(context.Background(), "bob",
		storage.PushRegistration{Service: fullJIDs["app"], Node: "n1", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, h: h, push: ps, reg: reg, session: map[string]*router.Session{}, conn: map[string]*routertest.Conn{}}
	for _, name := range bound {
		f.session[name], f.conn[name] = env.Bind(t, fullJIDs[name], true)
	}
	return f
}

func (f *fixture) route(t testing.TB, from, xml string) {
	t.Helper()
	f.env.Route(t, f.session[from], xml)
}

// iq routes an IQ from a session and returns the summary of its answer,
// which it takes from what the session got (see takeAll).
func (f *fixture) iq(t *testing.T, from, xml string) string {
	t.Helper()
	f.route(t, from, xml)
	var answer string
	rest := f.conn[from].Take()
	for _, raw := range rest {
		if s := summary(t, raw); strings.HasPrefix(s, "iq result") || strings.HasPrefix(s, "iq error") {
			answer = s
		}
	}
	if answer == "" {
		t.Fatalf("%s got no answer to %s, only %q", from, xml, rest)
	}
	return answer
}

// block and unblock run the commands from a session and fail the test
// unless they succeed.
func (f *fixture) block(t *testing.T, from string, jids ...string) {
	t.Helper()
	if got := f.iq(t, from, command("block", jids...)); got != "iq result" {
		t.Fatalf("%s blocking %q: %s", from, jids, got)
	}
}

func (f *fixture) unblock(t *testing.T, from string, jids ...string) {
	t.Helper()
	if got := f.iq(t, from, command("unblock", jids...)); got != "iq result" {
		t.Fatalf("%s unblocking %q: %s", from, jids, got)
	}
}

// command is an IQ carrying <name xmlns='urn:xmpp:blocking'> with an item
// per JID: a get for blocklist, a set otherwise.
func command(name string, jids ...string) string {
	typ := "set"
	if name == "blocklist" {
		typ = "get"
	}
	var b strings.Builder
	b.WriteString(`<iq type="` + typ + `" id="` + name + `"><` + name + ` xmlns="urn:xmpp:blocking">`)
	for _, j := range jids {
		b.WriteString(`<item jid="` + j + `"/>`)
	}
	b.WriteString(`</` + name + `></iq>`)
	return b.String()
}

// takeAll returns what each session got since the last call, summarised;
// sessions that got nothing are absent.
func (f *fixture) takeAll(t testing.TB) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	for name, c := range f.conn {
		for _, raw := range c.Take() {
			got[name] = append(got[name], summary(t, raw))
		}
	}
	return got
}

// expect checks what every session got against want.
func (f *fixture) expect(t *testing.T, want map[string][]string) {
	t.Helper()
	got := f.takeAll(t)
	for _, name := range slices.Sorted(maps.Keys(f.conn)) {
		if !slices.Equal(got[name], want[name]) {
			t.Errorf("%s got %q, want %q", name, got[name], want[name])
		}
	}
}

func (f *fixture) stored(t *testing.T, user string) int {
	t.Helper()
	n, err := f.env.Store.CountOffline(context.Background(), user)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// metric returns a counter's or gauge's value; labels are name, value
// pairs. An absent series is 0.
func (f *fixture) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.Metric {
			if hasLabels(m, labels) {
				if m.Counter != nil {
					return m.Counter.GetValue()
				}
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.Label {
			found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
		}
		if !found {
			return false
		}
	}
	return true
}

type element struct {
	XMLName xml.Name
	From    string    `xml:"from,attr"`
	Type    string    `xml:"type,attr"`
	ID      string    `xml:"id,attr"`
	JID     string    `xml:"jid,attr"`
	Body    string    `xml:"body"`
	Inner   []element `xml:",any"`
}

func short(j string) string { return strings.ReplaceAll(j, "@localhost", "") }

// summary describes a delivered stanza by kind, type and what matters
// here, from whom: "message error service-unavailable from bob",
// "presence error not-acceptable+blocked from bob", "message hi from
// alice/a", "message propose c1 from alice/a", "presence unavailable from
// alice/a", "presence from alice/a", "iq set block x@y from ",
// "iq result blocklist x@y", "iq result".
func summary(t testing.TB, raw string) string {
	t.Helper()
	var e element
	if err := xml.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatalf("delivered %q: %v", raw, err)
	}
	kind := e.XMLName.Local
	if e.Type == "error" {
		cond := "?"
		for _, er := range e.Inner {
			if er.XMLName.Local != "error" || len(er.Inner) == 0 {
				continue
			}
			cond = er.Inner[0].XMLName.Local
			for _, c := range er.Inner[1:] {
				if c.XMLName == (xml.Name{Space: blocking.NSErrors, Local: "blocked"}) {
					cond += "+blocked"
				}
			}
		}
		return kind + " error " + cond + " from " + short(e.From)
	}
	switch kind {
	case "iq":
		s := "iq " + e.Type
		if len(e.Inner) > 0 {
			p := e.Inner[0]
			s += " " + p.XMLName.Local
			for _, it := range p.Inner {
				s += " " + it.JID
			}
		}
		return s
	case "presence":
		if e.Type == "" {
			return "presence from " + short(e.From)
		}
		return "presence " + e.Type + " from " + short(e.From)
	}
	for _, c := range e.Inner {
		if c.XMLName.Space == jingle.NSJMI {
			return "message " + c.XMLName.Local + " " + c.ID + " from " + short(e.From)
		}
	}
	return "message " + e.Body + " from " + short(e.From)
}

func propose(to, id string) string {
	return `<message type="chat" to="` + to + `" id="m-` + id + `"><propose xmlns="urn:xmpp:jingle-message:0" id="` + id +
		`"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose><store xmlns="urn:xmpp:hints"/></message>`
}

func chat(to, body string) string {
	return `<message type="chat" to="` + to + `" id="chat"><body>` + body + `</body></message>`
}
