package jingle_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/jingle"
	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// stored is a call message as the router stores it for carol: from
// stamped, a stanza-id by carol's account.
func stored(name, id, cond string) string {
	inner := ""
	switch {
	case name == "propose":
		inner = `<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/>`
	case cond != "":
		inner = `<reason xmlns="urn:xmpp:jingle:1"><` + cond + `/></reason>`
	}
	return `<message type="chat" to="carol@localhost" id="m-` + name + `-` + id + `" from="alice@localhost/a"><` + name +
		` xmlns="urn:xmpp:jingle-message:0" id="` + id + `">` + inner + `</` + name + `><store xmlns="urn:xmpp:hints"/>` +
		`<stanza-id xmlns="urn:xmpp:sid:0" id="s-` + name + id + `" by="carol@localhost"/></message>`
}

func storedChat(i int) string {
	return fmt.Sprintf(`<message type="chat" to="carol@localhost" from="alice@localhost/a"><body>%d</body>`+
		`<stanza-id xmlns="urn:xmpp:sid:0" id="s%d" by="carol@localhost"/></message>`, i, i)
}

// TestMissedCallAfterRestart: carol was offline when alice called; the
// server that rang went away before the ring timeout, so offline storage
// holds an offer and nothing that ends it. When carol logs in after the
// timeout, the offer comes with a retract (timeout) right after it, from
// alice's resource and stamped with the time the call timed out, and the
// call counts as missed. An offer that something stored ends, or that is
// younger than the timeout, comes alone.
func TestMissedCallAfterRestart(t *testing.T) {
	const ring = time.Minute
	type msg struct {
		raw string
		age time.Duration // how long before carol's login it was stored
	}
	chats := func(n int, age time.Duration) []msg {
		var out []msg
		for i := range n {
			out = append(out, msg{storedChat(i), age})
		}
		return out
	}
	tests := []struct {
		name   string
		stored []msg
		want   []string // carol's call messages, in order
		missed float64
	}{
		{"an expired offer", []msg{{stored("propose", "c1", ""), 2 * ring}},
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout"}, 1},
		{"an offer just expired", []msg{{stored("propose", "c1", ""), ring}},
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout"}, 1},
		{"an offer still ringing", []msg{{stored("propose", "c1", ""), ring / 2}},
			[]string{"propose c1 alice/a→carol"}, 0},
		{"an offer the caller retracted", []msg{{stored("propose", "c1", ""), 2 * ring}, {stored("retract", "c1", "cancel"), 2 * ring}},
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol cancel"}, 0},
		{"an offer the timer ended", []msg{{stored("propose", "c1", ""), 2 * ring}, {stored("retract", "c1", "timeout"), ring}},
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout"}, 0},
		{"an offer finished", []msg{{stored("propose", "c1", ""), 2 * ring}, {stored("finish", "c1", "success"), ring}},
			[]string{"propose c1 alice/a→carol", "finish c1 alice/a→carol success"}, 0},
		{"two offers, one ended", []msg{
			{stored("propose", "c1", ""), 3 * ring}, {stored("propose", "c2", ""), 3 * ring},
			{stored("retract", "c1", "cancel"), 3 * ring}},
			[]string{"propose c1 alice/a→carol", "propose c2 alice/a→carol", "retract c2 alice/a→carol timeout", "retract c1 alice/a→carol cancel"}, 1},
		{"the end of another call does not count", []msg{{stored("propose", "c1", ""), 2 * ring}, {stored("retract", "c9", "cancel"), ring}},
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout", "retract c9 alice/a→carol cancel"}, 1},
		// Pages of 100: the retract is read only with the next page.
		{"ended on a later page", slices.Concat(chats(99, 3*ring), []msg{{stored("propose", "c1", ""), 3 * ring}},
			chats(50, 3*ring), []msg{{stored("retract", "c1", "cancel"), 3 * ring}}),
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol cancel"}, 0},
		{"not ended, at a page's end", slices.Concat(chats(99, 3*ring), []msg{{stored("propose", "c1", ""), 3 * ring}}, chats(150, 3*ring)),
			[]string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			f := setup(t, jingle.Config{RingTimeout: ring})
			login := time.Now()
			for _, m := range tc.stored {
				if _, err := f.env.Store.PushOffline(ctx, "carol", []byte(m.raw), login.Add(-m.age), 0); err != nil {
					t.Fatal(err)
				}
			}
			s, c := f.env.Bind(t, "carol@localhost/phone", true)
			f.env.Router.InitialPresenceSent(ctx, s)
			var got []string
			n := 0
			for _, raw := range c.Take() {
				n++
				sum := summary(t, raw)
				if sum[:5] == "other" {
					continue // a chat message
				}
				got = append(got, sum)
				checkStored(t, raw, sum, tc.stored[0].age, ring, login)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("carol got call messages\n  %q\nwant\n  %q", got, tc.want)
			}
			if want := len(tc.stored) + int(tc.missed); n != want {
				t.Errorf("carol got %d stanzas, want %d", n, want)
			}
			wantOut := map[string]float64{}
			if tc.missed > 0 {
				wantOut["missed"] = tc.missed
			}
			if out := f.outcomes(t); !maps.Equal(out, wantOut) {
				t.Errorf("outcomes %v, want %v", out, wantOut)
			}
			if left, _ := f.env.Store.CountOffline(ctx, "carol"); left != 0 {
				t.Errorf("%d messages left stored, want 0 (nothing made up is stored)", left)
			}
		})
	}
}

// checkStored checks what every delivered call message carries: a delay
// stamp from the server and a stanza-id by carol's account; for the
// retract the server made, the stamp is when the first offer timed out.
func checkStored(t *testing.T, raw, sum string, age, ring time.Duration, login time.Time) {
	t.Helper()
	var m struct {
		Delay struct {
			From  string `xml:"from,attr"`
			Stamp string `xml:"stamp,attr"`
		} `xml:"urn:xmpp:delay delay"`
		SID struct {
			By string `xml:"by,attr"`
		} `xml:"urn:xmpp:sid:0 stanza-id"`
	}
	if err := xml.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	if m.Delay.From != "localhost" || m.SID.By != "carol@localhost" {
		t.Errorf("%s: delay from %q, stanza-id by %q; want localhost, carol@localhost", sum, m.Delay.From, m.SID.By)
	}
	if sum != "retract c1 alice/a→carol timeout" || age <= ring {
		return
	}
	stamp, err := time.Parse(time.RFC3339Nano, m.Delay.Stamp)
	if err != nil {
		t.Fatal(err)
	}
	if want := login.Add(-age + ring); stamp.Sub(want).Abs() > time.Millisecond {
		t.Errorf("%s stamped %v, want %v (offer + ring timeout)", sum, stamp, want)
	}
}

// storeOffer stores alice/a's offer c1 for carol as the router stores it,
// age before now.
func storeOffer(t *testing.T, f *fixture, sid string, age time.Duration) {
	t.Helper()
	if _, err := f.env.Store.PushOffline(context.Background(), "carol", []byte(stored("propose", sid, "")), time.Now().Add(-age), 0); err != nil {
		t.Fatal(err)
	}
}

// login binds carol/phone, available, and delivers what is stored for her.
func (f *fixture) login(t *testing.T) {
	t.Helper()
	s, c := f.env.Bind(t, "carol@localhost/phone", true)
	f.session["carol"], f.conn["carol"] = s, c
	f.env.Router.InitialPresenceSent(context.Background(), s)
}

func (f *fixture) logout(t *testing.T, name string) {
	t.Helper()
	f.env.Router.Unbind(context.Background(), f.session[name])
	delete(f.conn, name)
}

func (f *fixture) storedFor(t *testing.T, user string) []string {
	t.Helper()
	msgs, err := f.env.Store.OfflineMessages(context.Background(), user, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, summary(t, string(m.Stanza)))
	}
	return out
}

// TestRearmAfterRestart: a server restarted while alice's offer to
// offline carol still rang, so nothing ended it. carol logs in before the
// ring timeout: the offer rings, and is re-armed with the time it has
// left, so the ring timer ends it when the server that rang it would have
// (a retract to carol's devices, a reject to alice's proposing resource),
// counted once as missed; unless somebody ends it first.
func TestRearmAfterRestart(t *testing.T) {
	const left = 10 * time.Second // of the ring timeout, at carol's login
	tests := []struct {
		name    string
		after   func(t *testing.T, f *fixture) // after the login
		now     map[string][]string            // what that brings
		timeout map[string][]string            // at the offer's ring timeout
		stored  []string                       // for carol at the end
		outcome map[string]float64
	}{
		{
			name:    "the timer ends it",
			timeout: map[string][]string{"carol": {"retract c1 alice/a→carol timeout"}, "a": {"reject c1 carol→alice/a timeout"}},
			outcome: map[string]float64{"missed": 1},
		},
		{
			name:    "the caller is not back: no reject",
			after:   func(t *testing.T, f *fixture) { f.logout(t, "a") },
			timeout: map[string][]string{"carol": {"retract c1 alice/a→carol timeout"}},
			outcome: map[string]float64{"missed": 1},
		},
		{
			name:    "the device left: the retract is kept for it",
			after:   func(t *testing.T, f *fixture) { f.logout(t, "carol") },
			timeout: map[string][]string{"a": {"reject c1 carol→alice/a timeout"}},
			stored:  []string{"retract c1 alice/a→carol timeout"},
			outcome: map[string]float64{"missed": 1},
		},
		{
			name:    "the caller retracts",
			after:   func(t *testing.T, f *fixture) { f.route(t, "a", jmi("retract", "carol@localhost", "c1", "cancel")) },
			now:     map[string][]string{"carol": {"retract c1 alice/a→carol cancel"}, "b": {"sent:retract c1 alice/a→carol cancel"}},
			outcome: map[string]float64{"cancelled": 1},
		},
		{
			name:    "the device answers",
			after:   func(t *testing.T, f *fixture) { f.route(t, "carol", jmi("proceed", "alice@localhost", "c1", "")) },
			now:     map[string][]string{"a": {"proceed c1 carol/phone→alice"}, "b": {"proceed c1 carol/phone→alice"}},
			outcome: map[string]float64{},
		},
		{
			name: "the device declines",
			after: func(t *testing.T, f *fixture) {
				f.route(t, "carol", jmi("reject", "alice@localhost", "c1", "decline"))
			},
			now:     map[string][]string{"a": {"reject c1 carol/phone→alice decline"}, "b": {"reject c1 carol/phone→alice decline"}},
			outcome: map[string]float64{"rejected": 1},
		},
		{
			name:    "a retried offer rings nobody",
			after:   func(t *testing.T, f *fixture) { f.route(t, "a", propose("carol@localhost", "c1")) },
			timeout: map[string][]string{"carol": {"retract c1 alice/a→carol timeout"}, "a": {"reject c1 carol→alice/a timeout"}},
			outcome: map[string]float64{"missed": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := setup(t, jingle.Config{RingTimeout: ring})
				storeOffer(t, f, "c1", ring-left)
				f.login(t)
				if got := f.takeAll(t)["carol"]; !slices.Equal(got, []string{"propose c1 alice/a→carol"}) {
					t.Fatalf("carol got %q at login, want the offer", got)
				}
				if got := f.metric(t, "ringd_jingle_calls_active"); got != 1 {
					t.Errorf("active calls = %v after the login, want 1 (re-armed)", got)
				}
				if tc.after != nil {
					tc.after(t, f)
				}
				f.expect(t, tc.now)
				time.Sleep(left - time.Millisecond)
				synctest.Wait()
				f.expect(t, nil)
				time.Sleep(time.Millisecond)
				synctest.Wait()
				f.expect(t, tc.timeout)
				if got := f.storedFor(t, "carol"); !slices.Equal(got, tc.stored) {
					t.Errorf("carol has %q stored, want %q", got, tc.stored)
				}
				if got := f.outcomes(t); !maps.Equal(got, tc.outcome) {
					t.Errorf("outcomes %v, want %v", got, tc.outcome)
				}
			})
		})
	}
}

// TestRearmOnce: an offer this server rang is its own timer's, and an
// offer re-armed at one login is not re-armed again at the next.
func TestRearmOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := setup(t, jingle.Config{RingTimeout: ring})
		f.route(t, "a", propose("carol@localhost", "c1")) // stored: carol is offline
		storeOffer(t, f, "c2", ring/2)                    // from before a restart
		time.Sleep(ring / 4)
		f.login(t)
		f.logout(t, "carol") // before it took anything: both offers stay stored
		f.login(t)
		f.takeAll(t)
		time.Sleep(ring)
		synctest.Wait()
		want := []string{"retract c2 alice/a→carol timeout", "retract c1 alice/a→carol timeout"}
		if got := f.takeAll(t)["carol"]; !slices.Equal(got, want) {
			t.Errorf("carol got %q, want %q (each call ended once)", got, want)
		}
		if got, want := f.outcomes(t), map[string]float64{"missed": 2}; !maps.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
	})
}

// refusing is a connection that takes the first n stanzas and refuses the
// rest, as one whose stream broke during a delivery.
type refusing struct {
	n   int
	got []string
}

func (c *refusing) Deliver(raw []byte) bool {
	if len(c.got) >= c.n {
		return false
	}
	c.got = append(c.got, string(raw))
	return true
}

func (c *refusing) Close(string) {}

// TestMissedCountedOnce: a missed call is counted once, however often its
// stored offer is delivered (a delivery cut short leaves it stored, to be
// delivered again at the next login), as long as the call is among the
// last Config.MaxCounted counted from storage.
func TestMissedCountedOnce(t *testing.T) {
	ctx := context.Background()
	carol := router.Account{Bare: "carol@localhost", Local: "carol"}
	t.Run("a delivery cut short", func(t *testing.T) {
		f := setup(t, jingle.Config{RingTimeout: ring})
		storeOffer(t, f, "c1", 2*ring)
		for _, take := range []int{1, 2} { // the retract refused, then taken
			c := &refusing{n: take}
			s, err := f.env.Router.Bind(jid.MustParse("carol@localhost/phone"), c)
			if err != nil {
				t.Fatal(err)
			}
			s.SetPresence(true, 0, []byte(`<presence from="carol@localhost/phone"/>`))
			f.env.Router.InitialPresenceSent(ctx, s)
			f.env.Router.Unbind(ctx, s)
			if len(c.got) != take {
				t.Fatalf("login %d: carol took %d stanzas, want %d", take, len(c.got), take)
			}
		}
		if got := f.storedFor(t, "carol"); len(got) != 0 {
			t.Errorf("carol has %q stored after the second login, want nothing", got)
		}
		if got, want := f.outcomes(t), map[string]float64{"missed": 1}; !maps.Equal(got, want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
	})
	t.Run("after the timer counted it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := setup(t, jingle.Config{RingTimeout: ring})
			storeOffer(t, f, "c1", ring/2)
			msgs, err := f.env.Store.OfflineMessages(ctx, "carol", 10)
			if err != nil {
				t.Fatal(err)
			}
			f.login(t) // re-armed; the timer ends it
			time.Sleep(3 * ring)
			synctest.Wait()
			if n := f.h.Len(); n != 0 {
				t.Fatalf("registry holds %d calls, want none", n)
			}
			// The offer shown again, as a delivery that was cut short
			// before it was deleted would show it.
			_, after := f.h.FollowStored(ctx, carol, msgs, true, time.Now())
			if len(after) == 0 || after[0].Stanza == nil {
				t.Error("no missed-call retract after the offer shown again")
			}
			if got, want := f.outcomes(t), map[string]float64{"missed": 1}; !maps.Equal(got, want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
		})
	})
	t.Run("bounded", func(t *testing.T) {
		f := setup(t, jingle.Config{RingTimeout: ring, MaxCounted: 2})
		show := func(sid string) {
			m := storage.OfflineMessage{Stanza: []byte(stored("propose", sid, "")), Created: time.Now().Add(-2 * ring)}
			f.h.FollowStored(ctx, carol, []storage.OfflineMessage{m}, true, time.Now())
		}
		for _, step := range []struct {
			sid    string
			missed float64
		}{
			{"c1", 1}, {"c1", 1}, {"c2", 2}, {"c3", 3}, {"c3", 3}, {"c2", 3},
			{"c1", 4}, // forgotten: the set holds the last two
		} {
			show(step.sid)
			if got := f.outcomes(t)["missed"]; got != step.missed {
				t.Fatalf("after %s: missed = %v, want %v", step.sid, got, step.missed)
			}
		}
	})
}

// slowConn is a session whose queue, once a delivery has filled it, does
// not drain until release is closed (xmpp/offline waits for it).
type slowConn struct {
	release chan struct{}
	mu      sync.Mutex
	got     []string
}

func (c *slowConn) Deliver(raw []byte) bool {
	c.mu.Lock()
	c.got = append(c.got, string(raw))
	c.mu.Unlock()
	return true
}

func (c *slowConn) Close(string) {}

func (c *slowConn) WaitQueued(ctx context.Context, _ int) error {
	select {
	case <-c.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *slowConn) calls(t *testing.T) []string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, raw := range c.got {
		if s := summary(t, raw); !strings.HasPrefix(s, "other") {
			out = append(out, s)
		}
	}
	return out
}

// TestRearmedRetractWaitsForDelivery: the ring timeout of a re-armed
// offer passes while carol's login delivery, slowed by her connection, has
// not handed her the offer yet. The retract must not overtake the offer:
// it comes after the delivery, right after the offer.
func TestRearmedRetractWaitsForDelivery(t *testing.T) {
	const ring, left = 2 * time.Second, 100 * time.Millisecond
	ctx := context.Background()
	f := setup(t, jingle.Config{RingTimeout: ring})
	big := strings.Repeat("x", 100<<10)
	for i := range 3 { // more than a page of offline delivery (256 KiB)
		msg := fmt.Sprintf(`<message type="chat" to="carol@localhost" from="alice@localhost/a"><body>%d %s</body>`+
			`<stanza-id xmlns="urn:xmpp:sid:0" id="s%d" by="carol@localhost"/></message>`, i, big, i)
		if _, err := f.env.Store.PushOffline(ctx, "carol", []byte(msg), time.Now(), 0); err != nil {
			t.Fatal(err)
		}
	}
	storeOffer(t, f, "c1", ring-left)
	deadline := time.Now().Add(left)
	c := &slowConn{release: make(chan struct{})}
	s, err := f.env.Router.Bind(jid.MustParse("carol@localhost/phone"), c)
	if err != nil {
		t.Fatal(err)
	}
	s.SetPresence(true, 0, []byte(`<presence from="carol@localhost/phone"/>`))
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.env.Router.InitialPresenceSent(ctx, s)
	}()
	// Well past the ring timeout, with the delivery held up.
	time.Sleep(time.Until(deadline) + 300*time.Millisecond)
	if got := c.calls(t); len(got) != 0 {
		t.Fatalf("while the delivery waits, carol got %q, want nothing", got)
	}
	close(c.release)
	<-done
	want := []string{"propose c1 alice/a→carol", "retract c1 alice/a→carol timeout"}
	for end := time.Now().Add(5 * time.Second); len(c.calls(t)) < 2 && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.calls(t); !slices.Equal(got, want) {
		t.Errorf("carol got %q, want %q", got, want)
	}
	if got, want := f.outcomes(t), map[string]float64{"missed": 1}; !maps.Equal(got, want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}
}
