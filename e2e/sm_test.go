package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestSMResume: stream management (XEP-0198) with slixmpp's plugin. The
// receiver's TCP connection is cut while messages to it are in flight;
// it resumes on a new connection, and every message arrives exactly once,
// in order, across the two connections.
func TestSMResume(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})
	for i, tc := range []struct {
		name      string
		addr      string
		directTLS bool
	}{
		{name: "starttls", addr: s.C2S},
		{name: "direct-tls", addr: s.C2STLS, directTLS: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testSMResume(t, s, tc.addr, tc.directTLS)
			if got := s.Metric(t, "ringd_c2s_sm_resumed_total"); got != float64(i+1) {
				t.Errorf("ringd_c2s_sm_resumed_total = %v, want %d", got, i+1)
			}
		})
	}
	if got := s.Metric(t, "ringd_c2s_sm_resume_failed_total"); got != 0 {
		t.Errorf("ringd_c2s_sm_resume_failed_total = %v, want 0", got)
	}
}

func testSMResume(t *testing.T, s *Server, addr string, directTLS bool) {
	const count, cutAfter = 50, 5
	args := append(connArgs(t, addr, directTLS),
		"--jid", bob.JID, "--password="+bob.Password,
		"--sender", alice.JID, "--sender-password="+alice.Password,
		"--count", fmt.Sprint(count), "--cut-after", fmt.Sprint(cutAfter),
		// Unique ids: ringd drops a message whose id it saw from the same
		// sender to the same recipient recently (a retry).
		"--id-prefix", strings.ReplaceAll(t.Name(), "/", "-")+"-")
	c := startClient(t, "sm_resume.py", args...)
	c.Finish(t)

	if e := c.MustFind(t, Event{Event: "sm_enabled"}); e.ID == "" {
		t.Errorf("sm_enabled without a resumption id: %v", e)
	}
	// Messages before the resumption arrived on the first connection.
	var first, second []string
	resumed := false
	for _, e := range c.Events() {
		switch {
		case e.Event == "sm_resumed":
			resumed = true
		case e.Event == "message" && e.Client == "receiver" && e.Type != "error":
			if resumed {
				second = append(second, e.Body)
			} else {
				first = append(first, e.Body)
			}
		}
	}
	if !resumed {
		t.Fatal("no sm_resumed event")
	}
	if len(first) < cutAfter || len(second) == 0 {
		t.Errorf("%d messages before the cut and %d after resuming; want at least %d, then some in flight",
			len(first), len(second), cutAfter)
	}
	all := append(first, second...)
	for i := range max(len(all), count) {
		want := fmt.Sprintf("msg-%d", i+1)
		if i >= len(all) || i >= count || all[i] != want {
			t.Fatalf("received %d messages %q, want msg-1 … msg-%d, each once, in order", len(all), all, count)
		}
	}
}
