// Package sqlstore is the SQL implementation of storage.Store shared by the
// SQLite and MySQL/MariaDB backends: the queries, the transaction and retry
// discipline, the migration runner, and the DDL of both engines (schema/).
//
// A backend is a driver, a Dialect and a set of migrations: storage/sqlite
// opens modernc.org/sqlite and passes SQLiteMigrations; storage/mysql opens
// go-sql-driver/mysql and passes MySQLMigrations. Dialect holds only what
// cannot be written portably: the upsert syntax, how to recognise a key
// conflict or a retryable failure in the driver's errors, and whether the
// engine admits only one writer at a time. Queries use "?" placeholders
// and plain database/sql with the …Context methods.
//
// Every change to a user's roster bumps that user's roster version
// (XEP-0237) in the same transaction. DeleteUser removes every row keyed by
// the user in one transaction; a table added for a new per-user store must
// be added to the purge list in store.go (a test checks it).
//
// Offline storage (offline.go) keeps each user's queue length in a counter
// row that every push claims with one conditional upsert, so the quota holds
// under any concurrency and across processes. Concurrent pushes are
// committed together by a group committer (groupcommit.go): one
// transaction, one fsync, for all pushes waiting at that moment, each
// caller still getting its own id or error. Config sets the batch size and
// the number of committers, or turns group commit off.
//
// Push registrations (pushes.go, XEP-0357) are keyed by the user and a
// SHA-256 of the app server JID and node, since MySQL cannot index the two
// strings themselves next to the username.
//
// Failed transactions are retried from the start when the dialect calls
// the error retryable (lock contention), and after a lost connection when
// that cannot apply a change twice (see the list in store.go).
//
// It must not import a driver (backends do), normalise usernames or JIDs
// (callers pass PRECIS-normalised strings, stored and compared as bytes),
// nor hold passwords: accounts carry SCRAM keys only (RFC 5802 §3).
package sqlstore
