package presence

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/router"
)

// Rosters is the part of storage.Rosters this package reads; any
// storage.Rosters (and so any storage.Store) satisfies it. Keeping it this
// small lets xmpp/server put a cache in front of the store later.
type Rosters interface {
	// Roster returns the user's (localpart's) items.
	Roster(ctx context.Context, user string) ([]storage.RosterItem, int64, error)
	// RosterItem returns storage.ErrNotFound when contact (a bare JID) is
	// not in the user's roster.
	RosterItem(ctx context.Context, user, contact string) (storage.RosterItem, error)
}

// Blocker tells whether a user blocked a JID (XEP-0191); xmpp/blocking's
// Handler is one. Presence the package sends itself does not pass the
// router's stanza gate, so it asks. Both methods are asked during every
// broadcast, so they must be cheap, and must not allocate, when their
// answer is cached.
type Blocker interface {
	// BlocksAnyone reports whether the local account user (a localpart)
	// blocked any JID. Most users block nobody: a broadcast asks this
	// once per account it reaches, and Blocks only when it says yes.
	BlocksAnyone(ctx context.Context, user string) (bool, error)
	// Blocks reports whether user blocked jid, a JID in canonical form
	// (a session's full JID string).
	Blocks(ctx context.Context, user, jid string) (bool, error)
}

// Defaults for Config.
const (
	DefaultStorageTimeout = 5 * time.Second
	DefaultMaxDirected    = 1000
)

// Config configures the presence feature.
type Config struct {
	Router  *router.Router // required
	Rosters Rosters        // required
	Logger  *slog.Logger   // nil: discard
	// Registerer receives the package's metrics; nil: not registered.
	Registerer prometheus.Registerer
	// Now is the clock for XEP-0203 delay stamps; nil: time.Now.
	Now func() time.Time
	// StorageTimeout bounds the roster reads of one presence stanza;
	// default DefaultStorageTimeout.
	StorageTimeout time.Duration
	// Blocker, when set, keeps presence from crossing a block (XEP-0191
	// §3.3): a session gets no presence from a session whose JID its user
	// blocked, nor from one whose user blocked its JID. nil: nobody is
	// blocked.
	Blocker Blocker
	// MaxDirected is how many addressees of directed presence one session
	// remembers for its unavailable presence (RFC 6121 §4.6.3); beyond it,
	// directed presence is still delivered but not remembered. Default
	// DefaultMaxDirected.
	MaxDirected int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.StorageTimeout <= 0 {
		c.StorageTimeout = DefaultStorageTimeout
	}
	if c.MaxDirected <= 0 {
		c.MaxDirected = DefaultMaxDirected
	}
	return c
}

func (c Config) validate() error {
	if c.Router == nil {
		return errors.New("presence: no router")
	}
	if c.Rosters == nil {
		return errors.New("presence: no roster store")
	}
	return nil
}
