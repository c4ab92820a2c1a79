package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"time"

	"github.com/ringd/ringd/storage"
)

// A registration is keyed by the user and regKey(service, node), not by the
// two strings themselves: on MySQL a JID of up to 3071 bytes and a node of
// any length do not fit next to the username in InnoDB's 3072-byte key (see
// schema/mysql/0003_push.sql). Deleting every registration of one service
// filters the user's rows by service, which is a short range scan of the
// primary key: a user has a handful of registrations.
const (
	insertPushSQL = `INSERT INTO push_registrations (username, reg_key, service, node, options, created_ms) VALUES (?, ?, ?, ?, ?, ?)`
	// service and node break ties between registrations of the same
	// millisecond, so the order is stable across calls and backends.
	selectPushesSQL          = `SELECT service, node, options, created_ms FROM push_registrations WHERE username = ? ORDER BY created_ms, service, node`
	deletePushSQL            = `DELETE FROM push_registrations WHERE username = ? AND reg_key = ?`
	deletePushesOfServiceSQL = `DELETE FROM push_registrations WHERE username = ? AND service = ?`

	deleteUserPushesSQL = `DELETE FROM push_registrations WHERE username = ?`
)

// regKey is the key of the registration (service, node) within a user's:
// SHA-256 over service, a NUL (which no JID contains) and node.
func regKey(service, node string) []byte {
	h := sha256.New()
	h.Write([]byte(service))
	h.Write([]byte{0})
	h.Write([]byte(node))
	return h.Sum(nil)
}

// PutPushRegistration implements storage.Pushes. Created is kept to the
// millisecond; empty Options are stored as none (nil).
func (s *Store) PutPushRegistration(ctx context.Context, user string, reg storage.PushRegistration) error {
	var options any // NULL unless there is a form
	if len(reg.Options) > 0 {
		options = reg.Options
	}
	key := regKey(reg.Service, reg.Node)
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.putPush, user, key, reg.Service, reg.Node, options, reg.Created.UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: put push registration %q/%q/%q: %w", user, reg.Service, reg.Node, err)
	}
	return nil
}

// DeletePushRegistrations implements storage.Pushes.
func (s *Store) DeletePushRegistrations(ctx context.Context, user, service, node string) error {
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		var err error
		if node == "" {
			_, err = tx.ExecContext(ctx, deletePushesOfServiceSQL, user, service)
		} else {
			_, err = tx.ExecContext(ctx, deletePushSQL, user, regKey(service, node))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete push registrations %q/%q/%q: %w", user, service, node, err)
	}
	return nil
}

// PushRegistrations implements storage.Pushes. Created comes back in UTC.
func (s *Store) PushRegistrations(ctx context.Context, user string) ([]storage.PushRegistration, error) {
	var regs []storage.PushRegistration
	err := s.query(ctx, func() (err error) {
		regs, err = s.pushRegistrations(ctx, user)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: push registrations of %q: %w", user, err)
	}
	return regs, nil
}

func (s *Store) pushRegistrations(ctx context.Context, user string) ([]storage.PushRegistration, error) {
	rows, err := s.db.QueryContext(ctx, selectPushesSQL, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var regs []storage.PushRegistration
	for rows.Next() {
		var (
			r  storage.PushRegistration
			ms int64
		)
		if err := rows.Scan(&r.Service, &r.Node, &r.Options, &ms); err != nil {
			return nil, err
		}
		if len(r.Options) == 0 {
			r.Options = nil
		}
		r.Created = time.UnixMilli(ms).UTC()
		regs = append(regs, r)
	}
	return regs, rows.Err()
}
