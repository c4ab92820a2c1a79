package e2e

import (
	"testing"
	"time"
)

// proposeToOffline runs call_restart.py's propose phase: alice calls
// bob, who has no device online. Once the script reports the offer
// stored, it returns the script (which waits for crashAndRestart) and
// that moment.
func proposeToOffline(t *testing.T, s *Server) (caller *Client, proposed time.Time) {
	t.Helper()
	caller = startClient(t, "call_restart.py", append(connArgs(t, s.C2S, false), "--phase", "propose",
		"--alice", alice.JID, "--alice-password="+alice.Password, "--bob", bob.JID)...)
	caller.WaitEvent(t, Event{Event: "proposed"})
	return caller, time.Now()
}

// crashAndRestart kills s with SIGKILL while the call rings, lets the
// propose phase's caller end and starts s again on the same store.
func crashAndRestart(t *testing.T, s *Server, caller *Client) {
	t.Helper()
	s.Kill9(t)
	caller.Send(t, "go")
	caller.Finish(t)
	s.restart(t)
}

// TestCallTimeoutAcrossRestart: alice calls bob, who has no device
// online, so the offer is stored (and would be followed by the ring
// timer's missed-call retract). ringd is killed with SIGKILL while the
// call still rings, so the timer never fires, and restarted. Once the
// ring timeout has passed, bob's phone logs in: it gets the offer and,
// right after it in the same delivery, a retract with reason timeout from
// alice's resource, stamped with the moment the call timed out, so the
// device shows a missed call instead of ringing for a dead call. The new
// server counts the call as missed. A second device logging in afterwards
// gets nothing.
func TestCallTimeoutAcrossRestart(t *testing.T) {
	requireClients(t)
	t.Parallel()
	const ring = 4 * time.Second
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			s := startServerWith(t, serverOpts{Users: []user{alice, bob}, Backend: backend}, "[jingle]\nring_timeout = \"4s\"")
			caller, proposed := proposeToOffline(t, s)
			// The offer is stored and the call still rings: the timer has
			// neither ended it nor stored its retract.
			if got := s.Metric(t, "ringd_offline_stored_total"); got != 1 {
				t.Fatalf("ringd_offline_stored_total = %v before the crash, want 1 (the offer)", got)
			}
			if got := s.Metric(t, callOutcome); got != 0 {
				t.Fatalf("%s = %v before the crash: the call ended already (the machine is too slow for a %v ring timeout)", callOutcome, got, ring)
			}
			crashAndRestart(t, s, caller)
			// Past the ring timeout, with a margin for the clock of the
			// stored offer.
			waitFor(t, 2*ring, func() bool { return time.Since(proposed) > ring+100*time.Millisecond })

			ev := startClient(t, "call_restart.py", append(connArgs(t, s.C2S, false), "--phase", "login",
				"--bob", bob.JID, "--bob-password="+bob.Password)...).Finish(t)
			wantJMI(t, ev, "phone", "propose call-1", "retract call-1 reason=timeout")
			jmiFrom(t, ev, "phone", "propose", "call-1", aliceDesk)
			jmiFrom(t, ev, "phone", "retract", "call-1", aliceDesk)
			var stamps []time.Time
			for _, e := range jmiEvents(ev, "phone") {
				if len(e.Delays) != 1 || e.Delays[0].From != domain {
					t.Fatalf("phone: %s has delays %v, want one from %s", e.What, e.Delays, domain)
				}
				at, err := time.Parse(time.RFC3339Nano, e.Delays[0].Stamp)
				if err != nil {
					t.Fatalf("phone: %s stamped %q: %v", e.What, e.Delays[0].Stamp, err)
				}
				stamps = append(stamps, at)
			}
			if len(stamps) == 2 && stamps[1].Sub(stamps[0]) != ring {
				t.Errorf("the retract is stamped %v after the offer, want the ring timeout, %v", stamps[1].Sub(stamps[0]), ring)
			}
			wantJMI(t, ev, "tablet")
			wantOutcomes(t, s, map[string]float64{"missed": 1})
		})
	}
}

// TestCallRingsOutAcrossRestart: as TestCallTimeoutAcrossRestart, but
// bob's phone logs in to the restarted server before the ring timeout.
// The stored offer rings, and the new server, whose ring timer never saw
// the call, ends it when the old one would have: at the ring timeout
// after the offer, the phone gets a retract with reason timeout from
// alice's resource, and alice's resource, back online, a reject with
// reason timeout. The call counts as missed, once. A device that logs in
// afterwards gets nothing.
func TestCallRingsOutAcrossRestart(t *testing.T) {
	requireClients(t)
	t.Parallel()
	// Long enough for a kill, a restart and two logins on a loaded machine
	// under -race, well inside the ring timeout.
	const ring = 8 * time.Second
	s := startServerWith(t, serverOpts{Users: []user{alice, bob}}, "[jingle]\nring_timeout = \"8s\"")
	caller, proposed := proposeToOffline(t, s)
	if got := s.Metric(t, "ringd_offline_stored_total"); got != 1 {
		t.Fatalf("ringd_offline_stored_total = %v before the crash, want 1 (the offer)", got)
	}
	crashAndRestart(t, s, caller)

	c := startClientTimeout(t, 3*ring, "call_restart.py", append(connArgs(t, s.C2S, false), "--phase", "ring",
		"--alice", alice.JID, "--alice-password="+alice.Password,
		"--bob", bob.JID, "--bob-password="+bob.Password)...)
	c.WaitEvent(t, Event{Event: "jmi", Client: "phone", What: "propose"})
	if d := time.Since(proposed); d >= ring {
		t.Fatalf("the phone got the offer %v after it was made, past the %v ring timeout: the machine is too slow for this test", d, ring)
	}
	c.WaitEvent(t, Event{Event: "jmi", Client: "phone", What: "retract"})
	// The timer counts from the offer (stored with the time it was
	// accepted, a little before "proposed"), not from the login.
	if d := time.Since(proposed); d < ring-time.Second || d > ring+3*time.Second {
		t.Errorf("the retract came %v after the offer, want about the ring timeout, %v", d, ring)
	}
	ev := c.Finish(t)
	wantJMI(t, ev, "phone", "propose call-1", "retract call-1 reason=timeout")
	jmiFrom(t, ev, "phone", "retract", "call-1", aliceDesk)
	wantJMI(t, ev, "alice", "reject call-1 reason=timeout")
	jmiFrom(t, ev, "alice", "reject", "call-1", bob.JID)
	wantJMI(t, ev, "tablet")
	wantOutcomes(t, s, map[string]float64{"missed": 1})
	if got := s.Metric(t, "ringd_jingle_calls_active"); got != 0 {
		t.Errorf("ringd_jingle_calls_active = %v at the end, want 0", got)
	}
}
