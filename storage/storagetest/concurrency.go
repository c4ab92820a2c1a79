package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ringd/ringd/storage"
)

func testConcurrency(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s storage.Store)
	}{
		{"RosterVersionSerialises", func(ctx context.Context, t *testing.T, s storage.Store) {
			// 8 writers × 50 changes to one roster: every change must get
			// its own version, 1…400, with no error and none lost.
			const writers, perWriter = 8, 50
			versions := make([][]int64, writers)
			errs := make([]error, writers)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						// Five contacts per writer: a mix of inserts and
						// replacements.
						it := storage.RosterItem{
							Contact:      fmt.Sprintf("c%d-%d@example.net", w, i%5),
							Name:         fmt.Sprintf("writer %d change %d", w, i),
							Subscription: storage.SubBoth,
							Groups:       []string{"G"},
						}
						v, err := s.PutRosterItem(ctx, "alice", it)
						if err != nil {
							errs[w] = err
							return
						}
						versions[w] = append(versions[w], v)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent PutRosterItem: %v", err)
			}
			all := slices.Concat(versions...)
			slices.Sort(all)
			for i, v := range all {
				if v != int64(i+1) {
					t.Fatalf("versions handed out = %v…, want each of 1…%d once", all[max(0, i-3):i+1], writers*perWriter)
				}
			}
			wantVersion(ctx, t, s, "alice", writers*perWriter)
			items, ver, err := s.Roster(ctx, "alice")
			if err != nil || len(items) != writers*5 || ver != writers*perWriter {
				t.Errorf("Roster(alice) = %d items, version %d, %v; want %d, %d, nil", len(items), ver, err, writers*5, writers*perWriter)
			}
		}},
		{"CreateUserRace", func(ctx context.Context, t *testing.T, s storage.Store) {
			// Exactly one of racing creations of one account wins.
			const racers = 8
			errs := make([]error, racers)
			var wg sync.WaitGroup
			for r := range racers {
				wg.Go(func() { errs[r] = s.CreateUser(ctx, "alice", sampleCredentials(byte(r))) })
			}
			wg.Wait()
			won := 0
			for r, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, storage.ErrConflict):
					t.Errorf("CreateUser(alice) #%d = %v, want nil or ErrConflict", r, err)
				}
			}
			if won != 1 {
				t.Errorf("%d racing CreateUser(alice) succeeded, want 1", won)
			}
		}},
		{"MixedUsers", func(ctx context.Context, t *testing.T, st storage.Store) {
			s := asOffline(t, st)
			// Writers on different users and stores interleave freely.
			const users, ops = 8, 25
			errs := make([]error, users)
			var wg sync.WaitGroup
			for u := range users {
				wg.Go(func() {
					name := fmt.Sprintf("user%d", u)
					err := s.CreateUser(ctx, name, sampleCredentials(byte(u)))
					for i := 0; err == nil && i < ops; i++ {
						contact := fmt.Sprintf("c%d@example.net", i)
						if _, err = s.PutRosterItem(ctx, name, storage.RosterItem{Contact: contact, Subscription: storage.SubTo}); err != nil {
							break
						}
						if err = s.PutSubscriptionRequest(ctx, name, storage.SubscriptionRequest{Contact: contact, Stanza: []byte("<presence/>"), Created: epoch}); err != nil {
							break
						}
						if _, err = s.PushOffline(ctx, name, chat(i), epoch, ops); err != nil {
							break
						}
						_, _, err = s.Roster(ctx, name)
					}
					errs[u] = err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent writers: %v", err)
			}
			for u := range users {
				name := fmt.Sprintf("user%d", u)
				wantVersion(ctx, t, s, name, ops)
				if reqs, err := s.SubscriptionRequests(ctx, name); err != nil || len(reqs) != ops {
					t.Errorf("SubscriptionRequests(%q) = %d, %v; want %d, nil", name, len(reqs), err, ops)
				}
				wantOfflineCount(ctx, t, s, name, ops)
			}
			if n, err := s.CountUsers(ctx); err != nil || n != users {
				t.Errorf("CountUsers() = %d, %v; want %d, nil", n, err, users)
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

func testContext(t *testing.T, open Opener) {
	// A cancelled context fails the call with an error that says so, and
	// changes nothing.
	tests := []struct {
		name string
		call func(ctx context.Context, s storage.Store) error
	}{
		{"CreateUser", func(ctx context.Context, s storage.Store) error {
			return s.CreateUser(ctx, "alice", sampleCredentials(0))
		}},
		{"PutRosterItem", func(ctx context.Context, s storage.Store) error {
			_, err := s.PutRosterItem(ctx, "alice", storage.RosterItem{Contact: "bob@example.net"})
			return err
		}},
		{"PutSubscriptionRequest", func(ctx context.Context, s storage.Store) error {
			return s.PutSubscriptionRequest(ctx, "alice", storage.SubscriptionRequest{Contact: "bob@example.net", Stanza: []byte("<presence/>"), Created: epoch})
		}},
		{"PushOffline", func(ctx context.Context, s storage.Store) error {
			o, ok := s.(storage.Offline)
			if !ok {
				return fmt.Errorf("%T does not implement storage.Offline", s)
			}
			_, err := o.PushOffline(ctx, "alice", []byte("<message/>"), epoch, 0)
			return err
		}},
		{"Roster", func(ctx context.Context, s storage.Store) error {
			_, _, err := s.Roster(ctx, "alice")
			return err
		}},
		{"Credentials", func(ctx context.Context, s storage.Store) error {
			_, err := s.Credentials(ctx, "alice")
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if err := tc.call(cancelled, s); !errors.Is(err, context.Canceled) {
				t.Errorf("%s(cancelled ctx) = %v, want context.Canceled", tc.name, err)
			}
			if n, err := s.CountUsers(ctx); err != nil || n != 0 {
				t.Errorf("CountUsers() = %d, %v; want 0, nil", n, err)
			}
			if items, ver, err := s.Roster(ctx, "alice"); err != nil || len(items) != 0 || ver != 0 {
				t.Errorf("Roster(alice) = %d items, version %d, %v; want 0, 0, nil", len(items), ver, err)
			}
			if reqs, err := s.SubscriptionRequests(ctx, "alice"); err != nil || len(reqs) != 0 {
				t.Errorf("SubscriptionRequests(alice) = %d, %v; want 0, nil", len(reqs), err)
			}
			wantOfflineCount(ctx, t, asOffline(t, s), "alice", 0)
		})
	}
}
