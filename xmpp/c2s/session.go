package c2s

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ringd/ringd/xmpp/router"
)

// session is a bound resource as c2s keeps it: the router's Conn, the
// outbound queue and the XEP-0198 counters. Without resumption it lives
// and dies with the connection that bound it. With resumption it outlives
// a connection that breaks: it hibernates, still bound and queueing,
// until a new connection resumes it or ResumeTimeout passes.
//
// States: active (attached to one connection, whose writer drains q),
// hibernating (no connection), ended. Transitions happen under mu:
//
//	active(c) → ended        c's stream ended for good (c unbinds, requeues)
//	active(c) → hibernating  c's transport broke and the session is resumable
//	hibernating → active(n)  n resumed it (a resume while still active first
//	                         kills c, which then hibernates the session)
//	hibernating → ended      resume timeout, overflow, conflict, shutdown
//	                         (a goroutine owned by Server.hib unbinds, requeues)
//
// Whoever ends the session unbinds it and then hands every stanza it
// still holds back to the router (Router.Requeue): messages to offline
// storage, IQ requests bounced. Nothing it took is silently dropped.
//
// Locks: session.mu may be held while taking Server.mu or outbound.mu,
// never the other way round; neither is held while calling the router.
type session struct {
	srv      *Server
	q        *outbound
	rs       *router.Session // set once Router.Bind returned
	username string          // the account, for resumption
	log      *slog.Logger

	// routedH counts the client's stanzas Route returned for since
	// <enabled/>, mod 2^32; need is the journal batch the in-flight
	// records they added need (0 for none). The attached connection's
	// reader adds to them.
	routedH atomic.Uint32
	need    atomic.Uint64
	// inH is the XEP-0198 handled count the server acknowledges: stanzas
	// routed whose in-flight records are durable. It trails routedH while
	// a batch commits (advance); the writer reads it for <a h/>.
	inH atomic.Uint32

	// Written by the attached connection's reader when the client enables
	// stream management; read by whoever holds the session after that.
	sm        bool          // <enable/> accepted
	id        string        // resumption id (previd); "" when not resumable
	resumeFor time.Duration // how long it may hibernate

	mu       sync.Mutex
	state    sessionState
	c        *conn         // the attached connection while active
	detached chan struct{} // closed when c lets go (hibernation or end)
	hibGen   uint64        // hibernations so far: a stale timer does nothing
	timer    *time.Timer
}

type sessionState uint8

const (
	stateActive sessionState = iota
	stateHibernating
	stateEnded
)

func newSession(srv *Server, c *conn) *session {
	s := &session{
		srv:      srv,
		q:        newOutbound(srv.cfg.OutboundQueueBytes),
		username: c.username,
		c:        c,
		detached: make(chan struct{}),
	}
	if j := srv.cfg.Journal; j != nil {
		user := c.username
		s.q.record = func(b []byte) int64 { return j.Add(user, b) }
	}
	return s
}

// release ends the in-flight records of stanzas the session no longer
// holds: acknowledged by the client or handed back to the router.
func (s *session) release(recs []int64) {
	if len(recs) > 0 {
		s.srv.cfg.Journal.Release(recs...)
	}
}

// advance raises the acknowledged count inH to h (mod 2^32) unless it is
// there already: batches may become durable out of the order their
// waiters were registered in, and inH never goes back.
func (s *session) advance(h uint32) {
	for {
		cur := s.inH.Load()
		if int32(h-cur) <= 0 || s.inH.CompareAndSwap(cur, h) {
			return
		}
	}
}

// settle makes inH cover every routed stanza whose in-flight records are
// durable, waiting up to ctx for the journal; it reports whether inH now
// covers them all. The session's reader must have stopped (resumption,
// the end of the stream), or more may be routed meanwhile.
func (s *session) settle(ctx context.Context) bool {
	h := s.routedH.Load()
	if j := s.srv.cfg.Journal; j != nil {
		if need := s.need.Load(); need != 0 && j.WaitDurable(ctx, need) != nil {
			return false
		}
	}
	s.advance(h)
	return true
}

// ackWhenDurable answers the client's <r/>: <a h/> with every stanza
// routed so far, once their in-flight records are durable; at once when
// they already are, which is the usual case (they were cancelled by a
// prompt recipient, or there were none).
func (s *session) ackWhenDurable() {
	h := s.routedH.Load()
	j := s.srv.cfg.Journal
	need := s.need.Load()
	if j == nil || need == 0 || j.Durable(need) {
		s.advance(h)
		s.q.requestAck()
		return
	}
	j.OnDurable(need, func() {
		s.advance(h)
		s.q.requestAck()
	})
}

// Deliver implements router.Conn.
func (s *session) Deliver(raw []byte) bool {
	ok, overflow := s.q.push(raw)
	if overflow {
		s.overflow()
	}
	return ok
}

// WaitQueued waits until at most maxBytes are queued for the client and
// not yet written, so that a burst (offline messages delivered at initial
// presence, from this session's own reader) does not overrun the queue
// bound and cut the session off. It fails when that cannot happen while
// the caller waits: the session ends or hibernates, or the client has
// MaxUnacked stanzas unacknowledged (the writer waits for acks, which
// this session's reader reads once the caller returns); the caller then
// stops and keeps the rest for later.
func (s *session) WaitQueued(ctx context.Context, maxBytes int) error {
	return s.q.waitQueued(ctx, maxBytes)
}

// Close implements router.Conn: an active session's stream ends with the
// condition after what is queued is written; a hibernating one ends.
func (s *session) Close(condition string) {
	s.mu.Lock()
	switch s.state {
	case stateActive:
		if s.q.close(s.c.streamErrorParts(condition, "")...) {
			s.srv.metrics.streamError(condition)
		}
		s.mu.Unlock()
	case stateHibernating:
		s.mu.Unlock()
		s.expire(0, condition)
	default:
		s.mu.Unlock()
	}
}

// closeConn ends the stream of c, a connection that is or was attached
// (Shutdown): the session's stream if c still holds it, else c alone.
func (s *session) closeConn(c *conn, condition string) {
	s.mu.Lock()
	if s.state == stateActive && s.c == c {
		if s.q.close(c.streamErrorParts(condition, "")...) {
			s.srv.metrics.streamError(condition)
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	c.kill()
}

// overflow cuts off a session whose queue is over its bound: an active
// one with a policy-violation stream error (a slow consumer), a
// hibernating one ends.
func (s *session) overflow() {
	s.mu.Lock()
	switch s.state {
	case stateActive:
		parts := s.c.streamErrorParts("policy-violation", "too many stanzas queued for this client")
		if s.q.close(parts...) {
			s.srv.metrics.slowCutoffs.Inc()
			s.srv.metrics.streamError("policy-violation")
			s.c.log.Warn("client too slow; disconnecting", "queued_limit", s.srv.cfg.OutboundQueueBytes)
		}
		s.mu.Unlock()
	case stateHibernating:
		s.mu.Unlock()
		s.expire(0, "overflow")
	default:
		s.mu.Unlock()
	}
}

// hibernate detaches the session from c, whose transport broke and whose
// writer has ended, and keeps it for resumption. It returns false when
// the session cannot hibernate (the server is shutting down, the stream
// was closed meanwhile): c then ends it.
func (s *session) hibernate(c *conn) bool {
	s.mu.Lock()
	if s.state != stateActive || s.c != c || s.q.isClosed() {
		s.mu.Unlock()
		return false
	}
	srv := s.srv
	srv.mu.Lock()
	ok := !srv.closed
	if ok {
		srv.hibernating[s] = struct{}{}
		srv.hib.Add(1) // done by whoever ends the hibernation
	}
	srv.mu.Unlock()
	if !ok {
		s.mu.Unlock()
		return false
	}
	over := s.q.detach()
	s.state, s.c = stateHibernating, nil
	close(s.detached)
	s.hibGen++
	gen := s.hibGen
	s.timer = time.AfterFunc(s.resumeFor, func() { s.expire(gen, "timeout") })
	s.mu.Unlock()
	srv.metrics.smHibernating.Inc()
	if over {
		s.expire(gen, "overflow")
	}
	return true
}

// expire ends a hibernating session (of hibernation gen, or the current
// one for 0): it is unbound and what it holds requeued, in a goroutine
// that Server.hib waits for.
func (s *session) expire(gen uint64, reason string) {
	s.mu.Lock()
	if s.state != stateHibernating || gen != 0 && gen != s.hibGen {
		s.mu.Unlock()
		return
	}
	s.state = stateEnded
	s.timer.Stop()
	s.mu.Unlock()
	srv := s.srv
	srv.mu.Lock()
	delete(srv.hibernating, s)
	srv.mu.Unlock()
	srv.metrics.smHibernating.Dec()
	go func() {
		defer srv.hib.Done()
		ctx, cancel := context.WithTimeout(srv.ctx, srv.cfg.WriteTimeout)
		defer cancel()
		s.log.Info("hibernating session ended", "reason", reason)
		s.retire(ctx)
	}()
}

// takeOver hands the session to n, which resumes it. A session still
// attached to another connection (the server has not noticed it broke) is
// taken from it: that connection is killed and hibernates the session on
// its way out. It returns false when the session has ended or the server
// is shutting down.
func (s *session) takeOver(n *conn) bool {
	for {
		s.mu.Lock()
		switch s.state {
		case stateActive:
			old, gone := s.c, s.detached
			s.mu.Unlock()
			old.log.Info("session resumed elsewhere; closing this connection")
			old.kill()
			select {
			case <-gone:
			case <-n.ctx.Done():
				return false
			}
			continue
		case stateHibernating:
			srv := s.srv
			srv.mu.Lock()
			closed := srv.closed
			if !closed {
				delete(srv.hibernating, s)
			}
			srv.mu.Unlock()
			if closed {
				s.mu.Unlock() // Shutdown ends it
				return false
			}
			s.timer.Stop()
			s.state, s.c, s.detached = stateActive, n, make(chan struct{})
			s.mu.Unlock()
			srv.metrics.smHibernating.Dec()
			srv.hib.Done()
			return true
		default:
			s.mu.Unlock()
			return false
		}
	}
}

// end marks the session ended by c, its connection, which then unbinds it
// and requeues what it holds.
func (s *session) end(c *conn) {
	s.mu.Lock()
	if s.state == stateActive && s.c == c {
		s.state, s.c = stateEnded, nil
		close(s.detached)
	}
	s.mu.Unlock()
	s.srv.unregister(s)
}

// retire unbinds an ended session and requeues what it holds.
func (s *session) retire(ctx context.Context) {
	s.srv.unregister(s)
	s.srv.cfg.Router.Unbind(context.WithoutCancel(ctx), s.rs)
	s.requeue(ctx)
}

// requeue hands every stanza the session still holds, oldest first, back
// to the router: a message goes to offline storage, an IQ request is
// answered with an error, the rest is dropped (Router.Requeue). Later
// pushes fail.
//
// The in-flight records of the held messages are released once they are
// requeued, unless ctx ended first: then offline storage may not have
// them, and the records, moved there at the next start, make sure.
func (s *session) requeue(ctx context.Context) {
	held := s.q.seal()
	var recs []int64
	for _, e := range held {
		s.srv.metrics.requeued[kindOf(e.b)].Inc()
		s.srv.cfg.Router.Requeue(ctx, s.rs, e.b)
		if e.rec != 0 {
			recs = append(recs, e.rec)
		}
	}
	if ctx.Err() == nil {
		s.release(recs)
	}
	if len(held) > 0 {
		s.log.Info("requeued stanzas of an ended session", "stanzas", len(held))
	}
}
