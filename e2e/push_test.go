package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// The XEP-0357 app server is a test client on the served domain.
var pushApp = user{"pushapp@localhost", "push-app-secret-3"}

const (
	pushAppFull = "pushapp@localhost/srv"
	pushNode    = "n1"
	// callPlaceholder is the fixed last-message-body of an urgent
	// notification (xmpp/push: Prosody-style important push); it is not
	// the message's body.
	callPlaceholder = "Incoming call"
)

// pushDetail is the JSON in a push event's Message (clients/push_app.py).
type pushDetail struct {
	Fields   map[string][]string `json:"fields"`
	Priority *string             `json:"priority"` // tigase:push:priority:0
	XML      string              `json:"xml"`
}

// TestPushCall: bob registers an app server (a logged-in test client) and
// goes offline. alice calls him: the offer is stored and the app server
// gets an urgent notification at once (last-message-priority high, the
// Tigase priority element, no body of the message's own). A chat message
// after it gets a normal notification, without the message's body (the
// registration did not ask for bodies).
func TestPushCall(t *testing.T) {
	requireClients(t)
	t.Parallel()
	const body = "the secret plan <&> 🤫"
	s := startServer(t, serverOpts{Users: []user{alice, bob, pushApp}})
	app := startClient(t, "push_app.py", append(connArgs(t, s.C2S, false),
		"--app", pushAppFull, "--app-password="+pushApp.Password,
		"--alice", alice.JID, "--alice-password="+alice.Password,
		"--bob", bob.JID, "--sid", "push-call-1", "--body="+body)...)
	app.WaitEvent(t, Event{Event: "ready"})

	enable := startClient(t, "iq.py", append(connArgs(t, s.C2S, false),
		"--jid", bob.JID, "--password="+bob.Password, "--type", "set", "--to", bob.JID,
		"--payload", fmt.Sprintf("<enable xmlns='urn:xmpp:push:0' jid='%s' node='%s'/>", pushAppFull, pushNode))...)
	enable.Finish(t)
	enable.MustFind(t, Event{Event: "iq_result", What: "payload"})
	// bob is offline once only the app server and alice are bound.
	waitFor(t, 10*time.Second, func() bool { return s.Metric(t, "ringd_router_sessions") == 2 })
	app.Send(t, "go")
	ev := app.Finish(t)

	var pushes []Event
	for _, e := range ev {
		if e.Event == "push" {
			pushes = append(pushes, e)
		}
	}
	if len(pushes) != 2 {
		t.Fatalf("the app server got %d notifications, want 2 (the call, then the chat message)", len(pushes))
	}
	for i, e := range pushes {
		d := decodePush(t, e)
		if e.From != bob.JID || e.To != pushAppFull || e.What != pushNode {
			t.Errorf("notification %d: from %q to %q node %q, want from %s to %s node %s",
				i+1, e.From, e.To, e.What, bob.JID, pushAppFull, pushNode)
		}
		wantField(t, i, d, "FORM_TYPE", "urn:xmpp:push:summary")
		wantField(t, i, d, "message-count", fmt.Sprint(i+1))
		wantField(t, i, d, "last-message-sender", alice.JID)
		if strings.Contains(d.XML, "secret plan") {
			t.Errorf("notification %d carries the message's body: %s", i+1, d.XML)
		}
	}

	call, chat := decodePush(t, pushes[0]), decodePush(t, pushes[1])
	wantField(t, 0, call, "last-message-priority", "high")
	if call.Priority == nil || *call.Priority != "high" {
		t.Errorf("notification 1 (a call): tigase:push:priority:0 %v, want high", call.Priority)
	}
	if b, ok := call.Fields["last-message-body"]; ok && !slices.Equal(b, []string{callPlaceholder}) {
		t.Errorf("notification 1 (a call): last-message-body %q, want none or the placeholder %q", b, callPlaceholder)
	}
	for _, f := range []string{"last-message-priority", "last-message-body"} {
		if v, ok := chat.Fields[f]; ok {
			t.Errorf("notification 2 (a chat message): %s %q, want none", f, v)
		}
	}
	if chat.Priority != nil {
		t.Errorf("notification 2 (a chat message): tigase:push:priority:0 %q, want none", *chat.Priority)
	}

	for _, prio := range []string{"urgent", "normal"} {
		name := fmt.Sprintf(`ringd_push_notifications_total{priority=%q,result="sent"}`, prio)
		if !poll(5*time.Second, func() bool { return s.Metric(t, name) == 1 }) {
			t.Errorf("%s = %v, want 1", name, s.Metric(t, name))
		}
	}
	if got := s.Metric(t, "ringd_push_notifications_total"); got != 2 {
		t.Errorf("ringd_push_notifications_total (all) = %v, want 2", got)
	}
}

func decodePush(t *testing.T, e Event) pushDetail {
	t.Helper()
	var d pushDetail
	if err := json.Unmarshal([]byte(e.Message), &d); err != nil {
		t.Fatalf("push event %v: %v", e, err)
	}
	return d
}

// wantField fails the test unless the summary form of notification i (from
// 0) has var with the single value want.
func wantField(t *testing.T, i int, d pushDetail, name, want string) {
	t.Helper()
	if got, ok := d.Fields[name]; !ok || !slices.Equal(got, []string{want}) {
		t.Errorf("notification %d: field %s = %q, want %q", i+1, name, got, want)
	}
}
