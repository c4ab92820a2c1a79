package carbons

import (
	"context"
	"log/slog"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Namespaces this package reads and writes.
const (
	NS        = "urn:xmpp:carbons:2" // XEP-0280
	NSForward = "urn:xmpp:forward:0" // XEP-0297
	NSHints   = "urn:xmpp:hints"     // XEP-0334
)

// Config configures the carbons feature. Its zero value works.
type Config struct {
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Handler is the carbons feature: the enable/disable IQ handler, the
// message observer that sends copies and the filter that refuses forged
// wrappers. Its methods are safe for concurrent use.
type Handler struct {
	log     *slog.Logger
	metrics *metrics
	router  *router.Router // set by Register, before serving

	// mu guards enabled: the carbon-enabled sessions of each account, by
	// bare JID. Nothing is called while it is held except Session getters.
	mu      sync.RWMutex
	enabled map[string][]*router.Session
}

var (
	_ router.IQHandler       = (*Handler)(nil)
	_ router.MessageObserver = (*Handler)(nil)
	_ router.MessageFilter   = (*Handler)(nil)
)

// New returns the feature; it does no I/O.
func New(cfg Config) (*Handler, error) {
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Handler{log: cfg.Logger, metrics: m, enabled: make(map[string][]*router.Session)}, nil
}

// Register installs the feature on r: the IQ handler for the account's own
// sessions, the disco feature for the server and accounts, the message
// filter and observer, and the unbind hook. Call once, before serving.
func (h *Handler) Register(r *router.Router) {
	h.router = r
	r.AddFeature(router.ToServer|router.ToAccount, NS)
	r.HandleIQ(NS, router.ToOwnAccount, h)
	r.AddMessageFilter(h)
	r.AddMessageObserver(h)
	r.OnUnbind(func(_ context.Context, s *router.Session) { h.disable(s) })
}

var badRequest = stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}

// HandleIQ implements router.IQHandler for <enable/> and <disable/>
// (XEP-0280, enabling and disabling carbons).
func (h *Handler) HandleIQ(_ context.Context, iq *router.IQ) ([]byte, error) {
	if !iq.Set {
		return nil, badRequest
	}
	switch string(iq.Payload.Name) {
	case "enable":
		h.enable(iq.Session)
	case "disable":
		h.disable(iq.Session)
	default:
		return nil, badRequest
	}
	return nil, nil
}

// Enabled reports whether the session has carbons enabled.
func (h *Handler) Enabled(s *router.Session) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return slices.Contains(h.enabled[s.BareString()], s)
}

func (h *Handler) enable(s *router.Session) {
	h.mu.Lock()
	list := h.enabled[s.BareString()]
	added := !slices.Contains(list, s)
	if added {
		h.enabled[s.BareString()] = append(list, s)
	}
	h.mu.Unlock()
	if !added {
		return
	}
	h.metrics.sessions.Inc()
	// The router removes a session from its table before it runs the
	// unbind hooks: a session replaced while this IQ was handled is gone
	// from the table by now, or its hook has yet to run.
	if h.router != nil && h.router.Session(s.BareString(), s.FullString()) != s {
		h.disable(s)
	}
}

func (h *Handler) disable(s *router.Session) {
	h.mu.Lock()
	list := h.enabled[s.BareString()]
	i := slices.Index(list, s)
	if i >= 0 {
		if len(list) == 1 {
			delete(h.enabled, s.BareString())
		} else {
			h.enabled[s.BareString()] = slices.Delete(list, i, i+1)
		}
	}
	h.mu.Unlock()
	if i >= 0 {
		h.metrics.sessions.Dec()
	}
}

// FilterMessage implements router.MessageFilter: a message in which the
// client put a carbon wrapper of its own is refused with bad-request.
func (h *Handler) FilterMessage(_ context.Context, s *router.Session, st *wire.Stanza) bool {
	if !st.HasChildNS(NS) {
		return false
	}
	if _, ok := st.Child(NS, "sent"); !ok {
		if _, ok := st.Child(NS, "received"); !ok {
			return false
		}
	}
	h.metrics.refused.Inc()
	h.log.Debug("refused a client-made carbon", "jid", s.FullString())
	if h.router != nil {
		se := badRequest
		se.Text = map[string]string{"": "carbons are made by the server"}
		h.router.Bounce(s, st, se)
	}
	return true
}

// MessageRouted implements router.MessageObserver: it sends the sent and
// received carbons of a message routed between local accounts.
func (h *Handler) MessageRouted(_ context.Context, s *router.Session, st *wire.Stanza, to router.Account, raw []byte, delivered []*router.Session) {
	if h.router == nil || !eligible(st) {
		return
	}
	self := to.Bare == s.BareString()
	var sentBuf, recvBuf [8]*router.Session
	sent, recv := sentBuf[:0], recvBuf[:0]
	h.mu.RLock()
	for _, c := range h.enabled[s.BareString()] {
		if c != s && c.Available() && !slices.Contains(delivered, c) {
			sent = append(sent, c)
		}
	}
	if !self {
		for _, c := range h.enabled[to.Bare] {
			if !c.Available() || slices.Contains(delivered, c) {
				continue
			}
			if len(delivered) == 0 && c.Priority() >= 0 {
				// Nobody could take it, so it went to offline storage,
				// which gives it to this session (or, if it became
				// available meanwhile, already did).
				continue
			}
			recv = append(recv, c)
		}
	}
	h.mu.RUnlock()
	if len(sent) > 0 {
		inner := appendSentCopy(nil, st, s.FullString())
		h.send(sent, dirSent, s.BareString(), st, inner)
	}
	if len(recv) > 0 {
		inner := appendWithClientNS(nil, raw, st.HasXMLNS)
		h.send(recv, dirReceived, to.Bare, st, inner)
	}
}

// send wraps inner once per target session and queues it.
func (h *Handler) send(targets []*router.Session, dir direction, bare string, st *wire.Stanza, inner []byte) {
	typ := wrapperType(st)
	for _, dst := range targets {
		h.router.Send(dst, appendWrapper(nil, dir, bare, dst.FullString(), typ, inner))
		h.metrics.copies[dir].Inc()
	}
}
