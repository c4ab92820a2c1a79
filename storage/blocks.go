package storage

import "context"

// Blocks stores each user's XEP-0191 block list: the JIDs the user blocked,
// each one a full JID, a bare JID, a domain or a domain/resource, in the
// canonical (PRECIS) string form the caller gives. Whether a list item
// matches an address (a blocked domain covers every JID at it) is the
// caller's business; the store keeps strings and compares them as bytes.
type Blocks interface {
	// BlockList returns the user's blocked JIDs in ascending byte order;
	// empty (not an error) for a user with none or with no account.
	BlockList(ctx context.Context, user string) ([]string, error)
	// Block adds jids to the user's list in one transaction. A JID that
	// is already on it, or is given twice, is kept once.
	Block(ctx context.Context, user string, jids []string) error
	// Unblock removes jids from the user's list in one transaction; JIDs
	// that are not on it are ignored (idempotent).
	Unblock(ctx context.Context, user string, jids []string) error
	// UnblockAll empties the user's list. Idempotent.
	UnblockAll(ctx context.Context, user string) error
	// IsBlocked reports whether jid itself is on the user's list: one
	// keyed lookup, no JID matching.
	IsBlocked(ctx context.Context, user, jid string) (bool, error)
}
