// Package storage holds ringd's durable domain types and one small interface
// per concern (accounts and SCRAM credentials, rosters, pending subscription
// requests, …), plus the sentinel errors ErrNotFound and ErrConflict.
//
// It owns no SQL and no I/O: backends live in storage/sqlite (embedded
// default) and storage/mysql, share their SQL through storage/sqlstore, and
// must all pass the conformance suite in storage/storagetest. Usernames and
// contacts are stored as the PRECIS-normalised strings the caller gives;
// this package does not normalise.
package storage
