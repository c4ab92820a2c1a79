package e2e

import (
	"fmt"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestShutdownInFlight: SIGTERM while a sender pushes messages to a
// receiver with stream management that has stopped acknowledging them.
// Both clients must get the system-shutdown stream error, ringd must exit
// with status 0 within [limits] shutdown_timeout, and after a restart the
// receiver must get every message the server acked to the sender and the
// receiver had not acked: from offline storage, in order, each once, with
// a delay stamp.

const (
	shutdownMessages = 500
	// shutdownAcked is how many messages the receiver acks; it reads the
	// rest but never acks them, as a client that stalls would.
	shutdownAcked = 100
	// shutdownAt: SIGTERM once the sender has sent this many (and the
	// server has taken the receiver's last ack); the sender goes on
	// sending until its stream ends.
	shutdownAt = 250
	// shutdownWindow is the sender's unacknowledged maximum; shutdownBatch
	// it writes at a time, each batch followed by <r/>.
	shutdownWindow  = 50
	shutdownBatch   = 10
	shutdownTimeout = 5 * time.Second // [limits] shutdown_timeout
	shutdownSeed    = 0x5d
)

func TestShutdownInFlight(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testShutdownInFlight(t, backend)
		})
	}
}

func testShutdownInFlight(t *testing.T, backend string) {
	begin := time.Now()
	s := startServerWith(t, serverOpts{Users: []user{alice, bob}, Backend: backend},
		fmt.Sprintf("[limits]\nshutdown_timeout = %q", shutdownTimeout.String()))
	runs := newServerRuns(s.C2STLS)
	deadline := time.Now().Add(time.Minute)
	quit := make(chan struct{})
	t.Cleanup(func() { close(quit) })

	// The receiver: chaosReceiver's bookkeeping (it records and checks
	// every message, by connection), without its reconnecting loop.
	rcl := newSMClient("receiver", bob)
	recv := newChaosReceiver(rcl, runs, shutdownSeed, deadline, quit)
	var onFirst atomic.Int32
	frozen := make(chan struct{})
	handle := func(c *xconn, e *element) {
		recv.handle(c, e)
		if c.n == 1 && e.is(nsClient, "message") && onFirst.Add(1) == shutdownAcked {
			h := rcl.h.Load() // counts this message
			rcl.frozen.Store(&h)
			close(frozen)
		}
	}
	r1, _, err := rcl.connect(s.C2STLS, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r1.abort)
	r1.start(handle)
	r1.send("<presence/>")
	if err := r1.ping("available", chaosStall); err != nil {
		t.Fatal(err)
	}
	// Once it has stopped acking, it says so once more (<a h/>) and pings:
	// the answer proves the server took that last ack before SIGTERM.
	ackTaken := make(chan error, 1)
	go func() {
		select {
		case <-frozen:
			r1.ack()
			ackTaken <- r1.ping("last-ack", chaosStall)
		case <-r1.done:
			ackTaken <- fmt.Errorf("receiver: connection lost before it read %d messages: %v", shutdownAcked, r1.err)
		}
	}()

	snd := newChaosSender(newSMClient("sender", alice), runs, shutdownSeed, shutdownMessages, deadline)
	snd.shutdown = "system-shutdown"
	c, _, err := snd.cl.connect(s.C2STLS, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.abort)
	snd.c = c
	c.start(snd.handle)

	var term *termination
	stall := time.NewTimer(chaosStall)
	defer stall.Stop()
send:
	for snd.next <= shutdownMessages {
		if term == nil && snd.next-1 >= shutdownAt {
			if err := <-ackTaken; err != nil {
				t.Fatal(err)
			}
			term = s.sigterm(t)
		}
		snd.mu.Lock()
		room := shutdownWindow - len(snd.queue)
		snd.mu.Unlock()
		select {
		case <-c.done:
			break send
		default:
		}
		if room >= shutdownBatch {
			snd.transmit(c, snd.newMessages(shutdownBatch), true)
			continue
		}
		stall.Reset(chaosStall)
		select {
		case <-snd.notify:
		case <-c.done:
			break send
		case <-stall.C:
			t.Fatalf("sender: no ack for %v: %s", chaosStall, snd.state())
		}
	}
	if term == nil {
		t.Fatalf("sender: connection ended before SIGTERM (%v)", c.err)
	}
	elapsed := term.wait(t, shutdownTimeout+stopTimeout)
	for _, conn := range []*xconn{c, r1} {
		if err := conn.wait(stopTimeout); err != nil {
			t.Error(err)
		} else if conn.streamError != "system-shutdown" {
			t.Errorf("%s: stream ended with stream error %q (%v), want system-shutdown", conn.label, conn.streamError, conn.err)
		}
	}
	if elapsed > shutdownTimeout {
		t.Errorf("ringd took %v to exit after SIGTERM, want at most shutdown_timeout = %v", elapsed, shutdownTimeout)
	}

	s.restart(t)
	runs.publish(s.C2STLS)
	// Log in again (resumption must fail: a new run), available, and
	// collect what was stored; then once more, which must bring nothing.
	for login := 2; login <= 3; login++ {
		run, addr, _ := runs.current()
		rc, st, err := rcl.connect(addr, run, true)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rc.abort)
		if st.Resumed || !st.Tried {
			t.Errorf("login %d: %+v, want a failed resumption after the restart", login, st)
		}
		rc.start(handle)
		rc.send("<presence/>")
		if err := rc.ping(fmt.Sprintf("login-%d", login), chaosStall); err != nil {
			t.Fatal(err)
		}
		rc.ack()
		rc.closeStream()
		if err := rc.wait(stopTimeout); err != nil {
			t.Error(err)
		}
	}

	checkShutdownDelivery(t, snd, recv, elapsed)
	for _, e := range append(snd.errors(), recv.errors()...) {
		t.Error(e)
	}
	t.Logf("%s: whole test %v", backend, time.Since(begin).Round(time.Millisecond))
}

// checkShutdownDelivery compares what the sender had acked with what the
// receiver acked before the shutdown and got after the restart.
func checkShutdownDelivery(t *testing.T, snd *chaosSender, recv *chaosReceiver, elapsed time.Duration) {
	t.Helper()
	byConn := make(map[int][]reception)
	for _, g := range recv.receivedAll() {
		byConn[g.conn] = append(byConn[g.conn], g)
	}
	seqs := func(rs []reception) []int {
		out := make([]int, len(rs))
		for i, g := range rs {
			out[i] = g.seq
		}
		return out
	}
	first, after, third := seqs(byConn[1]), byConn[2], byConn[3]
	if len(first) < shutdownAcked {
		t.Fatalf("the receiver read %d messages before the shutdown, want at least %d", len(first), shutdownAcked)
	}
	ackedByReceiver := first[:shutdownAcked]
	snd.mu.Lock()
	var ackedToSender, sent []int
	for seq := 1; seq <= snd.n; seq++ {
		if snd.acked[seq] != 0 {
			ackedToSender = append(ackedToSender, seq)
		}
		if len(snd.tx[seq]) > 0 {
			sent = append(sent, seq)
		}
	}
	snd.mu.Unlock()
	t.Logf("sent %d, acked to the sender %d; the receiver read %d before the shutdown (acked the first %d); "+
		"ringd exited %v after SIGTERM; after the restart the receiver got %d from offline storage, then %d at the next login",
		len(sent), len(ackedToSender), len(first), shutdownAcked, elapsed.Round(time.Millisecond), len(after), len(third))

	if len(ackedToSender) <= shutdownAcked {
		t.Errorf("only %d messages acked to the sender: nothing was in flight", len(ackedToSender))
	}
	// In order and none twice: strictly increasing; stamped.
	got := seqs(after)
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Errorf("after the restart the messages came out of order or twice: %s (acked to the sender: %s)", seqRanges(got), seqRanges(ackedToSender))
	}
	for _, g := range after {
		if !g.delayed || g.delayFrom != domain {
			t.Errorf("after the restart message %d came without a delay stamp from %s (delayed=%v from=%q)", g.seq, domain, g.delayed, g.delayFrom)
		}
		if slices.Contains(ackedByReceiver, g.seq) {
			t.Errorf("message %d came again after the restart, though the receiver had acked it", g.seq)
		}
		if !slices.Contains(sent, g.seq) {
			t.Errorf("message %d came after the restart but was never sent", g.seq)
		}
	}
	var lost []int
	for _, seq := range ackedToSender {
		if !slices.Contains(ackedByReceiver, seq) && !slices.Contains(got, seq) {
			lost = append(lost, seq)
		}
	}
	if len(lost) > 0 {
		t.Errorf("LOST %d messages acked to the sender and not acked by the receiver before the shutdown: %s", len(lost), seqRanges(lost))
	}
	if len(third) > 0 {
		t.Errorf("the login after that got %d messages again: %s", len(third), seqRanges(seqs(third)))
	}
}

// termination is a SIGTERM sent to a run of ringd.
type termination struct {
	p    *process
	sent time.Time
}

// sigterm sends SIGTERM to the current run of s without waiting; wait
// then checks how it exits. Stop and restart no longer signal this run.
func (s *Server) sigterm(t *testing.T) *termination {
	t.Helper()
	p := s.proc
	claimed := false
	p.stopOnce.Do(func() { claimed = true })
	if !claimed {
		t.Fatal("sigterm: ringd was already stopped")
	}
	t.Cleanup(func() {
		if p.running() {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	tm := &termination{p: p, sent: time.Now()}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM ringd: %v", err)
	}
	return tm
}

// wait waits for the process to exit (killing it after limit) and
// returns how long after SIGTERM it did. It fails the test unless the exit
// status is 0, or if (built with -race) ringd reported a data race.
func (tm *termination) wait(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-tm.p.exited:
	case <-timer.C:
		tm.p.cmd.Process.Kill()
		<-tm.p.exited
		t.Fatalf("ringd still running %v after SIGTERM; killed it", limit)
	}
	elapsed := time.Since(tm.sent)
	if tm.p.waitErr != nil {
		t.Errorf("ringd exit after SIGTERM: %v, want exit status 0", tm.p.waitErr)
	}
	tm.p.checkRace(t)
	return elapsed
}
