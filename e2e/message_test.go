package e2e

import (
	"testing"
)

// TestMessages sends chat messages both ways, to bare and full JIDs
// (RFC 6121 §8.5.2, §8.5.3), and checks that each arrives once, intact,
// from the sender's full JID.
func TestMessages(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})

	tests := []struct {
		name   string
		sender string // alice or bob
		target string // bare or full
		body   string
	}{
		{"alice-to-bob-bare", "alice", "bare", "héllo wörld 🎉"},
		{"bob-to-alice-full", "bob", "full", "ответ 👋 — 日本語"},
		{"alice-to-bob-full-markup", "alice", "full", `1 < 2 & 3 > 2, "quoted" 'too' ]]>`},
		{"bob-to-alice-bare-ascii", "bob", "bare", "plain ascii"},
	}
	args := append(connArgs(t, s.C2S, false), "--alice", alice.JID, "--alice-password", alice.Password,
		"--bob", bob.JID, "--bob-password", bob.Password)
	for _, tc := range tests {
		args = append(args, "--message", tc.sender+":"+tc.target+":"+tc.body)
	}
	c := startClient(t, "chat.py", args...)
	c.Finish(t)

	full := map[string]string{
		"alice": c.MustFind(t, Event{Event: "session_start", Client: "alice"}).JID,
		"bob":   c.MustFind(t, Event{Event: "session_start", Client: "bob"}).JID,
	}
	bare := map[string]string{"alice": alice.JID, "bob": bob.JID}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recipient := map[string]string{"alice": "bob", "bob": "alice"}[tc.sender]
			var got []Event
			for _, e := range c.Events() {
				if e.Event == "message" && e.Client == recipient && e.Body == tc.body {
					got = append(got, e)
				}
			}
			if len(got) != 1 {
				t.Fatalf("%s received the message %d times, want 1: %v", recipient, len(got), got)
			}
			e := got[0]
			if e.From != full[tc.sender] {
				t.Errorf("from: got %q, want %q", e.From, full[tc.sender])
			}
			if e.Type != "chat" {
				t.Errorf("type: got %q, want chat", e.Type)
			}
			wantTo := full[recipient]
			if tc.target == "bare" {
				wantTo = bare[recipient]
			}
			if e.To != wantTo {
				t.Errorf("to: got %q, want %q", e.To, wantTo)
			}
		})
	}
}
