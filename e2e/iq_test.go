package e2e

import (
	"testing"
)

// TestUnknownIQ checks that an IQ get or set the server does not handle
// gets <service-unavailable/> (RFC 6120 §8.4, RFC 6121 §8.5.1).
func TestUnknownIQ(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice}})

	tests := []struct {
		name    string
		iqType  string
		to      string
		payload string
	}{
		{"get-to-server", "get", domain, "<query xmlns='urn:example:nope'/>"},
		{"set-to-server", "set", domain, "<query xmlns='urn:example:nope'><x/></query>"},
		{"get-to-own-bare-jid", "get", alice.JID, "<query xmlns='urn:example:nope'/>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := startClient(t, "iq.py", append(connArgs(t, s.C2S, false), "--jid", alice.JID,
				"--password="+alice.Password, "--type", tc.iqType, "--to", tc.to, "--payload", tc.payload)...)
			c.Finish(t)
			if e, ok := c.Find(Event{Event: "iq_result"}); ok {
				t.Fatalf("got %v, want an error", e)
			}
			e := c.MustFind(t, Event{Event: "iq_error", What: "payload"})
			if e.Condition != "service-unavailable" || e.ErrorType != "cancel" {
				t.Errorf("error: got %s/%s, want cancel/service-unavailable", e.ErrorType, e.Condition)
			}
			if e.From != tc.to {
				t.Errorf("error from: got %q, want %q", e.From, tc.to)
			}
		})
	}
}
