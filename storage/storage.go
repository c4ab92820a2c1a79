package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors every backend returns (wrapped) so callers can test with
// errors.Is.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrConflict = errors.New("storage: already exists")
	// ErrQuotaExceeded is returned when a per-user quota is full; nothing
	// was stored.
	ErrQuotaExceeded = errors.New("storage: quota exceeded")
)

// Credentials are the SCRAM keys of one account (RFC 5802 §3): never a
// password nor a salted password. One salt and iteration count serve both
// hash functions.
type Credentials struct {
	Salt       []byte
	Iterations int
	// SHA-1 (SCRAM-SHA-1) and SHA-256 (SCRAM-SHA-256) keys.
	StoredKey1, ServerKey1     []byte
	StoredKey256, ServerKey256 []byte
}

// Users stores accounts of the served domain, keyed by the PRECIS-normalised
// localpart.
type Users interface {
	// CreateUser returns ErrConflict when the user exists.
	CreateUser(ctx context.Context, username string, cred Credentials) error
	// DeleteUser removes the account and everything stored for it (roster,
	// subscription requests, and whatever later stores hold); ErrNotFound
	// when absent.
	DeleteUser(ctx context.Context, username string) error
	// SetCredentials returns ErrNotFound when the user does not exist.
	SetCredentials(ctx context.Context, username string, cred Credentials) error
	// Credentials returns ErrNotFound when the user does not exist.
	Credentials(ctx context.Context, username string) (Credentials, error)
	UserExists(ctx context.Context, username string) (bool, error)
	// ListUsers returns all usernames in ascending byte order.
	ListUsers(ctx context.Context) ([]string, error)
	CountUsers(ctx context.Context) (int, error)
}

// Subscription is the RFC 6121 subscription state of a roster item.
type Subscription string

const (
	SubNone Subscription = "none"
	SubTo   Subscription = "to"
	SubFrom Subscription = "from"
	SubBoth Subscription = "both"
)

// RosterItem is one contact in a user's roster. Contact is a bare JID in
// canonical (PRECIS) string form.
type RosterItem struct {
	Contact      string
	Name         string
	Subscription Subscription
	// Ask is true while the user's outbound subscription request is pending
	// ("Pending Out" in RFC 6121 Appendix A).
	Ask bool
	// Approved is true when the user pre-approved the contact's subscription
	// (RFC 6121 §3.4).
	Approved bool
	Groups   []string
}

// Rosters stores roster items with a per-user roster version (XEP-0237).
// Every change to a user's roster increments that user's version by one; the
// version of a user with no roster is 0.
type Rosters interface {
	// Roster returns the user's items (ordered by contact) and version.
	Roster(ctx context.Context, user string) ([]RosterItem, int64, error)
	// RosterItem returns ErrNotFound when the contact is not in the roster.
	RosterItem(ctx context.Context, user, contact string) (RosterItem, error)
	// PutRosterItem inserts or replaces the item and returns the new version.
	PutRosterItem(ctx context.Context, user string, item RosterItem) (int64, error)
	// DeleteRosterItem removes the item and returns the new version;
	// ErrNotFound when absent (the version is unchanged then).
	DeleteRosterItem(ctx context.Context, user, contact string) (int64, error)
	RosterVersion(ctx context.Context, user string) (int64, error)
}

// SubscriptionRequest is an inbound presence subscription request that the
// user has not answered yet ("Pending In"), kept so it can be delivered
// again at the user's next login (RFC 6121 §3.1.3).
type SubscriptionRequest struct {
	Contact string // bare JID of the requester
	Stanza  []byte // the presence stanza as it was delivered (with from)
	Created time.Time
}

// SubscriptionRequests stores pending inbound subscription requests, one per
// (user, contact).
type SubscriptionRequests interface {
	// PutSubscriptionRequest inserts or replaces the request.
	PutSubscriptionRequest(ctx context.Context, user string, req SubscriptionRequest) error
	// DeleteSubscriptionRequest is idempotent: deleting an absent request is
	// not an error.
	DeleteSubscriptionRequest(ctx context.Context, user, contact string) error
	HasSubscriptionRequest(ctx context.Context, user, contact string) (bool, error)
	// SubscriptionRequests returns the user's pending requests, oldest first.
	SubscriptionRequests(ctx context.Context, user string) ([]SubscriptionRequest, error)
}

// OfflineMessage is a stanza kept for an account that had no available
// resource when it arrived (XEP-0160).
type OfflineMessage struct {
	// ID orders a user's messages: a later push has a larger ID.
	ID int64
	// Stanza is the stanza as it will be delivered (from stamped,
	// stanza-id added), without the delay element added at delivery.
	Stanza []byte
	// Created is when the server accepted the stanza, to the millisecond,
	// in UTC.
	Created time.Time
}

// Offline stores per-user queues of stanzas, in arrival order, with a
// per-user quota. Deletion is explicit: a message stays until the caller
// knows it was delivered.
type Offline interface {
	// PushOffline appends stanza to the user's queue and returns once it is
	// durable. When the queue already holds quota messages it returns
	// ErrQuotaExceeded and stores nothing (nothing is evicted). quota <= 0
	// means no limit.
	PushOffline(ctx context.Context, user string, stanza []byte, created time.Time, quota int) (int64, error)
	// OfflineMessages returns up to limit of the user's oldest messages in
	// arrival order; limit <= 0 returns all.
	OfflineMessages(ctx context.Context, user string, limit int) ([]OfflineMessage, error)
	// DeleteOffline removes the messages with the given IDs; absent IDs are
	// ignored (idempotent).
	DeleteOffline(ctx context.Context, user string, ids []int64) error
	CountOffline(ctx context.Context, user string) (int, error)
}

// PushRegistration is one XEP-0357 registration: a device of the user asked
// the server to notify an app server (Service JID) on Node.
type PushRegistration struct {
	Service string // app server JID (as the client gave it, normalised)
	Node    string
	Options []byte // the publish-options data form as XML, or nil
	Created time.Time
}

// Pushes stores XEP-0357 push registrations, one per (user, Service, Node).
type Pushes interface {
	// PutPushRegistration inserts or replaces the registration (user,
	// Service, Node).
	PutPushRegistration(ctx context.Context, user string, reg PushRegistration) error
	// DeletePushRegistrations removes the user's registration for service
	// and node; node "" removes all of the user's registrations for
	// service. Idempotent.
	DeletePushRegistrations(ctx context.Context, user, service, node string) error
	// PushRegistrations returns the user's registrations, oldest first.
	PushRegistrations(ctx context.Context, user string) ([]PushRegistration, error)
}

// Store is everything a backend provides.
type Store interface {
	Users
	Rosters
	SubscriptionRequests
	Offline
	Pushes
	Inflight
	Blocks
	// Close releases the backend's resources.
	Close() error
}
