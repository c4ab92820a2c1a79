package storagetest

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// Opener returns a new, empty store for one subtest. It should register any
// cleanup of its own with t.Cleanup; RunSuite closes the store when the
// subtest ends.
type Opener func(t *testing.T) storage.Store

// RunSuite runs the conformance suite against the stores open returns.
// Every subtest opens its own store, so open must hand out independent,
// empty ones (a fresh file, schema or database each time).
func RunSuite(t *testing.T, open Opener) {
	t.Run("Users", func(t *testing.T) { testUsers(t, open) })
	t.Run("Rosters", func(t *testing.T) { testRosters(t, open) })
	t.Run("SubscriptionRequests", func(t *testing.T) { testSubscriptionRequests(t, open) })
	RunOffline(t, open)
	t.Run("Pushes", func(t *testing.T) { testPushes(t, open) })
	t.Run("Blocks", func(t *testing.T) { testBlocks(t, open) })
	t.Run("Inflight", func(t *testing.T) { testInflight(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, open) })
	t.Run("Context", func(t *testing.T) { testContext(t, open) })
}

// testTimeout bounds each subtest's storage calls, so that a backend that
// deadlocks fails the test instead of hanging it.
const testTimeout = 30 * time.Second

// fresh opens a store for t and closes it when t ends.
func fresh(t *testing.T, open Opener) (context.Context, storage.Store) {
	t.Helper()
	s := open(t)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx, s
}

func sampleCredentials(seed byte) storage.Credentials {
	// Every byte value, including 0x00 and invalid UTF-8, so a backend
	// that stores keys as text shows it.
	b := func(n int, off byte) []byte {
		out := make([]byte, n)
		for i := range out {
			out[i] = byte(i)*7 + off + seed
		}
		return out
	}
	return storage.Credentials{
		Salt:         b(16, 0),
		Iterations:   4096 + int(seed),
		StoredKey1:   b(20, 1),
		ServerKey1:   b(20, 2),
		StoredKey256: b(32, 3),
		ServerKey256: b(32, 0xff),
	}
}

func equalCredentials(a, b storage.Credentials) bool {
	return bytes.Equal(a.Salt, b.Salt) && a.Iterations == b.Iterations &&
		bytes.Equal(a.StoredKey1, b.StoredKey1) && bytes.Equal(a.ServerKey1, b.ServerKey1) &&
		bytes.Equal(a.StoredKey256, b.StoredKey256) && bytes.Equal(a.ServerKey256, b.ServerKey256)
}

// equalItem compares roster items, treating nil and empty Groups alike.
func equalItem(a, b storage.RosterItem) bool {
	return a.Contact == b.Contact && a.Name == b.Name && a.Subscription == b.Subscription &&
		a.Ask == b.Ask && a.Approved == b.Approved && slices.Equal(a.Groups, b.Groups)
}

func equalItems(a, b []storage.RosterItem) bool {
	return slices.EqualFunc(a, b, equalItem)
}

func contacts(items []storage.RosterItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Contact
	}
	return out
}

func mustCreateUser(ctx context.Context, t *testing.T, s storage.Store, user string) {
	t.Helper()
	if err := s.CreateUser(ctx, user, sampleCredentials(0)); err != nil {
		t.Fatalf("CreateUser(%q) = %v, want nil", user, err)
	}
}

func mustPut(ctx context.Context, t *testing.T, s storage.Store, user string, it storage.RosterItem) int64 {
	t.Helper()
	v, err := s.PutRosterItem(ctx, user, it)
	if err != nil {
		t.Fatalf("PutRosterItem(%q, %q) = %v, want nil", user, it.Contact, err)
	}
	return v
}

func mustPutRequest(ctx context.Context, t *testing.T, s storage.Store, user string, r storage.SubscriptionRequest) {
	t.Helper()
	if err := s.PutSubscriptionRequest(ctx, user, r); err != nil {
		t.Fatalf("PutSubscriptionRequest(%q, %q) = %v, want nil", user, r.Contact, err)
	}
}

func wantVersion(ctx context.Context, t *testing.T, s storage.Store, user string, want int64) {
	t.Helper()
	got, err := s.RosterVersion(ctx, user)
	if err != nil || got != want {
		t.Errorf("RosterVersion(%q) = %d, %v; want %d, nil", user, got, err, want)
	}
}
