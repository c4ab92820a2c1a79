package blocking

import (
	"context"
	"sync"
	"sync/atomic"
)

// lists caches users' block lists by localpart so that the gate, which
// runs for every routed stanza, asks the store at most once per user: a
// list is loaded on first use and dropped when it changes (the next use
// loads it again) or when the cache is full. Concurrent first uses share
// one load.
type lists struct {
	load func(ctx context.Context, user string) ([]string, error)
	max  int
	// onLoad and onEvict count, for metrics; either may be nil.
	onLoad, onEvict func()

	mu sync.RWMutex
	m  map[string]*entry
}

// entry is one user's list: loading until l is set or err is.
type entry struct {
	l    atomic.Pointer[list]
	done chan struct{} // closed when the load finished
	err  error         // why it failed; read after done
}

func newLists(max int, load func(context.Context, string) ([]string, error)) *lists {
	return &lists{load: load, max: max, m: make(map[string]*entry)}
}

// get returns the user's list, loading it if it is not cached.
func (c *lists) get(ctx context.Context, user string) (*list, error) {
	c.mu.RLock()
	e := c.m[user]
	c.mu.RUnlock()
	if e != nil {
		if l := e.l.Load(); l != nil {
			return l, nil
		}
	} else {
		var mine bool
		if e, mine = c.start(user); mine {
			c.fill(ctx, user, e)
		}
	}
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.l.Load(), nil
}

// peek returns the cached list of the user whose localpart is the bytes
// b, or nil when none is loaded. It does not allocate, so the gate can
// look up an address it has not parsed: only canonical localparts are
// keys, so a hit means b is canonical.
func (c *lists) peek(b []byte) *list {
	c.mu.RLock()
	e := c.m[string(b)]
	c.mu.RUnlock()
	if e == nil {
		return nil
	}
	return e.l.Load()
}

// start returns the user's entry, creating it when there is none; mine
// says the caller created it and must fill it.
func (c *lists) start(user string) (e *entry, mine bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.m[user]; e != nil {
		return e, false
	}
	if len(c.m) >= c.max {
		c.evictLocked()
	}
	e = &entry{done: make(chan struct{})}
	c.m[user] = e
	return e, true
}

// evictLocked drops about an eighth of the entries, whichever the map
// yields first: the cache is a working set, and a dropped list only costs
// one load when its user next sends or receives something.
func (c *lists) evictLocked() {
	n := len(c.m)/8 + 1
	for k := range c.m {
		if n == 0 {
			break
		}
		delete(c.m, k)
		n--
		if c.onEvict != nil {
			c.onEvict()
		}
	}
}

// fill loads e. A failed load is not cached: the entry leaves the map and
// the next get tries again.
func (c *lists) fill(ctx context.Context, user string, e *entry) {
	if c.onLoad != nil {
		c.onLoad()
	}
	items, err := c.load(ctx, user)
	if err != nil {
		e.err = err
		c.mu.Lock()
		if c.m[user] == e {
			delete(c.m, user)
		}
		c.mu.Unlock()
	} else {
		e.l.Store(newList(items))
	}
	close(e.done)
}

// invalidate forgets the user's list after a change. A load that was
// under way when the change was made may have read the old list; it fills
// the entry it started with, which is no longer in the map, so nobody
// looks it up again.
func (c *lists) invalidate(user string) {
	c.mu.Lock()
	delete(c.m, user)
	c.mu.Unlock()
}

// len returns the number of cached lists.
func (c *lists) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
