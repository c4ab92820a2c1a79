package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ringd/ringd/storage"
)

// Store implements storage.Store on a database/sql handle.
type Store struct {
	db *sql.DB
	d  Dialect
	q  queries
	// writer holds a token while a write transaction runs, when the
	// dialect is SingleWriter; nil otherwise.
	writer chan struct{}
}

var _ storage.Store = (*Store)(nil)

// New returns a Store on db speaking dialect d. It does no I/O: the schema
// must already be in place (see Migrate). The Store takes ownership of db;
// Close closes it.
func New(db *sql.DB, d Dialect) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	s := &Store{db: db, d: d, q: newQueries(d)}
	if d.SingleWriter {
		s.writer = make(chan struct{}, 1)
	}
	return s, nil
}

// DB returns the underlying handle, for tools (backup, migrations, health
// checks) that need more than storage.Store offers.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database handle.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("sqlstore: close %s: %w", s.d.Name, err)
	}
	return nil
}

// queries holds the statements whose text depends on the dialect, rendered
// once in New so that no request formats SQL.
type queries struct {
	putRosterItem     string
	bumpRosterVersion string
	putSubRequest     string
	// purgeUser deletes everything stored for one user except the users
	// row itself, one statement per table.
	purgeUser []string
}

func newQueries(d Dialect) queries {
	return queries{
		putRosterItem: insertRosterItemSQL + " " +
			d.upsertSet([]string{"username", "contact"}, "name", "subscription", "ask", "approved", "groups_json"),
		bumpRosterVersion: insertRosterVersionSQL + " " +
			d.upsertRaw([]string{"username"}, "version = version + 1"),
		putSubRequest: insertSubRequestSQL + " " +
			d.upsertSet([]string{"username", "contact"}, "stanza", "created_ms"),
		// Every table keyed by user must be listed here, or DeleteUser
		// breaks its contract; TestPurgeCoversEveryUserTable checks it.
		purgeUser: []string{
			deleteUserRosterItemsSQL,
			deleteUserRosterVersionSQL,
			deleteUserSubRequestsSQL,
		},
	}
}

// Retry policy for transactions that fail on lock contention. The busy
// timeout of SQLite (or InnoDB's lock wait) has already waited before such an
// error reaches us, so a few attempts with a short jittered pause suffice.
const (
	maxAttempts  = 4
	retryBackoff = 10 * time.Millisecond
)

// write runs fn in a read-write transaction, retrying it from the start
// when the dialect calls the failure retryable. fn must not have effects
// outside the transaction.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.tx(ctx, nil, fn)
}

// read runs fn in a read-only transaction so that several queries see one
// snapshot (a roster and its version, say).
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.tx(ctx, &sql.TxOptions{ReadOnly: true}, fn)
}

func (s *Store) tx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, opts, fn)
		if err == nil || attempt == maxAttempts || !s.d.IsRetryable(err) {
			return err
		}
		pause := retryBackoff<<(attempt-1) + rand.N(retryBackoff)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

func (s *Store) tryTx(ctx context.Context, opts *sql.TxOptions, fn func(*sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			// The rollback error adds nothing: the transaction is void
			// either way, and err says why.
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// rowsAffected returns how many rows res changed.
func rowsAffected(res sql.Result) (int64, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// exists runs a query that selects at most one row and reports whether it
// did.
func exists(ctx context.Context, q queryRower, query string, args ...any) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, nil
}
