// Package sqlite is ringd's embedded, zero-setup storage backend: a single
// SQLite file opened with modernc.org/sqlite (pure Go, no cgo) and served by
// the shared SQL in storage/sqlstore.
//
// It owns the connection settings: WAL journal so readers never block the
// writer, a busy timeout and BEGIN IMMEDIATE for write transactions so that
// two processes (the server and the `ringd user` CLI) can write the same
// file at once, in-process writers queued in Go rather than polling
// SQLite's lock, foreign keys on, and a private (0600) file, since it holds
// SCRAM keys. Every setting travels in the DSN so it applies to each pooled
// connection, not just the first.
//
// Every commit is fsynced (synchronous=FULL), so offline pushes arriving
// together are committed together by sqlstore's group committer, with one
// committer since SQLite has one writer.
//
// It must not hold SQL of its own beyond those settings (queries and DDL
// live in storage/sqlstore), and must not be opened on ":memory:", which
// would give each pooled connection its own empty database.
package sqlite
