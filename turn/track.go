package turn

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
)

// tracker knows the sockets pion works on, so that Close can close the
// ones pion leaves open (accepted TCP connections) and wait until every
// reader has returned. busy counts open sockets plus reads in progress; it
// is atomic because relay sockets touch it twice per packet.
type tracker struct {
	busy    atomic.Int64
	closing atomic.Bool
	wake    chan struct{} // one pending wake-up for wait

	mu     sync.Mutex
	conns  map[io.Closer]struct{}
	closed bool
}

func newTracker() *tracker {
	return &tracker{wake: make(chan struct{}, 1), conns: make(map[io.Closer]struct{})}
}

func (t *tracker) enter() { t.busy.Add(1) }

func (t *tracker) leave() {
	if t.busy.Add(-1) == 0 && t.closing.Load() {
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// open records a new socket; closeAll closes it unless it closes itself
// first (forget). After closeAll, open closes c at once and reports false.
func (t *tracker) open(c io.Closer) bool {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	t.enter()
	t.mu.Unlock()
	return true
}

// forget is called once by c's Close.
func (t *tracker) forget(c io.Closer) {
	t.mu.Lock()
	_, ok := t.conns[c]
	delete(t.conns, c)
	t.mu.Unlock()
	if ok {
		t.leave()
	}
}

// closeAll closes every open socket and refuses new ones.
func (t *tracker) closeAll() {
	t.mu.Lock()
	t.closed = true
	conns := make([]io.Closer, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// wait returns when no socket is open and no read is in progress, or with
// ctx's error.
func (t *tracker) wait(ctx context.Context) error {
	t.closing.Store(true)
	for t.busy.Load() != 0 {
		select {
		case <-t.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
