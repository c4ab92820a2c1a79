package presence

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

func TestNewValidates(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{name: "ok", cfg: Config{Router: e.r, Rosters: e.store}},
		{name: "no router", cfg: Config{Rosters: e.store}, wantErr: true},
		{name: "no rosters", cfg: Config{Router: e.r}, wantErr: true},
		// The env's Presence already registered these names.
		{name: "metrics registered twice", cfg: Config{Router: e.r, Rosters: e.store, Registerer: e.reg}, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if (err != nil) != tc.wantErr {
				t.Errorf("New() = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

func TestRegisterOtherRouterPanics(t *testing.T) {
	e := newEnv(t)
	other, err := router.New(router.Config{Domain: domain, Users: e.store})
	if err != nil {
		t.Fatalf("router.New() = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Register(other router) did not panic")
		}
	}()
	e.p.Register(other)
}

func TestInitialPresenceSentOnce(t *testing.T) {
	e := newEnv(t)
	e.bind("alice/phone")
	e.bind("alice/laptop")
	for _, x := range []string{
		`<presence to="bob@example.com"/>`, // directed: not initial presence
		`<presence/>`,
		`<presence><show>away</show></presence>`,
		`<presence type="unavailable"/>`,
		`<presence/>`,
	} {
		e.send("alice/phone", x)
	}
	e.mu.Lock()
	got := e.initial
	e.mu.Unlock()
	want := map[string]int{"alice/phone": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("InitialPresenceSent calls = %v, want %v", got, want)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	baseRoster(e)
	e.bind("alice/phone")
	e.bind("bob/1")
	e.bind("carol/1")
	e.send("bob/1", `<presence/>`)   // 1 broadcast: bob/1 itself
	e.send("carol/1", `<presence/>`) // 1 broadcast: carol/1 itself
	// 1 broadcast to alice/phone, bob/1, carol/1; carol's presence to
	// alice/phone.
	e.send("alice/phone", `<presence/>`)
	e.unbind("alice/phone") // 1 broadcast to bob/1, carol/1
	cases := []struct {
		name string
		want float64
	}{
		{"ringd_presence_broadcasts_total", 4},
		{"ringd_presence_deliveries_total", 1 + 1 + 3 + 1 + 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.counter(tc.name); got != tc.want {
				t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

// TestStateForgotten checks that an ended session leaves nothing behind.
func TestStateForgotten(t *testing.T) {
	e := newEnv(t)
	e.bind("alice/phone")
	e.send("alice/phone", `<presence/>`)
	e.send("alice/phone", `<presence to="eve@example.com"/>`)
	e.unbind("alice/phone")
	n := 0
	e.p.sessions.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Errorf("sessions after unbind = %v, want 0", n)
	}
}

// TestConvergence runs sessions that flap concurrently (and a session
// replaced while it sends presence) and checks that every watcher ends
// with the true state of every resource: unavailable, since all ended.
// Run it with -race.
func TestConvergence(t *testing.T) {
	e := newEnv(t)
	const n = 8
	e.subscription("alice", "carol", storage.SubBoth)
	e.subscription("carol", "alice", storage.SubBoth)
	watcher := e.bind("carol/watch")
	e.send("carol/watch", `<presence/>`)
	watcher.c.take(t)

	var clients []*client
	for i := range n {
		clients = append(clients, e.bind(fmt.Sprintf("alice/%d", i)))
	}
	var wg sync.WaitGroup
	for i, cl := range clients {
		wg.Go(func() {
			for k := range 20 {
				e.routeFrom(cl, fmt.Sprintf(`<presence><status>%d</status></presence>`, k))
				if k%7 == 3 {
					e.routeFrom(cl, `<presence type="unavailable"/>`)
				}
			}
			if i%2 == 0 {
				e.r.Unbind(t.Context(), cl.s)
				return
			}
			// Replace the session while the old one keeps talking.
			var inner sync.WaitGroup
			inner.Go(func() {
				for k := range 20 {
					e.routeFrom(cl, fmt.Sprintf(`<presence><status>late %d</status></presence>`, k))
				}
			})
			c := &testConn{}
			s, err := e.r.Bind(cl.s.JID(), c)
			if err != nil {
				t.Errorf("Bind(%v) = %v", cl.s.JID(), err)
				return
			}
			inner.Wait()
			e.r.Unbind(t.Context(), s)
		})
	}
	wg.Wait()

	last := make(map[string]string)
	for _, s := range watcher.c.take(t) {
		typ, rest, _ := strings.Cut(s, " ")
		from, _, _ := strings.Cut(rest, ">")
		last[from] = typ
	}
	for i := range n {
		from := fmt.Sprintf("alice/%d", i)
		if got := last[from]; got != "unavailable" {
			t.Errorf("last presence of %s seen by carol/watch = %q, want %q", from, got, "unavailable")
		}
	}
	left := 0
	e.p.sessions.Range(func(k, _ any) bool {
		if k.(*router.Session) != watcher.s {
			left++
		}
		return true
	})
	if left != 0 {
		t.Errorf("states left after every alice session ended = %v, want 0", left)
	}
}

func TestMaxDirected(t *testing.T) {
	e := newEnv(t)
	e.p.maxDirected = 1
	e.bind("alice/phone")
	e.bind("bob/1")
	e.bind("eve/1")
	e.send("bob/1", `<presence/>`)
	e.send("eve/1", `<presence/>`)
	e.takeAll()
	e.send("alice/phone", `<presence to="bob@example.com"/>`)
	e.send("alice/phone", `<presence to="eve@example.com"/>`)
	e.unbind("alice/phone")
	got := e.takeAll()
	// Only bob, the first, was remembered.
	want := map[string][]string{
		"bob/1": {"available alice/phone>bob", "unavailable alice/phone>bob"},
		"eve/1": {"available alice/phone>eve"},
	}
	if !equalDeliveries(got, want, true) {
		t.Errorf("deliveries:%s\nwant:%s", formatDeliveries(got), formatDeliveries(want))
	}
}

// failingRosters fails every read.
type failingRosters struct{}

func (failingRosters) Roster(context.Context, string) ([]storage.RosterItem, int64, error) {
	return nil, 0, errors.New("disk on fire")
}

func (failingRosters) RosterItem(context.Context, string, string) (storage.RosterItem, error) {
	return storage.RosterItem{}, errors.New("disk on fire")
}

// TestRosterUnavailable checks what a session gets when rosters cannot be
// read: its own resources still see it, and it learns of the failure.
func TestRosterUnavailable(t *testing.T) {
	e := newEnvWith(t, failingRosters{})
	e.bind("alice/laptop")
	e.send("alice/laptop", `<presence/>`)
	e.bind("alice/phone")
	e.takeAll()
	e.send("alice/phone", `<presence/>`)
	got := e.takeAll()
	want := map[string][]string{
		"alice/phone": {
			"available alice/phone>alice",
			"error alice>alice/phone error=internal-server-error",
			"available alice/laptop>alice/phone delay(example.com," + stamp(0) + ")",
		},
		"alice/laptop": {"available alice/phone>alice"},
	}
	if !equalDeliveries(got, want, false) {
		t.Errorf("deliveries:%s\nwant:%s", formatDeliveries(got), formatDeliveries(want))
	}
}
