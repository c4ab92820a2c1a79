package roster

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

const domain = "example.com"

// harness is a router with the roster feature on a real SQLite store.
type harness struct {
	t      *testing.T
	ctx    context.Context
	store  *sqlite.Store
	rt     *router.Router
	roster *Roster
}

func newHarness(t *testing.T, cfg Config, users ...string) *harness {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatalf("sqlite.Open: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	for _, u := range users {
		if err := store.CreateUser(ctx, u, storage.Credentials{Salt: []byte("salt"), Iterations: 4096}); err != nil {
			t.Fatalf("CreateUser(%q): %v", u, err)
		}
	}
	rt, err := router.New(router.Config{Domain: domain, Users: store})
	if err != nil {
		t.Fatalf("router.New: %v", err)
	}
	cfg.Store = store
	ro, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ro.Register(rt)
	return &harness{t: t, ctx: ctx, store: store, rt: rt, roster: ro}
}

// client is one bound session whose delivered stanzas are recorded.
type client struct {
	h    *harness
	s    *router.Session
	full string

	mu  sync.Mutex
	got [][]byte
}

func (c *client) Deliver(raw []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, bytes.Clone(raw))
	return true
}

func (c *client) Close(string) {}

// bind binds full without fetching the roster or sending presence.
func (h *harness) bind(full string) *client {
	h.t.Helper()
	c := &client{h: h, full: full}
	s, err := h.rt.Bind(jid.MustParse(full), c)
	if err != nil {
		h.t.Fatalf("Bind(%s): %v", full, err)
	}
	c.s = s
	return c
}

// login binds full, fetches the roster and sends initial presence, as a
// usual client does; what that delivered is discarded.
func (h *harness) login(full string) *client {
	h.t.Helper()
	c := h.bind(full)
	c.send(`<iq type="get" id="login"><query xmlns="jabber:iq:roster"/></iq>`)
	c.available()
	c.take()
	return c
}

// available stands in for the presence feature: the session becomes
// available with a plain presence, then the initial-presence hooks run.
func (c *client) available() {
	c.s.SetPresence(true, 0, []byte(`<presence from="`+c.full+`"/>`))
	c.h.rt.InitialPresenceSent(c.h.ctx, c.s)
}

// send routes one stanza from c, as the session's read loop would.
func (c *client) send(x string) {
	c.h.t.Helper()
	d := wire.NewFramedDecoder(strings.NewReader(x), wire.Limits{})
	st, err := d.Next()
	if err != nil {
		c.h.t.Fatalf("decode %s: %v", x, err)
	}
	c.h.rt.Route(c.h.ctx, c.s, st)
}

// take returns what was delivered to c since the last take.
func (c *client) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// expect checks the summaries of what c received since the last take.
func (c *client) expect(want ...string) {
	c.h.t.Helper()
	var got []string
	for _, raw := range c.take() {
		got = append(got, summarize(c.h.t, c.full, raw))
	}
	if !slices.Equal(got, want) {
		c.h.t.Errorf("%s received:\n\t%s\nwant:\n\t%s", c.full, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// xStanza is a delivered stanza as the tests read it.
type xStanza struct {
	XMLName xml.Name
	From    string  `xml:"from,attr"`
	To      string  `xml:"to,attr"`
	Type    string  `xml:"type,attr"`
	ID      string  `xml:"id,attr"`
	Query   *xQuery `xml:"jabber:iq:roster query"`
	Error   *struct {
		Type string `xml:"type,attr"`
		Cond []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

type xQuery struct {
	Ver   *string `xml:"ver,attr"`
	Items []struct {
		JID          string   `xml:"jid,attr"`
		Name         string   `xml:"name,attr"`
		Subscription string   `xml:"subscription,attr"`
		Ask          string   `xml:"ask,attr"`
		Approved     string   `xml:"approved,attr"`
		Groups       []string `xml:"group"`
	} `xml:"item"`
}

func (q *xQuery) String() string {
	var b strings.Builder
	if q.Ver != nil {
		fmt.Fprintf(&b, "ver=%s", *q.Ver)
	}
	for _, it := range q.Items {
		fmt.Fprintf(&b, " [%s %s", it.JID, it.Subscription)
		if it.Ask != "" {
			b.WriteString(" ask=" + it.Ask)
		}
		if it.Approved != "" {
			b.WriteString(" approved=" + it.Approved)
		}
		if it.Name != "" {
			b.WriteString(" name=" + it.Name)
		}
		if len(it.Groups) > 0 {
			b.WriteString(" groups=" + strings.Join(it.Groups, ","))
		}
		b.WriteString("]")
	}
	return strings.TrimSpace(b.String())
}

// condition renders the error type and condition, "modify bad-request".
func (x *xStanza) condition() string {
	if x.Error == nil {
		return "(no error element)"
	}
	conds := []string{x.Error.Type}
	for _, c := range x.Error.Cond {
		if c.XMLName.Local != "text" {
			conds = append(conds, c.XMLName.Local)
		}
	}
	return strings.Join(conds, " ")
}

// summarize reads a delivered stanza with encoding/xml and renders it as
// one line: "push ver=2 [bob@example.com to]", "result id=r1 ver=1 [...]",
// "error id=r1 modify bad-request", "presence subscribe from=... to=...".
// IQs must be addressed to the receiving session.
func summarize(t *testing.T, full string, raw []byte) string {
	t.Helper()
	var x xStanza
	if err := xml.Unmarshal(raw, &x); err != nil {
		t.Fatalf("delivered stanza is not well-formed: %v\n%s", err, raw)
	}
	switch x.XMLName.Local {
	case "iq":
		if x.To != full {
			t.Errorf("iq to=%q delivered to %s: %s", x.To, full, raw)
		}
		switch x.Type {
		case "set":
			if x.From != "" {
				t.Errorf("roster push with from=%q: %s", x.From, raw)
			}
			if x.ID == "" {
				t.Errorf("roster push without id: %s", raw)
			}
			if x.Query == nil {
				return "iq set " + string(raw)
			}
			return "push " + x.Query.String()
		case "result":
			if x.Query == nil {
				return "result id=" + x.ID
			}
			return "result id=" + x.ID + " " + x.Query.String()
		case "error":
			return "error id=" + x.ID + " " + x.condition()
		}
	case "presence":
		switch x.Type {
		case "":
			return fmt.Sprintf("presence available from=%s to=%s", x.From, x.To)
		case "error":
			return fmt.Sprintf("presence error from=%s %s", x.From, x.condition())
		}
		return fmt.Sprintf("presence %s from=%s to=%s", x.Type, x.From, x.To)
	}
	return string(raw)
}

// item returns the stored item of contact in user's roster, or nil.
func (h *harness) item(user, contact string) *storage.RosterItem {
	h.t.Helper()
	it, err := h.store.RosterItem(h.ctx, user, contact)
	if err != nil {
		return nil
	}
	return &it
}

// pending returns the contacts with a pending request to user.
func (h *harness) pending(user string) []string {
	h.t.Helper()
	reqs, err := h.store.SubscriptionRequests(h.ctx, user)
	if err != nil {
		h.t.Fatalf("SubscriptionRequests(%s): %v", user, err)
	}
	var cs []string
	for _, r := range reqs {
		cs = append(cs, r.Contact)
	}
	return cs
}
