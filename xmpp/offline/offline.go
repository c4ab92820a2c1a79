package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"mellium.im/xmpp/stanza"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
	"github.com/ringd/ringd/xmpp/wire"
)

// Namespaces this package reads.
const (
	NS      = "msgoffline" // XEP-0160 disco feature
	NSHints = router.NSHints
	NSDelay = "urn:xmpp:delay"
	NSJMI0  = router.NSJMI0
	NSJMI1  = router.NSJMI1
)

// DefaultQuota is the number of messages kept per account.
const DefaultQuota = 1000

// Config configures the offline store.
type Config struct {
	Router *router.Router
	Store  storage.Offline
	Domain string
	Quota  int // messages per account; default DefaultQuota
	// PageBytes bounds how much is handed to a session before waiting for
	// it to drain; default 256 KiB.
	PageBytes int
	// BeforeDelete, when set, runs after a page of stored messages was
	// handed to a session and before they are deleted from storage. The
	// server makes it wait until the in-flight records the session made
	// for them are durable (xmpp/inflight), so that a crash in between
	// cannot lose them; an error keeps the page stored (delivered again
	// at the next login).
	BeforeDelete func(ctx context.Context) error
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

// Offline is the feature.
type Offline struct {
	cfg     Config
	seed    maphash.Seed
	locks   [64]sync.RWMutex
	metrics *metrics
	follow  Follower // nil: stored messages are delivered as they are
}

// New validates cfg; it does no I/O.
func New(cfg Config) (*Offline, error) {
	if cfg.Router == nil || cfg.Store == nil || cfg.Domain == "" {
		return nil, errors.New("offline: router, store and domain are required")
	}
	if cfg.Quota <= 0 {
		cfg.Quota = DefaultQuota
	}
	if cfg.PageBytes <= 0 {
		cfg.PageBytes = 256 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Offline{cfg: cfg, seed: maphash.MakeSeed(), metrics: m}, nil
}

// Register installs the offline hook and delivery at initial presence.
func (o *Offline) Register(r *router.Router) {
	r.SetOfflineHandler(o)
	r.OnInitialPresence(o.deliver)
	r.AddFeature(router.ToServer, NS)
}

// lock returns the account's lock. Storing holds it shared, delivery
// exclusively: a delivery waits for stores already under way, and a store
// that starts later sees the new available session and delivers live.
func (o *Offline) lock(local string) *sync.RWMutex {
	return &o.locks[maphash.String(o.seed, local)%uint64(len(o.locks))]
}

// StoreOffline implements router.OfflineHandler.
func (o *Offline) StoreOffline(ctx context.Context, _ *router.Session, to router.Account, st *wire.Stanza, raw []byte) error {
	if !router.Storable(st) {
		o.metrics.dropped.Inc()
		return nil
	}
	mu := o.lock(to.Local)
	mu.RLock()
	defer mu.RUnlock()
	// A session may have become available while the router decided.
	if live := o.cfg.Router.AvailableSessions(to.Bare); len(live) > 0 {
		for _, s := range live {
			o.cfg.Router.Send(s, raw)
		}
		return nil
	}
	return o.push(ctx, to.Local, raw, o.cfg.Now(), o.cfg.Quota)
}

// KeepOffline implements router.OfflineKeeper: it stores a message a
// session refused, without trying live delivery again.
func (o *Offline) KeepOffline(ctx context.Context, to router.Account, st *wire.Stanza, raw []byte) error {
	if !router.Storable(st) {
		o.metrics.dropped.Inc()
		return nil
	}
	return o.push(ctx, to.Local, raw, o.cfg.Now(), o.cfg.Quota)
}

// push appends raw to the account's queue, counting it, and maps a full
// quota to the stanza error the sender gets.
func (o *Offline) push(ctx context.Context, local string, raw []byte, created time.Time, quota int) error {
	_, err := o.cfg.Store.PushOffline(ctx, local, raw, created, quota)
	switch {
	case errors.Is(err, storage.ErrQuotaExceeded):
		o.metrics.quotaRejected.Inc()
		return stanza.Error{Type: stanza.Wait, Condition: stanza.ResourceConstraint}
	case err != nil:
		return fmt.Errorf("offline: store for %s: %w", local, err)
	}
	o.metrics.stored.Inc()
	return nil
}

// drainer is implemented by sessions that can say when their outbound
// queue has room (xmpp/c2s does).
type drainer interface {
	WaitQueued(ctx context.Context, maxBytes int) error
}

// page is how many stored messages one read fetches at delivery.
const page = 100

// deliver hands the account's stored messages to s, the session that just
// sent initial presence, oldest first, each followed by what the Follower
// adds after it, deleting each page once s took it.
func (o *Offline) deliver(ctx context.Context, s *router.Session) {
	mu := o.lock(s.Username())
	mu.Lock()
	defer mu.Unlock()
	acc := router.Account{Bare: s.BareString(), Local: s.Username()}
	limit := page
	for {
		msgs, err := o.cfg.Store.OfflineMessages(ctx, s.Username(), limit)
		if err != nil {
			o.cfg.Logger.ErrorContext(ctx, "fetch offline messages", "user", s.Username(), "err", err)
			return
		}
		if len(msgs) == 0 {
			return
		}
		judged, after := len(msgs), []storage.OfflineMessage(nil)
		if o.follow != nil {
			last := len(msgs) < limit
			judged, after = o.follow.FollowStored(ctx, acc, msgs, last, o.cfg.Now())
			if judged <= 0 && !last {
				// The first message needs later ones to be judged.
				limit *= 2
				continue
			}
			if judged <= 0 || judged > len(msgs) {
				judged = len(msgs)
			}
		}
		limit = page
		ids := o.hand(ctx, s, msgs[:judged], after)
		if len(ids) > 0 && o.cfg.BeforeDelete != nil {
			if err := o.cfg.BeforeDelete(ctx); err != nil {
				o.cfg.Logger.ErrorContext(ctx, "delivered offline messages kept: their in-flight records are not durable", "user", s.Username(), "err", err)
				return
			}
		}
		if len(ids) > 0 {
			if err := o.cfg.Store.DeleteOffline(ctx, s.Username(), ids); err != nil {
				o.cfg.Logger.ErrorContext(ctx, "delete delivered offline messages", "user", s.Username(), "err", err)
				return
			}
			o.metrics.delivered.Add(float64(len(ids)))
		}
		if len(ids) < judged {
			return // the session went away; the rest stays stored
		}
	}
}

// hand delivers msgs to s, each with what after holds for it (after[i]
// follows msgs[i]), waiting for s's queue to drain every PageBytes. It
// returns the IDs of the messages s took with everything that follows
// them: a message whose follower stanza was refused stays stored, to be
// delivered again with it.
func (o *Offline) hand(ctx context.Context, s *router.Session, msgs, after []storage.OfflineMessage) []int64 {
	ids := make([]int64, 0, len(msgs))
	queued := 0
	for i, m := range msgs {
		if queued >= o.cfg.PageBytes {
			if d, ok := s.Conn().(drainer); ok {
				if err := d.WaitQueued(ctx, o.cfg.PageBytes); err != nil {
					break
				}
			}
			queued = 0
		}
		b := withDelay(m.Stanza, o.cfg.Domain, m.Created)
		if !s.Deliver(b) {
			break
		}
		queued += len(b)
		if i < len(after) && after[i].Stanza != nil {
			f := withDelay(after[i].Stanza, o.cfg.Domain, after[i].Created)
			if !s.Deliver(f) {
				break
			}
			queued += len(f)
		}
		ids = append(ids, m.ID)
	}
	return ids
}

// withDelay inserts a XEP-0203 delay element as the last child of a stored
// message (which always has children: the router added a stanza-id).
func withDelay(raw []byte, domain string, created time.Time) []byte {
	end := bytes.LastIndex(raw, []byte("</"))
	if end < 0 {
		return raw
	}
	b := make([]byte, 0, len(raw)+128)
	b = append(b, raw[:end]...)
	b = append(b, `<delay xmlns="`+NSDelay+`" from="`...)
	b = wire.AppendEscaped(b, domain)
	b = append(b, `" stamp="`...)
	b = created.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `">Offline Storage</delay>`...)
	return append(b, raw[end:]...)
}
