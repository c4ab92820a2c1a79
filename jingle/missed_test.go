package jingle_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/jingle"
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
