package blocking

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// Namespaces of XEP-0191.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
)

// Defaults of Config.
const (
	DefaultMaxItems  = 1000
	DefaultMaxCached = 100_000
)

// Config configures the feature.
type Config struct {
	Store storage.Blocks // required
	// Rosters tells who may see the user's presence, and whose presence
	// the user sees: blocking and unblocking change both (required).
	Rosters storage.Rosters
	// MaxItems bounds one user's block list; a block that would make it
	// longer is refused with policy-violation. Default DefaultMaxItems.
	MaxItems int
	// MaxCached bounds the block lists kept in memory (a user who blocked
	// nobody costs about 100 bytes). Default DefaultMaxCached.
	MaxCached  int
	Logger     *slog.Logger
	Registerer prometheus.Registerer // nil: metrics are not registered
}

// Handler is the feature: the router's stanza gate, the IQ handler of
// urn:xmpp:blocking and the block list cache. Its methods are safe for
// concurrent use.
type Handler struct {
	cfg      Config
	log      *slog.Logger
	metrics  *metrics
	lists    *lists
	router   *router.Router   // set by Register, before serving
	directed DirectedPresence // set by SetDirected, before serving; may be nil
	domain   string

	// Changes to one user's list are serialised, so that the presence a
	// change sends is computed from the list before and after it alone.
	seed  maphash.Seed
	locks [64]sync.Mutex

	imu        sync.Mutex
	interested map[*router.Session]struct{} // sessions that fetched their list
}

var (
	_ router.StanzaGate = (*Handler)(nil)
	_ router.IQHandler  = (*Handler)(nil)
)

// New returns the feature; it does no I/O.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil || cfg.Rosters == nil {
		return nil, errors.New("blocking: store and rosters are required")
	}
	if cfg.MaxItems < 0 || cfg.MaxCached < 0 {
		return nil, errors.New("blocking: negative limit")
	}
	if cfg.MaxItems == 0 {
		cfg.MaxItems = DefaultMaxItems
	}
	if cfg.MaxCached == 0 {
		cfg.MaxCached = DefaultMaxCached
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		cfg:        cfg,
		log:        cfg.Logger,
		seed:       maphash.MakeSeed(),
		interested: make(map[*router.Session]struct{}),
	}
	h.lists = newLists(cfg.MaxCached, cfg.Store.BlockList)
	m, err := newMetrics(cfg.Registerer, h.lists.len)
	if err != nil {
		return nil, err
	}
	h.metrics = m
	h.lists.onLoad = m.loads.Inc
	h.lists.onEvict = m.evictions.Inc
	return h, nil
}

// Register installs the feature on r: the stanza gate, the IQ handler for
// the user's own account, the disco feature on the server, and the
// forgetting of interested sessions. Call once, before serving.
func (h *Handler) Register(r *router.Router) {
	h.router = r
	h.domain = r.Domain()
	r.SetStanzaGate(h)
	r.HandleIQ(NS, router.ToOwnAccount, h)
	r.AddFeature(router.ToServer, NS)
	r.OnUnbind(func(_ context.Context, s *router.Session) {
		h.imu.Lock()
		delete(h.interested, s)
		h.imu.Unlock()
	})
}

// Blocks reports whether the local account user (a localpart) blocked
// other, a JID in canonical form (a session's full or bare JID string):
// whether an item of the user's list matches it. It reads the cache,
// loading the list on first use; when the list is cached it does not
// allocate. The presence feature, whose broadcasts and probe answers do
// not pass the router's gate, asks it (presence.Blocker) when
// BlocksAnyone says yes.
func (h *Handler) Blocks(ctx context.Context, user, other string) (bool, error) {
	l, err := h.lists.get(ctx, user)
	if err != nil {
		return false, fmt.Errorf("blocking: list of %s: %w", user, err)
	}
	return l.blocks(addrOf(other)), nil
}

// BlocksAnyone reports whether the local account user (a localpart)
// blocked any JID at all. Most users block nobody, so a feature that asks
// about many JIDs for one user (a presence broadcast) asks this first. It
// reads the cache like Blocks, and does not allocate when the list is
// cached.
func (h *Handler) BlocksAnyone(ctx context.Context, user string) (bool, error) {
	l, err := h.lists.get(ctx, user)
	if err != nil {
		return false, fmt.Errorf("blocking: list of %s: %w", user, err)
	}
	return l.len() > 0, nil
}

// DirectedPresence is what blocking needs of the presence feature, which
// alone knows where the user's sessions sent directed presence (RFC 6121
// §4.6); presence.Presence implements it.
type DirectedPresence interface {
	// RevokeDirected sends unavailable presence, from each session of the
	// account with the bare JID bare, to the entities that got directed
	// available presence from it and that blocked reports true for (a
	// canonical JID: the recipient session's full JID, or the address
	// the presence was sent to), and forgets those that blocked matches
	// as addressed. Recipients that also get the unavailable presence
	// announce sends (subscribers of an available session) are left out.
	RevokeDirected(ctx context.Context, bare string, blocked func(jid string) bool)
}

// SetDirected installs the presence feature's directed presence, so that
// blocking a JID that got directed presence from the user's resources
// sends it unavailable presence too. Call before serving; without it,
// only subscribers get unavailable presence on a block.
func (h *Handler) SetDirected(d DirectedPresence) { h.directed = d }

func (h *Handler) lock(user string) *sync.Mutex {
	return &h.locks[maphash.String(h.seed, user)%uint64(len(h.locks))]
}

// setInterested makes s an interested resource (XEP-0191: it gets the
// pushes). A session that was unbound meanwhile is not kept: its OnUnbind
// hook has already run.
func (h *Handler) setInterested(s *router.Session) {
	h.imu.Lock()
	h.interested[s] = struct{}{}
	h.imu.Unlock()
	if h.router.Session(s.BareString(), s.FullString()) != s {
		h.imu.Lock()
		delete(h.interested, s)
		h.imu.Unlock()
	}
}

func (h *Handler) isInterested(s *router.Session) bool {
	h.imu.Lock()
	defer h.imu.Unlock()
	_, ok := h.interested[s]
	return ok
}
