package e2e

import (
	"reflect"
	"testing"
)

// TestRosterPush sets a roster item on one resource and checks the push
// reaches the account's other interested resource (RFC 6121 §2.3.2).
func TestRosterPush(t *testing.T) {
	requireClients(t)
	t.Parallel()
	s := startServer(t, serverOpts{Users: []user{alice, bob}})

	want := RosterItem{JID: bob.JID, Name: "Bob Bäcker 🍞", Subscription: "none", Groups: []string{"Friends"}}
	args := append(connArgs(t, s.C2S, false), "--jid", alice.JID, "--password="+alice.Password,
		"--contact", want.JID, "--name", want.Name)
	for _, g := range want.Groups {
		args = append(args, "--group", g)
	}
	c := startClient(t, "roster.py", args...)
	c.Finish(t)

	// B fetched the roster first: the fresh account's roster is empty.
	if e := c.MustFind(t, Event{Event: "roster", Client: "B"}); len(e.Items) != 0 {
		t.Errorf("B's initial roster: got %v, want no items", e.Items)
	}
	if e := c.MustFind(t, Event{Event: "iq_result", Client: "A", What: "roster-set"}); e.From != "" && e.From != alice.JID {
		t.Errorf("roster set result from: got %q, want none or %s", e.From, alice.JID)
	}

	tests := []struct {
		name  string
		event Event
	}{
		{"push-to-other-resource", Event{Event: "roster_push", Client: "B"}},
		{"push-to-setting-resource", Event{Event: "roster_push", Client: "A"}},
		{"roster-get-after-set", Event{Event: "roster", Client: "A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []RosterItem
			for _, e := range c.Events() {
				if tc.event.matches(e) {
					got = e.Items // the last one: A's second roster get
				}
			}
			if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("items: got %+v, want [%+v]", got, want)
			}
		})
	}
}
