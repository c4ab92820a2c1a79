package c2s

import "sync"

// outbound is a session's bounded queue of serialised stanzas. Push never
// blocks; the writer goroutine takes everything queued at once.
type outbound struct {
	mu       sync.Mutex
	items    [][]byte
	spare    [][]byte
	pending  int  // bytes queued
	max      int  // bytes allowed before the client counts as too slow
	closed   bool // no more pushes (closing or cut off)
	final    []byte
	finalSet bool
	wake     chan struct{}
}

func newOutbound(max int) *outbound {
	return &outbound{max: max, wake: make(chan struct{}, 1)}
}

// push queues b. It returns false without queueing when the queue is closed;
// overflow reports whether b would exceed the byte bound (the caller then
// cuts the session off).
func (q *outbound) push(b []byte) (ok, overflow bool) {
	q.mu.Lock()
	if q.closed {
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
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true, false
}

// close stops further pushes; final (e.g. a stream error and the stream
// close tag) is written after what is already queued. Only the first close
// sets final.
func (q *outbound) close(final []byte) {
	q.mu.Lock()
	if !q.finalSet {
		q.final = final
		q.finalSet = true
	}
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take returns everything queued, reusing the previous batch's slice, and
// whether the queue is closed (then final is what to write last).
func (q *outbound) take() (batch [][]byte, closed bool, final []byte) {
	q.mu.Lock()
	batch = q.items
	q.items = q.spare[:0]
	q.spare = batch
	q.pending = 0
	closed, final = q.closed, q.final
	q.mu.Unlock()
	return batch, closed, final
}
