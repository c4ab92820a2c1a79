package c2s

import (
	"sync"
	"sync/atomic"
)

// outbound is a session's bounded queue of serialised stanzas. Push never
// blocks; the writer goroutine takes everything queued at once.
//
// The byte bound covers what is queued plus what the writer has taken but
// not yet written, so a writer stuck on a client that does not read cannot
// hide a second full queue behind the batch it is writing.
type outbound struct {
	mu      sync.Mutex
	items   [][]byte
	spare   [][]byte
	pending int      // bytes queued or being written
	max     int      // bytes allowed before the client counts as too slow
	final   [][]byte // written after the last batch once closed
	wake    chan struct{}

	// closed is set (under mu) by the first close: no more pushes. It is
	// atomic so that the reader can check it per stanza without the lock.
	closed atomic.Bool
}

func newOutbound(max int) *outbound {
	return &outbound{max: max, wake: make(chan struct{}, 1)}
}

// push queues b. It returns false without queueing when the queue is closed;
// overflow reports whether b would exceed the byte bound (the caller then
// cuts the session off).
func (q *outbound) push(b []byte) (ok, overflow bool) {
	q.mu.Lock()
	if q.closed.Load() {
		q.mu.Unlock()
		return false, false
	}
	if q.pending+len(b) > q.max {
		q.mu.Unlock()
		return false, true
	}
	q.items = append(q.items, b)
	q.pending += len(b)
	q.mu.Unlock()
	q.signal()
	return true, false
}

func (q *outbound) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close stops further pushes; final (e.g. a stream error and the stream
// close tag, one element per part) is written after what is already
// queued. Only the first close counts: it returns true, later ones change
// nothing and return false.
func (q *outbound) close(final ...[]byte) bool {
	q.mu.Lock()
	if q.closed.Load() {
		q.mu.Unlock()
		return false
	}
	q.final = final
	q.closed.Store(true)
	q.mu.Unlock()
	q.signal()
	return true
}

// isClosed reports whether close was called.
func (q *outbound) isClosed() bool { return q.closed.Load() }

// take returns everything queued, reusing the slice of the batch before
// last, and whether the queue is closed (then final is what to write last).
// The batch's bytes stay counted until the writer calls written.
func (q *outbound) take() (batch [][]byte, closed bool, final [][]byte) {
	q.mu.Lock()
	batch = q.items
	clear(q.spare) // drop references to stanzas already written
	q.items = q.spare[:0]
	q.spare = batch
	closed, final = q.closed.Load(), q.final
	q.mu.Unlock()
	return batch, closed, final
}

// written releases n bytes the writer has written.
func (q *outbound) written(n int) {
	q.mu.Lock()
	q.pending -= n
	q.mu.Unlock()
}
