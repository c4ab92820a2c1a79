package routertest

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Conn records what the router delivers to a session.
type Conn struct {
	mu     sync.Mutex
	got    []string
	closed string
}

var _ router.Conn = (*Conn)(nil)

// Deliver records raw; it refuses once Close was called.
func (c *Conn) Deliver(raw []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed != "" {
		return false
	}
	c.got = append(c.got, string(raw))
	return true
}

// Close records the condition.
func (c *Conn) Close(cond string) {
	c.mu.Lock()
	c.closed = cond
	c.mu.Unlock()
}

// Take returns and forgets what was delivered so far.
func (c *Conn) Take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

// Closed returns the condition the session was closed with, or "".
func (c *Conn) Closed() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Env is a router over a fresh store.
type Env struct {
	Router *router.Router
	Store  *sqlite.Store
}

// New opens a store in t.TempDir(), creates the given accounts (localparts)
// and returns a router for the domain "localhost" over it.
func New(t testing.TB, users ...string) *Env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, u := range users {
		if err := st.CreateUser(ctx, u, storage.Credentials{Salt: []byte("salt"), Iterations: 4096}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := router.New(router.Config{Domain: "localhost", Users: st})
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Router: r, Store: st}
}

// Bind binds full with a recording Conn; available sessions get an
// available presence of priority 0.
func (e *Env) Bind(t testing.TB, full string, available bool) (*router.Session, *Conn) {
	t.Helper()
	j, err := jid.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	c := &Conn{}
	s, err := e.Router.Bind(j, c)
	if err != nil {
		t.Fatal(err)
	}
	if available {
		s.SetPresence(true, 0, []byte(`<presence from="`+full+`"/>`))
	}
	return s, c
}

// Parse decodes one stanza written as a string (jabber:client unless it
// says otherwise).
func Parse(t testing.TB, s string) *wire.Stanza {
	t.Helper()
	st, err := wire.NewFramedDecoder(strings.NewReader(s), wire.Limits{}).Next()
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return st
}

// Route decodes s and routes it from the session.
func (e *Env) Route(t testing.TB, from *router.Session, s string) {
	t.Helper()
	e.Router.Route(context.Background(), from, Parse(t, s))
}
