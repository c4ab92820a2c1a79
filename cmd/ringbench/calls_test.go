package main

import (
	"testing"
)

func TestCallIDs(t *testing.T) {
	cr := &callRun{runID: "0123456789ab", calls: make([]call, 100)}
	tests := []struct {
		id   string
		kind string
		want int64
		ok   bool
	}{
		{string(cr.appendSID(nil, 42)), "rb", 42, true},
		{string(cr.appendID(nil, 'i', 0)), "i", 0, true},
		{string(cr.appendID(nil, 'a', 99)), "a", 99, true},
		{string(cr.appendID(nil, 'a', 100)), "a", 0, false}, // beyond -count
		{string(cr.appendID(nil, 't', 5)), "a", 0, false},   // another kind
		{"rbffffffffffff-1", "rb", 0, false},                // another run
		{"rb0123456789ab-", "rb", 0, false},
		{"rb0123456789ab-x", "rb", 0, false},
	}
	for _, tc := range tests {
		got, ok := cr.parseID([]byte(tc.id), tc.kind)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parseID(%q, %q) = %d, %v; want %d, %v", tc.id, tc.kind, got, ok, tc.want, tc.ok)
		}
	}
}

// TestCallStanzas checks that what the calls scenario sends is
// well-formed and carries what XEP-0353 and XEP-0166 ask for, and that
// its own parsing finds it again.
func TestCallStanzas(t *testing.T) {
	cr := &callRun{runID: "0123456789ab", calls: make([]call, 10)}
	caller := &session{JID: "bench0@localhost/rb-caller", Bare: "bench0@localhost"}
	callee := &session{JID: "bench1@localhost/rb-a", Bare: "bench1@localhost"}
	p := &callPair{caller: caller, calleeA: callee}

	propose := cr.appendPropose(nil, p, 7)
	el, err := parseElement(propose, streamScope())
	if err != nil {
		t.Fatalf("propose: %v\n%s", err, propose)
	}
	pr := el.Child(nsJMI, "propose")
	if el.Attr("type") != "chat" || el.Attr("to") != "bench1@localhost" || pr == nil ||
		pr.Attr("id") != "rb0123456789ab-7" || pr.Child(nsRTP, "description").Attr("media") != "audio" ||
		el.Child(nsHints, "store") == nil {
		t.Errorf("propose is not a XEP-0353 offer to the bare JID: %s", propose)
	}
	if what, i, ok := cr.jmiChild(propose); !ok || what != "propose" || i != 7 {
		t.Errorf("jmiChild(propose) = %q, %d, %v", what, i, ok)
	}
	proceed := cr.appendJMI(nil, caller.Bare, "proceed", 'g', 7)
	if what, i, ok := cr.jmiChild(proceed); !ok || what != "proceed" || i != 7 {
		t.Errorf("jmiChild(proceed) = %q, %d, %v", what, i, ok)
	}

	for _, action := range []string{"session-initiate", "session-accept", "session-terminate"} {
		responder := ""
		if action == "session-accept" {
			responder = callee.JID
		}
		b := cr.appendJingle(nil, callee.JID, caller.JID, responder, action, 'i', 7)
		el, err := parseElement(b, streamScope())
		if err != nil {
			t.Fatalf("%s: %v\n%s", action, err, b)
		}
		j := el.Child(nsJingle, "jingle")
		if el.Attr("type") != "set" || j == nil || j.Attr("action") != action || j.Attr("sid") != "rb0123456789ab-7" ||
			j.Attr("initiator") != caller.JID || j.Attr("responder") != responder {
			t.Errorf("%s: wrong IQ: %s", action, b)
		}
		if a, sid := jingleAction(b); string(a) != action || string(sid) != "rb0123456789ab-7" {
			t.Errorf("%s: jingleAction = %q, %q", action, a, sid)
		}
		if action == "session-terminate" {
			if j.Child(nsJingle, "reason").Child(nsJingle, "success") == nil {
				t.Errorf("session-terminate without a success reason: %s", b)
			}
			continue
		}
		c := j.Child(nsJingle, "content")
		if c == nil || c.Child(nsRTP, "description") == nil || c.Child(nsICEUDP, "transport") == nil ||
			len(c.Child(nsICEUDP, "transport").Children) != 4 {
			t.Errorf("%s: no RTP description or ICE-UDP transport with fingerprint and candidates: %s", action, b)
		}
		if len(b) < 1800 || len(b) > 2600 {
			t.Errorf("%s is %d bytes, want about 2 KB", action, len(b))
		}
	}
}
