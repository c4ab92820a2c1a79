package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ringd/ringd/storage"
)

const (
	insertInflightPrefix = `INSERT INTO inflight_messages (id, username, stanza, created_ms) VALUES `
	deleteInflightPrefix = `DELETE FROM inflight_messages WHERE id IN (`
	selectInflightSQL    = `SELECT id, username, stanza, created_ms FROM inflight_messages WHERE id > ? ORDER BY id`
	maxInflightIDSQL     = `SELECT COALESCE(MAX(id), 0) FROM inflight_messages`

	deleteUserInflightSQL = `DELETE FROM inflight_messages WHERE username = ?`
)

// inflightChunk bounds the rows of one multi-row INSERT: 4 arguments a
// row stays far below SQLite's limit of 32766 bound parameters.
const inflightChunk = 256

var _ storage.Inflight = (*Store)(nil)

// insertInflightSQL renders the INSERT of n rows. A row whose id exists
// is left as it is (a batch whose COMMIT was lost and is run again).
func (s *Store) insertInflightSQL(n int) string {
	if n == inflightChunk && s.q.insertInflightFull != "" {
		return s.q.insertInflightFull
	}
	return insertInflightPrefix + repeatJoin("(?, ?, ?, ?)", n) + " " + s.d.upsertRaw([]string{"id"}, "id = id")
}

// UpdateInflight implements storage.Inflight. It is idempotent: inserts
// keep an existing row, deletes ignore absent ones.
func (s *Store) UpdateInflight(ctx context.Context, add []storage.InflightMessage, del []int64) error {
	if len(add) == 0 && len(del) == 0 {
		return nil
	}
	args := make([]any, 0, 4*min(len(add), inflightChunk))
	err := s.writeIdempotent(ctx, func(tx *sql.Tx) error {
		for chunk := range slices.Chunk(add, inflightChunk) {
			args = args[:0]
			for _, m := range chunk {
				args = append(args, m.ID, m.User, m.Stanza, m.Created.UnixMilli())
			}
			if _, err := tx.ExecContext(ctx, s.insertInflightSQL(len(chunk)), args...); err != nil {
				return fmt.Errorf("insert: %w", err)
			}
		}
		for chunk := range slices.Chunk(del, deleteChunk) {
			args = args[:0]
			for _, id := range chunk {
				args = append(args, id)
			}
			if _, err := tx.ExecContext(ctx, deleteInflightPrefix+repeatJoin("?", len(chunk))+")", args...); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: update in-flight records (%d added, %d deleted): %w", len(add), len(del), err)
	}
	return nil
}

// InflightMessages implements storage.Inflight. Created comes back in UTC.
func (s *Store) InflightMessages(ctx context.Context, after int64, limit int) ([]storage.InflightMessage, error) {
	var out []storage.InflightMessage
	err := s.query(ctx, func() error {
		out = out[:0]
		q, args := selectInflightSQL, []any{after}
		if limit > 0 {
			q, args = q+" LIMIT ?", append(args, limit)
		}
		rows, err := s.db.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var m storage.InflightMessage
			var ms int64
			if err := rows.Scan(&m.ID, &m.User, &m.Stanza, &ms); err != nil {
				return err
			}
			m.Created = time.UnixMilli(ms).UTC()
			out = append(out, m)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read in-flight records after %d: %w", after, err)
	}
	return out, nil
}

// MaxInflightID implements storage.Inflight.
func (s *Store) MaxInflightID(ctx context.Context) (int64, error) {
	var id int64
	err := s.query(ctx, func() error {
		return s.db.QueryRowContext(ctx, maxInflightIDSQL).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("sqlstore: largest in-flight id: %w", err)
	}
	return id, nil
}

// inflightFullSQL is the INSERT of a full chunk, rendered once.
func inflightFullSQL(d Dialect) string {
	var b strings.Builder
	b.WriteString(insertInflightPrefix)
	b.WriteString(repeatJoin("(?, ?, ?, ?)", inflightChunk))
	b.WriteString(" ")
	b.WriteString(d.upsertRaw([]string{"id"}, "id = id"))
	return b.String()
}
