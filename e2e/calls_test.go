package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
)

// Calls (XEP-0353 Jingle Message Initiation, then XEP-0166 Jingle) from
// alice to bob, who has two devices: phone (priority 1) and laptop
// (priority -1). clients/call_flow.py drives the three clients in one
// process, so the order of what each device received is meaningful; the
// tests assert on it per device.

const (
	aliceDesk   = "alice@localhost/desk"
	bobPhone    = "bob@localhost/phone"
	bobLaptop   = "bob@localhost/laptop"
	callOutcome = "ringd_jingle_calls_total"
)

// startCall runs call_flow.py with one scenario against s.
func startCall(t *testing.T, s *Server, scenario string, args ...string) *Client {
	t.Helper()
	return startAliceBob(t, s, "call_flow.py", scenario, args...)
}

// startAliceBob runs a script that drives both alice and bob
// (call_flow.py, blocking.py) with one --scenario against s.
func startAliceBob(t *testing.T, s *Server, script, scenario string, args ...string) *Client {
	t.Helper()
	args = append(append(connArgs(t, s.C2S, false),
		"--alice", alice.JID, "--alice-password="+alice.Password,
		"--bob", bob.JID, "--bob-password="+bob.Password,
		"--scenario", scenario), args...)
	return startClient(t, script, args...)
}

// startServerWith is startServer with extra TOML appended to the config
// (sections the harness does not write, such as [jingle]): the server is
// started, the config extended and the server restarted on it.
func startServerWith(t *testing.T, opts serverOpts, extra string) *Server {
	t.Helper()
	s := startServer(t, opts)
	f, err := os.OpenFile(s.Config, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\n" + extra + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	s.restart(t)
	return s
}

// jmi returns the call messages a client (alice, phone or laptop)
// received, in order, each as "what id", then " reason=COND" if it had a
// reason, then its flags (tie-break, carbon-sent, carbon-received).
func jmi(events []Event, client string) []string {
	var got []string
	for _, e := range jmiEvents(events, client) {
		s := e.What + " " + e.ID
		if e.Condition != "" {
			s += " reason=" + e.Condition
		}
		if e.Text != "" {
			s += " " + e.Text
		}
		got = append(got, s)
	}
	return got
}

func jmiEvents(events []Event, client string) []Event {
	var got []Event
	for _, e := range events {
		if e.Event == "jmi" && e.Client == client {
			got = append(got, e)
		}
	}
	return got
}

// wantJMI fails the test unless client received exactly want, in order.
func wantJMI(t *testing.T, events []Event, client string, want ...string) {
	t.Helper()
	if got := jmi(events, client); !slices.Equal(got, want) {
		t.Errorf("%s received call messages\n  %q\nwant\n  %q", client, got, want)
	}
}

// jmiFrom fails the test unless every call message client received as
// "what id" came from from.
func jmiFrom(t *testing.T, events []Event, client, what, id, from string) {
	t.Helper()
	n := 0
	for _, e := range jmiEvents(events, client) {
		if e.What == what && e.ID == id {
			n++
			if e.From != from {
				t.Errorf("%s: %s %s from %q, want %q", client, what, id, e.From, from)
			}
		}
	}
	if n == 0 {
		t.Errorf("%s: no %s %s", client, what, id)
	}
}

// wantOutcomes fails the test unless ringd counted exactly the calls in
// want (outcome → count) in ringd_jingle_calls_total, and no others.
func wantOutcomes(t *testing.T, s *Server, want map[string]float64) {
	t.Helper()
	total := 0.0
	for outcome, n := range want {
		total += n
		if got := s.Metric(t, fmt.Sprintf(`%s{outcome=%q}`, callOutcome, outcome)); got != n {
			t.Errorf("%s{outcome=%q} = %v, want %v", callOutcome, outcome, got, n)
		}
	}
	if got := s.Metric(t, callOutcome); got != total {
		t.Errorf("%s (all outcomes) = %v, want %v", callOutcome, got, total)
	}
}

// TestCallAnswered: alice calls bob's bare JID; both devices ring, the
// negative-priority one too, each once. The phone rings back and answers;
// the laptop learns that the call was answered elsewhere, after the offer:
// a direct copy, or with carbons on the <sent/> carbon. Then the Jingle
// session between alice and the phone: every IQ arrives unchanged, and an
// IQ to a resource that does not exist gets service-unavailable. In
// "caller-negative", alice's only resource has priority -1 and the phone
// answers her bare JID: she must still get the ringing and the answer
// (XEP-0353: calls work on devices with negative priorities).
func TestCallAnswered(t *testing.T) {
	requireClients(t)
	t.Parallel()
	for _, tc := range []struct {
		name     string
		args     []string
		proceed  string // what laptop gets for the phone's proceed
		answerTo string // where the phone sends ringing and proceed
	}{
		{name: "direct", proceed: "proceed call-1", answerTo: aliceDesk},
		{name: "carbons", args: []string{"--carbons"}, proceed: "proceed call-1 carbon-sent", answerTo: aliceDesk},
		{name: "caller-negative", args: []string{"--alice-priority=-1", "--answer-to-bare"},
			proceed: "proceed call-1", answerTo: alice.JID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Users: []user{alice, bob}})
			c := startCall(t, s, "answer", tc.args...)
			ev := c.Finish(t)

			wantJMI(t, ev, "phone", "propose call-1")
			laptop := slices.DeleteFunc(jmi(ev, "laptop"), func(s string) bool {
				// A carbon of the phone's <ringing/> (a chat message)
				// is the carbons rule at work; not at issue here.
				return tc.name == "carbons" && s == "ringing call-1 carbon-sent"
			})
			if want := []string{"propose call-1", tc.proceed}; !slices.Equal(laptop, want) {
				t.Errorf("laptop received call messages\n  %q\nwant\n  %q", jmi(ev, "laptop"), want)
			}
			wantJMI(t, ev, "alice", "ringing call-1", "proceed call-1")
			jmiFrom(t, ev, "phone", "propose", "call-1", aliceDesk)
			jmiFrom(t, ev, "laptop", "propose", "call-1", aliceDesk)
			jmiFrom(t, ev, "alice", "ringing", "call-1", bobPhone)
			jmiFrom(t, ev, "alice", "proceed", "call-1", bobPhone)
			jmiFrom(t, ev, "laptop", "proceed", "call-1", bobPhone)
			for _, dev := range []string{"alice", "laptop"} {
				for _, e := range jmiEvents(ev, dev) {
					if (e.What == "proceed" || e.What == "ringing") && e.To != tc.answerTo {
						t.Errorf("%s: %s to %q, want %q (as the phone sent it)", dev, e.What, e.To, tc.answerTo)
					}
				}
			}

			// Jingle: each IQ as sent, to the addressed device only.
			wantJingle(t, ev, "phone", "session-initiate", "session-terminate")
			wantJingle(t, ev, "alice", "session-accept")
			wantJingle(t, ev, "laptop")
			gone, ok := c.Find(Event{Event: "iq_error", Client: "alice", What: "jingle-session-initiate"})
			switch {
			case !ok:
				t.Errorf("session-initiate to %s/gone: no error", bob.JID)
			case gone.Condition != "service-unavailable" || gone.ErrorType != "cancel" || gone.From != bob.JID+"/gone":
				t.Errorf("session-initiate to %s/gone: got error %v, want service-unavailable (cancel) from it", bob.JID, gone)
			}
			wantOutcomes(t, s, map[string]float64{"answered": 1})
		})
	}
}

// wantJingle fails the test unless client received exactly the Jingle IQs
// with these actions, in order, each from the other party's full JID and
// byte for byte (in C14N form) the one that party sent.
func wantJingle(t *testing.T, events []Event, client string, actions ...string) {
	t.Helper()
	var got []string
	var sent []Event
	for _, e := range events {
		switch {
		case e.Event == "jingle" && e.Client == client:
			got = append(got, e.What)
			i := slices.IndexFunc(sent, func(s Event) bool { return s.What == e.What && s.To == e.To })
			if i < 0 {
				t.Errorf("%s: got Jingle %s for %s that nobody sent to it", client, e.What, e.To)
				continue
			}
			if e.Message != sent[i].Message || e.From != sent[i].Client {
				t.Errorf("%s: Jingle %s changed on the way:\n got  %s from %s\n sent %s from %s",
					client, e.What, e.Message, e.From, sent[i].Message, sent[i].Client)
			}
			if e.ID != "call-1" {
				t.Errorf("%s: Jingle %s sid %q, want call-1", client, e.What, e.ID)
			}
		case e.Event == "jingle_sent":
			// The sender is known by its full JID in the receiver's event.
			e.Client = map[string]string{"alice": aliceDesk, "phone": bobPhone, "laptop": bobLaptop}[e.Client]
			sent = append(sent, e)
		}
	}
	if !slices.Equal(got, actions) {
		t.Errorf("%s received Jingle actions %q, want %q", client, got, actions)
	}
}

// TestCallRejected: the laptop declines; alice gets the reject and the
// phone stops ringing, after having rung.
func TestCallRejected(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	ev := startCall(t, s, "reject").Finish(t)
	wantJMI(t, ev, "alice", "reject call-1 reason=busy")
	wantJMI(t, ev, "phone", "propose call-1", "reject call-1 reason=busy")
	wantJMI(t, ev, "laptop", "propose call-1")
	jmiFrom(t, ev, "alice", "reject", "call-1", bobLaptop)
	jmiFrom(t, ev, "phone", "reject", "call-1", bobLaptop)
	wantOutcomes(t, s, map[string]float64{"rejected": 1})
}

// TestCallCancelled: alice hangs up before an answer; both devices stop
// ringing, each after having rung. In "laptop-away" the laptop went
// unavailable while ringing: the offer reached it, so the retract does too.
func TestCallCancelled(t *testing.T) {
	requireClients(t)
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
	}{
		{name: "available"},
		{name: "laptop-away", args: []string{"--laptop-away"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Users: []user{alice, bob}})
			ev := startCall(t, s, "cancel", tc.args...).Finish(t)
			for _, dev := range []string{"phone", "laptop"} {
				wantJMI(t, ev, dev, "propose call-1", "retract call-1 reason=cancel")
				jmiFrom(t, ev, dev, "retract", "call-1", aliceDesk)
			}
			wantJMI(t, ev, "alice")
			wantOutcomes(t, s, map[string]float64{"cancelled": 1})
		})
	}
}

// TestCallCancelledOffline: bob has no device online; alice calls and
// hangs up. The phone logs in later and reads a missed call: the offer,
// then its retract, both stored (with delay stamps from the server).
func TestCallCancelledOffline(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	ev := startCall(t, s, "offline-cancel").Finish(t)
	wantJMI(t, ev, "phone", "propose call-1", "retract call-1 reason=cancel")
	for _, e := range jmiEvents(ev, "phone") {
		if e.From != aliceDesk {
			t.Errorf("phone: %s from %q, want %q", e.What, e.From, aliceDesk)
		}
		if len(e.Delays) != 1 || e.Delays[0].From != domain || e.Delays[0].Stamp == "" {
			t.Errorf("phone: %s has delays %v, want one from %s with a stamp", e.What, e.Delays, domain)
		}
	}
	wantJMI(t, ev, "alice")
	wantOutcomes(t, s, map[string]float64{"cancelled": 1})
}

// TestCallGlare: alice calls bob while bob's phone calls alice. XEP-0353
// tie-break: the lower id wins, for equal ids the lower JID (alice's).
// Exactly one call results, whatever the order in which the server sees
// the two offers: the loser's sender gets a reject with <tie-break/>, and
// the loser's callee either never rings for it or gets its retract, also
// with <tie-break/>. Then the winner's callee answers it.
func TestCallGlare(t *testing.T) {
	requireClients(t)
	t.Parallel()
	const (
		lostZZZ    = "reject zzz reason=expired tie-break"
		retractZZZ = "retract zzz reason=expired tie-break"
		lostSame   = "reject same reason=expired tie-break"
		proposeAAA = "propose aaa"
		proposeZZZ = "propose zzz"
	)
	for _, tc := range []struct {
		name, order, aliceID, bobID string
		alice, phone, laptop        []string // "together": see below
	}{
		// zzz rings first; aaa arrives and wins: zzz is stopped.
		{name: "alice-first", order: "alice-first", aliceID: "zzz", bobID: "aaa",
			alice:  []string{lostZZZ, proposeAAA},
			phone:  []string{proposeZZZ, retractZZZ, "proceed aaa"},
			laptop: []string{proposeZZZ, retractZZZ}},
		// aaa rings first; zzz arrives and loses: it rings nobody.
		{name: "bob-first", order: "bob-first", aliceID: "zzz", bobID: "aaa",
			alice:  []string{proposeAAA, lostZZZ},
			phone:  []string{"proceed aaa"},
			laptop: nil},
		{name: "together", order: "together", aliceID: "zzz", bobID: "aaa"},
		// Equal ids: alice@localhost < bob@localhost, so alice's call
		// wins. It rings first; the phone's loses and rings nobody.
		{name: "same-id-alice-first", order: "alice-first", aliceID: "same", bobID: "same",
			alice:  []string{"proceed same"},
			phone:  []string{"propose same", lostSame},
			laptop: []string{"propose same", "proceed same"}},
		// The phone's rings first and is stopped by alice's.
		{name: "same-id-bob-first", order: "bob-first", aliceID: "same", bobID: "same",
			alice:  []string{"propose same", "retract same reason=expired tie-break", "proceed same"},
			phone:  []string{lostSame, "propose same"},
			laptop: []string{"propose same", "proceed same"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, serverOpts{Users: []user{alice, bob}})
			ev := startCall(t, s, "glare", "--order", tc.order,
				"--alice-id", tc.aliceID, "--bob-id", tc.bobID).Finish(t)
			if tc.order == "together" {
				a := jmi(ev, "alice")
				if !slices.Equal(a, []string{lostZZZ, proposeAAA}) && !slices.Equal(a, []string{proposeAAA, lostZZZ}) {
					t.Errorf("alice received call messages %q, want %q and %q once each", a, lostZZZ, proposeAAA)
				}
				tc.phone = []string{"proceed aaa"}
				if slices.Contains(jmi(ev, "phone"), proposeZZZ) {
					tc.phone = []string{proposeZZZ, retractZZZ, "proceed aaa"}
					tc.laptop = []string{proposeZZZ, retractZZZ}
				}
			} else {
				wantJMI(t, ev, "alice", tc.alice...)
			}
			wantJMI(t, ev, "phone", tc.phone...)
			wantJMI(t, ev, "laptop", tc.laptop...)
			// Whatever reaches alice comes from the phone, and bob's
			// devices hear only from alice's desk.
			for _, e := range jmiEvents(ev, "alice") {
				if e.From != bobPhone {
					t.Errorf("alice: %s %s from %q, want %q", e.What, e.ID, e.From, bobPhone)
				}
			}
			for _, dev := range []string{"phone", "laptop"} {
				for _, e := range jmiEvents(ev, dev) {
					want := aliceDesk
					if dev == "laptop" && e.What == "proceed" {
						want = bobPhone // the answer, copied
					}
					if e.From != want {
						t.Errorf("%s: %s %s from %q, want %q", dev, e.What, e.ID, e.From, want)
					}
				}
			}
			// The winner is answered but has no Jingle session yet: not
			// counted.
			wantOutcomes(t, s, map[string]float64{"glare": 1})
		})
	}
}

// TestCallDuplicatePropose: a client that retries its offer (the same
// stanza again, and the same call id in a new stanza) rings each device
// once.
func TestCallDuplicatePropose(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	ev := startCall(t, s, "duplicate").Finish(t)
	wantJMI(t, ev, "phone", "propose call-1")
	wantJMI(t, ev, "laptop", "propose call-1")
	wantJMI(t, ev, "alice")
	if got := s.Metric(t, "ringd_jingle_duplicate_proposes_total"); got < 1 || got > 2 {
		t.Errorf("ringd_jingle_duplicate_proposes_total = %v, want 1 or 2", got)
	}
	wantOutcomes(t, s, map[string]float64{})
}

// TestCallRingTimeout: nobody answers within [jingle] ring_timeout; the
// server stops the call: each device gets a retract with <timeout/> from
// alice's resource, alice a reject with <timeout/> from bob's bare JID,
// and the call counts as missed. With bob offline, the retract is stored
// after the offer: the phone, logging in later, reads a missed call.
func TestCallRingTimeout(t *testing.T) {
	requireClients(t)
	t.Parallel()
	for _, tc := range []struct {
		name, scenario string
		devices        []string
	}{
		{name: "online", scenario: "timeout", devices: []string{"phone", "laptop"}},
		{name: "offline", scenario: "offline-timeout", devices: []string{"phone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServerWith(t, serverOpts{Users: []user{alice, bob}}, "[jingle]\nring_timeout = \"2s\"")
			ev := startCall(t, s, tc.scenario).Finish(t)
			for _, dev := range tc.devices {
				wantJMI(t, ev, dev, "propose call-1", "retract call-1 reason=timeout")
				jmiFrom(t, ev, dev, "propose", "call-1", aliceDesk)
				jmiFrom(t, ev, dev, "retract", "call-1", aliceDesk)
				for _, e := range jmiEvents(ev, dev) {
					if stored := len(e.Delays) > 0; stored != (tc.name == "offline") {
						t.Errorf("%s: %s has delays %v, want them only from offline storage", dev, e.What, e.Delays)
					}
				}
			}
			wantJMI(t, ev, "alice", "reject call-1 reason=timeout")
			jmiFrom(t, ev, "alice", "reject", "call-1", bob.JID)
			wantOutcomes(t, s, map[string]float64{"missed": 1})
			if got := s.Metric(t, "ringd_jingle_calls_active"); got != 0 {
				t.Errorf("ringd_jingle_calls_active = %v, want 0", got)
			}
		})
	}
}
