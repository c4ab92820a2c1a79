package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/jid"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/wire"
)

// ErrResourceLimit is returned by Bind when the account already has the
// maximum number of sessions.
var ErrResourceLimit = errors.New("router: too many sessions for this account")

// Config configures a Router.
type Config struct {
	Domain       string
	Users        storage.Users // to tell absent accounts from offline ones
	MaxResources int           // sessions per account; default 10
	Logger       *slog.Logger
	Registerer   prometheus.Registerer // nil: metrics are not registered
}

// PresenceHandler handles presence stanzas from local sessions other than
// subscription management: broadcast, directed, probes (RFC 6121 §4).
type PresenceHandler interface {
	HandlePresence(ctx context.Context, p *Stanza)
}

// SubscriptionHandler handles subscribe, subscribed, unsubscribe and
// unsubscribed presence from local sessions (RFC 6121 §3).
type SubscriptionHandler interface {
	HandleSubscription(ctx context.Context, p *Stanza)
}

// OfflineHandler takes messages for an existing account that has no
// available resource (RFC 6121 §8.5.2.2, XEP-0160).
type OfflineHandler interface {
	// StoreOffline decides whether to keep the message and keeps it
	// durably before returning. raw is the message as it would have been
	// delivered (from stamped, stanza-id added). A returned stanza.Error is
	// sent to the sender; any other error becomes internal-server-error.
	// nil means stored, or deliberately not kept (e.g. a chat state).
	StoreOffline(ctx context.Context, sender *Session, to Account, st *wire.Stanza, raw []byte) error
}

// StanzaGate sees every stanza from a local session before anything else
// does (message filters, IQ handlers, presence handlers, delivery, offline
// storage); returning true means it refused the stanza (and answered it
// if needed) and routing stops. XEP-0191 blocking is one.
type StanzaGate interface {
	GateStanza(ctx context.Context, s *Session, st *wire.Stanza) (refused bool)
}

// MessageFilter sees every message from a local session before it is
// routed; returning true means the filter handled it and routing stops
// (e.g. a retried message already delivered).
type MessageFilter interface {
	FilterMessage(ctx context.Context, s *Session, st *wire.Stanza) (handled bool)
}

// MessageObserver is told about each message from a local session after it
// was routed to a local account: raw is the message as delivered (from
// stamped, the recipient's stanza-id added) and delivered lists the
// sessions that got it (none when it went to offline storage). It must not
// block; the slice is valid only during the call.
type MessageObserver interface {
	MessageRouted(ctx context.Context, s *Session, st *wire.Stanza, to Account, raw []byte, delivered []*Session)
}

// IQObserver is shown IQs routed between local sessions whose payload is in
// the namespace it registered for (e.g. Jingle, to time calls). It must
// not block or keep st.
type IQObserver interface {
	ObserveIQ(ctx context.Context, from *Session, st *wire.Stanza)
}

type iqObserver struct {
	ns string
	o  IQObserver
}

// Account names a local account: its bare JID and localpart.
type Account struct {
	Bare  string
	Local string
}

// Stanza is a stanza from a local session handed to a feature handler. St
// and its byte views are valid only while the handler runs.
type Stanza struct {
	Session *Session // the sender
	To      jid.JID  // parsed 'to'; the zero JID when absent
	HasTo   bool
	Type    string // the type attribute, unescaped ("" when absent)
	St      *wire.Stanza
}

// Router is the session table and the delivery rules. Its methods are safe
// for concurrent use.
type Router struct {
	domain       string
	users        storage.Users
	maxResources int
	log          *slog.Logger
	metrics      *metrics
	ids          idGenerator

	mu       sync.RWMutex
	accounts map[string]*account // by bare JID string
	byFull   map[string]*Session // by full JID string: the routing fast path

	mux          *mux
	presence     PresenceHandler
	subscription SubscriptionHandler
	offline      OfflineHandler
	gate         StanzaGate
	filters      []MessageFilter
	observers    []MessageObserver
	iqObservers  []iqObserver
	onUnbind     []func(context.Context, *Session)
	onInitial    []func(context.Context, *Session)
}

type account struct {
	sessions []*Session
}

// New returns a router for cfg.Domain.
func New(cfg Config) (*Router, error) {
	if cfg.Domain == "" {
		return nil, errors.New("router: no domain")
	}
	if cfg.Users == nil {
		return nil, errors.New("router: no user store")
	}
	if cfg.MaxResources <= 0 {
		cfg.MaxResources = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Router{
		domain:       cfg.Domain,
		users:        cfg.Users,
		maxResources: cfg.MaxResources,
		log:          cfg.Logger,
		metrics:      m,
		ids:          newIDGenerator(),
		accounts:     make(map[string]*account),
		byFull:       make(map[string]*Session),
		mux:          newMux(),
	}, nil
}

// Domain returns the served domain.
func (r *Router) Domain() string { return r.domain }

// SetPresenceHandler installs the presence feature. Call before serving.
func (r *Router) SetPresenceHandler(h PresenceHandler) { r.presence = h }

// SetSubscriptionHandler installs the subscription feature. Call before
// serving.
func (r *Router) SetSubscriptionHandler(h SubscriptionHandler) { r.subscription = h }

// SetOfflineHandler installs offline storage. Without one, a message for
// an account with nobody available is answered service-unavailable. Call
// before serving.
func (r *Router) SetOfflineHandler(h OfflineHandler) { r.offline = h }

// SetStanzaGate installs g in front of all routing. Call before serving.
func (r *Router) SetStanzaGate(g StanzaGate) { r.gate = g }

// AddMessageFilter adds f to the filters every message passes before
// routing, in the order added. Call before serving.
func (r *Router) AddMessageFilter(f MessageFilter) { r.filters = append(r.filters, f) }

// AddMessageObserver adds o to what is told about routed messages. Call
// before serving.
func (r *Router) AddMessageObserver(o MessageObserver) { r.observers = append(r.observers, o) }

// AddIQObserver adds o for IQs between local sessions whose payload is in
// namespace ns. Call before serving.
func (r *Router) AddIQObserver(ns string, o IQObserver) {
	r.iqObservers = append(r.iqObservers, iqObserver{ns: ns, o: o})
}

// observeIQ shows a routed IQ to the observers of its payload namespace.
func (r *Router) observeIQ(ctx context.Context, from *Session, st *wire.Stanza) {
	if len(r.iqObservers) == 0 || st.NumChildren == 0 {
		return
	}
	ns := st.Children[0].NS
	for _, io := range r.iqObservers {
		if string(ns) == io.ns {
			io.o.ObserveIQ(ctx, from, st)
		}
	}
}

// AvailableSessions returns the account's available sessions with a
// non-negative priority: the ones a message to the bare JID reaches
// (RFC 6121 §8.5.2.1.1).
func (r *Router) AvailableSessions(bare string) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Session
	if acc := r.accounts[bare]; acc != nil {
		for _, s := range acc.sessions {
			if s.Available() && s.Priority() >= 0 {
				out = append(out, s)
			}
		}
	}
	return out
}

// OnUnbind adds fn to what runs when a session ends (after it left the
// session table), e.g. the unavailable presence broadcast. Call before
// serving.
func (r *Router) OnUnbind(fn func(context.Context, *Session)) {
	r.onUnbind = append(r.onUnbind, fn)
}

// Bind adds a session for the full JID j. A session already bound to the
// same full JID is replaced and closed with the conflict stream error
// (RFC 6120 §7.7.2.2).
func (r *Router) Bind(j jid.JID, c Conn) (*Session, error) {
	if j.Resourcepart() == "" || j.Domainpart() != r.domain {
		return nil, fmt.Errorf("router: bind %v: not a full JID of %s", j, r.domain)
	}
	bare := j.Bare()
	s := &Session{
		jid:   j,
		full:  j.String(),
		bare:  bare.String(),
		local: j.Localpart(),
		conn:  c,
	}
	var replaced *Session
	r.mu.Lock()
	acc := r.accounts[s.bare]
	if acc == nil {
		acc = &account{}
		r.accounts[s.bare] = acc
	}
	for i, old := range acc.sessions {
		if old.full == s.full {
			replaced = old
			acc.sessions = append(acc.sessions[:i:i], acc.sessions[i+1:]...)
			break
		}
	}
	if len(acc.sessions) >= r.maxResources {
		if replaced != nil {
			acc.sessions = append(acc.sessions, replaced)
		}
		r.mu.Unlock()
		return nil, ErrResourceLimit
	}
	acc.sessions = append(acc.sessions, s)
	r.byFull[s.full] = s
	r.mu.Unlock()
	r.metrics.sessions.Inc()
	if replaced != nil {
		r.metrics.sessions.Dec()
		replaced.conn.Close("conflict")
		r.runUnbind(context.Background(), replaced)
	}
	return s, nil
}

// Unbind removes s from the session table and runs the OnUnbind hooks. It
// is idempotent: a session that was replaced is not unbound twice.
func (r *Router) Unbind(ctx context.Context, s *Session) {
	r.mu.Lock()
	acc := r.accounts[s.bare]
	found := false
	if acc != nil {
		for i, cur := range acc.sessions {
			if cur == s {
				acc.sessions = append(acc.sessions[:i:i], acc.sessions[i+1:]...)
				if r.byFull[s.full] == s {
					delete(r.byFull, s.full)
				}
				found = true
				break
			}
		}
		if len(acc.sessions) == 0 {
			delete(r.accounts, s.bare)
		}
	}
	r.mu.Unlock()
	if found {
		r.metrics.sessions.Dec()
		r.runUnbind(ctx, s)
	}
}

// OnInitialPresence adds fn to what runs after a session's initial
// presence was handled (pending subscription requests, later offline
// messages, are delivered then). Call before serving.
func (r *Router) OnInitialPresence(fn func(context.Context, *Session)) {
	r.onInitial = append(r.onInitial, fn)
}

// InitialPresenceSent runs the OnInitialPresence hooks for s; the presence
// feature calls it once per session, after broadcasting initial presence.
func (r *Router) InitialPresenceSent(ctx context.Context, s *Session) {
	for _, fn := range r.onInitial {
		fn(ctx, s)
	}
}

func (r *Router) runUnbind(ctx context.Context, s *Session) {
	for _, fn := range r.onUnbind {
		fn(ctx, s)
	}
}

// Sessions returns the sessions of the account with the bare JID string
// bare (a snapshot; the slice is the caller's).
func (r *Router) Sessions(bare string) []*Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	acc := r.accounts[bare]
	if acc == nil {
		return nil
	}
	return append([]*Session(nil), acc.sessions...)
}

// Session returns the session bound to the full JID string full (in
// canonical form), or nil. bare is accepted for callers that have it and is
// not needed.
func (r *Router) Session(bare, full string) *Session {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byFull[full]
}

// SessionCount returns how many sessions are bound.
func (r *Router) SessionCount() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, acc := range r.accounts {
		n += len(acc.sessions)
	}
	return n
}

// CloseAll closes every session with the given stream error condition.
func (r *Router) CloseAll(condition string) {
	r.mu.RLock()
	var all []*Session
	for _, acc := range r.accounts {
		all = append(all, acc.sessions...)
	}
	r.mu.RUnlock()
	for _, s := range all {
		s.conn.Close(condition)
	}
}

// UserExists reports whether the account localpart exists on this server.
func (r *Router) UserExists(ctx context.Context, localpart string) (bool, error) {
	r.mu.RLock()
	_, online := r.accounts[localpart+"@"+r.domain]
	r.mu.RUnlock()
	if online {
		return true, nil
	}
	return r.users.UserExists(ctx, localpart)
}
