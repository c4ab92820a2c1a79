package jingle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ringd/ringd/xmpp/router"
)

// Namespaces this package reads and writes.
const (
	NS       = "urn:xmpp:jingle:1"          // XEP-0166
	NSErrors = "urn:xmpp:jingle:errors:1"   // XEP-0166 Jingle error conditions
	NSJMI    = "urn:xmpp:jingle-message:0"  // XEP-0353 (0.1–0.3 and ≥ 0.6)
	NSJMI1   = "urn:xmpp:jingle-message:1"  // XEP-0353 0.4–0.5: the same protocol
	NSRTP    = "urn:xmpp:jingle:apps:rtp:1" // XEP-0167
	NSHints  = "urn:xmpp:hints"             // XEP-0334
)

// storeTimeout bounds the offline write of a missed-call record made when
// a ring timeout fires (there is no request ctx then).
const storeTimeout = 5 * time.Second

// Handler is the call feature: a router.MessageFilter that routes call
// messages (XEP-0353), a router.MessageObserver that learns where the
// router put the offers it routed itself, an IQ handler for Jingle IQs
// addressed to the server, ObserveIQ for Jingle IQs between sessions, and
// the call registry with its ring timer. Its methods are safe for
// concurrent use.
type Handler struct {
	cfg       Config
	log       *slog.Logger
	metrics   *metrics
	router    *router.Router // set by Register, before serving
	carbons   CarbonState
	observers []router.MessageObserver
	offline   router.OfflineHandler

	// mu guards the registry and the timer. It is a leaf lock: nothing
	// is called while it is held except Session getters and metrics.
	mu       sync.Mutex
	reg      registry
	timer    *time.Timer // fires at the earliest deadline (time.AfterFunc)
	timerAt  time.Time   // when timer is set to fire; zero: not set
	closed   bool
	inflight sync.WaitGroup // a running timer callback
}

var (
	_ router.MessageFilter   = (*Handler)(nil)
	_ router.MessageObserver = (*Handler)(nil)
	_ router.IQHandler       = (*Handler)(nil)
)

// New returns the feature; it does no I/O and starts no goroutine (the
// ring timer is armed by the first call).
func New(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	h := &Handler{
		cfg:       cfg,
		log:       cfg.Logger,
		carbons:   cfg.Carbons,
		observers: cfg.Observers,
		offline:   cfg.Offline,
		reg:       newRegistry(cfg.MaxCounted),
	}
	m, err := newMetrics(cfg.Registerer, h.Len)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	return h, nil
}

// Register installs the feature on r: the message filter (add it after
// dedupe and carbons, so retries and forged carbons never reach it), the
// message observer and the Jingle IQ handler for the server's own address.
// Call once, before serving.
func (h *Handler) Register(r *router.Router) {
	h.router = r
	r.AddMessageFilter(h)
	r.AddMessageObserver(h)
	r.HandleIQ(NS, router.ToServer, h)
}

// Close stops the ring timer and waits for a running expiry to finish
// (its sends and its offline write). Calls still ringing are not ended;
// the registry is soft state. Call it before the offline store closes.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closed = true
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
	h.inflight.Wait()
}

// Len returns the number of calls in the registry, ended ones included.
func (h *Handler) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reg.len()
}

// Active returns the number of calls ringing or in progress.
func (h *Handler) Active() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, c := range h.reg.calls {
		if c.state != stateEnded {
			n++
		}
	}
	return n
}

// The ...Locked methods change the registry; each operation calls
// rearmLocked once before it unlocks.

// addLocked inserts c, forgetting the oldest call when the registry is
// full.
func (h *Handler) addLocked(c *call) {
	for h.reg.len() >= h.cfg.MaxCalls && h.reg.oldest != nil {
		old := h.reg.oldest
		if old.state != stateEnded {
			h.metrics.active.Dec()
			h.metrics.evictions.Inc()
		}
		h.reg.remove(old)
	}
	h.reg.add(c)
	h.metrics.active.Inc()
}

// countLocked counts c's outcome once. A call whose offer was stored
// offline is remembered as counted beyond its entry: the offer may be
// delivered again later (see FollowStored).
func (h *Handler) countLocked(c *call, o outcome) {
	if c.counted {
		return
	}
	c.counted = true
	if c.stored && !h.reg.counted.add(c.key) {
		return // a call re-armed from storage and counted before
	}
	h.metrics.calls[o].Inc()
}

// endLocked ends c with outcome o (unless one was counted already) and
// keeps it as a tombstone for one ring timeout, so a retried propose is
// still recognised.
func (h *Handler) endLocked(c *call, o outcome, now time.Time) {
	if c.state == stateEnded {
		return
	}
	h.countLocked(c, o)
	h.metrics.active.Dec()
	h.reg.setState(c, stateEnded, now.Add(h.cfg.RingTimeout))
}

// answerLocked records that the callee answered c.
func (h *Handler) answerLocked(c *call, now time.Time) {
	if c.state != stateRinging {
		return
	}
	c.answered = now
	h.metrics.timeToAnswer.Observe(now.Sub(c.proposed).Seconds())
	h.reg.setState(c, stateAnswered, now.Add(h.cfg.CallTimeout))
}

// rearmLocked sets the timer for the earliest deadline if it would not
// fire by then anyway. A timer that fires early finds nothing due and
// rearms.
func (h *Handler) rearmLocked(now time.Time) {
	next := h.reg.next()
	if next == nil || h.closed {
		return
	}
	if !h.timerAt.IsZero() && !next.expires.Before(h.timerAt) {
		return
	}
	d := next.expires.Sub(now)
	if h.timer == nil {
		h.timer = time.AfterFunc(d, h.fire)
	} else {
		h.timer.Reset(d)
	}
	h.timerAt = next.expires
}

// fire ends every call whose deadline has passed: a ringing call becomes
// missed and its devices are told to stop (see stopRinging); an answered
// call that was never finished is forgotten; tombstones are dropped.
func (h *Handler) fire() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.inflight.Add(1)
	defer h.inflight.Done()
	now := time.Now()
	h.timerAt = time.Time{}
	var stops []stop
	for c := h.reg.next(); c != nil && !c.expires.After(now); c = h.reg.next() {
		switch c.state {
		case stateRinging:
			o := outMissed
			if c.ns != "" && len(c.reached) == 0 && !c.stored {
				o = outFailed // the offer reached nobody and was not kept
			}
			if c.ns != "" {
				stops = append(stops, h.stopOf(c, timeoutStop, ""))
			}
			h.endLocked(c, o, now)
		case stateAnswered:
			h.countLocked(c, outAnswered) // no sign that it failed
			h.metrics.active.Dec()
			h.reg.remove(c)
		case stateConnected:
			h.metrics.active.Dec()
			h.reg.remove(c)
		default:
			h.reg.remove(c)
		}
	}
	h.rearmLocked(now)
	h.mu.Unlock()
	if len(stops) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	for _, s := range stops {
		h.stopRinging(ctx, s)
	}
}
