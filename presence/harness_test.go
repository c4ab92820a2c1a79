package presence

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/blocking"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

const domain = "example.com"

// t0 is the test clock's start; presence set at t0+n s is stamped
// "…03:04:0n.000Z".
var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// testClock is the injected clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// testConn is a router.Conn that records what is delivered.
type testConn struct {
	mu  sync.Mutex
	got [][]byte
}

func (c *testConn) Deliver(raw []byte) bool {
	c.mu.Lock()
	c.got = append(c.got, bytes.Clone(raw))
	c.mu.Unlock()
	return true
}

func (c *testConn) Close(string) {}

// take returns the summaries of what was delivered since the last take.
func (c *testConn) take(t testing.TB) []string {
	t.Helper()
	c.mu.Lock()
	got := c.got
	c.got = nil
	c.mu.Unlock()
	out := make([]string, 0, len(got))
	for _, raw := range got {
		out = append(out, summarize(t, raw))
	}
	return out
}

// client is one bound session.
type client struct {
	s *router.Session
	c *testConn
}

// env is a router with a real SQLite store and the presence feature.
type env struct {
	t       testing.TB
	ctx     context.Context
	store   *sqlite.Store
	r       *router.Router
	p       *Presence
	clock   *testClock
	reg     *prometheus.Registry
	clients map[string]*client // by short JID ("alice/phone")

	mu      sync.Mutex
	initial map[string]int // InitialPresenceSent calls by short JID
}

// users are the accounts every env has; frank does not exist.
var users = []string{"alice", "bob", "carol", "dave", "eve"}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the presence feature reading rosters from
// rosters instead of the store (nil: the store).
func newEnvWith(t testing.TB, rosters Rosters) *env {
	t.Helper()
	return newEnvOpts(t, rosters, false)
}

// newEnvBlocking is newEnv with XEP-0191 blocking wired as xmpp/server
// wires it: the router's stanza gate, the block lists in the store, the
// presence feature's Blocker and blocking's DirectedPresence.
func newEnvBlocking(t testing.TB, rosters Rosters) *env {
	t.Helper()
	return newEnvOpts(t, rosters, true)
}

func newEnvOpts(t testing.TB, rosters Rosters, blocks bool) *env {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatalf("sqlite.Open() = %v", err)
	}
	t.Cleanup(func() { store.Close() })
	for _, u := range users {
		if err := store.CreateUser(ctx, u, storage.Credentials{Salt: []byte{1}, Iterations: 4096}); err != nil {
			t.Fatalf("CreateUser(%q) = %v", u, err)
		}
	}
	r, err := router.New(router.Config{Domain: domain, Users: store})
	if err != nil {
		t.Fatalf("router.New() = %v", err)
	}
	clock := &testClock{t: t0}
	reg := prometheus.NewRegistry()
	if rosters == nil {
		rosters = store
	}
	cfg := Config{Router: r, Rosters: rosters, Registerer: reg, Now: clock.Now}
	var bl *blocking.Handler
	if blocks {
		if bl, err = blocking.New(blocking.Config{Store: store, Rosters: store}); err != nil {
			t.Fatalf("blocking.New() = %v", err)
		}
		bl.Register(r)
		cfg.Blocker = bl
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	p.Register(r)
	if bl != nil {
		bl.SetDirected(p)
	}
	e := &env{t: t, ctx: ctx, store: store, r: r, p: p, clock: clock, reg: reg,
		clients: make(map[string]*client), initial: make(map[string]int)}
	r.OnInitialPresence(func(_ context.Context, s *router.Session) {
		e.mu.Lock()
		e.initial[short(s.FullString())]++
		e.mu.Unlock()
	})
	return e
}

// short turns "alice@example.com/phone" into "alice/phone".
func short(j string) string { return strings.Replace(j, "@"+domain, "", 1) }

// long turns "alice/phone" into "alice@example.com/phone" ("alice" into
// "alice@example.com").
func long(s string) string {
	local, res, ok := strings.Cut(s, "/")
	if !ok {
		return local + "@" + domain
	}
	return local + "@" + domain + "/" + res
}

// subscription puts a roster item: user's item for contact (short bare).
func (e *env) subscription(user, contact string, sub storage.Subscription) {
	e.t.Helper()
	if _, err := e.store.PutRosterItem(e.ctx, user, storage.RosterItem{Contact: long(contact), Subscription: sub}); err != nil {
		e.t.Fatalf("PutRosterItem(%q, %q) = %v", user, contact, err)
	}
}

// bind binds the short full JID j.
func (e *env) bind(j string) *client {
	e.t.Helper()
	c := &testConn{}
	s, err := e.r.Bind(jid.MustParse(long(j)), c)
	if err != nil {
		e.t.Fatalf("Bind(%s) = %v", j, err)
	}
	cl := &client{s: s, c: c}
	e.clients[j] = cl
	return cl
}

// send routes the stanza x from the session j.
func (e *env) send(j, x string) {
	e.t.Helper()
	cl := e.clients[j]
	if cl == nil {
		e.t.Fatalf("send from %s: not bound", j)
	}
	d := wire.NewFramedDecoder(strings.NewReader(x), wire.Limits{})
	st, err := d.Next()
	if err != nil {
		e.t.Fatalf("decode %q: %v", x, err)
	}
	e.r.Route(e.ctx, cl.s, st)
}

// routeFrom routes the stanza x from cl; safe in any goroutine.
func (e *env) routeFrom(cl *client, x string) {
	st, err := wire.NewFramedDecoder(strings.NewReader(x), wire.Limits{}).Next()
	if err != nil {
		e.t.Errorf("decode %q: %v", x, err)
		return
	}
	e.r.Route(e.ctx, cl.s, st)
}

// unbind ends the session j.
func (e *env) unbind(j string) {
	e.t.Helper()
	cl := e.clients[j]
	if cl == nil {
		e.t.Fatalf("unbind %s: not bound", j)
	}
	e.r.Unbind(e.ctx, cl.s)
}

// takeAll returns, for every client, what it got since the last take
// (clients that got nothing are left out).
// start binds bound, then binds online one second apart from t0, each
// sending initial presence, and drops everything delivered so far.
func (e *env) start(bound, online []string) {
	e.t.Helper()
	for _, j := range bound {
		e.bind(j)
	}
	for i, j := range online {
		e.bind(j)
		e.clock.Set(t0.Add(time.Duration(i+1) * time.Second))
		e.send(j, `<presence/>`)
	}
	e.takeAll()
}

// play runs steps in order and returns what they delivered.
func (e *env) play(steps []step) map[string][]string {
	e.t.Helper()
	for _, s := range steps {
		if s.unbind != "" {
			e.unbind(s.unbind)
		} else {
			e.send(s.from, s.x)
		}
	}
	return e.takeAll()
}

func (e *env) takeAll() map[string][]string {
	out := make(map[string][]string)
	for j, cl := range e.clients {
		if got := cl.c.take(e.t); len(got) > 0 {
			out[j] = got
		}
	}
	return out
}

// counter returns the value of the counter named name.
func (e *env) counter(name string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatalf("Gather() = %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	e.t.Fatalf("no metric %s", name)
	return 0
}

// delivered is a delivered stanza as a test reads it.
type delivered struct {
	XMLName  xml.Name
	From     string `xml:"from,attr"`
	To       string `xml:"to,attr"`
	Type     string `xml:"type,attr"`
	Show     string `xml:"show"`
	Status   string `xml:"status"`
	Priority string `xml:"priority"`
	Delay    *struct {
		From  string `xml:"from,attr"`
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
	Error *struct {
		Conds []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

// summarize renders a delivered stanza compactly:
// "available alice/phone>bob show=away delay(example.com,2026-…)".
func summarize(t testing.TB, raw []byte) string {
	t.Helper()
	var d delivered
	if err := xml.Unmarshal(raw, &d); err != nil {
		t.Fatalf("delivered stanza %q is not XML: %v", raw, err)
	}
	typ := d.Type
	if typ == "" {
		typ = "available"
	}
	s := fmt.Sprintf("%s %s>%s", typ, short(d.From), short(d.To))
	if d.XMLName.Local != "presence" {
		s = d.XMLName.Local + " " + s
	}
	if d.Show != "" {
		s += " show=" + d.Show
	}
	if d.Status != "" {
		s += " status=" + d.Status
	}
	if d.Priority != "" {
		s += " priority=" + d.Priority
	}
	if d.Delay != nil {
		s += fmt.Sprintf(" delay(%s,%s)", d.Delay.From, d.Delay.Stamp)
	}
	if d.Error != nil {
		for _, c := range d.Error.Conds {
			s += " error=" + c.XMLName.Local
		}
	}
	return s
}

// equalDeliveries compares per-client deliveries, ignoring the order of
// stanzas to one client that the protocol does not fix.
func equalDeliveries(got, want map[string][]string, ordered bool) bool {
	if len(got) != len(want) {
		return false
	}
	for j, w := range want {
		g := got[j]
		if !ordered {
			g, w = slices.Sorted(slices.Values(g)), slices.Sorted(slices.Values(w))
		}
		if !slices.Equal(g, w) {
			return false
		}
	}
	return true
}

func formatDeliveries(m map[string][]string) string {
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %s:", k)
		for _, s := range m[k] {
			fmt.Fprintf(&b, "\n    %s", s)
		}
	}
	if b.Len() == 0 {
		return " (nothing)"
	}
	return b.String()
}
