package e2e

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChaosKill9: two clients with stream management exchange 5,000
// messages while ringd is killed with SIGKILL and restarted three times
// and the clients' TCP connections are cut, at moments drawn from a seeded
// random schedule. The promise under test (issue 4): every message the
// server acknowledged to the sender is delivered at least once, and a
// retry within the dedupe window creates no duplicate. Duplicates that
// at-least-once allows after a crash are counted and reported.

var flagChaosSeed = flag.Uint64("e2e.chaos-seed", 0, "seed of TestChaosKill9's schedule of kills and cuts (0: a new seed, logged)")

const (
	chaosMessages = 5000
	chaosKills    = 3
	// chaosWindow is how many messages the sender leaves unacknowledged at
	// most; it writes chaosBatch at a time, each batch followed by <r/>.
	chaosWindow = 200
	chaosBatch  = 20
	// chaosTimeout bounds the whole exchange, drain included; chaosStall
	// is how long the sender waits for an ack it asked for.
	chaosTimeout = 150 * time.Second
	chaosStall   = 30 * time.Second
	// chaosAway is how many messages the sender gets acked while the
	// receiver is away (its connection cut, its session hibernating on
	// the server, holding them for resumption).
	chaosAway = 100
	// chaosLag is how far the sender may get ahead of the receiver:
	// messages acked in the current run that the receiver has not read.
	// It keeps what the server holds for the receiver (in its session,
	// or stored while it reconnects) below [stream_management]
	// max_unacked (1000), the most a hibernating session keeps and about
	// the most one login's offline delivery brings to a client with
	// stream management; beyond that the test would measure those limits
	// instead of crash safety.
	chaosLag = 400
	// chaosSpareEnds: no event in the first and last 5% of the messages.
	chaosSpareEnds = chaosMessages / 20
)

// Kinds of chaos events.
const (
	evKill        = "kill -9"
	evCutResume   = "cut sender, resume"
	evCutFresh    = "cut sender, lost state"
	evCutReceiver = "cut receiver, resume"
)

// chaosEvent happens once the sender has sent At distinct messages.
type chaosEvent struct {
	At   int
	Kind string
	// ReceiverAway (kills): the receiver's connection is cut first, and
	// chaosAway messages are acked to the sender while its session
	// hibernates; after the restart the receiver logs in again. Without
	// it the receiver keeps up and little is in flight to it.
	ReceiverAway bool
}

// chaosSchedule places the kills and the three kinds of connection cut at
// random points of the exchange: one event in each of equal slots between
// the first and last 5%, the order of the kinds shuffled. Slots keep the
// events apart, so each one's retries settle before the next. At least
// one kill finds the receiver away.
func chaosSchedule(rng *rand.Rand, n int) []chaosEvent {
	kinds := []string{evCutResume, evCutFresh, evCutReceiver}
	for range chaosKills {
		kinds = append(kinds, evKill)
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	lo, hi := chaosSpareEnds, n-chaosSpareEnds
	slot := (hi - lo) / len(kinds)
	events := make([]chaosEvent, len(kinds))
	var kills []int
	for i, k := range kinds {
		events[i] = chaosEvent{At: lo + i*slot + rng.IntN(slot), Kind: k}
		if k == evKill {
			events[i].ReceiverAway = rng.IntN(2) == 0
			kills = append(kills, i)
		}
	}
	if !slices.ContainsFunc(events, func(ev chaosEvent) bool { return ev.ReceiverAway }) {
		events[kills[rng.IntN(len(kills))]].ReceiverAway = true
	}
	return events
}

func TestChaosKill9(t *testing.T) {
	requireE2E(t)
	t.Parallel()
	seed := *flagChaosSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("chaos seed %d (repeat the schedule with -args -e2e.chaos-seed=%d)", seed, seed)
	for _, backend := range backends(t) {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testChaos(t, backend, seed)
		})
	}
}

func testChaos(t *testing.T, backend string, seed uint64) {
	begin := time.Now()
	s := startServer(t, serverOpts{
		Users:   []user{alice, bob},
		Backend: backend,
		// Everything may end up stored for bob at some point; the
		// default quota (1000) must not turn a retry into an error.
		OfflineQuota: 2 * chaosMessages,
	})
	events := chaosSchedule(rand.New(rand.NewPCG(seed, 0x5eed)), chaosMessages)
	deadline := time.Now().Add(chaosTimeout)
	runs := newServerRuns(s.C2STLS)
	quit := make(chan struct{})

	recv := newChaosReceiver(newSMClient("receiver", bob), runs, seed, deadline, quit)
	t.Cleanup(recv.stop)
	go recv.loop()
	select {
	case <-recv.ready:
	case <-recv.exited:
		t.Fatalf("receiver: %v", recv.fatal)
	}

	snd := newChaosSender(newSMClient("sender", alice), runs, seed, chaosMessages, deadline)
	snd.recv = recv
	t.Cleanup(snd.stop)
	var schedule []string
	snd.onEvent = func(ev chaosEvent) {
		switch ev.Kind {
		case evKill:
			how := "receiver connected"
			if ev.ReceiverAway {
				how = "receiver away"
				if err := recv.away(); err != nil {
					t.Fatal(err)
				}
				snd.pump(t, chaosAway)
			}
			from, _, _ := runs.current()
			atRisk := recv.missing(snd, from)
			start := time.Now()
			s.Kill9(t)
			s.restart(t)
			runs.publish(s.C2STLS)
			schedule = append(schedule, fmt.Sprintf("at %d: %s (%s), run %d → %d in %v; %d messages acked to the sender and not yet received were at risk",
				ev.At, ev.Kind, how, from, from+1, time.Since(start).Round(time.Millisecond), atRisk))
			// The sender first: what it re-sends while the receiver is
			// still away goes to offline storage.
			snd.afterKill(t)
			if ev.ReceiverAway {
				if st, err := recv.back(); err != nil {
					t.Fatal(err)
				} else if st.Resumed {
					t.Errorf("receiver resumed a session on a restarted server: %+v", st)
				}
			}
		case evCutResume:
			snd.cutResume(t)
			schedule = append(schedule, fmt.Sprintf("at %d: %s", ev.At, ev.Kind))
		case evCutFresh:
			before := s.Metric(t, "ringd_dedupe_duplicates_total")
			retried := snd.cutFresh(t)
			dropped := s.Metric(t, "ringd_dedupe_duplicates_total") - before
			schedule = append(schedule, fmt.Sprintf("at %d: %s: re-sent %d messages the server had routed but not acked; dedupe dropped %v",
				ev.At, ev.Kind, retried, dropped))
			if retried == 0 {
				t.Errorf("%s: no routed-but-unacknowledged message to re-send; the dedupe window was not exercised", ev.Kind)
			}
			if dropped != float64(retried) {
				t.Errorf("%s: ringd_dedupe_duplicates_total went up by %v, want %d (every re-sent message had been routed)", ev.Kind, dropped, retried)
			}
		case evCutReceiver:
			// The receiver first catches up with what this run acked: a
			// session hibernates with at most [stream_management]
			// max_unacked stanzas (1000), and a slow reader's backlog
			// plus chaosAway must stay below that for the resumption
			// this event checks.
			run, _, _ := runs.current()
			if !poll(chaosStall, func() bool { return recv.missing(snd, run) == 0 }) {
				t.Fatalf("%s: the receiver still lacks %d messages acked in run %d after %v", ev.Kind, recv.missing(snd, run), run, chaosStall)
			}
			if err := recv.away(); err != nil {
				t.Fatal(err)
			}
			snd.pump(t, chaosAway)
			st, err := recv.back()
			if err != nil {
				t.Fatal(err)
			}
			schedule = append(schedule, fmt.Sprintf("at %d: %s after %d messages were acked to the sender: resumed=%v", ev.At, ev.Kind, chaosAway, st.Resumed))
			if !st.Resumed {
				t.Errorf("%s: the receiver could not resume its session (server alive): %+v", ev.Kind, st)
			}
		}
	}
	snd.run(t, events)
	exchanged := time.Since(begin)

	// Everything the sender sent is acked: routed to bob's session or
	// stored. Collect what is still queued or stored for him.
	c, err := recv.handoff()
	if err != nil {
		t.Fatal(err)
	}
	logins, err := recv.drain(c)
	if err != nil {
		t.Fatal(err)
	}
	rep := chaosAnalyse(snd, recv)
	t.Logf("%s: seed %d, schedule:\n  %s", backend, seed, strings.Join(schedule, "\n  "))
	t.Logf("%s: %s", backend, rep.summary())
	t.Logf("%s: exchange %v, drain %v (%d logins); sender: %s; receiver: %s",
		backend, exchanged.Round(time.Millisecond), (time.Since(begin) - exchanged).Round(time.Millisecond),
		logins, snd.stats(), recv.stats())

	for _, e := range snd.errors() {
		t.Errorf("sender: %s", e)
	}
	for _, e := range recv.errors() {
		t.Errorf("receiver: %s", e)
	}
	if rep.acked != chaosMessages {
		t.Errorf("the server acked %d of %d messages", rep.acked, chaosMessages)
	}
	if len(rep.lost) > 0 {
		t.Errorf("LOST %d messages the server had acked to the sender (acked ⇒ delivered at least once is broken):\n%s",
			len(rep.lost), rep.lostDetail())
	}
	if len(rep.retryDups) > 0 {
		t.Errorf("%d duplicates of messages never touched by a crash (sent and received within one server run: a retry the dedupe window should have dropped, or a resumption that delivered twice): %s\n%s",
			rep.dupRetry, seqRanges(rep.retryDups), chaosHistory(snd, recv, rep.retryDups))
	}
}

// chaosIDs are the stanza id and XEP-0359 origin-id of message seq.
func chaosIDs(seed uint64, seq int) (id, originID string) {
	return fmt.Sprintf("chaos-%d", seq), fmt.Sprintf("%x-%d", seed, seq)
}

func chaosBody(seq int) string { return "chaos " + strconv.Itoa(seq) }

// chaosMessage is message seq, to bob's bare JID: his available session
// if he has one, offline storage if not.
func chaosMessage(seed uint64, seq int) string {
	id, oid := chaosIDs(seed, seq)
	return fmt.Sprintf(`<message to='%s' type='chat' id='%s'><body>%s</body><origin-id xmlns='%s' id='%s'/></message>`,
		bob.JID, id, chaosBody(seq), nsSID, oid)
}

// chaosSender sends the messages and keeps every stanza the server has
// not acknowledged, as XEP-0198 §4 asks of a client: after a resumption it
// re-sends what <resumed h/> does not cover; when resumption fails (the
// server was restarted) it starts a fresh session and re-sends every
// unacknowledged message, same id and origin-id. Its loop runs in the test
// goroutine, which also carries out the chaos events at their points.
type chaosSender struct {
	cl       *smClient
	runs     *serverRuns
	seed     uint64
	n        int
	deadline time.Time
	quit     chan struct{}
	onEvent  func(chaosEvent)

	recv   *chaosReceiver
	c      *xconn // the current connection
	next   int    // the next message never sent
	pingN  int
	notify chan struct{} // poked when an ack arrives

	mu    sync.Mutex
	queue []outStanza // sent, not acknowledged, oldest first
	base  uint32      // the server's h before queue[0]
	acked []int       // by seq: the server run that acked it; 0 = not acked
	nAck  int
	tx    [][]int // by seq: the server run of each transmission
	errs  []string
	// deaf: acks are lost on the way (cutFresh's connection is dying).
	deaf bool
	// shutdown is the stream error condition expected (TestShutdownInFlight).
	shutdown string

	resumes, failedResumes, freshSessions, retransmissions int
}

// outStanza is a stanza the sender keeps until it is acknowledged: a
// message (seq ≥ 1) or a ping (seq 0, never re-sent in a new session).
type outStanza struct {
	seq int
	raw string
}

func newChaosSender(cl *smClient, runs *serverRuns, seed uint64, n int, deadline time.Time) *chaosSender {
	return &chaosSender{cl: cl, runs: runs, seed: seed, n: n, deadline: deadline, quit: make(chan struct{}),
		next: 1, notify: make(chan struct{}, 1), acked: make([]int, n+1), tx: make([][]int, n+1)}
}

func (s *chaosSender) stop() {
	close(s.quit)
	if s.c != nil {
		s.c.abort()
	}
}

func (s *chaosSender) errors() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.errs)
}

func (s *chaosSender) stats() string {
	return fmt.Sprintf("%d connections, %d resumed, %d resumptions failed, %d fresh sessions, %d messages re-sent",
		s.cl.connCount(), s.resumes, s.failedResumes, s.freshSessions, s.retransmissions)
}

func (s *chaosSender) state() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("next %d, acked %d, %d unacknowledged stanzas from h=%d", s.next, s.nAck, len(s.queue), s.base)
}

// handle runs in the reader of each of the sender's connections.
func (s *chaosSender) handle(c *xconn, e *element) {
	switch {
	case e.is(nsSM3, "a"):
		h, err := parseH(e.H)
		s.mu.Lock()
		if s.deaf {
			s.mu.Unlock()
			return
		}
		if err != nil {
			s.errs = append(s.errs, fmt.Sprintf("<a/>: %v", err))
		} else {
			s.ackLocked(h, c.run)
		}
		s.mu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	case e.is(nsClient, "message") && e.Type == "error":
		s.mu.Lock()
		s.errs = append(s.errs, fmt.Sprintf("message %s bounced: %s", e.ID, e.errorText()))
		s.mu.Unlock()
	case e.is(nsStream, "error") && (s.shutdown == "" || e.streamErrorCondition() != s.shutdown):
		s.mu.Lock()
		s.errs = append(s.errs, fmt.Sprintf("run %d: stream error %s", c.run, e.streamErrorCondition()))
		s.mu.Unlock()
	}
}

// ackLocked drops what the server's handled count h covers from the
// queue; the messages among it count as acked in run.
func (s *chaosSender) ackLocked(h uint32, run int) {
	n := h - s.base // mod 2^32, as XEP-0198 counts
	if int64(n) > int64(len(s.queue)) {
		s.errs = append(s.errs, fmt.Sprintf("run %d: server acked h=%d, but only %d stanzas were sent after h=%d", run, h, len(s.queue), s.base))
		return
	}
	for _, o := range s.queue[:n] {
		if o.seq > 0 && s.acked[o.seq] == 0 {
			s.acked[o.seq] = run
			s.nAck++
		}
	}
	s.queue = s.queue[n:]
	s.base = h
}

// transmit queues entries and writes them (then <r/>, if requestAck) on
// c. A write error is left to the reader, which sees the broken
// connection too.
func (s *chaosSender) transmit(c *xconn, entries []outStanza, requestAck bool) error {
	var b strings.Builder
	s.mu.Lock()
	for _, o := range entries {
		s.queue = append(s.queue, o)
		b.WriteString(o.raw)
		if o.seq > 0 {
			s.tx[o.seq] = append(s.tx[o.seq], c.run)
		}
	}
	s.mu.Unlock()
	if requestAck {
		b.WriteString(`<r xmlns='` + nsSM3 + `'/>`)
	}
	return c.send(b.String())
}

// newMessages takes the next k messages never sent.
func (s *chaosSender) newMessages(k int) []outStanza {
	k = min(k, s.n-s.next+1)
	out := make([]outStanza, k)
	for i := range out {
		out[i] = outStanza{seq: s.next, raw: chaosMessage(s.seed, s.next)}
		s.next++
	}
	return out
}

// run sends every message and returns once the server has acked all of
// them, carrying out each event once the sender reaches its point.
func (s *chaosSender) run(t *testing.T, events []chaosEvent) {
	t.Helper()
	s.reconnect(t, false)
	stall := time.NewTimer(chaosStall)
	defer stall.Stop()
	for {
		s.mu.Lock()
		done, unacked := s.nAck == s.n, len(s.queue)
		s.mu.Unlock()
		switch {
		case done:
			return
		case time.Now().After(s.deadline):
			t.Fatalf("sender: not done within %v: %s", chaosTimeout, s.state())
		case len(events) > 0 && s.next-1 >= events[0].At:
			s.onEvent(events[0])
			events = events[1:]
			continue
		}
		select {
		case <-s.c.done:
			s.reconnect(t, true)
			continue
		default:
		}
		lag := s.recv.missing(s, s.c.run)
		if s.next <= s.n && unacked+chaosBatch <= chaosWindow && lag < chaosLag {
			s.transmit(s.c, s.newMessages(chaosBatch), true)
			continue
		}
		stall.Reset(chaosStall)
		select {
		case <-s.notify:
		case <-s.recv.progress:
		case <-s.c.done:
		case <-stall.C:
			t.Fatalf("sender: no ack and no message received for %v: %s; the receiver lacks %d messages acked in this run", chaosStall, s.state(), lag)
		}
	}
}

// reconnect replaces a connection that has ended (its reader is done, so
// every ack it read is counted): it resumes the session if tryResume and
// the server still has it, and otherwise starts a fresh one; then it
// re-sends every unacknowledged message.
func (s *chaosSender) reconnect(t *testing.T, tryResume bool) sessionStart {
	t.Helper()
	if s.c != nil {
		if err := s.c.wait(chaosStall); err != nil {
			t.Fatal(err)
		}
	}
	c, st, err := s.cl.connectAny(s.runs, tryResume, s.deadline, s.quit)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	if st.Resumed {
		s.resumes++
		s.ackLocked(st.H, c.run)
	} else {
		if st.Tried {
			s.failedResumes++
		}
		if st.HasFailedH {
			s.ackLocked(st.FailedH, c.run)
		}
		s.freshSessions++
		// A new session counts from 0; a ping of the old one is moot.
		var keep []outStanza
		for _, o := range s.queue {
			if o.seq > 0 {
				keep = append(keep, o)
			}
		}
		s.queue, s.base = keep, 0
	}
	// Everything left in the queue goes again, in order; the server
	// counts it from the h it reported (or from 0 in a fresh session).
	var b strings.Builder
	for _, o := range s.queue {
		b.WriteString(o.raw)
		if o.seq > 0 {
			s.tx[o.seq] = append(s.tx[o.seq], c.run)
			s.retransmissions++
		}
	}
	s.mu.Unlock()
	s.c = c
	c.start(s.handle)
	if b.Len() > 0 {
		b.WriteString(`<r xmlns='` + nsSM3 + `'/>`)
		c.send(b.String())
	}
	return st
}

// afterKill reconnects after ringd was killed and restarted: resumption
// must fail (the new run knows no session), so this is a fresh session
// re-sending everything unacknowledged.
func (s *chaosSender) afterKill(t *testing.T) {
	t.Helper()
	if st := s.reconnect(t, true); st.Resumed || !st.Tried {
		s.mu.Lock()
		s.errs = append(s.errs, fmt.Sprintf("after a restart: %+v, want a failed resumption", st))
		s.mu.Unlock()
	}
}

// pump sends k more messages and waits until the server has acked
// everything sent.
func (s *chaosSender) pump(t *testing.T, k int) {
	t.Helper()
	last := min(s.next+k-1, s.n)
	for s.next <= last {
		s.mu.Lock()
		room := chaosWindow - len(s.queue)
		s.mu.Unlock()
		if room < chaosBatch {
			s.awaitAck(t)
			continue
		}
		s.transmit(s.c, s.newMessages(min(chaosBatch, last-s.next+1)), true)
	}
	for {
		s.mu.Lock()
		empty := len(s.queue) == 0
		s.mu.Unlock()
		if empty {
			return
		}
		s.awaitAck(t)
	}
}

// awaitAck waits for an ack; the connection must stay up meanwhile.
func (s *chaosSender) awaitAck(t *testing.T) {
	t.Helper()
	timer := time.NewTimer(chaosStall)
	defer timer.Stop()
	select {
	case <-s.notify:
	case <-s.c.done:
		t.Fatalf("sender: connection lost (%v) while no chaos was due: %s", s.c.err, s.state())
	case <-timer.C:
		t.Fatalf("sender: no ack for %v: %s", chaosStall, s.state())
	}
}

// cutResume cuts the sender's TCP connection with messages in flight and
// resumes; it re-sends what <resumed h/> does not cover.
func (s *chaosSender) cutResume(t *testing.T) {
	t.Helper()
	s.transmit(s.c, s.newMessages(chaosBatch), false)
	s.c.abort()
	if st := s.reconnect(t, true); !st.Resumed {
		t.Errorf("%s: the sender could not resume its session (server alive): %+v", evCutResume, st)
	}
}

// cutFresh is a client that loses its connection and its stream
// management state but keeps its outbox (an app restarted by the OS): it
// sends a batch and a ping, whose answer proves the server routed the
// batch; the connection dies with the server's acks for the batch still
// on the way (the client reads none from here on), and a fresh session
// re-sends every message no <a h/> it read covered. Those were all
// routed, so the dedupe window must drop every one: it returns how many
// were re-sent, once the server has acked them all.
func (s *chaosSender) cutFresh(t *testing.T) int {
	t.Helper()
	c := s.c
	s.mu.Lock()
	s.deaf = true
	s.mu.Unlock()
	s.transmit(c, s.newMessages(chaosBatch), true)
	s.pingN++
	id := fmt.Sprintf("sender-ping-%d", s.pingN)
	err := c.pingVia(id, chaosStall, func(raw string) error {
		return s.transmit(c, []outStanza{{raw: raw}}, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	c.abort()
	if err := c.wait(chaosStall); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.deaf = false
	retried := 0
	for _, o := range s.queue {
		if o.seq > 0 {
			retried++
		}
	}
	s.mu.Unlock()
	s.cl.Forget()
	s.reconnect(t, false)
	waitFor(t, chaosStall, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.queue) == 0
	})
	return retried
}

// missing counts the messages acked to s in run that the receiver has
// not got: what a crash of that run must not lose.
func (r *chaosReceiver) missing(s *chaosSender, run int) int {
	r.mu.Lock()
	seen := slices.Clone(r.seen)
	r.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for seq, acked := range s.acked {
		if acked == run && !seen[seq] {
			n++
		}
	}
	return n
}

// chaosReceiver is bob: logged in with stream management, acking what
// the server asks for, reconnecting after every cut or kill (resuming if
// it can, else a fresh session and initial presence, which brings what was
// stored meanwhile), and recording every message it reads.
type chaosReceiver struct {
	cl       *smClient
	runs     *serverRuns
	seed     uint64
	deadline time.Time
	quit     chan struct{}

	ready      chan struct{}       // the first session is available
	awayReq    chan chan struct{}  // cut the connection and stay away
	backReq    chan chan cutResult // reconnect, report how
	handoffReq chan chan *xconn    // hand the live connection over and stop
	exited     chan struct{}
	fatal      error // why loop stopped early; valid once exited is closed
	stopOnce   sync.Once

	progress chan struct{} // poked when a message arrives

	mu      sync.Mutex
	got     []reception
	seen    []bool // by seq
	errs    []string
	resumes int
	fresh   int
	failed  int
	cur     *xconn
	history []string // each connection: its number, run and how it began
}

type reception struct {
	seq, run, conn int
	delayed        bool   // it had a XEP-0203 delay (from offline storage)
	delayFrom      string // the first delay's from
}

type cutResult struct {
	st  sessionStart
	err error
}

func newChaosReceiver(cl *smClient, runs *serverRuns, seed uint64, deadline time.Time, quit chan struct{}) *chaosReceiver {
	return &chaosReceiver{cl: cl, runs: runs, seed: seed, deadline: deadline, quit: quit,
		ready: make(chan struct{}), awayReq: make(chan chan struct{}), backReq: make(chan chan cutResult),
		handoffReq: make(chan chan *xconn), exited: make(chan struct{}),
		progress: make(chan struct{}, 1), seen: make([]bool, chaosMessages+1)}
}

func (r *chaosReceiver) stop() {
	r.stopOnce.Do(func() { close(r.quit) })
	r.mu.Lock()
	if r.cur != nil {
		r.cur.abort()
	}
	r.mu.Unlock()
	<-r.exited
}

func (r *chaosReceiver) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

func (r *chaosReceiver) stats() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("%d connections, %d resumed, %d resumptions failed, %d fresh sessions", r.cl.connCount(), r.resumes, r.failed, r.fresh)
}

// handle runs in the reader of each of the receiver's connections.
func (r *chaosReceiver) handle(c *xconn, e *element) {
	if !e.is(nsClient, "message") {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e.Type == "error" {
		r.errs = append(r.errs, fmt.Sprintf("error message %s: %s", e.ID, e.errorText()))
		return
	}
	body := ""
	if e.Body != nil {
		body = *e.Body
	}
	seq, err := strconv.Atoi(strings.TrimPrefix(body, "chaos "))
	if err != nil || seq < 1 || seq > chaosMessages || body != chaosBody(seq) {
		r.errs = append(r.errs, fmt.Sprintf("unexpected message %s body %q", e.ID, body))
		return
	}
	id, oid := chaosIDs(r.seed, seq)
	from, _, _ := strings.Cut(e.From, "/")
	switch {
	case from != alice.JID:
		r.errs = append(r.errs, fmt.Sprintf("message %d from %q, want %s", seq, e.From, alice.JID))
	case e.ID != id:
		r.errs = append(r.errs, fmt.Sprintf("message %d has id %q, want %q", seq, e.ID, id))
	case e.OriginID == nil || e.OriginID.ID != oid:
		r.errs = append(r.errs, fmt.Sprintf("message %d lost its origin-id %q", seq, oid))
	}
	rec := reception{seq: seq, run: c.run, conn: c.n, delayed: len(e.Delays) > 0}
	if rec.delayed {
		rec.delayFrom = e.Delays[0].From
	}
	r.got = append(r.got, rec)
	r.seen[seq] = true
	select {
	case r.progress <- struct{}{}:
	default:
	}
}

// loop keeps the receiver connected until it hands its connection over.
func (r *chaosReceiver) loop() {
	defer close(r.exited)
	var pending chan cutResult
	first := true
	for {
		c, st, err := r.cl.connectAny(r.runs, true, r.deadline, r.quit)
		if err != nil {
			r.fatal = err
			if pending != nil {
				pending <- cutResult{err: err}
			}
			return
		}
		r.mu.Lock()
		r.cur = c
		r.history = append(r.history, fmt.Sprintf("%d: run %d, %+v", c.n, c.run, st))
		switch {
		case st.Resumed:
			r.resumes++
		case st.Tried:
			r.failed++
			r.fresh++
		default:
			r.fresh++
		}
		r.mu.Unlock()
		c.start(r.handle)
		if !st.Resumed {
			// Available: bob's bare JID reaches this session, and the
			// server delivers what it stored for him. The ping's answer
			// comes after all of that.
			c.send("<presence/>")
			if err := c.ping(fmt.Sprintf("receiver-%d", c.n), chaosStall); err != nil {
				c.abort() // the server went away again
				<-c.done
				continue
			}
		}
		if first {
			first = false
			close(r.ready)
		}
		if pending != nil {
			pending <- cutResult{st: st}
			pending = nil
		}
		select {
		case <-c.done:
		case reply := <-r.awayReq:
			c.abort()
			<-c.done
			reply <- struct{}{}
			select {
			case pending = <-r.backReq:
			case <-r.quit:
				return
			}
		case reply := <-r.handoffReq:
			reply <- c
			return
		case <-r.quit:
			c.abort()
			return
		}
	}
}

// away cuts the receiver's TCP connection, as a phone losing its network
// does (the server keeps its session for resumption), and keeps it
// offline until back.
func (r *chaosReceiver) away() error {
	reply := make(chan struct{}, 1)
	select {
	case r.awayReq <- reply:
		<-reply
		return nil
	case <-r.exited:
		return fmt.Errorf("receiver stopped: %v", r.fatal)
	}
}

// back lets the receiver reconnect after away and waits until it has:
// resumed, or logged in afresh and sent initial presence.
func (r *chaosReceiver) back() (sessionStart, error) {
	reply := make(chan cutResult, 1)
	select {
	case r.backReq <- reply:
	case <-r.exited:
		return sessionStart{}, fmt.Errorf("receiver stopped: %v", r.fatal)
	}
	select {
	case res := <-reply:
		return res.st, res.err
	case <-r.exited:
		select {
		case res := <-reply:
			return res.st, res.err
		default:
			return sessionStart{}, fmt.Errorf("receiver stopped: %v", r.fatal)
		}
	}
}

// handoff stops the receiver's loop and returns its live connection.
func (r *chaosReceiver) handoff() (*xconn, error) {
	reply := make(chan *xconn, 1)
	select {
	case r.handoffReq <- reply:
		return <-reply, nil
	case <-r.exited:
		return nil, fmt.Errorf("receiver stopped: %v", r.fatal)
	}
}

// drain collects what the server still holds for the receiver once the
// sender is done: what is queued for its session (a ping's answer comes
// after it), then what is stored, with fresh logins until one brings
// nothing. Each stream is closed only after acking everything read, so
// nothing is handed back to storage to come again. It returns the number
// of logins.
func (r *chaosReceiver) drain(c *xconn) (int, error) {
	for login := 0; ; login++ {
		if err := c.ping(fmt.Sprintf("drain-%d", login), chaosStall); err != nil {
			return login, err
		}
		got := 0
		for _, g := range r.receivedAll() {
			if g.conn == c.n {
				got++
			}
		}
		c.ack()
		c.closeStream()
		if err := c.wait(chaosStall); err != nil {
			return login, err
		}
		if login > 0 && got == 0 {
			return login, nil
		}
		if login == 10 {
			return login, fmt.Errorf("still receiving messages after %d logins", login)
		}
		var err error
		if c, _, err = r.cl.connectAny(r.runs, false, r.deadline, r.quit); err != nil {
			return login, err
		}
		r.mu.Lock()
		r.cur = c
		r.fresh++
		r.history = append(r.history, fmt.Sprintf("%d: run %d, drain login", c.n, c.run))
		r.mu.Unlock()
		c.start(r.handle)
		c.send("<presence/>")
	}
}

func (r *chaosReceiver) receivedAll() []reception {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// chaosReport is what happened to every message.
type chaosReport struct {
	sent, transmissions, acked    int
	distinct, deliveries, delayed int
	dupCrash, dupRetry            int
	lost, retryDups               []int
	lostByRun                     map[int][]int // by the run that acked them
}

// chaosAnalyse compares what the sender sent and the server acked with
// what the receiver got. A duplicate is attributed to a crash when the
// message's copies span more than one server run (sent or received in
// two runs: at-least-once allows a second delivery after a kill, since
// ringd's dedupe table lives in memory); otherwise it is a retry
// duplicate, which must not happen.
func chaosAnalyse(s *chaosSender, r *chaosReceiver) chaosReport {
	rep := chaosReport{lostByRun: make(map[int][]int)}
	rx := make([][]reception, s.n+1)
	for _, g := range r.receivedAll() {
		rx[g.seq] = append(rx[g.seq], g)
		rep.deliveries++
		if g.delayed {
			rep.delayed++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for seq := 1; seq <= s.n; seq++ {
		if len(s.tx[seq]) > 0 {
			rep.sent++
		}
		rep.transmissions += len(s.tx[seq])
		if s.acked[seq] != 0 {
			rep.acked++
		}
		if len(rx[seq]) > 0 {
			rep.distinct++
		}
		if s.acked[seq] != 0 && len(rx[seq]) == 0 {
			rep.lost = append(rep.lost, seq)
			rep.lostByRun[s.acked[seq]] = append(rep.lostByRun[s.acked[seq]], seq)
		}
		if len(rx[seq]) < 2 {
			continue
		}
		runs := slices.Clone(s.tx[seq])
		for _, g := range rx[seq] {
			runs = append(runs, g.run)
		}
		slices.Sort(runs)
		if len(slices.Compact(runs)) > 1 {
			rep.dupCrash += len(rx[seq]) - 1
		} else {
			rep.dupRetry += len(rx[seq]) - 1
			rep.retryDups = append(rep.retryDups, seq)
		}
	}
	return rep
}

func (rep chaosReport) summary() string {
	return fmt.Sprintf("sent %d (%d transmissions), acked %d, received %d distinct in %d deliveries (%d from offline storage with a delay), "+
		"duplicates %d (after a crash %d, plain retries %d), lost %d",
		rep.sent, rep.transmissions, rep.acked, rep.distinct, rep.deliveries, rep.delayed,
		rep.dupCrash+rep.dupRetry, rep.dupCrash, rep.dupRetry, len(rep.lost))
}

// lostDetail lists the lost messages by the server run that acked them
// (the kill that ended that run lost them).
func (rep chaosReport) lostDetail() string {
	var b strings.Builder
	for _, run := range slices.Sorted(maps.Keys(rep.lostByRun)) {
		how := fmt.Sprintf("ended by kill -9 #%d", run)
		if run > chaosKills {
			how = "the last run, never killed"
		}
		fmt.Fprintf(&b, "  acked in run %d (%s): %d: %s\n", run, how, len(rep.lostByRun[run]), seqRanges(rep.lostByRun[run]))
	}
	return b.String()
}

// seqRanges writes sorted sequence numbers compactly: "3-7, 12, 40-41".
func seqRanges(seqs []int) string {
	var parts []string
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, strconv.Itoa(seqs[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", seqs[i], seqs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// chaosHistory tells what happened to a few of seqs: each transmission's
// server run, and each copy received (run, receiver connection, whether
// it came from offline storage).
func chaosHistory(s *chaosSender, r *chaosReceiver, seqs []int) string {
	const show = 5
	var picks []int
	for i, seq := range seqs {
		if i < show/2+1 || i >= len(seqs)-show/2 {
			picks = append(picks, seq)
		}
	}
	got := r.receivedAll()
	var b strings.Builder
	r.mu.Lock()
	fmt.Fprintf(&b, "  receiver connections: %s\n", strings.Join(r.history, "; "))
	r.mu.Unlock()
	for _, seq := range picks {
		s.mu.Lock()
		tx := slices.Clone(s.tx[seq])
		acked := s.acked[seq]
		s.mu.Unlock()
		fmt.Fprintf(&b, "  message %d: sent in runs %v, acked in run %d, received:", seq, tx, acked)
		for _, g := range got {
			if g.seq == seq {
				fmt.Fprintf(&b, " [run %d, connection %d, delayed %v]", g.run, g.conn, g.delayed)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
