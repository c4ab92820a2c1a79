package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientTimeout is the scripts' hard timeout (--timeout) unless a test
// picks another with startClientTimeout; the Go side waits clientGrace
// longer, so the script's own timeout fires first and says what it was
// waiting for.
const (
	clientTimeout = 20 * time.Second
	clientGrace   = 10 * time.Second
)

// Exit statuses of the scenario scripts (clients/common.py).
const (
	exitOK         = 0
	exitFailed     = 1
	exitTimeout    = 2
	exitAuthFailed = 3
)

// Event is one JSON line a scenario script printed. Which fields are set
// depends on Event (see clients/common.py).
type Event struct {
	Event      string       `json:"event"`
	Client     string       `json:"client,omitempty"`
	JID        string       `json:"jid,omitempty"`
	Mechanism  string       `json:"mechanism,omitempty"`
	Offered    []string     `json:"offered,omitempty"`
	TLS        string       `json:"tls,omitempty"`
	StartTLS   bool         `json:"starttls,omitempty"`
	From       string       `json:"from,omitempty"`
	To         string       `json:"to,omitempty"`
	Type       string       `json:"type,omitempty"`
	ID         string       `json:"id,omitempty"`
	Body       string       `json:"body,omitempty"`
	Show       string       `json:"show,omitempty"`
	Status     string       `json:"status,omitempty"`
	Condition  string       `json:"condition,omitempty"`
	ErrorType  string       `json:"error_type,omitempty"`
	Text       string       `json:"text,omitempty"`
	What       string       `json:"what,omitempty"`
	Ver        string       `json:"ver,omitempty"`
	Items      []RosterItem `json:"items,omitempty"`
	OK         bool         `json:"ok,omitempty"`
	Message    string       `json:"message,omitempty"`
	WaitingFor string       `json:"waiting_for,omitempty"`
	Delays     []Delay      `json:"delays,omitempty"`
	Count      int          `json:"count,omitempty"`
}

// Delay is one XEP-0203 <delay/> element of a message, its attributes as
// the server sent them.
type Delay struct {
	From  string `json:"from"`
	Stamp string `json:"stamp"`
}

// RosterItem is one jabber:iq:roster item as a script reports it.
type RosterItem struct {
	JID          string   `json:"jid"`
	Name         string   `json:"name"`
	Subscription string   `json:"subscription"`
	Ask          string   `json:"ask"`
	Groups       []string `json:"groups"`
}

func (e Event) String() string {
	b, _ := json.Marshal(e)
	return string(b)
}

// matches reports whether got has every non-empty string field of want.
// (Slices and booleans are checked by the tests themselves.)
func (want Event) matches(got Event) bool {
	pairs := [][2]string{
		{want.Event, got.Event}, {want.Client, got.Client}, {want.JID, got.JID},
		{want.Mechanism, got.Mechanism}, {want.From, got.From}, {want.To, got.To},
		{want.Type, got.Type}, {want.Body, got.Body}, {want.Show, got.Show},
		{want.Status, got.Status}, {want.Condition, got.Condition},
		{want.ErrorType, got.ErrorType}, {want.What, got.What},
	}
	for _, p := range pairs {
		if p[0] != "" && p[0] != p[1] {
			return false
		}
	}
	return true
}

// Client is one running scenario script.
type Client struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr lineLog // slixmpp debug log: every SEND:/RECV: line of XML

	mu     sync.Mutex
	events []Event

	exited  chan struct{}
	waitErr error         // valid once exited is closed
	wait    time.Duration // how long WaitEvent and Wait wait
}

// connArgs are the script options that reach a server address: the c2s
// (STARTTLS) address, or the c2s-tls address with directTLS.
func connArgs(t *testing.T, addr string, directTLS bool) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("server address %q: %v", addr, err)
	}
	args := []string{"--host", host, "--port", port}
	if directTLS {
		args = append(args, "--direct-tls")
	}
	return args
}

// startClient runs clients/<script> with args (plus --debug and the hard
// timeout) and collects its events. t.Cleanup kills it if it still runs
// and shows its events and debug log if the test failed.
func startClient(t *testing.T, script string, args ...string) *Client {
	t.Helper()
	return startClientTimeout(t, clientTimeout, script, args...)
}

// startClientTimeout is startClient with another hard timeout, for
// scenarios that move thousands of stanzas.
func startClientTimeout(t *testing.T, timeout time.Duration, script string, args ...string) *Client {
	t.Helper()
	requireClients(t)
	args = append([]string{filepath.Join(harness.clientsDir, script), "--debug",
		"--timeout", fmt.Sprint(timeout.Seconds())}, args...)
	c := &Client{name: script, exited: make(chan struct{}), wait: timeout + clientGrace}
	c.cmd = exec.Command(*flagPython, args...)
	// No clients/__pycache__ (for common.py) left in the work tree.
	c.cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	c.cmd.Stderr = &c.stderr
	c.cmd.SysProcAttr = childProcAttr()
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", script, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = Event{Event: "unparsed", Message: sc.Text()}
			}
			c.mu.Lock()
			c.events = append(c.events, e)
			c.mu.Unlock()
		}
		io.Copy(io.Discard, stdout)
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		if c.running() {
			c.cmd.Process.Kill()
		}
		<-c.exited
		if t.Failed() || *flagLogs {
			t.Logf("%s %s\nevents:\n%s\ndebug log:\n%s", *flagPython, strings.Join(args, " "), c.eventLog(), &c.stderr)
		}
	})
	return c
}

func (c *Client) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// Events returns a copy of the events received so far.
func (c *Client) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

func (c *Client) eventLog() string {
	var b strings.Builder
	for _, e := range c.Events() {
		fmt.Fprintf(&b, "  %v\n", e)
	}
	return b.String()
}

// Find returns the first event that matches want.
func (c *Client) Find(want Event) (Event, bool) {
	i := c.index(want)
	if i < 0 {
		return Event{}, false
	}
	return c.Events()[i], true
}

// index is the position of the first event matching want, or -1.
func (c *Client) index(want Event) int {
	for i, e := range c.Events() {
		if want.matches(e) {
			return i
		}
	}
	return -1
}

// MustFind is Find that fails the test when nothing matches.
func (c *Client) MustFind(t *testing.T, want Event) Event {
	t.Helper()
	e, ok := c.Find(want)
	if !ok {
		t.Fatalf("%s: no event matching %v; got:\n%s", c.name, want, c.eventLog())
	}
	return e
}

// WaitEvent waits until an event matches want, or the script ends.
func (c *Client) WaitEvent(t *testing.T, want Event) Event {
	t.Helper()
	var (
		e     Event
		found bool
	)
	poll(c.wait, func() bool {
		e, found = c.Find(want)
		return found || !c.running()
	})
	if !found {
		e, found = c.Find(want) // it may have come just before the exit
	}
	if !found {
		t.Fatalf("%s: no event matching %v (exited: %v); got:\n%s", c.name, want, !c.running(), c.eventLog())
	}
	return e
}

// Send writes a line to the script's stdin (for --wait-stdin).
func (c *Client) Send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, line+"\n"); err != nil {
		t.Fatalf("%s: write stdin: %v", c.name, err)
	}
}

// Wait waits for the script to exit and returns its exit status.
func (c *Client) Wait(t *testing.T) int {
	t.Helper()
	timer := time.NewTimer(c.wait)
	defer timer.Stop()
	select {
	case <-c.exited:
	case <-timer.C:
		t.Fatalf("%s still running after %v; events:\n%s", c.name, c.wait, c.eventLog())
	}
	var exit *exec.ExitError
	switch {
	case c.waitErr == nil:
		return 0
	case errors.As(c.waitErr, &exit):
		return exit.ExitCode()
	default:
		t.Fatalf("%s: %v", c.name, c.waitErr)
		return -1
	}
}

// Finish waits for the script and fails the test unless it ran its
// scenario to the end (exit status 0 and a done event with ok).
func (c *Client) Finish(t *testing.T) []Event {
	t.Helper()
	c.FinishWith(t, exitOK)
	if _, ok := c.Find(Event{Event: "done"}); !ok {
		t.Fatalf("%s: exited without a done event; got:\n%s", c.name, c.eventLog())
	}
	return c.Events()
}

// FinishWith waits for the script and fails the test unless it exited
// with status want.
func (c *Client) FinishWith(t *testing.T, want int) []Event {
	t.Helper()
	if got := c.Wait(t); got != want {
		why := ""
		if e, ok := c.Find(Event{Event: "timeout"}); ok {
			why = " (timeout waiting for " + e.WaitingFor + ")"
		} else if e, ok := c.Find(Event{Event: "error"}); ok {
			why = " (" + e.Message + ")"
		}
		t.Fatalf("%s exit status: got %d%s, want %d; events:\n%s", c.name, got, why, want, c.eventLog())
	}
	return c.Events()
}
