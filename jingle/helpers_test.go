package jingle_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ringd/ringd/jingle"
	"github.com/ringd/ringd/xmpp/carbons"
	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

var _ jingle.CarbonState = (*carbons.Handler)(nil)

// fixture is a router with offline storage, carbons and jingle wired as
// xmpp/server wires them, and these sessions:
//
//	alice/a   available, priority 0, carbons   (the caller)
//	alice/b   available, priority 0, carbons
//	bob/phone available, priority 0, carbons
//	bob/laptop available, priority -1, carbons
//	bob/desk  available, priority 0, no carbons
//	bob/tablet bound, not available
//
// carol exists and is offline.
type fixture struct {
	env     *routertest.Env
	h       *jingle.Handler
	reg     *prometheus.Registry
	session map[string]*router.Session // by short name: "a", "phone", ...
	conn    map[string]*routertest.Conn
}

var fullJIDs = map[string]string{
	"a": "alice@localhost/a", "b": "alice@localhost/b",
	"phone": "bob@localhost/phone", "laptop": "bob@localhost/laptop",
	"desk": "bob@localhost/desk", "tablet": "bob@localhost/tablet",
}

func setup(t testing.TB, cfg jingle.Config) *fixture {
	t.Helper()
	env := routertest.New(t, "alice", "bob", "carol")
	reg := prometheus.NewRegistry()
	off, err := offline.New(offline.Config{Router: env.Router, Store: env.Store, Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	off.Register(env.Router)
	cb, err := carbons.New(carbons.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cb.Register(env.Router)
	cfg.Carbons = cb
	cfg.Observers = []router.MessageObserver{cb}
	cfg.Offline = off
	cfg.Registerer = reg
	h, err := jingle.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Register(env.Router)
	off.SetFollower(h)
	t.Cleanup(h.Close)
	f := &fixture{env: env, h: h, reg: reg, session: map[string]*router.Session{}, conn: map[string]*routertest.Conn{}}
	for _, name := range []string{"a", "b", "phone", "laptop", "desk", "tablet"} {
		f.session[name], f.conn[name] = env.Bind(t, fullJIDs[name], name != "tablet")
	}
	f.session["laptop"].SetPresence(true, -1, []byte(`<presence from="bob@localhost/laptop"><priority>-1</priority></presence>`))
	for _, name := range []string{"a", "b", "phone", "laptop"} {
		f.route(t, name, `<iq type="set" id="on"><enable xmlns="urn:xmpp:carbons:2"/></iq>`)
	}
	f.takeAll(t)
	return f
}

func (f *fixture) route(t testing.TB, from, xml string) {
	t.Helper()
	f.env.Route(t, f.session[from], xml)
}

// takeAll returns what each session got since the last call, summarised
// (see summary); sessions that got nothing are absent.
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

// metric returns the value of a counter or gauge; labels are name, value
// pairs.
func (f *fixture) metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	m := f.find(t, name, labels...)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

// histogram returns a histogram's sample count and sum.
func (f *fixture) histogram(t *testing.T, name string) (uint64, float64) {
	t.Helper()
	m := f.find(t, name)
	if m == nil || m.Histogram == nil {
		t.Fatalf("no histogram %s", name)
	}
	return m.Histogram.GetSampleCount(), m.Histogram.GetSampleSum()
}

func (f *fixture) find(t *testing.T, name string, labels ...string) *dto.Metric {
	t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
	metrics:
		for _, m := range fam.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.Label {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			return m
		}
	}
	return nil
}

// outcomes returns the non-zero counts of ringd_jingle_calls_total.
func (f *fixture) outcomes(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, o := range []string{"answered", "rejected", "cancelled", "missed", "failed", "glare"} {
		if v := f.metric(t, "ringd_jingle_calls_total", "outcome", o); v != 0 {
			out[o] = v
		}
	}
	return out
}

type element struct {
	XMLName xml.Name
	From    string    `xml:"from,attr"`
	To      string    `xml:"to,attr"`
	Type    string    `xml:"type,attr"`
	ID      string    `xml:"id,attr"`
	Inner   []element `xml:",any"`
}

func (e *element) child(ns, local string) *element {
	for i := range e.Inner {
		if e.Inner[i].XMLName.Space == ns && (local == "" || e.Inner[i].XMLName.Local == local) {
			return &e.Inner[i]
		}
	}
	return nil
}

func short(j string) string { return strings.ReplaceAll(j, "@localhost", "") }

// summary describes a delivered stanza: "propose c1 alice/a→bob",
// "sent:proceed c1 bob/phone→alice", "retract c1 alice/a→bob timeout
// tie-break", "error service-unavailable", "iq result", "other <name>".
func summary(t testing.TB, raw string) string {
	t.Helper()
	var e element
	if err := xml.Unmarshal([]byte(raw), &e); err != nil {
		t.Fatalf("delivered %q: %v", raw, err)
	}
	return describe(&e)
}

func describe(e *element) string {
	if e.Type == "error" {
		cond := "?"
		for _, er := range e.Inner {
			if er.XMLName.Local == "error" && len(er.Inner) > 0 {
				cond = er.Inner[0].XMLName.Local
			}
		}
		if e.XMLName.Local == "iq" {
			return "iq error " + cond
		}
		return "error " + cond
	}
	if e.XMLName.Local == "iq" {
		return "iq " + e.Type
	}
	for _, dir := range []string{"sent", "received"} {
		if w := e.child("urn:xmpp:carbons:2", dir); w != nil {
			if fw := w.child("urn:xmpp:forward:0", "forwarded"); fw != nil && len(fw.Inner) == 1 {
				return dir + ":" + describe(&fw.Inner[0])
			}
			return dir + ":?"
		}
	}
	j := e.child(jingle.NSJMI, "")
	if j == nil {
		return fmt.Sprintf("other %s→%s", short(e.From), short(e.To))
	}
	s := fmt.Sprintf("%s %s %s→%s", j.XMLName.Local, j.ID, short(e.From), short(e.To))
	if r := j.child(jingle.NS, "reason"); r != nil {
		for _, c := range r.Inner {
			if c.XMLName.Local != "text" {
				s += " " + c.XMLName.Local
			}
		}
	}
	if j.child(jingle.NSJMI, "tie-break") != nil {
		s += " tie-break"
	}
	return s
}

func propose(to, id string) string {
	return `<message type="chat" to="` + to + `" id="m-` + id + `"><propose xmlns="urn:xmpp:jingle-message:0" id="` + id +
		`"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose><store xmlns="urn:xmpp:hints"/></message>`
}

// jmi is a call message other than propose, with a reason when cond is set.
func jmi(name, to, id, cond string) string {
	inner := ""
	if cond != "" {
		inner = `<reason xmlns="urn:xmpp:jingle:1"><` + cond + `/></reason>`
	}
	return `<message type="chat" to="` + to + `"><` + name + ` xmlns="urn:xmpp:jingle-message:0" id="` + id + `">` +
		inner + `</` + name + `><store xmlns="urn:xmpp:hints"/></message>`
}

func jingleIQ(to, action, sid, cond string) string {
	inner := ""
	if cond != "" {
		inner = `<reason><` + cond + `/></reason>`
	}
	return `<iq type="set" id="j-` + action + `" to="` + to + `"><jingle xmlns="urn:xmpp:jingle:1" action="` + action +
		`" sid="` + sid + `">` + inner + `</jingle></iq>`
}

// observeIQ routes a Jingle IQ from a session and tells the handler, as
// the router will once it calls ObserveIQ.
func (f *fixture) observeIQ(t *testing.T, from, xml string) {
	t.Helper()
	st := routertest.Parse(t, xml)
	f.h.ObserveIQ(context.Background(), f.session[from], st)
	f.env.Router.Route(context.Background(), f.session[from], st)
}
