package roster

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"sync"

	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Namespaces.
const (
	// NS is the roster namespace (RFC 6121 §2).
	NS = "jabber:iq:roster"
	// NSRosterVer is the stream feature of roster versioning (XEP-0237).
	NSRosterVer = "urn:xmpp:features:rosterver"
	// NSPreApproval is the stream feature of subscription pre-approval
	// (RFC 6121 §3.4).
	NSPreApproval = "urn:xmpp:features:pre-approval"
)

// StreamFeatures returns the stream features the roster feature adds to
// c2s stream negotiation: roster versioning (XEP-0237) and subscription
// pre-approval (RFC 6121 §3.4). Each is one complete element; the
// slices are the caller's.
func StreamFeatures() [][]byte {
	return [][]byte{
		[]byte(`<ver xmlns="` + NSRosterVer + `"/>`),
		[]byte(`<sub xmlns="` + NSPreApproval + `"/>`),
	}
}

// Router is what the roster feature needs from the router: the sessions of
// an account, delivery, error replies, account lookups and fresh stanza
// ids.
// *router.Router implements it.
type Router interface {
	Sessions(bare string) []*router.Session
	Send(dst *router.Session, raw []byte)
	Bounce(s *router.Session, st *wire.Stanza, se stanza.Error)
	UserExists(ctx context.Context, localpart string) (bool, error)
	NewID() string
	Domain() string
}

// Roster serves roster IQs (RFC 6121 §2) and presence subscriptions (RFC
// 6121 §3) for the accounts of one domain. Its methods are safe for
// concurrent use.
type Roster struct {
	cfg   Config
	store Store
	log   *slog.Logger
	rt    Router

	// locks serialise the read-modify-write of one user's roster and
	// pending requests. A goroutine holds at most one of them at a time
	// (subscription processing finishes with one roster before it turns
	// to the other's), so they cannot deadlock.
	locks [64]sync.Mutex
	seed  maphash.Seed
}

var (
	_ router.IQHandler           = (*Roster)(nil)
	_ router.SubscriptionHandler = (*Roster)(nil)
)

// New returns a roster feature for cfg. It does no I/O; call Register to
// plug it into a router.
func New(cfg Config) (*Roster, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Roster{
		cfg:   cfg,
		store: cfg.Store,
		log:   cfg.Logger,
		seed:  maphash.MakeSeed(),
	}, nil
}

// Register installs the roster feature in rt: the jabber:iq:roster IQ
// handler, the subscription handler and the initial-presence hook that
// re-delivers pending subscription requests. Call it once, before serving.
func (r *Roster) Register(rt *router.Router) {
	r.rt = rt
	rt.HandleIQ(NS, router.ToAccount, r)
	rt.SetSubscriptionHandler(r)
	rt.OnInitialPresence(r.InitialPresence)
}

// lock locks user's roster and returns the unlock function.
func (r *Roster) lock(user string) func() {
	m := &r.locks[maphash.String(r.seed, user)%uint64(len(r.locks))]
	m.Lock()
	return m.Unlock
}

// InitialPresence delivers the subscription requests the user has not
// answered yet to the session that just sent initial presence (RFC 6121
// §3.1.3: until the contact approves or denies, every new available
// resource gets them). Register installs it as an OnInitialPresence hook.
func (r *Roster) InitialPresence(ctx context.Context, s *router.Session) {
	reqs, err := r.store.SubscriptionRequests(ctx, s.Username())
	if err != nil {
		r.log.ErrorContext(ctx, "loading pending subscription requests failed", "jid", s.FullString(), "err", err)
		return
	}
	for _, req := range reqs {
		if len(req.Stanza) == 0 {
			continue
		}
		r.rt.Send(s, req.Stanza)
	}
}

// push sends a roster push of one item to every interested resource of
// the account bare (RFC 6121 §2.1.6).
func (r *Roster) push(bare string, ver int64, item []byte) {
	for _, s := range r.rt.Sessions(bare) {
		if !s.RosterRequested() {
			continue
		}
		r.rt.Send(s, r.buildPush(s.FullString(), ver, item))
	}
}

// buildPush builds <iq type='set'> carrying item (a complete <item/>) for
// the full JID to; without 'from', which the client takes as its own
// account (RFC 6121 §2.1.6).
func (r *Roster) buildPush(to string, ver int64, item []byte) []byte {
	id := r.rt.NewID()
	b := make([]byte, 0, 96+len(id)+len(to)+len(item))
	b = append(b, `<iq type="set" id="`...)
	b = appendEscaped(b, id)
	b = append(b, `" to="`...)
	b = appendEscaped(b, to)
	b = append(b, `"><query xmlns="`+NS+`" ver="`...)
	b = strconv.AppendInt(b, ver, 10)
	b = append(b, `">`...)
	b = append(b, item...)
	return append(b, `</query></iq>`...)
}

// putItem stores it in user's roster and pushes it.
func (r *Roster) putItem(ctx context.Context, user, bare string, it storage.RosterItem) error {
	ver, err := r.store.PutRosterItem(ctx, user, it)
	if err != nil {
		return fmt.Errorf("roster: put %s in %s's roster: %w", it.Contact, user, err)
	}
	r.push(bare, ver, appendItem(nil, it))
	return nil
}
