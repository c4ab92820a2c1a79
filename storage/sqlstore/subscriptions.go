package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ringd/ringd/storage"
)

const (
	insertSubRequestSQL = `INSERT INTO subscription_requests (username, contact, stanza, created_ms) VALUES (?, ?, ?, ?)`
	deleteSubRequestSQL = `DELETE FROM subscription_requests WHERE username = ? AND contact = ?`
	selectSubRequestSQL = `SELECT 1 FROM subscription_requests WHERE username = ? AND contact = ?`
	// contact breaks ties between requests of the same millisecond so the
	// order is stable across calls and backends.
	selectSubRequestsSQL = `SELECT contact, stanza, created_ms FROM subscription_requests WHERE username = ? ORDER BY created_ms, contact`

	deleteUserSubRequestsSQL = `DELETE FROM subscription_requests WHERE username = ?`
)

// PutSubscriptionRequest implements storage.SubscriptionRequests. Created is
// kept to the millisecond.
func (s *Store) PutSubscriptionRequest(ctx context.Context, user string, req storage.SubscriptionRequest) error {
	// A nil stanza would be stored as NULL; keep the column's meaning
	// "the bytes delivered", which may be empty but are never absent.
	stanza := req.Stanza
	if stanza == nil {
		stanza = []byte{}
	}
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.putSubRequest, user, req.Contact, stanza, req.Created.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: put subscription request %q/%q: %w", user, req.Contact, err)
	}
	return nil
}

// DeleteSubscriptionRequest implements storage.SubscriptionRequests.
func (s *Store) DeleteSubscriptionRequest(ctx context.Context, user, contact string) error {
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, deleteSubRequestSQL, user, contact)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete subscription request %q/%q: %w", user, contact, err)
	}
	return nil
}

// HasSubscriptionRequest implements storage.SubscriptionRequests.
func (s *Store) HasSubscriptionRequest(ctx context.Context, user, contact string) (bool, error) {
	var ok bool
	err := s.query(ctx, func() (err error) {
		ok, err = exists(ctx, s.db, selectSubRequestSQL, user, contact)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: has subscription request %q/%q: %w", user, contact, err)
	}
	return ok, nil
}

// SubscriptionRequests implements storage.SubscriptionRequests. Created
// comes back in UTC.
func (s *Store) SubscriptionRequests(ctx context.Context, user string) ([]storage.SubscriptionRequest, error) {
	var reqs []storage.SubscriptionRequest
	err := s.query(ctx, func() (err error) {
		reqs, err = s.subscriptionRequests(ctx, user)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: subscription requests of %q: %w", user, err)
	}
	return reqs, nil
}

func (s *Store) subscriptionRequests(ctx context.Context, user string) ([]storage.SubscriptionRequest, error) {
	rows, err := s.db.QueryContext(ctx, selectSubRequestsSQL, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var reqs []storage.SubscriptionRequest
	for rows.Next() {
		var (
			r  storage.SubscriptionRequest
			ms int64
		)
		if err := rows.Scan(&r.Contact, &r.Stanza, &ms); err != nil {
			return nil, err
		}
		r.Created = time.UnixMilli(ms).UTC()
		reqs = append(reqs, r)
	}
	return reqs, rows.Err()
}
