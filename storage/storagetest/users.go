package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ringd/ringd/storage"
)

func testUsers(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s storage.Store)
	}{
		{"CreateThenCredentials", func(ctx context.Context, t *testing.T, s storage.Store) {
			want := sampleCredentials(1)
			if err := s.CreateUser(ctx, "alice", want); err != nil {
				t.Fatalf("CreateUser(alice) = %v, want nil", err)
			}
			got, err := s.Credentials(ctx, "alice")
			if err != nil || !equalCredentials(got, want) {
				t.Errorf("Credentials(alice) = %+v, %v; want %+v, nil", got, err, want)
			}
		}},
		{"CredentialsWithoutSHA1Keys", func(ctx context.Context, t *testing.T, s storage.Store) {
			// An account created for SCRAM-SHA-256 only.
			want := sampleCredentials(2)
			want.StoredKey1, want.ServerKey1 = nil, nil
			if err := s.CreateUser(ctx, "alice", want); err != nil {
				t.Fatalf("CreateUser(alice) = %v, want nil", err)
			}
			got, err := s.Credentials(ctx, "alice")
			if err != nil || !equalCredentials(got, want) {
				t.Errorf("Credentials(alice) = %+v, %v; want %+v, nil", got, err, want)
			}
		}},
		{"CreateDuplicateConflicts", func(ctx context.Context, t *testing.T, s storage.Store) {
			orig := sampleCredentials(1)
			if err := s.CreateUser(ctx, "alice", orig); err != nil {
				t.Fatalf("CreateUser(alice) = %v, want nil", err)
			}
			if err := s.CreateUser(ctx, "alice", sampleCredentials(2)); !errors.Is(err, storage.ErrConflict) {
				t.Errorf("second CreateUser(alice) = %v, want ErrConflict", err)
			}
			got, err := s.Credentials(ctx, "alice")
			if err != nil || !equalCredentials(got, orig) {
				t.Errorf("Credentials(alice) after conflict = %+v, %v; want the first credentials", got, err)
			}
		}},
		{"CredentialsOfMissingUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			if _, err := s.Credentials(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Credentials(nobody) = %v, want ErrNotFound", err)
			}
		}},
		{"SetCredentialsReplaces", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustCreateUser(ctx, t, s, "alice")
			want := sampleCredentials(9)
			if err := s.SetCredentials(ctx, "alice", want); err != nil {
				t.Fatalf("SetCredentials(alice) = %v, want nil", err)
			}
			got, err := s.Credentials(ctx, "alice")
			if err != nil || !equalCredentials(got, want) {
				t.Errorf("Credentials(alice) = %+v, %v; want %+v, nil", got, err, want)
			}
		}},
		{"SetSameCredentials", func(ctx context.Context, t *testing.T, s storage.Store) {
			// An UPDATE that changes nothing must still find the user.
			mustCreateUser(ctx, t, s, "alice")
			for range 2 {
				if err := s.SetCredentials(ctx, "alice", sampleCredentials(0)); err != nil {
					t.Fatalf("SetCredentials(alice, unchanged) = %v, want nil", err)
				}
			}
		}},
		{"SetCredentialsOfMissingUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			if err := s.SetCredentials(ctx, "nobody", sampleCredentials(1)); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("SetCredentials(nobody) = %v, want ErrNotFound", err)
			}
			if ok, err := s.UserExists(ctx, "nobody"); err != nil || ok {
				t.Errorf("UserExists(nobody) = %v, %v; want false, nil", ok, err)
			}
		}},
		{"Exists", func(ctx context.Context, t *testing.T, s storage.Store) {
			check := func(when string, want bool) {
				t.Helper()
				if ok, err := s.UserExists(ctx, "alice"); err != nil || ok != want {
					t.Errorf("UserExists(alice) %s = %v, %v; want %v, nil", when, ok, err, want)
				}
			}
			check("before create", false)
			mustCreateUser(ctx, t, s, "alice")
			check("after create", true)
			if err := s.DeleteUser(ctx, "alice"); err != nil {
				t.Fatalf("DeleteUser(alice) = %v", err)
			}
			check("after delete", false)
		}},
		{"DeleteMissingUser", func(ctx context.Context, t *testing.T, s storage.Store) {
			if err := s.DeleteUser(ctx, "nobody"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("DeleteUser(nobody) = %v, want ErrNotFound", err)
			}
		}},
		{"DeleteThenCreateAgain", func(ctx context.Context, t *testing.T, s storage.Store) {
			mustCreateUser(ctx, t, s, "alice")
			if err := s.DeleteUser(ctx, "alice"); err != nil {
				t.Fatalf("DeleteUser(alice) = %v", err)
			}
			if _, err := s.Credentials(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("Credentials(alice) after delete = %v, want ErrNotFound", err)
			}
			if err := s.DeleteUser(ctx, "alice"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("second DeleteUser(alice) = %v, want ErrNotFound", err)
			}
			want := sampleCredentials(5)
			if err := s.CreateUser(ctx, "alice", want); err != nil {
				t.Fatalf("CreateUser(alice) after delete = %v, want nil", err)
			}
			if got, err := s.Credentials(ctx, "alice"); err != nil || !equalCredentials(got, want) {
				t.Errorf("Credentials(alice) = %+v, %v; want the new credentials", got, err)
			}
		}},
		{"DeleteCascades", func(ctx context.Context, t *testing.T, st storage.Store) {
			s := asOffline(t, st)
			for _, u := range []string{"alice", "bob"} {
				mustCreateUser(ctx, t, s, u)
				mustPut(ctx, t, s, u, storage.RosterItem{Contact: "carol@example.net", Subscription: storage.SubBoth, Groups: []string{"Friends"}})
				mustPut(ctx, t, s, u, storage.RosterItem{Contact: "dave@example.net", Subscription: storage.SubTo})
				mustPutRequest(ctx, t, s, u, storage.SubscriptionRequest{Contact: "eve@example.net", Stanza: []byte("<presence/>"), Created: epoch})
				for i := range 3 {
					mustPushOffline(ctx, t, s, u, chat(i), epoch, 3)
				}
			}
			if err := s.DeleteUser(ctx, "alice"); err != nil {
				t.Fatalf("DeleteUser(alice) = %v", err)
			}
			if items, ver, err := s.Roster(ctx, "alice"); err != nil || len(items) != 0 || ver != 0 {
				t.Errorf("Roster(alice) after delete = %d items, version %d, %v; want 0, 0, nil", len(items), ver, err)
			}
			if _, err := s.RosterItem(ctx, "alice", "carol@example.net"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RosterItem(alice, carol) after delete = %v, want ErrNotFound", err)
			}
			if reqs, err := s.SubscriptionRequests(ctx, "alice"); err != nil || len(reqs) != 0 {
				t.Errorf("SubscriptionRequests(alice) after delete = %d, %v; want 0, nil", len(reqs), err)
			}
			if ok, err := s.HasSubscriptionRequest(ctx, "alice", "eve@example.net"); err != nil || ok {
				t.Errorf("HasSubscriptionRequest(alice, eve) after delete = %v, %v; want false, nil", ok, err)
			}
			if msgs, err := s.OfflineMessages(ctx, "alice", 0); err != nil || len(msgs) != 0 {
				t.Errorf("OfflineMessages(alice) after delete = %d, %v; want 0, nil", len(msgs), err)
			}
			wantOfflineCount(ctx, t, s, "alice", 0)
			// A new account of the same name starts empty, with its whole
			// offline quota.
			mustCreateUser(ctx, t, s, "alice")
			if items, ver, err := s.Roster(ctx, "alice"); err != nil || len(items) != 0 || ver != 0 {
				t.Errorf("Roster(alice) of recreated account = %d items, version %d, %v; want 0, 0, nil", len(items), ver, err)
			}
			wantOfflineCount(ctx, t, s, "alice", 0)
			for i := range 3 {
				mustPushOffline(ctx, t, s, "alice", chat(i), epoch, 3)
			}
			// Bob is untouched.
			if items, ver, err := s.Roster(ctx, "bob"); err != nil || len(items) != 2 || ver != 2 {
				t.Errorf("Roster(bob) = %d items, version %d, %v; want 2, 2, nil", len(items), ver, err)
			}
			if reqs, err := s.SubscriptionRequests(ctx, "bob"); err != nil || len(reqs) != 1 {
				t.Errorf("SubscriptionRequests(bob) = %d, %v; want 1, nil", len(reqs), err)
			}
			if got := offlineStanzas(ctx, t, s, "bob"); len(got) != 3 {
				t.Errorf("bob's offline queue holds %d stanzas, want 3", len(got))
			}
			wantOfflineCount(ctx, t, s, "bob", 3)
		}},
		{"EmptyListAndCount", func(ctx context.Context, t *testing.T, s storage.Store) {
			if users, err := s.ListUsers(ctx); err != nil || len(users) != 0 {
				t.Errorf("ListUsers() = %q, %v; want none, nil", users, err)
			}
			if n, err := s.CountUsers(ctx); err != nil || n != 0 {
				t.Errorf("CountUsers() = %d, %v; want 0, nil", n, err)
			}
		}},
		{"ListInByteOrder", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Shuffled on purpose; "böb" sorts after "bob" and "zoë" in
			// byte order, which a character collation gets wrong.
			names := []string{"zoë", "bob", "böb", "Bob", "alice", "ärger", "日本", "b", "bob.smith", "bob-smith", "z"}
			for _, u := range names {
				mustCreateUser(ctx, t, s, u)
			}
			want := slices.Clone(names)
			slices.SortFunc(want, strings.Compare)
			if got, err := s.ListUsers(ctx); err != nil || !slices.Equal(got, want) {
				t.Errorf("ListUsers() = %q, %v; want %q, nil", got, err, want)
			}
			if n, err := s.CountUsers(ctx); err != nil || n != len(names) {
				t.Errorf("CountUsers() = %d, %v; want %d, nil", n, err, len(names))
			}
		}},
		{"NonASCIIUsernamesAreDistinct", func(ctx context.Context, t *testing.T, s storage.Store) {
			// The store compares bytes; it must not fold case or accents.
			names := []string{"bob", "böb", "Bob", "BOB", "bo\u0308b"}
			for i, u := range names {
				if err := s.CreateUser(ctx, u, sampleCredentials(byte(i))); err != nil {
					t.Fatalf("CreateUser(%q) = %v, want nil", u, err)
				}
			}
			if err := s.DeleteUser(ctx, "böb"); err != nil {
				t.Fatalf("DeleteUser(böb) = %v", err)
			}
			for i, u := range names {
				got, err := s.Credentials(ctx, u)
				if u == "böb" {
					if !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("Credentials(%q) after delete = %v, want ErrNotFound", u, err)
					}
					continue
				}
				if err != nil || !equalCredentials(got, sampleCredentials(byte(i))) {
					t.Errorf("Credentials(%q) = %+v, %v; want its own credentials", u, got, err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			tc.run(ctx, t, s)
		})
	}
}
