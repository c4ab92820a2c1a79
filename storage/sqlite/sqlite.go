package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ringd/ringd/storage/sqlstore"
)

// Store is a storage.Store on one SQLite file.
type Store struct {
	*sqlstore.Store
}

// busyTimeoutMS is how long a connection waits for another writer, in this
// process or another, before failing with SQLITE_BUSY. Writes are short, so
// running into it means something holds the lock far too long.
const busyTimeoutMS = 5000

// maxConns bounds the pool. WAL lets readers run in parallel with the one
// writer, but more connections than a few per core only add memory (each
// has its own page cache) and busy-waiting writers.
const maxConns = 8

// Open opens the database file at path, creating it and its parent
// directories if needed, and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, sqlstore.Config{})
}

func open(ctx context.Context, path string, cfg sqlstore.Config) (*Store, error) {
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	ms, err := sqlstore.SQLiteMigrations()
	if err == nil {
		_, err = sqlstore.Migrate(ctx, db, ms)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), db.Close())
	}
	s, err := sqlstore.New(db, Dialect(), cfg)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), db.Close())
	}
	return &Store{Store: s}, nil
}

// Migrate brings the schema of the database file at path up to date,
// creating the file if needed, and returns the migrations it applied. It is
// safe while a server has the file open.
func Migrate(ctx context.Context, path string) (applied []sqlstore.Migration, err error) {
	db, err := openDB(ctx, path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := db.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("sqlite: close %s: %w", path, cerr))
		}
	}()
	ms, err := sqlstore.SQLiteMigrations()
	if err != nil {
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	applied, err = sqlstore.Migrate(ctx, db, ms)
	if err != nil {
		return applied, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return applied, nil
}

// Dialect is SQLite's sqlstore.Dialect.
func Dialect() sqlstore.Dialect {
	return sqlstore.Dialect{
		Name:        "sqlite",
		Upsert:      sqlstore.UpsertOnConflict,
		IsConflict:  isConflict,
		IsRetryable: isRetryable,
		// One writer at a time is SQLite's model; queueing in-process
		// writers in Go cut the worst PutRosterItem latency of 8
		// contending writers from 0.7–3.1 s to 0.25–0.6 s on a loaded
		// 2-core machine.
		SingleWriter: true,
	}
}

func isConflict(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	// Extended result codes are on in modernc.org/sqlite; other
	// constraint failures (NOT NULL, CHECK) are bugs, not conflicts.
	switch e.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

func isRetryable(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	// The primary code is the low byte; BUSY_SNAPSHOT and friends
	// extend BUSY.
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// openDB opens path with ringd's connection settings and checks that the
// file can be used, without touching the schema.
func openDB(ctx context.Context, path string) (*sql.DB, error) {
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqlite: open %q: need a file path; an in-memory database is per connection", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// SQLite would create the file world-readable; it holds SCRAM keys.
	// Its -wal and -shm files inherit the mode of the database file.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(abs))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxConns)
	// Keep every connection: a new one pays for the pragmas and a cold
	// page cache.
	db.SetMaxIdleConns(maxConns)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("sqlite: open %s: %w", path, err), db.Close())
	}
	return db, nil
}

// dsn builds the modernc.org/sqlite data source name for the absolute path
// abs. The settings are DSN parameters rather than statements run after
// Open because database/sql opens connections whenever it likes, and each
// needs them:
//   - busy_timeout comes first (the driver orders it so) so that the
//     others wait for a lock instead of failing.
//   - journal_mode WAL: readers and one writer proceed together, also
//     across processes. It is a property of the file; repeating it is cheap.
//   - synchronous FULL: WAL's default made explicit. A stanza ringd acked
//     must survive a power cut, so a commit is fsynced; NORMAL would be
//     faster and only safe against process crashes.
//   - foreign_keys: off by default in SQLite, per connection.
//   - _txlock=immediate: write transactions take the write lock at BEGIN.
//     A deferred transaction that reads, then writes, cannot wait for the
//     lock (it would deadlock with the writer ahead of it) and fails with
//     SQLITE_BUSY at once, whatever the busy timeout. Read-only
//     transactions still begin deferred.
//
// A "file:" URI keeps a path containing '?' or '#' intact.
func dsn(abs string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}
