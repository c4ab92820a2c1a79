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
	// push batches concurrent PushOffline calls into shared transactions;
	// nil when Config.OfflineBatch is 1.
	push *committer
}

var (
	_ storage.Store   = (*Store)(nil)
	_ storage.Offline = (*Store)(nil)
	_ storage.Pushes  = (*Store)(nil)
)

// Defaults of Config.
const (
	DefaultOfflineBatch      = 128
	DefaultOfflineCommitters = 4
)

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// OfflineBatch is the most PushOffline calls that one transaction
	// commits together (group commit; see groupcommit.go). 0 means
	// DefaultOfflineBatch; 1 turns group commit off, so that each push
	// runs its own transaction in the caller's goroutine.
	OfflineBatch int
	// OfflineCommitters is how many batches of pushes may commit at once.
	// 0 means 1 when the dialect is SingleWriter (more would only queue
	// for the one writer) and DefaultOfflineCommitters otherwise.
	OfflineCommitters int
}

func (c Config) withDefaults(d Dialect) Config {
	if c.OfflineBatch == 0 {
		c.OfflineBatch = DefaultOfflineBatch
	}
	if c.OfflineCommitters == 0 {
		c.OfflineCommitters = DefaultOfflineCommitters
		if d.SingleWriter {
			c.OfflineCommitters = 1
		}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.OfflineBatch < 1 {
		errs = append(errs, fmt.Errorf("OfflineBatch %d: want at least 1 (0 for the default)", c.OfflineBatch))
	}
	if c.OfflineCommitters < 1 {
		errs = append(errs, fmt.Errorf("OfflineCommitters %d: want at least 1 (0 for the default)", c.OfflineCommitters))
	}
	return errors.Join(errs...)
}

// New returns a Store on db speaking dialect d. It does no I/O and starts
// no goroutine: the schema must already be in place (see Migrate), and the
// group committer starts with the first PushOffline. The Store takes
// ownership of db; Close closes it.
func New(db *sql.DB, d Dialect, cfg Config) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if err := d.validate(); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	cfg = cfg.withDefaults(d)
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("sqlstore: %w", err)
	}
	s := &Store{db: db, d: d, q: newQueries(d)}
	if d.SingleWriter {
		s.writer = make(chan struct{}, 1)
	}
	if cfg.OfflineBatch > 1 {
		s.push = newCommitter(s, cfg.OfflineBatch, cfg.OfflineCommitters)
	}
	return s, nil
}

// DB returns the underlying handle, for tools (backup, migrations, health
// checks) that need more than storage.Store offers.
func (s *Store) DB() *sql.DB { return s.db }

// Close waits for the pushes already handed to the group committer to
// commit, then closes the database handle. Calls after Close fail.
func (s *Store) Close() error {
	if s.push != nil {
		s.push.close()
	}
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
	claimOffline      string
	keepOfflineQueues string
	setOfflineQueues  string
	putPush           string
	putBlock          string
	// insertInflightFull inserts a full chunk of in-flight records.
	insertInflightFull string
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
		claimOffline:       claimOfflineSQL(d),
		insertInflightFull: inflightFullSQL(d),
		keepOfflineQueues:  d.upsertRaw([]string{"username"}, "queued = queued"),
		setOfflineQueues:   d.upsertSet([]string{"username"}, "queued"),
		putPush: insertPushSQL + " " +
			d.upsertSet([]string{"username", "reg_key"}, "options", "created_ms"),
		putBlock: insertBlockSQL + " " + d.upsertSet([]string{"username", "jid_key"}, "jid"),
		// Every table keyed by user must be listed here, or DeleteUser
		// breaks its contract; TestPurgeCoversEveryUserTable checks it.
		// offline_queues comes before offline_messages: every writer of
		// a queue locks its counter row first, and taking locks in one
		// order keeps InnoDB from picking deadlock victims.
		purgeUser: []string{
			deleteUserRosterItemsSQL,
			deleteUserRosterVersionSQL,
			deleteUserSubRequestsSQL,
			deleteUserOfflineQueueSQL,
			deleteUserOfflineSQL,
			deleteUserPushesSQL,
			deleteUserBlocksSQL,
			deleteUserInflightSQL,
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

// Which operations may run again after the connection broke during COMMIT
// (Dialect.IsConnLost)? Those whose second run leaves the same state and
// returns the same answer as the first: every read, SetCredentials,
// PutSubscriptionRequest, DeleteSubscriptionRequest, DeleteOffline,
// PutPushRegistration and DeletePushRegistrations (writeIdempotent). The
// others (CreateUser and DeleteUser, which would answer ErrConflict or
// ErrNotFound to their own success; PutRosterItem and DeleteRosterItem,
// which bump the roster version; PushOffline, which would store the
// stanza twice) are retried only when the connection broke before COMMIT
// was sent, when the server has certainly rolled them back.

// write runs fn in a read-write transaction, retrying it from the start
// when the dialect calls the failure retryable. fn must not have effects
// outside the transaction.
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.writeTx(ctx, false, fn)
}

// writeIdempotent is write for changes that may be applied twice, so that
// they are retried even when the connection broke during COMMIT.
func (s *Store) writeIdempotent(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.writeTx(ctx, true, fn)
}

func (s *Store) writeTx(ctx context.Context, idempotent bool, fn func(*sql.Tx) error) error {
	if s.writer != nil {
		select {
		case s.writer <- struct{}{}:
			defer func() { <-s.writer }()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.retry(ctx, idempotent, func() error { return s.tryTx(ctx, nil, fn) })
}

// read runs fn in a read-only transaction so that several queries see one
// snapshot (a roster and its version, say).
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	return s.retry(ctx, true, func() error { return s.tryTx(ctx, &sql.TxOptions{ReadOnly: true}, fn) })
}

// query runs fn, which reads with single statements outside a
// transaction, retrying it like read. fn must reset whatever it fills.
func (s *Store) query(ctx context.Context, fn func() error) error {
	return s.retry(ctx, true, fn)
}

func (s *Store) retry(ctx context.Context, idempotent bool, op func() error) error {
	for attempt := 1; ; attempt++ {
		err := op()
		if err == nil || attempt == maxAttempts || !s.retryable(err, idempotent) {
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

// retryable reports whether an operation that failed with err may run
// again; see the list above.
func (s *Store) retryable(err error, idempotent bool) bool {
	if s.d.IsRetryable(err) {
		return true
	}
	if s.d.IsConnLost == nil || !s.d.IsConnLost(err) {
		return false
	}
	var ce *commitError
	return idempotent || !errors.As(err, &ce)
}

// commitError is a failed COMMIT: unlike a failure before it, the
// transaction may have been committed.
type commitError struct{ err error }

func (e *commitError) Error() string { return "commit: " + e.err.Error() }
func (e *commitError) Unwrap() error { return e.err }

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
		return &commitError{err: err}
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
