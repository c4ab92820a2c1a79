package storage

import (
	"context"
	"time"
)

// InflightMessage is a message handed to a live session whose client has
// not acknowledged it yet (XEP-0198). The record is what makes an
// acknowledgement to the sender safe across a crash: whatever is still
// recorded when the server starts is moved to the recipient's offline
// queue.
type InflightMessage struct {
	// ID is chosen by the caller, unique among the records, and orders
	// them: a message queued later has a larger ID.
	ID int64
	// User is the recipient account's localpart.
	User string
	// Stanza is the message as it was queued for the client.
	Stanza []byte
	// Created is when the server accepted the message, to the
	// millisecond, in UTC.
	Created time.Time
}

// Inflight stores the in-flight records. It is written in batches (group
// commit) by one writer and read only at start-up.
type Inflight interface {
	// UpdateInflight inserts add and deletes the records with the IDs in
	// del, in one transaction, and returns once that is durable. An add
	// whose ID is already stored (a batch retried after its COMMIT was
	// lost) is not an error and leaves the stored record; deleting an
	// absent ID is ignored.
	UpdateInflight(ctx context.Context, add []InflightMessage, del []int64) error
	// InflightMessages returns up to limit records with an ID above after,
	// in ID order; limit <= 0 returns all.
	InflightMessages(ctx context.Context, after int64, limit int) ([]InflightMessage, error)
	// MaxInflightID returns the largest ID stored, 0 when there is none.
	MaxInflightID(ctx context.Context) (int64, error)
}
