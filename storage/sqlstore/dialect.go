package sqlstore

import (
	"errors"
	"strings"
)

// UpsertStyle is how an engine spells "insert this row, or update the row
// that already holds its key". It is the only SQL text that differs between
// the engines we target; everything else is written once.
type UpsertStyle int

const (
	// UpsertOnConflict is INSERT … ON CONFLICT(key) DO UPDATE SET c =
	// excluded.c (SQLite 3.24+, and PostgreSQL should one ever be added).
	UpsertOnConflict UpsertStyle = iota + 1
	// UpsertOnDuplicateKey is INSERT … ON DUPLICATE KEY UPDATE c = VALUES(c)
	// (MySQL, MariaDB). MySQL 8.0.20 deprecates VALUES() in favour of an
	// "AS new" row alias, but MariaDB rejects that alias as a syntax error,
	// and VALUES() still works on both.
	UpsertOnDuplicateKey
)

// Dialect is what differs between the SQL engines behind Store. Keep it that
// small: a difference that can be papered over in portable SQL belongs in
// the shared queries, not here.
type Dialect struct {
	// Name identifies the engine in error messages ("sqlite", "mysql").
	Name string
	// Upsert selects the insert-or-update syntax.
	Upsert UpsertStyle
	// IsConflict reports whether err is a primary-key or unique-constraint
	// violation; Store turns those into storage.ErrConflict.
	IsConflict func(err error) bool
	// IsRetryable reports whether a transaction that failed with err may
	// succeed if run again from the start: lock contention, deadlock
	// victims, serialisation failures. The engine has rolled such a
	// transaction back (or Store does), so Store retries every operation
	// that fails so, a few times.
	IsRetryable func(err error) bool
	// IsConnLost, if set, reports whether err means the connection to the
	// server broke (killed, reset, timed out) so that whatever was in
	// flight may or may not have run. Store retries an operation that
	// fails so when that is safe: always when the break came before
	// COMMIT was sent (the server rolls an unfinished transaction back),
	// and during COMMIT only for operations whose repetition is harmless
	// (reads, and writes that set rather than add; see the list in
	// store.go). Engines without a connection (SQLite) leave it nil.
	IsConnLost func(err error) bool
	// SingleWriter is set for engines that admit one writing transaction
	// at a time (SQLite). Store then queues its own writers on a channel,
	// which wakes the next one the moment the previous commits, instead of
	// letting them poll the engine's lock: SQLite's busy handler sleeps up
	// to 100 ms between polls, and under load writers mostly sleep. Other
	// processes writing the same file still wait through the busy timeout.
	SingleWriter bool
}

func (d Dialect) validate() error {
	var errs []error
	if d.Name == "" {
		errs = append(errs, errors.New("dialect has no name"))
	}
	if d.Upsert != UpsertOnConflict && d.Upsert != UpsertOnDuplicateKey {
		errs = append(errs, errors.New("dialect has no upsert style"))
	}
	if d.IsConflict == nil {
		errs = append(errs, errors.New("dialect has no IsConflict"))
	}
	if d.IsRetryable == nil {
		errs = append(errs, errors.New("dialect has no IsRetryable"))
	}
	return errors.Join(errs...)
}

// upsertSet renders the clause that follows INSERT … VALUES (…) so that a
// row colliding on key has the columns in set overwritten with the values
// the INSERT carried.
func (d Dialect) upsertSet(key []string, set ...string) string {
	assign := make([]string, len(set))
	for i, c := range set {
		if d.Upsert == UpsertOnDuplicateKey {
			assign[i] = c + " = VALUES(" + c + ")"
		} else {
			assign[i] = c + " = excluded." + c
		}
	}
	return d.upsertRaw(key, assign...)
}

// upsertRaw renders the same clause with assignments given verbatim; an
// unqualified column in them names the existing row's value on both
// engines (so "version = version + 1" increments).
func (d Dialect) upsertRaw(key []string, assign ...string) string {
	if d.Upsert == UpsertOnDuplicateKey {
		// MySQL finds the colliding row through any unique key, so there
		// is no conflict target to name.
		return "ON DUPLICATE KEY UPDATE " + strings.Join(assign, ", ")
	}
	return "ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(assign, ", ")
}
