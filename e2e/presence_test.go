package e2e

import (
	"testing"
)

// TestSubscriptionAndPresence runs the mutual subscription handshake
// (RFC 6121 §3.1) and checks presence broadcast to the new contact (§4.2,
// §4.4, §4.5).
func TestSubscriptionAndPresence(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})

	const status = "Out to lunch 🍜 — back at 2"
	c := startClient(t, "subscribe.py", append(connArgs(t, s.C2S, false),
		"--alice", alice.JID, "--alice-password", alice.Password,
		"--bob", bob.JID, "--bob-password", bob.Password, "--status", status)...)
	c.Finish(t)
	aliceFull := c.MustFind(t, Event{Event: "session_start", Client: "alice"}).JID

	stanzas := []struct {
		name string
		want Event
	}{
		{"bob-gets-subscribe", Event{Event: "presence", Client: "bob", Type: "subscribe", From: alice.JID}},
		{"alice-gets-subscribed", Event{Event: "presence", Client: "alice", Type: "subscribed", From: bob.JID}},
		{"alice-gets-subscribe", Event{Event: "presence", Client: "alice", Type: "subscribe", From: bob.JID}},
		{"bob-gets-subscribed", Event{Event: "presence", Client: "bob", Type: "subscribed", From: alice.JID}},
		{"bob-sees-alice-status", Event{Event: "presence", Client: "bob", Type: "available", From: aliceFull, Status: status}},
		{"bob-sees-alice-unavailable", Event{Event: "presence", Client: "bob", Type: "unavailable", From: aliceFull}},
	}
	for _, tc := range stanzas {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := c.Find(tc.want); !ok {
				t.Errorf("got no event matching %v, want one", tc.want)
			}
		})
	}

	rosters := []struct {
		client, contact string
	}{
		{"alice", bob.JID},
		{"bob", alice.JID},
	}
	for _, tc := range rosters {
		t.Run(tc.client+"-roster-both", func(t *testing.T) {
			var last string // the contact's subscription in the last push
			for _, e := range c.Events() {
				if e.Event != "roster_push" || e.Client != tc.client {
					continue
				}
				for _, it := range e.Items {
					if it.JID == tc.contact {
						last = it.Subscription
					}
				}
			}
			if last != "both" {
				t.Errorf("subscription to %s in %s's last roster push: got %q, want both", tc.contact, tc.client, last)
			}
		})
	}

	t.Run("unavailable-after-status", func(t *testing.T) {
		avail := c.index(Event{Event: "presence", Client: "bob", From: aliceFull, Status: status})
		gone := c.index(Event{Event: "presence", Client: "bob", From: aliceFull, Type: "unavailable"})
		if avail < 0 || gone < avail {
			t.Errorf("event order: got available at %d, unavailable at %d, want available first", avail, gone)
		}
	})
}
