// Package storagetest is the conformance suite every storage backend must
// pass: RunSuite drives a storage.Store through the behaviour the storage
// interfaces document (sentinel errors, byte-exact round trips, byte-order
// listing, roster versions, cascading deletes, offline queues with their
// order, quota and idempotent deletes, push registrations, concurrency,
// cancelled contexts).
// RunOffline reruns the offline part alone, for a backend to try another
// configuration (group commit off, say), and BenchOfflinePushFetch is the
// offline benchmark every backend runs the same way.
//
// It tests behaviour through the interfaces only. It must not look at SQL,
// schemas or any backend's internals, so that a backend passes it by being
// correct, not by being written a particular way; backend-specific checks
// belong in that backend's own tests.
package storagetest
