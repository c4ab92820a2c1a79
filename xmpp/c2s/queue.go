package c2s

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
)

// outbound is a session's bounded queue of serialised stanzas. Push never
// blocks; the writer goroutine takes everything queued at once (with
// stream management, as much as the window of unacknowledged stanzas
// allows).
//
// The byte bound covers what is queued plus what the writer has taken but
// not yet written, so a writer stuck on a client that does not read cannot
// hide a second full queue behind the batch it is writing. With stream
// management (XEP-0198) it also covers what was written and is not yet
// acknowledged: those stanzas stay in unacked, the same byte slices the
// writer wrote, until the client's <a h/> releases them.
//
// The queue belongs to the session, not to the connection: a hibernating
// session keeps it (with no writer), and the connection that resumes the
// session starts a writer on it after rewinding the unacknowledged
// stanzas to the front.
//
// A message queued once stream management is on may carry the id of its
// in-flight record (Journal): the record lives as long as the queue holds
// the message, and the id comes back when the client acknowledges it
// (ack, resume) or when the queue is sealed, for the caller to release.
type outbound struct {
	mu      sync.Mutex
	items   []entry // queued, not yet taken by the writer, oldest first
	spare   []entry
	pending int      // bytes held: queued, being written and (SM) unacknowledged
	queued  int      // bytes of items: queued, not yet taken by the writer
	max     int      // bytes allowed before the client counts as too slow
	final   [][]byte // written after the last batch once closed
	sealed  bool     // what is held was handed back (requeued): pushes fail
	wake    chan struct{}
	taken   chan struct{} // closed at the next take (or end) for WaitQueued; nil when nobody waits

	// record, when set, records a message queued with stream management
	// on and returns the record's id (0 for none). It runs under mu, so
	// records are made in queue order.
	record func(b []byte) int64
	pushes uint32 // stanzas pushed, to sample one in sampleEvery

	// closed is set (under mu) by the first close: the stream ends with
	// final. It is atomic so that the reader can check it per stanza
	// without the lock. Stanzas pushed after close are still taken (to be
	// requeued when the session ends) until the queue is sealed.
	closed atomic.Bool

	// XEP-0198 state, all zero until <enable/> was accepted.
	sm       bool     // counting: the writer has taken <enabled/>
	enableAt int      // index in items of the queued <enabled/>; -1 for none
	unacked  ring     // stanzas the writer took since <enabled/>, not yet acknowledged
	outH     uint32   // stanzas taken since <enabled/>, mod 2^32: the client's h once it has them all
	ackH     uint32   // the client's last <a h/>
	window   int      // at most this many unacknowledged stanzas are written (MaxUnacked)
	ackEvery int      // ask for an ack after this many stanzas
	sinceReq int      // stanzas taken since the last <r/>
	reqOut   bool     // an <r/> went out and no <a/> came back since
	ackDue   bool     // the client asked (<r/>): write <a h/>
	ctrl     [][]byte // other stream management elements to write (<failed/>)
	detached bool     // no connection (hibernating): held stanzas bounded by window
}

// entry is a queued stanza and the id of its in-flight record, 0 for
// none.
type entry struct {
	b   []byte
	rec int64
	at  int64 // monoNow when queued, for the latency histogram; 0 when not sampled
}

// batch is what the writer writes in one go, filled by take. The writer
// owns it and reuses it from batch to batch.
type batch struct {
	stanzas   []entry
	uncounted int      // leading stanzas not kept for acknowledgement
	release   int      // bytes to release after writing (all but those kept unacked)
	ctrl      [][]byte // stream management elements, after the stanzas
	ack       bool     // write <a h/> with the session's handled count
	request   bool     // write <r/>
	closed    bool     // the stream ends: write final, then half-close
	final     [][]byte
}

func newOutbound(max int) *outbound {
	return &outbound{max: max, wake: make(chan struct{}, 1), enableAt: -1}
}

// push queues b. It returns false without queueing when the queue is
// sealed, or when b would exceed the byte bound: then overflow is true
// too and the caller cuts the session off. A hibernating session holding
// window stanzas takes b and reports overflow: it ends, and b is requeued
// with the rest.
func (q *outbound) push(b []byte) (ok, overflow bool) {
	q.mu.Lock()
	if q.sealed {
		q.mu.Unlock()
		return false, false
	}
	if q.pending+len(b) > q.max {
		q.mu.Unlock()
		return false, true
	}
	var rec int64
	if q.record != nil && (q.sm || q.enableAt >= 0) && len(b) > 1 && b[1] == 'm' {
		rec = q.record(b)
	}
	var at int64
	if q.pushes++; q.pushes%sampleEvery == 0 {
		at = monoNow()
	}
	q.items = append(q.items, entry{b: b, rec: rec, at: at})
	q.pending += len(b)
	q.queued += len(b)
	over := q.detached && len(q.items)+q.unacked.len() > q.window
	q.mu.Unlock()
	q.signal()
	return true, over
}

func (q *outbound) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close ends the stream; final (e.g. a stream error and the stream close
// tag, one element per part) is written after what is already queued.
// Only the first close counts: it returns true, later ones change nothing
// and return false.
func (q *outbound) close(final ...[]byte) bool {
	q.mu.Lock()
	if q.closed.Load() {
		q.mu.Unlock()
		return false
	}
	q.final = final
	q.closed.Store(true)
	q.wakeWaiter()
	q.mu.Unlock()
	q.signal()
	return true
}

// wakeWaiter lets WaitQueued look again. q.mu is held.
func (q *outbound) wakeWaiter() {
	if q.taken != nil {
		close(q.taken)
		q.taken = nil
	}
}

// errWaitForAcks is WaitQueued's answer when the writer waits for acks
// that only the waiting reader could read.
var errWaitForAcks = errors.New("c2s: only the client's acks can make room in its queue")

// errSessionEnded is WaitQueued's answer once the stream is closing.
var errSessionEnded = errors.New("c2s: session ended")

// waitQueued waits until at most maxBytes are queued and not yet taken by
// the writer, and maxBytes more fit under the byte bound. It fails once
// the stream is closing, and when only acks could make room: no writer
// runs (hibernation), the window is full, or the unacknowledged stanzas
// leave no room for maxBytes. The caller is the session's own reader, the
// one that reads acks.
func (q *outbound) waitQueued(ctx context.Context, maxBytes int) error {
	maxBytes = min(maxBytes, q.max/2)
	for {
		q.mu.Lock()
		switch {
		case q.closed.Load():
			q.mu.Unlock()
			return errSessionEnded
		case q.queued <= maxBytes && q.pending+maxBytes <= q.max:
			q.mu.Unlock()
			return nil
		case q.detached || q.sm && (q.unacked.len() >= q.window || q.pending-q.queued+maxBytes > q.max):
			q.mu.Unlock()
			return errWaitForAcks
		}
		if q.taken == nil {
			q.taken = make(chan struct{})
		}
		ch := q.taken
		q.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// isClosed reports whether close was called.
func (q *outbound) isClosed() bool { return q.closed.Load() }

// take fills w with what to write next. Without stream management that
// is everything queued, reusing the slice of the batch before last; the
// bytes stay counted until the writer calls written. With it, at most
// window stanzas are left unacknowledged: the rest waits for the client's
// acks, and an <r/> asks for them. Once the queue is closed, a session
// with stream management gets no more stanzas written: what is left is
// requeued, so the client does not get it twice.
func (q *outbound) take(w *batch) {
	q.mu.Lock()
	w.stanzas, w.uncounted, w.release, w.ctrl, w.ack, w.request = nil, 0, 0, nil, false, false
	w.closed, w.final = q.closed.Load(), q.final
	switch {
	case w.closed && (q.sm || q.enableAt >= 0):
		// No stanzas: they are requeued when the session ends.
	case !q.sm && q.enableAt < 0:
		w.stanzas = q.items
		clear(q.spare) // drop references to stanzas already written
		q.items = q.spare[:0]
		q.spare = w.stanzas
		for _, e := range w.stanzas {
			w.release += len(e.b)
		}
		w.uncounted = len(w.stanzas)
		q.queued = 0
	default:
		q.takeSM(w)
	}
	q.wakeWaiter()
	if q.ackDue || (w.closed && q.sm) {
		w.ack, q.ackDue = true, false
	}
	if q.sm && !q.reqOut && q.unacked.len() > 0 && (w.closed || len(q.items) == 0 ||
		q.sinceReq >= q.ackEvery || q.unacked.len() >= q.window) {
		w.request, q.reqOut, q.sinceReq = true, true, 0
	}
	if len(q.ctrl) > 0 {
		w.ctrl, q.ctrl = q.ctrl, nil
	}
	q.mu.Unlock()
}

// takeSM takes up to the window's room, moving the counted stanzas to
// unacked. The stanzas before a queued <enabled/> (and <enabled/> itself)
// are not counted: the client counts from <enabled/> on.
func (q *outbound) takeSM(w *batch) {
	k := len(q.items)
	if q.sm {
		k = min(k, max(q.window-q.unacked.len(), 0))
	}
	switch {
	case k == 0:
		return
	case k == len(q.items):
		w.stanzas = q.items
		clear(q.spare)
		q.items = q.spare[:0]
		q.spare = w.stanzas
	default:
		// The rest stays queued in the same array: do not reuse it.
		w.stanzas = q.items[:k:k]
		q.items = q.items[k:]
		q.spare = nil
	}
	from := 0
	if q.enableAt >= 0 {
		for _, e := range w.stanzas[:q.enableAt+1] {
			w.release += len(e.b)
		}
		from = q.enableAt + 1
		w.uncounted = from
		q.enableAt = -1
		q.sm = true
	}
	counted := 0
	for _, e := range w.stanzas[from:] {
		q.unacked.push(e)
		counted += len(e.b)
	}
	q.queued -= w.release + counted
	n := len(w.stanzas) - from
	q.outH += uint32(n)
	q.sinceReq += n
}

// written releases n bytes the writer has written.
func (q *outbound) written(n int) {
	if n == 0 {
		return
	}
	q.mu.Lock()
	q.pending -= n
	q.wakeWaiter()
	q.mu.Unlock()
}

// unwrite puts back a batch whose write failed, so that it is requeued
// with the rest (stanzas the writer took without stream management).
func (q *outbound) unwrite(stanzas []entry) {
	if len(stanzas) == 0 {
		return
	}
	q.mu.Lock()
	items := make([]entry, 0, len(stanzas)+len(q.items))
	items = append(append(items, stanzas...), q.items...)
	q.items, q.spare = items, nil
	for _, e := range stanzas {
		q.queued += len(e.b)
	}
	q.mu.Unlock()
}

// enable queues <enabled/> (b): stanzas queued after it are counted,
// kept until acknowledged and written at most window unacknowledged.
func (q *outbound) enable(b []byte, window, ackEvery int) {
	q.mu.Lock()
	q.items = append(q.items, entry{b: b})
	q.pending += len(b)
	q.queued += len(b)
	q.enableAt = len(q.items) - 1
	q.window, q.ackEvery = window, ackEvery
	q.mu.Unlock()
	q.signal()
}

// control queues a stream management element written after the next
// batch (<failed/>, say); it is not a stanza and is not counted.
func (q *outbound) control(b []byte) {
	q.mu.Lock()
	q.ctrl = append(q.ctrl, b)
	q.mu.Unlock()
	q.signal()
}

// requestAck makes the writer answer the client's <r/> with <a h/>.
func (q *outbound) requestAck() {
	q.mu.Lock()
	q.ackDue = true
	q.mu.Unlock()
	q.signal()
}

// ack handles the client's <a h/>: the stanzas it covers are dropped and
// their bytes released, and the ids of their in-flight records returned
// in recs. An h below the last one (mod 2^32) is stale and ignored; one
// above what was sent is refused: ok is false and sent is how many
// stanzas were sent (XEP-0198 §4 handled-count-too-high).
func (q *outbound) ack(h uint32) (ok bool, sent uint32, recs []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := h - q.ackH
	if int32(d) < 0 {
		return true, q.outH, nil
	}
	if d > uint32(q.unacked.len()) {
		return false, q.outH, nil
	}
	var n int
	n, recs = q.unacked.pop(int(d), nil)
	q.pending -= n
	q.ackH = h
	q.reqOut = false
	if len(q.items) > 0 {
		q.signal() // the window may have room again
	}
	return true, q.outH, recs
}

// resume acknowledges h, as sent in <resume/>, and rewinds: the stanzas
// still unacknowledged go back to the front of the queue, to be written
// again (and counted again from h) by the new connection's writer. recs
// are the in-flight records of the stanzas h acknowledged.
func (q *outbound) resume(h uint32) (ok bool, sent uint32, recs []int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d := h - q.ackH
	if d > uint32(q.unacked.len()) {
		return false, q.outH, nil
	}
	var n int
	n, recs = q.unacked.pop(int(d), nil)
	q.pending -= n
	q.ackH = h
	if n := q.unacked.len(); n > 0 {
		items := make([]entry, 0, n+len(q.items))
		items = q.unacked.appendTo(items)
		for _, e := range items {
			q.queued += len(e.b)
		}
		q.items, q.spare = append(items, q.items...), nil
		if q.enableAt >= 0 {
			q.enableAt += n
		}
	}
	q.outH = q.ackH
	q.sinceReq, q.reqOut, q.ackDue, q.detached = 0, false, false, false
	if len(q.items) > 0 {
		q.signal() // for the new writer
	}
	return true, q.outH, recs
}

// detach marks the queue as having no writer (hibernation): from now on
// holding more than window stanzas ends the session. It reports whether
// it already holds more.
func (q *outbound) detach() (over bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.detached = true
	q.wakeWaiter()
	return len(q.items)+q.unacked.len() > q.window
}

// seal ends the queue for good and returns every stanza it holds, the
// unacknowledged ones first, in the order they were queued, with their
// in-flight records; later pushes fail. A <enabled/> that was never
// written is left out.
func (q *outbound) seal() []entry {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.sealed = true
	q.closed.Store(true)
	held := q.unacked.appendTo(make([]entry, 0, q.unacked.len()+len(q.items)))
	for i, e := range q.items {
		if i != q.enableAt {
			held = append(held, e)
		}
	}
	q.items, q.spare, q.enableAt, q.pending, q.queued = nil, nil, -1, 0, 0
	q.wakeWaiter()
	return held
}

// held reports how many stanzas the queue holds: unacknowledged and
// queued.
func (q *outbound) held() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items) + q.unacked.len()
	if q.enableAt >= 0 {
		n--
	}
	return n
}

// ring is a FIFO of stanzas whose backing array is reused: steady traffic
// with prompt acks allocates nothing. Its length is a power of two.
type ring struct {
	buf  []entry
	head int
	n    int
}

func (r *ring) len() int { return r.n }

func (r *ring) push(e entry) {
	if r.n == len(r.buf) {
		n := r.n
		buf := r.appendTo(make([]entry, 0, max(16, 2*len(r.buf))))
		r.buf, r.head, r.n = buf[:cap(buf)], 0, n
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = e
	r.n++
}

// pop drops the k oldest stanzas and returns their size in bytes, and
// appends the ids of their in-flight records to recs.
func (r *ring) pop(k int, recs []int64) (bytes int, _ []int64) {
	mask := len(r.buf) - 1
	for range k {
		e := r.buf[r.head]
		bytes += len(e.b)
		if e.rec != 0 {
			recs = append(recs, e.rec)
		}
		r.buf[r.head] = entry{}
		r.head = (r.head + 1) & mask
	}
	r.n -= k
	if r.n == 0 {
		r.head = 0
	}
	return bytes, recs
}

// appendTo appends the stanzas oldest first to dst and empties the ring.
func (r *ring) appendTo(dst []entry) []entry {
	mask := len(r.buf) - 1
	for i := range r.n {
		j := (r.head + i) & mask
		dst = append(dst, r.buf[j])
		r.buf[j] = entry{}
	}
	r.head, r.n = 0, 0
	return dst
}
