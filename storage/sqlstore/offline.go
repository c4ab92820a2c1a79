package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ringd/ringd/storage"
)

// A user's queue is the rows of offline_messages with that username, and
// its length is kept in offline_queues.queued, in the transaction of every
// insert and delete. The counter row is also the queue's lock: a push
// claims a place with one upsert that creates the row (queued = 1) or adds
// one to it only while it is under the quota, and reports whether it
// changed a row. On InnoDB that statement reads the latest committed row
// and locks it (a plain SELECT COUNT(*) would read the transaction's
// snapshot, so two pushes at quota-1 could both see room); under SQLite's
// single writer it is trivially atomic. Pushes for one user thus serialise
// on one row, from any number of processes, and one that finds no room
// changes nothing.
//
// The claim must not start with an UPDATE of a row that may be missing:
// InnoDB would lock the gap where the row belongs, two pushes for a new
// user would each hold that gap lock and wait for the other's to insert,
// and one would die as a deadlock victim, again and again under load.
//
// Every writer of a queue locks its counter row before its messages, and a
// batch of pushes locks its users' rows in username order, so writers
// never wait for each other in a cycle.
const (
	insertOfflineClaimSQL = `INSERT INTO offline_queues (username, queued) VALUES (?, 1)`
	lockOfflineQueueSQL   = `UPDATE offline_queues SET queued = queued WHERE username = ?`
	releaseOfflineSQL     = `UPDATE offline_queues SET queued = queued - ? WHERE username = ?`
	insertOfflineSQL      = `INSERT INTO offline_messages (username, stanza, created_ms) VALUES (?, ?, ?)`
	selectOfflineSQL      = `SELECT id, stanza, created_ms FROM offline_messages WHERE username = ? ORDER BY id`
	selectOfflineLimitSQL = selectOfflineSQL + ` LIMIT ?`
	deleteOfflinePrefix   = `DELETE FROM offline_messages WHERE username = ? AND id IN (`
	countOfflineSQL       = `SELECT queued FROM offline_queues WHERE username = ?`

	deleteUserOfflineSQL      = `DELETE FROM offline_messages WHERE username = ?`
	deleteUserOfflineQueueSQL = `DELETE FROM offline_queues WHERE username = ?`
)

// claimOfflineSQL renders the claim for d; its arguments are the username
// and the quota. Both forms change a row, and so report at least one
// affected row, exactly when they took a place: SQLite's upsert skips the
// update when its WHERE fails; MySQL reports 0 for a row set to its own
// value (the driver's clientFoundRows is off, which storage/mysql forces).
func claimOfflineSQL(d Dialect) string {
	if d.Upsert == UpsertOnDuplicateKey {
		return insertOfflineClaimSQL + " ON DUPLICATE KEY UPDATE queued = CASE WHEN queued < ? THEN queued + 1 ELSE queued END"
	}
	return insertOfflineClaimSQL + " ON CONFLICT (username) DO UPDATE SET queued = queued + 1 WHERE queued < ?"
}

// deleteChunk bounds the ids in one DELETE … IN (…) statement, well under
// every engine's limit on bound parameters.
const deleteChunk = 500

// PushOffline implements storage.Offline. Concurrent calls are committed
// together by the group committer (see groupcommit.go) unless
// Config.OfflineBatch is 1. A call whose ctx ends before its transaction
// starts stores nothing; one whose ctx ends while the transaction commits
// returns ctx's error, and the stanza may or may not be stored, as with any
// write cut short.
func (s *Store) PushOffline(ctx context.Context, user string, stanza []byte, created time.Time, quota int) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlstore: push offline for %q: %w", user, err)
	}
	// A nil stanza would be stored as NULL; the column means "the bytes",
	// which may be empty but are never absent.
	if stanza == nil {
		stanza = []byte{}
	}
	r := pushRequest{user: user, stanza: stanza, created: created.UnixMilli(), quota: int64(quota)}
	if quota <= 0 {
		r.quota = math.MaxInt64
	}
	var (
		id  int64
		err error
	)
	if s.push != nil {
		id, err = s.push.push(ctx, &r)
	} else {
		err = s.write(ctx, func(tx *sql.Tx) error {
			id, err = s.pushTx(ctx, tx, &r)
			return err
		})
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: push offline for %q: %w", user, err)
	}
	return id, nil
}

// pushTx stores r inside tx and returns its id, or storage.ErrQuotaExceeded
// having changed nothing.
func (s *Store) pushTx(ctx context.Context, tx *sql.Tx, r *pushRequest) (int64, error) {
	res, err := tx.ExecContext(ctx, s.q.claimOffline, r.user, r.quota)
	if err != nil {
		return 0, err
	}
	n, err := rowsAffected(res)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, storage.ErrQuotaExceeded
	}
	res, err = tx.ExecContext(ctx, insertOfflineSQL, r.user, r.stanza, r.created)
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("last insert id: %w", err)
	}
	return id, nil
}

// OfflineMessages implements storage.Offline. Created comes back in UTC.
func (s *Store) OfflineMessages(ctx context.Context, user string, limit int) ([]storage.OfflineMessage, error) {
	var msgs []storage.OfflineMessage
	err := s.query(ctx, func() error {
		var err error
		msgs, err = s.offlineMessages(ctx, user, limit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: offline messages of %q: %w", user, err)
	}
	return msgs, nil
}

func (s *Store) offlineMessages(ctx context.Context, user string, limit int) ([]storage.OfflineMessage, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if limit > 0 {
		rows, err = s.db.QueryContext(ctx, selectOfflineLimitSQL, user, limit)
	} else {
		rows, err = s.db.QueryContext(ctx, selectOfflineSQL, user)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var msgs []storage.OfflineMessage
	for rows.Next() {
		var (
			m  storage.OfflineMessage
			ms int64
		)
		if err := rows.Scan(&m.ID, &m.Stanza, &ms); err != nil {
			return nil, err
		}
		m.Created = time.UnixMilli(ms).UTC()
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// DeleteOffline implements storage.Offline. It is one transaction however
// many ids it is given.
func (s *Store) DeleteOffline(ctx context.Context, user string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, lockOfflineQueueSQL, user); err != nil {
			return err
		}
		var deleted int64
		for chunk := range slices.Chunk(ids, deleteChunk) {
			args := make([]any, 0, len(chunk)+1)
			args = append(args, user)
			for _, id := range chunk {
				args = append(args, id)
			}
			q := deleteOfflinePrefix + repeatJoin("?", len(chunk)) + ")"
			res, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return err
			}
			n, err := rowsAffected(res)
			if err != nil {
				return err
			}
			deleted += n
		}
		if deleted == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, releaseOfflineSQL, deleted, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: delete %d offline messages of %q: %w", len(ids), user, err)
	}
	return nil
}

// CountOffline implements storage.Offline.
func (s *Store) CountOffline(ctx context.Context, user string) (int, error) {
	var n int
	err := s.query(ctx, func() error {
		err := s.db.QueryRowContext(ctx, countOfflineSQL, user).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			n = 0
			return nil
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: count offline messages of %q: %w", user, err)
	}
	return n, nil
}
