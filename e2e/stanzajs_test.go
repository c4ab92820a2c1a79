package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The StanzaJS interop client (stanzajs/call.mjs): the npm package stanza,
// run by Node over ringd's RFC 7395 WebSocket listener. scripts/test.sh
// installs Node.js if missing and runs `npm ci` in e2e/stanzajs.

// jsEvent is one JSON line call.mjs printed (see the comment at its top).
type jsEvent struct {
	Event      string `json:"event"`
	Client     string `json:"client,omitempty"`
	JID        string `json:"jid,omitempty"`
	From       string `json:"from,omitempty"`
	To         string `json:"to,omitempty"`
	Type       string `json:"type,omitempty"`
	ID         string `json:"id,omitempty"`
	Resource   string `json:"resource,omitempty"`
	Media      string `json:"media,omitempty"`
	How        string `json:"how,omitempty"`
	Action     string `json:"action,omitempty"`
	SID        string `json:"sid,omitempty"`
	Condition  string `json:"condition,omitempty"`
	Text       string `json:"text,omitempty"`
	Message    string `json:"message,omitempty"`
	WaitingFor string `json:"waiting_for,omitempty"`
	OK         bool   `json:"ok,omitempty"`
}

func (e jsEvent) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// matches reports whether got has every non-empty string field of want.
func (want jsEvent) matches(got jsEvent) bool {
	pairs := [][2]string{
		{want.Event, got.Event}, {want.Client, got.Client}, {want.JID, got.JID},
		{want.From, got.From}, {want.To, got.To}, {want.Type, got.Type},
		{want.ID, got.ID}, {want.Resource, got.Resource}, {want.Media, got.Media},
		{want.How, got.How}, {want.Action, got.Action}, {want.SID, got.SID},
	}
	for _, p := range pairs {
		if p[0] != "" && p[0] != p[1] {
			return false
		}
	}
	return true
}

// requireStanzaJS returns node's path and the e2e/stanzajs directory, or
// skips the test (fails it under CI=true) when either is missing.
func requireStanzaJS(t *testing.T) (node, dir string) {
	t.Helper()
	requireE2E(t)
	dir = filepath.Join(filepath.Dir(harness.clientsDir), "stanzajs")
	node, err := exec.LookPath("node")
	why := ""
	switch {
	case err != nil:
		why = "node not found on PATH"
	default:
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "stanza", "package.json")); err != nil {
			why = "e2e/stanzajs/node_modules has no stanza package (npm ci not run)"
		}
	}
	if why != "" {
		msg := fmt.Sprintf("StanzaJS client unavailable: %s; run scripts/test.sh, which installs Node.js and runs npm ci in e2e/stanzajs", why)
		if inCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, dir
}

// runStanzaJS runs call.mjs to completion and returns its events and exit
// status. If the test fails (or with -e2e.logs) it logs the command, the
// events and the script's debug log, which holds every XML frame.
func runStanzaJS(t *testing.T, args ...string) ([]jsEvent, int) {
	t.Helper()
	node, dir := requireStanzaJS(t)
	args = append([]string{filepath.Join(dir, "call.mjs"), "--debug",
		"--timeout", fmt.Sprint(clientTimeout.Seconds())}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+clientGrace)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	var stdout bytes.Buffer
	var stderr lineLog
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.SysProcAttr = childProcAttr()
	start := time.Now()
	runErr := cmd.Run()
	elapsed := time.Since(start)

	var events []jsEvent
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e jsEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			e = jsEvent{Event: "unparsed", Message: sc.Text()}
		}
		events = append(events, e)
	}
	t.Cleanup(func() {
		if t.Failed() || *flagLogs {
			var b strings.Builder
			for _, e := range events {
				fmt.Fprintf(&b, "  %v\n", e)
			}
			t.Logf("%s %s (ran %v)\nevents:\n%sdebug log:\n%s", node, strings.Join(args, " "),
				elapsed.Round(time.Millisecond), &b, &stderr)
		}
	})

	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("call.mjs still running after %v (its own --timeout did not fire); killed", clientTimeout+clientGrace)
	case runErr == nil:
		return events, exitOK
	case errors.As(runErr, &exit):
		return events, exit.ExitCode()
	default:
		t.Fatalf("call.mjs: %v", runErr)
	}
	return events, -1
}

// TestStanzaJSCall: a caller and a callee with two resources run a full
// XEP-0353 + XEP-0166 call with StanzaJS over WebSocket (propose, ringing,
// proceed, session-initiate with an RTP description and an ICE-UDP
// transport, session-accept, session-terminate), and the callee's second
// resource sees the call answered elsewhere: without carbons as a direct
// copy of the <proceed/> (jingle's routing), with carbons as the XEP-0280
// <sent/> carbon.
func TestStanzaJSCall(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		carbons bool
		how     string // how laptop learns of the answer
	}{
		{"direct", false, "direct"},
		{"carbons", true, "carbon"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireStanzaJS(t)
			s := startServer(t, serverOpts{Users: []user{alice, bob}})
			args := []string{
				"--url", "ws://" + s.WebSocket + "/xmpp-websocket",
				"--domain", domain,
				"--alice", alice.JID, "--alice-password", alice.Password,
				"--bob", bob.JID, "--bob-password", bob.Password,
			}
			if tc.carbons {
				args = append(args, "--carbons")
			}
			events, status := runStanzaJS(t, args...)
			checkStanzaJSCall(t, events, status, tc.how)
		})
	}
}

// checkStanzaJSCall reports every step of the call that is missing from
// events, then the script's own verdict.
func checkStanzaJSCall(t *testing.T, events []jsEvent, status int, how string) {
	t.Helper()
	find := func(want jsEvent) (jsEvent, bool) {
		for _, e := range events {
			if want.matches(e) {
				return e, true
			}
		}
		return jsEvent{}, false
	}
	var (
		caller = alice.JID + "/caller"
		phone  = bob.JID + "/phone"
		laptop = bob.JID + "/laptop"
	)
	propose, _ := find(jsEvent{Event: "propose_received", Client: "phone"})
	sid := propose.ID
	steps := []struct {
		what string
		want jsEvent
	}{
		{"alice connected", jsEvent{Event: "connected", Client: "alice", JID: caller}},
		{"phone connected", jsEvent{Event: "connected", Client: "phone", JID: phone}},
		{"laptop connected", jsEvent{Event: "connected", Client: "laptop", JID: laptop}},
		{"phone sees laptop available", jsEvent{Event: "presence", Client: "phone", From: laptop, Type: "available"}},
		{"laptop sees phone available", jsEvent{Event: "presence", Client: "laptop", From: phone, Type: "available"}},
		{"phone rings", jsEvent{Event: "propose_received", Client: "phone", Resource: "phone", From: caller, Media: "audio"}},
		{"laptop rings", jsEvent{Event: "propose_received", Client: "laptop", Resource: "laptop", From: caller, Media: "audio", ID: sid}},
		{"alice gets <ringing/>", jsEvent{Event: "ringing", Client: "alice", From: phone, ID: sid}},
		{"alice gets <proceed/>", jsEvent{Event: "proceed", Client: "alice", From: phone, ID: sid}},
		{"phone gets session-initiate", jsEvent{Event: "jingle", Client: "phone", Action: "session-initiate", From: caller, SID: sid}},
		{"alice gets session-initiate's result", jsEvent{Event: "iq_result", Client: "alice", Action: "session-initiate", From: phone}},
		{"alice gets session-accept", jsEvent{Event: "jingle", Client: "alice", Action: "session-accept", From: phone, SID: sid}},
		{"phone gets session-accept's result", jsEvent{Event: "iq_result", Client: "phone", Action: "session-accept", From: caller}},
		{"phone gets session-terminate", jsEvent{Event: "jingle", Client: "phone", Action: "session-terminate", From: caller, SID: sid}},
		{"alice gets session-terminate's result", jsEvent{Event: "iq_result", Client: "alice", Action: "session-terminate", From: phone}},
		{"laptop learns the call was answered elsewhere (" + how + ")",
			jsEvent{Event: "answered_elsewhere", Client: "laptop", How: how, From: phone, To: caller, ID: sid}},
	}
	for _, st := range steps {
		if _, ok := find(st.want); !ok {
			t.Errorf("missing step: %s (no event matching %v)", st.what, st.want)
		}
	}
	if e, ok := find(jsEvent{Event: "answered_elsewhere"}); ok {
		t.Logf("laptop learned the call was answered elsewhere by %s copy: %v", e.How, e)
	}
	if sid == "" {
		t.Errorf("phone never got the <propose/>, so the call id is unknown")
	}
	if status != exitOK {
		why := ""
		for _, e := range events {
			switch e.Event {
			case "error":
				why = e.Message
			case "timeout":
				why = "timeout waiting for " + e.WaitingFor
			case "stream_error":
				why = fmt.Sprintf("%s: stream error %s %s", e.Client, e.Condition, e.Text)
			case "failed_auth":
				why = e.Client + ": authentication failed"
			}
		}
		t.Errorf("call.mjs exit status %d, want %d: %s", status, exitOK, why)
	} else if _, ok := find(jsEvent{Event: "done"}); !ok {
		t.Errorf("call.mjs exited 0 without a done event")
	}
}
