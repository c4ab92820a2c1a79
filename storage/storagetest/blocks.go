package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ringd/ringd/storage"
)

func mustBlock(ctx context.Context, t *testing.T, s storage.Store, user string, jids ...string) {
	t.Helper()
	if err := s.Block(ctx, user, jids); err != nil {
		t.Fatalf("Block(%q, %q) = %v, want nil", user, jids, err)
	}
}

func mustUnblock(ctx context.Context, t *testing.T, s storage.Store, user string, jids ...string) {
	t.Helper()
	if err := s.Unblock(ctx, user, jids); err != nil {
		t.Fatalf("Unblock(%q, %q) = %v, want nil", user, jids, err)
	}
}

// wantBlocks checks the user's list, in order.
func wantBlocks(ctx context.Context, t *testing.T, s storage.Store, user string, want ...string) {
	t.Helper()
	got, err := s.BlockList(ctx, user)
	if err != nil {
		t.Fatalf("BlockList(%q) = %v", user, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("BlockList(%q) = %q, want %q", user, got, want)
	}
}

// wantBlocked checks IsBlocked for each JID of jids.
func wantBlocked(ctx context.Context, t *testing.T, s storage.Store, user string, want bool, jids ...string) {
	t.Helper()
	for _, j := range jids {
		ok, err := s.IsBlocked(ctx, user, j)
		if err != nil || ok != want {
			t.Errorf("IsBlocked(%q, %q) = %v, %v; want %v, nil", user, j, ok, err, want)
		}
	}
}

func testBlocks(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s storage.Store)
	}{
		{"Empty", func(ctx context.Context, t *testing.T, s storage.Store) {
			wantBlocks(ctx, t, s, "alice")
			wantBlocked(ctx, t, s, "alice", false, "bob@example.net")
			// Nothing to do is not an error.
			mustBlock(ctx, t, s, "alice")
			mustUnblock(ctx, t, s, "alice")
			if err := s.UnblockAll(ctx, "alice"); err != nil {
				t.Errorf("UnblockAll(alice) on an empty list = %v, want nil", err)
			}
			wantBlocks(ctx, t, s, "alice")
		}},
		{"EveryKindOfJIDInByteOrder", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Full, bare, domain and domain/resource, given out of order.
			mustBlock(ctx, t, s, "alice", "romeo@montague.net/orchard", "montague.net", "iago@shakespeare.lit", "example.org/bot")
			want := []string{"example.org/bot", "iago@shakespeare.lit", "montague.net", "romeo@montague.net/orchard"}
			wantBlocks(ctx, t, s, "alice", want...)
			wantBlocked(ctx, t, s, "alice", true, want...)
			// The store compares strings; it does not match JIDs.
			wantBlocked(ctx, t, s, "alice", false, "romeo@montague.net", "example.org", "iago@shakespeare.lit/x")
		}},
		{"BlockIsIdempotent", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustBlock(ctx, t, s, "alice", "bob@example.net", "bob@example.net")
			mustBlock(ctx, t, s, "alice", "bob@example.net", "carol@example.net")
			wantBlocks(ctx, t, s, "alice", "bob@example.net", "carol@example.net")
		}},
		{"KeysAreBytes", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Strings a character collation would fold together, and
			// the byte order of non-ASCII (UTF-8 sorts after ASCII).
			in := []string{"bob@example.net", "Bob@example.net", "böb@example.net", "bob@example.net ", "zed@example.net", "ßob@example.net"}
			mustBlock(ctx, t, s, "alice", in...)
			want := slices.Clone(in)
			slices.Sort(want) // Go compares strings as bytes
			wantBlocks(ctx, t, s, "alice", want...)
			mustUnblock(ctx, t, s, "alice", "Bob@example.net")
			wantBlocked(ctx, t, s, "alice", false, "Bob@example.net")
			wantBlocked(ctx, t, s, "alice", true, "bob@example.net", "böb@example.net", "bob@example.net ")
		}},
		{"Unblock", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustBlock(ctx, t, s, "alice", "a@example.net", "b@example.net", "c@example.net")
			for range 2 { // idempotent, and absent JIDs are ignored
				mustUnblock(ctx, t, s, "alice", "a@example.net", "c@example.net", "nobody@example.net")
				wantBlocks(ctx, t, s, "alice", "b@example.net")
			}
		}},
		{"UnblockAll", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustBlock(ctx, t, s, "alice", "a@example.net", "example.org")
			mustBlock(ctx, t, s, "bob", "a@example.net")
			for range 2 {
				if err := s.UnblockAll(ctx, "alice"); err != nil {
					t.Fatalf("UnblockAll(alice) = %v", err)
				}
				wantBlocks(ctx, t, s, "alice")
			}
			wantBlocks(ctx, t, s, "bob", "a@example.net")
		}},
		{"PerUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustBlock(ctx, t, s, "alice", "x@example.net")
			mustBlock(ctx, t, s, "bob", "y@example.net")
			mustUnblock(ctx, t, s, "bob", "x@example.net")
			wantBlocks(ctx, t, s, "alice", "x@example.net")
			wantBlocks(ctx, t, s, "bob", "y@example.net")
			wantBlocked(ctx, t, s, "bob", false, "x@example.net")
			wantBlocks(ctx, t, s, "Alice") // usernames are bytes too
		}},
		{"LongJIDs", func(ctx context.Context, t *testing.T, s storage.Store) {
			// The longest full JID RFC 7622 allows, twice, differing in
			// the last byte only: the key must not be a prefix of it.
			long := strings.Repeat("l", 1023) + "@" + strings.Repeat("d", 1023) + "/" + strings.Repeat("r", 1022)
			a, b := long+"a", long+"b"
			mustBlock(ctx, t, s, "alice", b, a)
			wantBlocks(ctx, t, s, "alice", a, b)
			mustUnblock(ctx, t, s, "alice", a)
			wantBlocks(ctx, t, s, "alice", b)
			wantBlocked(ctx, t, s, "alice", true, b)
			wantBlocked(ctx, t, s, "alice", false, a)
		}},
		{"DeleteUserRemovesThem", func(ctx context.Context, t *testing.T, s storage.Store) {
			for _, u := range []string{"alice", "bob"} {
				mustCreateUser(ctx, t, s, u)
				mustBlock(ctx, t, s, u, "mallory@example.net", "spam.example")
			}
			if err := s.DeleteUser(ctx, "alice"); err != nil {
				t.Fatalf("DeleteUser(alice) = %v", err)
			}
			wantBlocks(ctx, t, s, "alice")
			mustCreateUser(ctx, t, s, "alice")
			wantBlocks(ctx, t, s, "alice")
			wantBlocked(ctx, t, s, "alice", false, "mallory@example.net")
			wantBlocks(ctx, t, s, "bob", "mallory@example.net", "spam.example")
		}},
		{"ConcurrentBlocksUnite", func(ctx context.Context, t *testing.T, s storage.Store) {
			// 8 writers block overlapping sets of one user's list at
			// once: nothing fails, nothing is lost, nothing doubles.
			const writers, each = 8, 20
			errs := make([]error, writers)
			var wg sync.WaitGroup
			var want []string
			for w := range writers {
				var jids []string
				for i := range each {
					jids = append(jids, fmt.Sprintf("u%02d@example.net", (w*each/2+i)%(writers*each)))
				}
				want = append(want, jids...)
				wg.Go(func() { errs[w] = s.Block(ctx, "alice", jids) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent Block: %v", err)
			}
			slices.Sort(want)
			wantBlocks(ctx, t, s, "alice", slices.Compact(want)...)
		}},
		{"CancelledContext", func(ctx context.Context, t *testing.T, s storage.Store) {
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if err := s.Block(cancelled, "alice", []string{"bob@example.net"}); !errors.Is(err, context.Canceled) {
				t.Errorf("Block(cancelled ctx) = %v, want context.Canceled", err)
			}
			wantBlocks(ctx, t, s, "alice")
			mustBlock(ctx, t, s, "alice", "bob@example.net")
			if err := s.Unblock(cancelled, "alice", []string{"bob@example.net"}); !errors.Is(err, context.Canceled) {
				t.Errorf("Unblock(cancelled ctx) = %v, want context.Canceled", err)
			}
			if err := s.UnblockAll(cancelled, "alice"); !errors.Is(err, context.Canceled) {
				t.Errorf("UnblockAll(cancelled ctx) = %v, want context.Canceled", err)
			}
			if _, err := s.BlockList(cancelled, "alice"); !errors.Is(err, context.Canceled) {
				t.Errorf("BlockList(cancelled ctx) = %v, want context.Canceled", err)
			}
			if _, err := s.IsBlocked(cancelled, "alice", "bob@example.net"); !errors.Is(err, context.Canceled) {
				t.Errorf("IsBlocked(cancelled ctx) = %v, want context.Canceled", err)
			}
			wantBlocks(ctx, t, s, "alice", "bob@example.net")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			tc.run(ctx, t, s)
		})
	}
}
