package jingle

import (
	"container/heap"
	"time"

	"github.com/ringd/ringd/xmpp/router"
)

// callKey names a call: the caller's bare JID and the id the caller's
// client chose (XEP-0353 propose id = XEP-0166 sid). Keying by caller
// keeps one account's ids from touching another's calls.
type callKey struct{ caller, sid string }

// pairKey is (caller bare JID, callee bare JID), for glare detection.
type pairKey struct{ caller, callee string }

type callState uint8

const (
	stateRinging   callState = iota // offered, nobody answered yet
	stateAnswered                   // proceed/accept seen; media not yet set up
	stateConnected                  // session-accept seen
	stateEnded                      // over; kept a while so a retried propose is recognised
)

// outcome is how a call ended, the label of ringd_jingle_calls_total.
type outcome uint8

const (
	outAnswered  outcome = iota // answered, and did not fail before media was set up
	outRejected                 // the callee declined
	outCancelled                // the caller gave up before an answer
	outMissed                   // nobody answered within the ring timeout
	outFailed                   // could not be delivered, or failed after the answer
	outGlare                    // lost a tie-break against a call the other way
	numOutcomes
)

func (o outcome) String() string {
	return [...]string{"answered", "rejected", "cancelled", "missed", "failed", "glare"}[o]
}

// call is one registry entry. Every field is guarded by Handler.mu.
type call struct {
	key    callKey
	ns     string         // JMI namespace of the propose; "" for a call seen only as Jingle IQs
	callee router.Account // the account called
	// callerFull is the full JID that proposed; proposer its session, nil
	// for a call re-armed from offline storage after a restart.
	callerFull string
	proposer   *router.Session
	reached    []*router.Session // sessions the offer was delivered to
	stored     bool              // the offer went to offline storage
	state      callState
	counted    bool // the outcome is in ringd_jingle_calls_total
	lostGlare  bool // a propose the server never delivered (it lost a tie-break)
	rang       bool

	proposed time.Time
	answered time.Time
	expires  time.Time

	idx        int   // position in the deadline heap; -1 when not in it
	prev, next *call // creation order, for eviction
}

// registry is the call table: by key, ringing calls by pair, a heap by
// deadline and a list in creation order. It is not safe for concurrent
// use; Handler.mu guards it.
type registry struct {
	calls   map[callKey]*call
	pairs   map[pairKey]*call // the newest ringing call per (caller, callee)
	ringing map[string]int    // ringing calls per caller bare JID
	byTime  callHeap
	oldest  *call
	newest  *call
	// counted outlives the calls: see countedSet.
	counted countedSet
}

func newRegistry(maxCounted int) registry {
	return registry{
		calls:   make(map[callKey]*call),
		pairs:   make(map[pairKey]*call),
		ringing: make(map[string]int),
		counted: countedSet{max: maxCounted, keys: make(map[callKey]struct{})},
	}
}

func (r *registry) len() int { return len(r.calls) }

func (r *registry) get(k callKey) *call { return r.calls[k] }

// add inserts c (ringing, with key, callee and expires set).
func (r *registry) add(c *call) {
	r.calls[c.key] = c
	c.prev = r.newest
	if r.newest != nil {
		r.newest.next = c
	} else {
		r.oldest = c
	}
	r.newest = c
	c.idx = -1
	heap.Push(&r.byTime, c)
	if c.state == stateRinging {
		r.startRinging(c)
	}
}

// remove deletes c from every index.
func (r *registry) remove(c *call) {
	if r.calls[c.key] == c {
		delete(r.calls, c.key)
	}
	if c.state == stateRinging {
		r.stopRinging(c)
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		r.oldest = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		r.newest = c.prev
	}
	c.prev, c.next = nil, nil
	if c.idx >= 0 {
		heap.Remove(&r.byTime, c.idx)
	}
}

func (r *registry) startRinging(c *call) {
	r.pairs[pairKey{c.key.caller, c.callee.Bare}] = c
	r.ringing[c.key.caller]++
}

func (r *registry) stopRinging(c *call) {
	pk := pairKey{c.key.caller, c.callee.Bare}
	if r.pairs[pk] == c {
		delete(r.pairs, pk)
	}
	if n := r.ringing[c.key.caller]; n <= 1 {
		delete(r.ringing, c.key.caller)
	} else {
		r.ringing[c.key.caller] = n - 1
	}
}

// setState moves c to state s with a new deadline.
func (r *registry) setState(c *call, s callState, expires time.Time) {
	if c.state == stateRinging && s != stateRinging {
		r.stopRinging(c)
	}
	c.state = s
	r.setExpires(c, expires)
}

func (r *registry) setExpires(c *call, t time.Time) {
	c.expires = t
	if c.idx >= 0 {
		heap.Fix(&r.byTime, c.idx)
	}
}

// ringingFrom returns the ringing call from caller to callee, if any.
func (r *registry) ringingFrom(caller, callee string) *call {
	return r.pairs[pairKey{caller, callee}]
}

// next returns the call with the earliest deadline, or nil.
func (r *registry) next() *call {
	if len(r.byTime) == 0 {
		return nil
	}
	return r.byTime[0]
}

// countedSet remembers the most recent calls whose offer went to offline
// storage and whose outcome was counted, at most max of them, the oldest
// forgotten first. A stored offer can be delivered more than once (a
// delivery cut short leaves it stored) and long after its registry entry
// is gone; the set keeps such a call from being counted again.
type countedSet struct {
	max  int
	keys map[callKey]struct{}
	fifo []callKey // in the order added; a ring once it holds max
	next int       // the oldest key, once fifo is full
}

func (s *countedSet) has(k callKey) bool {
	_, ok := s.keys[k]
	return ok
}

// add remembers k, forgetting the oldest key when the set is full. It
// reports whether k is new: false means it was counted before.
func (s *countedSet) add(k callKey) (added bool) {
	if s.has(k) {
		return false
	}
	if s.max <= 0 {
		return true
	}
	if len(s.fifo) < s.max {
		s.fifo = append(s.fifo, k)
	} else {
		delete(s.keys, s.fifo[s.next])
		s.fifo[s.next] = k
		s.next = (s.next + 1) % s.max
	}
	s.keys[k] = struct{}{}
	return true
}

// callHeap orders calls by deadline (container/heap).
type callHeap []*call

func (h callHeap) Len() int           { return len(h) }
func (h callHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h callHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}

func (h *callHeap) Push(x any) {
	c := x.(*call)
	c.idx = len(*h)
	*h = append(*h, c)
}

func (h *callHeap) Pop() any {
	old := *h
	n := len(old)
	c := old[n-1]
	old[n-1] = nil
	c.idx = -1
	*h = old[:n-1]
	return c
}
