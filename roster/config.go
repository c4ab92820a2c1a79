package roster

import (
	"errors"
	"log/slog"

	"github.com/ringd/ringd/storage"
)

// Store is the storage the roster feature needs: versioned roster items
// and pending inbound subscription requests.
type Store interface {
	storage.Rosters
	storage.SubscriptionRequests
}

// Defaults for Config limits.
const (
	DefaultMaxItems     = 1000 // items per roster
	DefaultMaxGroups    = 100  // groups per item
	DefaultMaxTextBytes = 1023 // bytes of an item name or of a group name
)

// Config configures a Roster. Zero limits take the defaults above.
type Config struct {
	Store  Store
	Logger *slog.Logger // nil: discard

	// MaxItems bounds the items of one roster. A roster set or an outbound
	// subscription stanza that would add an item beyond it is refused with
	// resource-constraint.
	MaxItems int
	// MaxGroups bounds the groups of one item; more: not-acceptable.
	MaxGroups int
	// MaxTextBytes bounds an item's name and each group name, in bytes;
	// longer: not-acceptable (RFC 6121 §2.3.3).
	MaxTextBytes int
}

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxItems <= 0 {
		c.MaxItems = DefaultMaxItems
	}
	if c.MaxGroups <= 0 {
		c.MaxGroups = DefaultMaxGroups
	}
	if c.MaxTextBytes <= 0 {
		c.MaxTextBytes = DefaultMaxTextBytes
	}
	return c
}

func (c Config) validate() error {
	if c.Store == nil {
		return errors.New("roster: no store")
	}
	return nil
}
