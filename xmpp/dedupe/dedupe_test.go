package dedupe_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/xmpp/dedupe"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/router/routertest"
	"github.com/ringd/ringd/xmpp/wire"
)

// clock is a test clock that moves only when told to.
type clock struct{ t time.Time }

func newClock() *clock                   { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }
func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// msg builds a chat message; attrs are written after the type.
func msg(attrs, children string) string {
	return `<message type="chat"` + attrs + `>` + children + `</message>`
}

// originID is a body with a XEP-0359 origin-id.
func originID(id string) string {
	return `<origin-id xmlns="urn:xmpp:sid:0" id="` + id + `"/><body>hi</body>`
}

func toAttr(jid string) string       { return ` to="` + jid + `"` }
func withID(id, to string) string    { return ` id="` + id + `"` + toAttr(to) }
func bobWith(children string) string { return msg(toAttr("bob@localhost"), children) }

// gatherValue reads the value of the unlabelled metric name from reg.
func gatherValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

type fixture struct {
	env      *routertest.Env
	filter   *dedupe.Filter
	clock    *clock
	reg      *prometheus.Registry
	sessions map[string]*router.Session
	conns    map[string]*routertest.Conn
}

// setup binds alice/a, alice/b, bob/x, carol/y and mallory/m.
func setup(t *testing.T, maxEntries int) *fixture {
	t.Helper()
	f := &fixture{
		env:      routertest.New(t, "alice", "bob", "carol", "mallory"),
		clock:    newClock(),
		reg:      prometheus.NewPedanticRegistry(),
		sessions: map[string]*router.Session{},
		conns:    map[string]*routertest.Conn{},
	}
	var err error
	f.filter, err = dedupe.New(dedupe.Config{MaxEntries: maxEntries, Now: f.clock.now, Registerer: f.reg})
	if err != nil {
		t.Fatal(err)
	}
	f.filter.Register(f.env.Router)
	for _, full := range []string{"alice@localhost/a", "alice@localhost/b", "bob@localhost/x", "carol@localhost/y", "mallory@localhost/m"} {
		_, res, _ := strings.Cut(full, "/")
		f.sessions[res], f.conns[res] = f.env.Bind(t, full, true)
	}
	return f
}

// send routes m from the session res and returns how many stanzas the
// session check got.
func (f *fixture) send(t *testing.T, res, m, check string) int {
	t.Helper()
	for _, c := range f.conns {
		c.Take()
	}
	f.env.Route(t, f.sessions[res], m)
	return len(f.conns[check].Take())
}

type step struct {
	advance time.Duration
	from    string // resource of the sender
	msg     string
	check   string // resource whose stanzas are counted
	want    int
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"same origin-id twice", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{time.Second, "a", bobWith(originID("o1")), "x", 0},
		}},
		{"retry from another resource of the account", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{0, "b", bobWith(originID("o1")), "x", 0},
		}},
		{"same origin-id to another recipient", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{0, "a", msg(toAttr("carol@localhost"), originID("o1")), "y", 1},
		}},
		{"same origin-id from another account", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{0, "m", bobWith(originID("o1")), "x", 1},
		}},
		{"bare JID then full JID of the recipient", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{0, "a", msg(toAttr("bob@localhost/x"), originID("o1")), "x", 0},
		}},
		{"recipient in other case", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{0, "a", msg(toAttr("BOB@LocalHost"), originID("o1")), "x", 0},
		}},
		{"recipient with a character reference", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{0, "a", msg(toAttr("b&#111;b@localhost"), originID("o1")), "x", 0},
		}},
		{"origin-id written differently", []step{
			{0, "a", bobWith(`<origin-id id='o1' xmlns='urn:xmpp:sid:0'/>`), "x", 1},
			{0, "a", bobWith(`<origin-id xmlns="urn:xmpp:sid:0"  id="o1"></origin-id>`), "x", 0},
		}},
		{"id when there is no origin-id", []step{
			{0, "a", msg(withID("m1", "bob@localhost"), "<body>hi</body>"), "x", 1},
			{0, "a", msg(withID("m1", "bob@localhost"), "<body>hi</body>"), "x", 0},
		}},
		{"origin-id wins over id", []step{
			{0, "a", msg(withID("m1", "bob@localhost"), originID("o1")), "x", 1},
			{0, "a", msg(withID("m1", "bob@localhost"), originID("o2")), "x", 1},
		}},
		{"no 'to' is the own account", []step{
			{0, "a", msg(` id="n1"`, "<body>note</body>"), "b", 1},
			{0, "a", msg(toAttr("alice@localhost"), `<origin-id xmlns="urn:xmpp:sid:0" id="n1"/>`), "b", 1},
			{0, "a", msg(` id="n1"`, "<body>note</body>"), "b", 0},
		}},
		{"just inside the window", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{dedupe.DefaultWindow - time.Nanosecond, "a", bobWith(originID("o1")), "x", 0},
		}},
		{"after the window", []step{
			{0, "a", bobWith(originID("o1")), "x", 1},
			{dedupe.DefaultWindow, "a", bobWith(originID("o1")), "x", 1},
			{time.Second, "a", bobWith(originID("o1")), "x", 0},
		}},
		{"no id at all", []step{
			{0, "a", bobWith("<body>hi</body>"), "x", 1},
			{0, "a", bobWith("<body>hi</body>"), "x", 1},
		}},
		{"empty ids", []step{
			{0, "a", msg(withID("", "bob@localhost"), `<origin-id xmlns="urn:xmpp:sid:0" id=""/>`), "x", 1},
			{0, "a", msg(withID("", "bob@localhost"), `<origin-id xmlns="urn:xmpp:sid:0" id=""/>`), "x", 1},
		}},
		{"error type", []step{
			{0, "a", `<message type="error" id="e1" to="bob@localhost/x"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`, "x", 1},
			{0, "a", `<message type="error" id="e1" to="bob@localhost/x"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`, "x", 1},
		}},
		{"a refused message is not recorded", []step{
			{0, "a", msg(toAttr("nobody@localhost"), originID("o1")), "a", 1}, // the error
			{0, "a", msg(toAttr("nobody@localhost"), originID("o1")), "a", 1},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, 0)
			for i, s := range tc.steps {
				f.clock.advance(s.advance)
				if got := f.send(t, s.from, s.msg, s.check); got != s.want {
					t.Errorf("step %d: %s got %d stanzas, want %d", i, s.check, got, s.want)
				}
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	f := setup(t, 0)
	f.send(t, "a", bobWith(originID("o1")), "x")
	f.send(t, "a", bobWith(originID("o2")), "x")
	f.send(t, "a", bobWith(originID("o1")), "x")
	if got, want := gatherValue(t, f.reg, "ringd_dedupe_duplicates_total"), 1.0; got != want {
		t.Errorf("duplicates = %v, want %v", got, want)
	}
	if got, want := gatherValue(t, f.reg, "ringd_dedupe_entries"), 2.0; got != want {
		t.Errorf("entries = %v, want %v", got, want)
	}
	f.clock.advance(dedupe.DefaultWindow)
	if got, want := gatherValue(t, f.reg, "ringd_dedupe_entries"), 0.0; got != want {
		t.Errorf("entries after the window = %v, want %v", got, want)
	}
}

func TestCapEvictsOldest(t *testing.T) {
	f := setup(t, 3)
	for i := range 4 {
		if got := f.send(t, "a", bobWith(originID(fmt.Sprint(i))), "x"); got != 1 {
			t.Fatalf("message %d: bob got %d stanzas, want 1", i, got)
		}
	}
	if got, want := f.filter.Len(), 3; got != want {
		t.Errorf("Len = %v, want %v", got, want)
	}
	if got, want := gatherValue(t, f.reg, "ringd_dedupe_evictions_total"), 1.0; got != want {
		t.Errorf("evictions = %v, want %v", got, want)
	}
	tests := []struct {
		name string
		id   string
		want int
	}{
		{"newest is remembered", "3", 0},
		{"oldest was evicted", "0", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := f.send(t, "a", bobWith(originID(tc.id)), "x"); got != tc.want {
				t.Errorf("bob got %d stanzas, want %d", got, tc.want)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     dedupe.Config
		wantErr bool
	}{
		{"zero value", dedupe.Config{}, false},
		{"negative window", dedupe.Config{Window: -time.Second}, true},
		{"negative max entries", dedupe.Config{MaxEntries: -1}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dedupe.New(tc.cfg)
			if got := err != nil; got != tc.wantErr {
				t.Errorf("New(%+v) error = %v, want error %v", tc.cfg, err, tc.wantErr)
			}
		})
	}
}

func TestFilterMessageAllocs(t *testing.T) {
	f := setup(t, 0)
	st := routertest.Parse(t, bobWith(originID("abcdef0123")))
	s := f.sessions["a"]
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { f.filter.FilterMessage(ctx, s, st) }); n != 0 {
		t.Errorf("FilterMessage allocates %v times, want 0", n)
	}
}

func BenchmarkFilterMessage(b *testing.B) {
	env := routertest.New(b, "alice", "bob")
	s, _ := env.Bind(b, "alice@localhost/phone", true)
	filter, err := dedupe.New(dedupe.Config{})
	if err != nil {
		b.Fatal(err)
	}
	st := routertest.Parse(b, `<message type="chat" id="5b6d7a1c-2f3e" to="bob@localhost"><body>Are you coming tonight?</body><origin-id xmlns="urn:xmpp:sid:0" id="5b6d7a1c-2f3e"/><request xmlns="urn:xmpp:receipts"/><markable xmlns="urn:xmpp:chat-markers:0"/></message>`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		filter.FilterMessage(ctx, s, st)
	}
}

func BenchmarkMessageRouted(b *testing.B) {
	env := routertest.New(b, "alice", "bob")
	s, _ := env.Bind(b, "alice@localhost/phone", true)
	c := newClock()
	filter, err := dedupe.New(dedupe.Config{Window: time.Millisecond, Now: func() time.Time { c.advance(time.Microsecond); return c.t }})
	if err != nil {
		b.Fatal(err)
	}
	sts := make([]*wire.Stanza, 4096)
	for i := range sts {
		sts[i] = routertest.Parse(b, fmt.Sprintf(`<message type="chat" to="bob@localhost"><body>hi</body><origin-id xmlns="urn:xmpp:sid:0" id="%08x-2f3e"/></message>`, i))
	}
	ctx := context.Background()
	acc := router.Account{Bare: "bob@localhost", Local: "bob"}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		filter.MessageRouted(ctx, s, sts[i%len(sts)], acc, nil, nil)
		i++
	}
}
