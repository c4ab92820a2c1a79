package offline_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"testing"
	"time"

	"github.com/ringd/ringd/xmpp/offline"
	"github.com/ringd/ringd/xmpp/router/routertest"
)

var accepted = time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC)

func setup(t *testing.T, quota int) (*routertest.Env, *offline.Offline) {
	t.Helper()
	env := routertest.New(t, "alice", "bob")
	o, err := offline.New(offline.Config{
		Router: env.Router, Store: env.Store, Domain: "localhost", Quota: quota,
		Now: func() time.Time { return accepted },
	})
	if err != nil {
		t.Fatal(err)
	}
	o.Register(env.Router)
	return env, o
}

type message struct {
	From  string `xml:"from,attr"`
	Type  string `xml:"type,attr"`
	Body  string `xml:"body"`
	Delay *struct {
		From  string `xml:"from,attr"`
		Stamp string `xml:"stamp,attr"`
	} `xml:"urn:xmpp:delay delay"`
	SID *struct {
		By string `xml:"by,attr"`
	} `xml:"urn:xmpp:sid:0 stanza-id"`
	Error *struct {
		Type string                       `xml:"type,attr"`
		Cond []struct{ XMLName xml.Name } `xml:",any"`
	} `xml:"error"`
}

func decode(t *testing.T, raw string) message {
	t.Helper()
	var m message
	if err := xml.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return m
}

// comeOnline binds bob and runs what initial presence runs.
func comeOnline(t *testing.T, env *routertest.Env, full string) *routertest.Conn {
	t.Helper()
	s, c := env.Bind(t, full, true)
	env.Router.InitialPresenceSent(context.Background(), s)
	return c
}

func TestStoreAndDeliver(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		stored bool
	}{
		{"chat with a body", `<message type="chat" to="bob@localhost"><body>hi</body></message>`, true},
		{"normal message with a body", `<message to="bob@localhost"><body>hi</body></message>`, true},
		{"to a resource that is gone", `<message type="chat" to="bob@localhost/phone"><body>hi</body></message>`, true},
		{"store hint without a body", `<message type="chat" to="bob@localhost"><x xmlns="urn:example"/><store xmlns="urn:xmpp:hints"/></message>`, true},
		{"call proposal", `<message to="bob@localhost" type="chat"><propose xmlns="urn:xmpp:jingle-message:0" id="c1"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose></message>`, true},
		{"chat state only", `<message type="chat" to="bob@localhost"><active xmlns="http://jabber.org/protocol/chatstates"/></message>`, false},
		{"no-store hint", `<message type="chat" to="bob@localhost"><body>otr</body><no-store xmlns="urn:xmpp:hints"/></message>`, false},
		{"no-permanent-store hint", `<message type="chat" to="bob@localhost"><body>x</body><no-permanent-store xmlns="urn:xmpp:hints"/></message>`, false},
		{"headline", `<message type="headline" to="bob@localhost"><body>news</body></message>`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _ := setup(t, 0)
			alice, aconn := env.Bind(t, "alice@localhost/a", true)
			env.Route(t, alice, tc.in)
			if got := aconn.Take(); len(got) != 0 {
				t.Fatalf("sender got %q, want nothing", got)
			}
			n, err := env.Store.CountOffline(context.Background(), "bob")
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[tc.stored]; n != want {
				t.Fatalf("stored %d messages, want %d", n, want)
			}
			got := comeOnline(t, env, "bob@localhost/laptop").Take()
			if !tc.stored {
				if len(got) != 0 {
					t.Errorf("bob got %q, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("bob got %q, want one message", got)
			}
			m := decode(t, got[0])
			if m.From != "alice@localhost/a" {
				t.Errorf("from = %q, want alice@localhost/a", m.From)
			}
			if m.Delay == nil || m.Delay.From != "localhost" || m.Delay.Stamp != "2026-11-22T10:00:00.123Z" {
				t.Errorf("delay = %+v, want from localhost stamped 2026-11-22T10:00:00.123Z", m.Delay)
			}
			if m.SID == nil || m.SID.By != "bob@localhost" {
				t.Errorf("stanza-id = %+v, want by bob@localhost", m.SID)
			}
			if n, _ := env.Store.CountOffline(context.Background(), "bob"); n != 0 {
				t.Errorf("%d messages left in storage after delivery, want 0", n)
			}
		})
	}
}

func TestDeliveryOrderAndOnce(t *testing.T) {
	env, _ := setup(t, 0)
	alice, _ := env.Bind(t, "alice@localhost/a", true)
	const n = 250 // more than one page
	for i := range n {
		env.Route(t, alice, fmt.Sprintf(`<message type="chat" to="bob@localhost"><body>%d</body></message>`, i))
	}
	got := comeOnline(t, env, "bob@localhost/laptop").Take()
	if len(got) != n {
		t.Fatalf("bob got %d messages, want %d", len(got), n)
	}
	for i, raw := range got {
		if b := decode(t, raw).Body; b != fmt.Sprint(i) {
			t.Fatalf("message %d has body %q, want %d", i, b, i)
		}
	}
	if again := comeOnline(t, env, "bob@localhost/tablet").Take(); len(again) != 0 {
		t.Errorf("a second resource got %d old messages, want 0", len(again))
	}
}

func TestQuota(t *testing.T) {
	env, _ := setup(t, 3)
	alice, aconn := env.Bind(t, "alice@localhost/a", true)
	for i := range 4 {
		env.Route(t, alice, fmt.Sprintf(`<message type="chat" id="m%d" to="bob@localhost"><body>%d</body></message>`, i, i))
	}
	got := aconn.Take()
	if len(got) != 1 {
		t.Fatalf("sender got %q, want one error", got)
	}
	m := decode(t, got[0])
	if m.Type != "error" || m.Error == nil || m.Error.Type != "wait" || len(m.Error.Cond) == 0 || m.Error.Cond[0].XMLName.Local != "resource-constraint" {
		t.Errorf("sender got %s, want a wait/resource-constraint error", got[0])
	}
	delivered := comeOnline(t, env, "bob@localhost/laptop").Take()
	if len(delivered) != 3 || decode(t, delivered[0]).Body != "0" || decode(t, delivered[2]).Body != "2" {
		t.Errorf("bob got %q, want the first three messages", delivered)
	}
}

func TestLiveAfterOnline(t *testing.T) {
	env, _ := setup(t, 0)
	alice, _ := env.Bind(t, "alice@localhost/a", true)
	bob := comeOnline(t, env, "bob@localhost/laptop")
	env.Route(t, alice, `<message type="chat" to="bob@localhost"><body>live</body></message>`)
	got := bob.Take()
	if len(got) != 1 || decode(t, got[0]).Delay != nil {
		t.Errorf("bob got %q, want one live message without delay", got)
	}
}
