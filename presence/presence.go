package presence

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
)

var (
	badRequest          = stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
	internalServerError = stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
)

// Presence is the presence feature: the router's PresenceHandler and the
// unavailable broadcast run when a session ends. Its methods are safe for
// concurrent use.
type Presence struct {
	router         *router.Router
	rosters        Rosters
	blocker        Blocker // nil: nobody blocks anybody
	log            *slog.Logger
	now            func() time.Time
	storageTimeout time.Duration
	maxDirected    int
	metrics        *metrics

	// sessions holds the state of every bound session that has sent
	// presence: *router.Session → *session. An entry is removed when the
	// session ends.
	sessions sync.Map
}

var _ router.PresenceHandler = (*Presence)(nil)

// New returns the presence feature for cfg. It does no I/O and registers
// nothing with the router; call Register.
func New(cfg Config) (*Presence, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	return &Presence{
		router:         cfg.Router,
		rosters:        cfg.Rosters,
		blocker:        cfg.Blocker,
		log:            cfg.Logger,
		now:            cfg.Now,
		storageTimeout: cfg.StorageTimeout,
		maxDirected:    cfg.MaxDirected,
		metrics:        m,
	}, nil
}

// Register installs p on r as the presence handler and as an unbind hook.
// r must be the Config.Router p was built with; it panics otherwise, so
// that a wiring mistake shows at start. Call before serving.
func (p *Presence) Register(r *router.Router) {
	if r != p.router {
		panic("presence: Register with a router other than Config.Router")
	}
	r.SetPresenceHandler(p)
	r.OnUnbind(p.unbind)
}

// HandlePresence implements router.PresenceHandler for every presence
// stanza from a local session except subscription management.
func (p *Presence) HandlePresence(ctx context.Context, ps *router.Stanza) {
	switch ps.Type {
	case "", "unavailable":
	case "probe":
		p.handleProbe(ctx, ps)
		return
	case "error":
		p.handleError(ps)
		return
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		return // the roster package's; the router does not send them here
	default:
		// RFC 6121 §4.7.1 lists every presence type; anything else does
		// not conform to the schema (RFC 6120 §8.3.3.1).
		p.router.Bounce(ps.Session, ps.St, badRequest)
		return
	}
	st := p.acquire(ctx, ps.Session)
	if st == nil {
		return // the session has ended
	}
	initial := func() bool {
		defer p.release(ctx, st)
		switch {
		case ps.HasTo:
			p.directed(ctx, st, ps)
		case ps.Type == "":
			return p.available(ctx, st, ps)
		default:
			p.unavailable(ctx, st, ps)
		}
		return false
	}()
	if initial {
		// Outside the session's lock: the hooks (pending subscription
		// requests, offline messages) may do anything.
		p.router.InitialPresenceSent(ctx, ps.Session)
	}
}

// session is this package's state for one bound session.
type session struct {
	s *router.Session

	// mu serialises the session's presence handling with its unbind. The
	// fields below it are guarded by it, except cur, which other sessions
	// read without it.
	mu sync.Mutex
	// gone is set once the unavailable broadcast for the session's end
	// has been done; nothing happens to the session after that.
	gone bool
	// unbound is set by the unbind hook; whoever holds mu finishes the
	// unbind (see release).
	unbound atomic.Bool
	// initialSent records that router.InitialPresenceSent is due or done
	// for the session; it runs once per session even if the session goes
	// unavailable and available again.
	initialSent bool
	// capWarned records that the MaxDirected warning was logged.
	capWarned bool
	// directed maps each JID (string) that got directed available presence
	// from the session to its bare JID.
	directed map[string]string
	// cur is the session's current broadcast presence, nil while it is
	// unavailable.
	cur atomic.Pointer[current]
}

// current is a session's last broadcast available presence.
type current struct {
	raw   []byte    // from the full JID, no 'to'
	since time.Time // when it was set, for XEP-0203 delay stamps
}

// acquire returns s's state with its mutex held, or nil when s has ended.
func (p *Presence) acquire(ctx context.Context, s *router.Session) *session {
	v, ok := p.sessions.Load(s)
	if !ok {
		v, _ = p.sessions.LoadOrStore(s, &session{s: s})
	}
	st := v.(*session)
	st.mu.Lock()
	if st.gone {
		st.mu.Unlock()
		return nil
	}
	// The router takes a session out of its table before it runs the
	// unbind hooks. A session no longer in the table has ended (or is
	// ending); finish that here, so that a state created after the hook
	// looked does not outlive it.
	if p.router.Session(s.BareString(), s.FullString()) != s {
		st.unbound.Store(true)
		p.release(ctx, st)
		return nil
	}
	return st
}

// release unlocks st.mu, first finishing an unbind that the hook could not
// do because mu was held. The hook sets unbound and only try-locks mu, so
// it never waits on a session's presence handling, and whoever holds mu
// checks unbound before letting go: no unbind is lost.
func (p *Presence) release(ctx context.Context, st *session) {
	for {
		if st.unbound.Load() && !st.gone {
			p.finishUnbind(ctx, st)
		}
		st.mu.Unlock()
		if !st.unbound.Load() || !st.mu.TryLock() {
			return
		}
		if st.gone {
			st.mu.Unlock()
			return
		}
	}
}

// unbind is the router's OnUnbind hook.
func (p *Presence) unbind(ctx context.Context, s *router.Session) {
	v, ok := p.sessions.Load(s)
	if !ok {
		return // never sent presence, or acquire will find it gone
	}
	st := v.(*session)
	st.unbound.Store(true)
	if st.mu.TryLock() {
		p.release(ctx, st)
	}
}

// finishUnbind broadcasts the unavailable presence of a session that ended
// (RFC 6121 §4.5.2) and forgets it. st.mu is held.
func (p *Presence) finishUnbind(ctx context.Context, st *session) {
	st.gone = true
	defer p.sessions.CompareAndDelete(st.s, st)
	if st.cur.Load() == nil && len(st.directed) == 0 {
		return
	}
	// The session's own ctx may be cancelled by now; the broadcast must
	// still happen, and the block lists it may load need a bound.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.storageTimeout)
	defer cancel()
	p.goUnavailable(ctx, st, unavailableStanza(st.s.FullString()), false)
}

// current returns the current presence of the session s, or nil.
func (p *Presence) current(s *router.Session) *current {
	v, ok := p.sessions.Load(s)
	if !ok {
		return nil
	}
	return v.(*session).cur.Load()
}
