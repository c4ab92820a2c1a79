package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"

	"github.com/ringd/ringd/storage"
)

// A blocked JID is keyed by the user and the SHA-256 of the JID, not by the
// JID itself: on MySQL a JID of up to 3071 bytes does not fit next to the
// username in InnoDB's 3072-byte key (see schema/mysql/0005_blocking.sql).
const (
	insertBlockSQL  = `INSERT INTO blocked_jids (username, jid_key, jid) VALUES (?, ?, ?)`
	deleteBlockSQL  = `DELETE FROM blocked_jids WHERE username = ? AND jid_key = ?`
	selectBlocksSQL = `SELECT jid FROM blocked_jids WHERE username = ? ORDER BY jid`
	selectBlockSQL  = `SELECT 1 FROM blocked_jids WHERE username = ? AND jid_key = ?`

	deleteUserBlocksSQL = `DELETE FROM blocked_jids WHERE username = ?`
)

var _ storage.Blocks = (*Store)(nil)

// jidKey is the key of a blocked JID within a user's list.
func jidKey(jid string) []byte {
	k := sha256.Sum256([]byte(jid))
	return k[:]
}

// BlockList implements storage.Blocks.
func (s *Store) BlockList(ctx context.Context, user string) ([]string, error) {
	var jids []string
	err := s.query(ctx, func() (err error) {
		jids, err = s.blockList(ctx, user)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: block list of %q: %w", user, err)
	}
	return jids, nil
}

func (s *Store) blockList(ctx context.Context, user string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, selectBlocksSQL, user)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jids []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, err
		}
		jids = append(jids, j)
	}
	return jids, rows.Err()
}

// Block implements storage.Blocks. Re-blocking a JID rewrites its row with
// the same value, so the whole call may safely run twice.
func (s *Store) Block(ctx context.Context, user string, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		for _, j := range jids {
			if _, err := tx.ExecContext(ctx, s.q.putBlock, user, jidKey(j), j); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: block %d JIDs for %q: %w", len(jids), user, err)
	}
	return nil
}

// Unblock implements storage.Blocks.
func (s *Store) Unblock(ctx context.Context, user string, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		for _, j := range jids {
			if _, err := tx.ExecContext(ctx, deleteBlockSQL, user, jidKey(j)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: unblock %d JIDs for %q: %w", len(jids), user, err)
	}
	return nil
}

// UnblockAll implements storage.Blocks.
func (s *Store) UnblockAll(ctx context.Context, user string) error {
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, deleteUserBlocksSQL, user)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlstore: unblock all for %q: %w", user, err)
	}
	return nil
}

// IsBlocked implements storage.Blocks.
func (s *Store) IsBlocked(ctx context.Context, user, jid string) (bool, error) {
	var ok bool
	err := s.query(ctx, func() (err error) {
		ok, err = exists(ctx, s.db, selectBlockSQL, user, jidKey(jid))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlstore: is %q blocked by %q: %w", jid, user, err)
	}
	return ok, nil
}
