package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestOfflineLargeBacklog: a backlog far larger than one session's outbound
// queue (1000 × 10 KiB against 1 MiB) is delivered in one login, paced by
// the writer, instead of tripping the slow-consumer cut-off at every login.
func TestOfflineLargeBacklog(t *testing.T) {
	requireClients(t)
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	const n = 1000
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = padBody(fmt.Sprintf("#%04d ", i+1), bigBodyBytes)
	}
	sent, _, _ := sendMany(t, s, alice, bob.JID, bodies, "big-")
	if errs := messageErrors(sent); len(errs) > 0 {
		t.Fatalf("sending: errors %v", errs)
	}
	recv := startClientTimeout(t, 30*time.Second, "receive.py", loginArgs(t, s.C2S, false, bob, "--expect", fmt.Sprint(n))...)
	if st := recv.Wait(t); st != 0 {
		t.Fatalf("receive.py exit %d, want 0 (all %d messages in one login)", st, n)
	}
	got := map[string]int{}
	for _, e := range recv.Events() {
		switch e.Event {
		case "message":
			got[e.ID]++
		case "stream_error":
			t.Errorf("bob's stream ended with %+v", e)
		}
	}
	for i := 1; i <= n; i++ {
		if id := fmt.Sprintf("big-%d", i); got[id] != 1 {
			t.Errorf("message %s arrived %d times, want once", id, got[id])
		}
	}
}
