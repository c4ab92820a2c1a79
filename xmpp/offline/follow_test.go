package offline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// echo is a Follower for these tests: it follows every stored message
// whose body starts with "x" by a message with body "after " and that
// body, stamped a minute after it, and it cannot judge a message with
// body "wait" unless a message with body "done" comes after it in the run
// or the run is the last. It records the runs it was shown.
type echo struct {
	mu   sync.Mutex
	runs []string // "first..last" bodies, "+" when last
}

func (e *echo) FollowStored(_ context.Context, to router.Account, msgs []storage.OfflineMessage, last bool, now time.Time) (int, []storage.OfflineMessage) {
	after := make([]storage.OfflineMessage, len(msgs))
	bodies := make([]string, len(msgs))
	for i, m := range msgs {
		st, err := wire.NewFramedDecoder(strings.NewReader(string(m.Stanza)), wire.Limits{}).Next()
		if err != nil {
			panic(err)
		}
		ch, _ := st.Child(wire.NSClient, "body")
		body := string(st.Raw[ch.Start:ch.End])
		body = strings.TrimSuffix(strings.TrimPrefix(body, "<body>"), "</body>")
		bodies[i] = body
	}
	e.mu.Lock()
	run := bodies[0] + ".." + bodies[len(bodies)-1]
	if last {
		run += "+"
	}
	e.runs = append(e.runs, run)
	e.mu.Unlock()
	for i, body := range bodies {
		if body == "wait" && !last && !slices.Contains(bodies[i:], "done") {
			return i, after[:i]
		}
		if strings.HasPrefix(body, "x") {
			after[i] = storage.OfflineMessage{
				Stanza:  []byte(`<message from="` + to.Bare + `" to="` + to.Bare + `"><body>after ` + body + `</body></message>`),
				Created: msgs[i].Created.Add(time.Minute),
			}
		}
	}
	return len(msgs), after
}

// TestFollower: what a Follower adds comes right after its message, with
// its own delay stamp, and is not stored; a message it cannot judge yet is
// held back to the next run, which grows when that message heads it.
func TestFollower(t *testing.T) {
	tests := []struct {
		name   string
		bodies func(i int) string
		n      int
		runs   []string
	}{
		{"one page", func(i int) string { return []string{"a", "x1", "b", "x2"}[i] }, 4, []string{"a..x2+"}},
		{"held back at a page's end", func(i int) string {
			if i == 99 {
				return "wait"
			}
			return fmt.Sprintf("x%d", i)
		}, 150, []string{"x0..wait", "wait..x149+"}},
		{"heading a full run, which grows", func(i int) string {
			switch i {
			case 99:
				return "wait"
			case 250:
				return "done"
			}
			return fmt.Sprintf("x%d", i)
		}, 260, []string{"x0..wait", "wait..x198", "wait..x259+"}},
		{"the last run is judged whole", func(int) string { return "wait" }, 1, []string{"wait..wait+"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, o := setup(t, 0)
			e := &echo{}
			o.SetFollower(e)
			alice, _ := env.Bind(t, "alice@localhost/a", true)
			var want []string
			for i := range tc.n {
				b := tc.bodies(i)
				env.Route(t, alice, `<message type="chat" to="bob@localhost"><body>`+b+`</body></message>`)
				want = append(want, b)
				if strings.HasPrefix(b, "x") {
					want = append(want, "after "+b)
				}
			}
			got := comeOnline(t, env, "bob@localhost/laptop").Take()
			var bodies []string
			for _, raw := range got {
				m := decode(t, raw)
				bodies = append(bodies, m.Body)
				stamp := "2026-11-22T10:00:00.123Z"
				if strings.HasPrefix(m.Body, "after ") {
					stamp = "2026-11-22T10:01:00.123Z"
				}
				if m.Delay == nil || m.Delay.Stamp != stamp {
					t.Errorf("%q has delay %+v, want stamp %s", m.Body, m.Delay, stamp)
				}
			}
			if strings.Join(bodies, ",") != strings.Join(want, ",") {
				t.Errorf("bob got\n  %q\nwant\n  %q", bodies, want)
			}
			if tc.runs != nil && strings.Join(e.runs, " ") != strings.Join(tc.runs, " ") {
				t.Errorf("the follower saw runs %q, want %q", e.runs, tc.runs)
			}
			if n, _ := env.Store.CountOffline(context.Background(), "bob"); n != 0 {
				t.Errorf("%d messages left stored, want 0", n)
			}
		})
	}
}

// refusing takes the first n stanzas, then refuses like a closing session.
type refusing struct {
	mu   sync.Mutex
	n    int
	took []string
}

func (c *refusing) Deliver(raw []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.took) >= c.n {
		return false
	}
	c.took = append(c.took, string(raw))
	return true
}

func (c *refusing) Close(string) {}

// TestFollowerRefused: a stored message whose follower the session did
// not take stays stored, so that the next login gets both.
func TestFollowerRefused(t *testing.T) {
	env, o := setup(t, 0)
	o.SetFollower(&echo{})
	alice, _ := env.Bind(t, "alice@localhost/a", true)
	for _, b := range []string{"a", "x1", "b"} {
		env.Route(t, alice, `<message type="chat" to="bob@localhost"><body>`+b+`</body></message>`)
	}
	c := &refusing{n: 2} // "a", then "x1" but not what follows it
	s, err := env.Router.Bind(jid.MustParse("bob@localhost/laptop"), c)
	if err != nil {
		t.Fatal(err)
	}
	s.SetPresence(true, 0, []byte(`<presence from="bob@localhost/laptop"/>`))
	env.Router.InitialPresenceSent(context.Background(), s)
	env.Router.Unbind(context.Background(), s)
	if n, _ := env.Store.CountOffline(context.Background(), "bob"); n != 2 {
		t.Fatalf("%d messages stored after a delivery cut short, want 2 (x1 and b)", n)
	}
	var bodies []string
	for _, raw := range comeOnline(t, env, "bob@localhost/tablet").Take() {
		bodies = append(bodies, decode(t, raw).Body)
	}
	if want := "x1,after x1,b"; strings.Join(bodies, ",") != want {
		t.Errorf("the next login got %q, want %s", bodies, want)
	}
}
