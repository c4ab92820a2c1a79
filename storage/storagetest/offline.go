package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// RunOffline runs the Offline part of the suite (also part of RunSuite),
// for backends that want to run it again under another configuration, such
// as with group commit off.
func RunOffline(t *testing.T, open Opener) {
	t.Run("Offline", func(t *testing.T) { testOffline(t, open) })
	t.Run("OfflineConcurrency", func(t *testing.T) { testOfflineConcurrency(t, open) })
}

// offlineStore is a Store with offline storage. storage.Store will embed
// storage.Offline once every backend has it; until then the suite asks each
// store for it and fails those without.
type offlineStore interface {
	storage.Store
	storage.Offline
}

func asOffline(t *testing.T, s storage.Store) offlineStore {
	t.Helper()
	o, ok := s.(offlineStore)
	if !ok {
		t.Fatalf("%T does not implement storage.Offline", s)
	}
	return o
}

// chat returns a small message stanza that says which push it was.
func chat(n int) []byte {
	return fmt.Appendf(nil, `<message from="bob@example.net/phone" to="alice@example.com" type="chat" id="m%d"><body>message %d</body></message>`, n, n)
}

func mustPushOffline(ctx context.Context, t *testing.T, s offlineStore, user string, stanza []byte, created time.Time, quota int) int64 {
	t.Helper()
	id, err := s.PushOffline(ctx, user, stanza, created, quota)
	if err != nil {
		t.Fatalf("PushOffline(%q, %.40q) = %v, want nil", user, stanza, err)
	}
	return id
}

func wantOfflineCount(ctx context.Context, t *testing.T, s offlineStore, user string, want int) {
	t.Helper()
	if n, err := s.CountOffline(ctx, user); err != nil || n != want {
		t.Errorf("CountOffline(%q) = %d, %v; want %d, nil", user, n, err, want)
	}
}

// offlineStanzas returns the stanzas of the user's whole queue, oldest
// first.
func offlineStanzas(ctx context.Context, t *testing.T, s offlineStore, user string) [][]byte {
	t.Helper()
	msgs, err := s.OfflineMessages(ctx, user, 0)
	if err != nil {
		t.Fatalf("OfflineMessages(%q, 0) = %v, want nil", user, err)
	}
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		out[i] = m.Stanza
	}
	return out
}

func ids(msgs []storage.OfflineMessage) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func testOffline(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s offlineStore)
	}{
		{"Empty", func(ctx context.Context, t *testing.T, s offlineStore) {
			if msgs, err := s.OfflineMessages(ctx, "alice", 0); err != nil || len(msgs) != 0 {
				t.Errorf("OfflineMessages(alice) = %v, %v; want none, nil", msgs, err)
			}
			wantOfflineCount(ctx, t, s, "alice", 0)
			for _, del := range [][]int64{nil, {}, {1, 2, 3}} {
				if err := s.DeleteOffline(ctx, "alice", del); err != nil {
					t.Errorf("DeleteOffline(alice, %v) on an empty queue = %v, want nil", del, err)
				}
			}
		}},
		{"ArrivalOrder", func(ctx context.Context, t *testing.T, s offlineStore) {
			// Created goes backwards on purpose: the order is arrival,
			// not the timestamps the caller gives.
			const n = 20
			var want []storage.OfflineMessage
			for i := range n {
				m := storage.OfflineMessage{Stanza: chat(i), Created: epoch.Add(-time.Duration(i) * time.Minute)}
				m.ID = mustPushOffline(ctx, t, s, "alice", m.Stanza, m.Created, 0)
				if len(want) > 0 && m.ID <= want[len(want)-1].ID {
					t.Errorf("push %d got id %d after id %d; want ids to grow", i, m.ID, want[len(want)-1].ID)
				}
				want = append(want, m)
			}
			got, err := s.OfflineMessages(ctx, "alice", 0)
			if err != nil {
				t.Fatalf("OfflineMessages(alice, 0) = %v", err)
			}
			if !slices.EqualFunc(got, want, equalOffline) {
				t.Errorf("OfflineMessages(alice, 0) = %v, want %v", summary(got), summary(want))
			}
			wantOfflineCount(ctx, t, s, "alice", n)
		}},
		{"Limit", func(ctx context.Context, t *testing.T, s offlineStore) {
			var all []int64
			for i := range 5 {
				all = append(all, mustPushOffline(ctx, t, s, "alice", chat(i), epoch, 0))
			}
			for _, tc := range []struct{ limit, want int }{{1, 1}, {3, 3}, {5, 5}, {6, 5}, {0, 5}, {-1, 5}} {
				got, err := s.OfflineMessages(ctx, "alice", tc.limit)
				if err != nil || !slices.Equal(ids(got), all[:tc.want]) {
					t.Errorf("OfflineMessages(alice, %d) = ids %v, %v; want the oldest %d %v", tc.limit, ids(got), err, tc.want, all[:tc.want])
				}
			}
		}},
		{"QuotaBoundary", func(ctx context.Context, t *testing.T, s offlineStore) {
			const quota = 5
			var kept []int64
			for i := range quota {
				kept = append(kept, mustPushOffline(ctx, t, s, "alice", chat(i), epoch, quota))
			}
			for i := range 3 {
				id, err := s.PushOffline(ctx, "alice", chat(100+i), epoch, quota)
				if !errors.Is(err, storage.ErrQuotaExceeded) {
					t.Errorf("push %d over the quota of %d = %d, %v; want ErrQuotaExceeded", i+1, quota, id, err)
				}
			}
			// Nothing was evicted to make room, nothing extra was stored.
			wantOfflineCount(ctx, t, s, "alice", quota)
			got, err := s.OfflineMessages(ctx, "alice", 0)
			if err != nil || !slices.Equal(ids(got), kept) {
				t.Errorf("OfflineMessages(alice) after refusals = ids %v, %v; want %v", ids(got), err, kept)
			}
			// A larger quota, or none, admits more; delivery makes room.
			mustPushOffline(ctx, t, s, "alice", chat(6), epoch, quota+1)
			if _, err := s.PushOffline(ctx, "alice", chat(7), epoch, quota+1); !errors.Is(err, storage.ErrQuotaExceeded) {
				t.Errorf("push over the quota of %d = %v, want ErrQuotaExceeded", quota+1, err)
			}
			if err := s.DeleteOffline(ctx, "alice", kept[:2]); err != nil {
				t.Fatalf("DeleteOffline(alice, %v) = %v", kept[:2], err)
			}
			mustPushOffline(ctx, t, s, "alice", chat(8), epoch, quota)
			mustPushOffline(ctx, t, s, "alice", chat(9), epoch, 0)
			mustPushOffline(ctx, t, s, "alice", chat(10), epoch, -1)
			wantOfflineCount(ctx, t, s, "alice", quota+2)
		}},
		{"QuotaOfOne", func(ctx context.Context, t *testing.T, s offlineStore) {
			mustPushOffline(ctx, t, s, "alice", chat(1), epoch, 1)
			if _, err := s.PushOffline(ctx, "alice", chat(2), epoch, 1); !errors.Is(err, storage.ErrQuotaExceeded) {
				t.Errorf("second push with quota 1 = %v, want ErrQuotaExceeded", err)
			}
			if got := offlineStanzas(ctx, t, s, "alice"); len(got) != 1 || !bytes.Equal(got[0], chat(1)) {
				t.Errorf("queue = %q, want just the first stanza", got)
			}
		}},
		{"DeleteIsIdempotent", func(ctx context.Context, t *testing.T, s offlineStore) {
			var all []int64
			for i := range 6 {
				all = append(all, mustPushOffline(ctx, t, s, "alice", chat(i), epoch, 0))
			}
			del := []int64{all[1], all[3], all[3], all[5], all[5] + 1000}
			for i := range 2 {
				if err := s.DeleteOffline(ctx, "alice", del); err != nil {
					t.Errorf("DeleteOffline(alice, %v) #%d = %v, want nil", del, i+1, err)
				}
				got, err := s.OfflineMessages(ctx, "alice", 0)
				want := []int64{all[0], all[2], all[4]}
				if err != nil || !slices.Equal(ids(got), want) {
					t.Errorf("OfflineMessages(alice) after delete #%d = ids %v, %v; want %v", i+1, ids(got), err, want)
				}
				wantOfflineCount(ctx, t, s, "alice", 3)
			}
		}},
		{"DeleteMany", func(ctx context.Context, t *testing.T, s offlineStore) {
			// More ids than one statement may comfortably carry.
			const n = 1200
			var all []int64
			for i := range n {
				all = append(all, mustPushOffline(ctx, t, s, "alice", []byte("x"), epoch, 0))
				if i == n/2 {
					all = append(all, all[0]) // a duplicate
				}
			}
			if err := s.DeleteOffline(ctx, "alice", all); err != nil {
				t.Fatalf("DeleteOffline(alice, %d ids) = %v", len(all), err)
			}
			wantOfflineCount(ctx, t, s, "alice", 0)
			if msgs, err := s.OfflineMessages(ctx, "alice", 0); err != nil || len(msgs) != 0 {
				t.Errorf("OfflineMessages(alice) = %d, %v; want 0, nil", len(msgs), err)
			}
		}},
		{"IDsAreNotReused", func(ctx context.Context, t *testing.T, s offlineStore) {
			// A client of the store deletes by id; an id handed out again
			// would let a late delete remove a newer stanza.
			var last int64
			for i := range 3 {
				last = mustPushOffline(ctx, t, s, "alice", chat(i), epoch, 0)
			}
			msgs, err := s.OfflineMessages(ctx, "alice", 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteOffline(ctx, "alice", ids(msgs)); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"alice", "bob"} {
				if id := mustPushOffline(ctx, t, s, u, chat(9), epoch, 0); id <= last {
					t.Errorf("PushOffline(%q) after deleting id %d = id %d; want a larger one", u, last, id)
				}
			}
		}},
		{"PerUser", func(ctx context.Context, t *testing.T, s offlineStore) {
			users := []string{"alice", "bob", "Alice", "älice"}
			pushed := map[string][]int64{}
			for i := range 3 {
				for _, u := range users {
					pushed[u] = append(pushed[u], mustPushOffline(ctx, t, s, u, []byte(u+fmt.Sprint(i)), epoch, 3))
				}
			}
			// alice's queue is full; bob's quota is his own.
			if _, err := s.PushOffline(ctx, "alice", []byte("more"), epoch, 3); !errors.Is(err, storage.ErrQuotaExceeded) {
				t.Errorf("PushOffline(alice) over quota = %v, want ErrQuotaExceeded", err)
			}
			mustPushOffline(ctx, t, s, "bob", []byte("bob3"), epoch, 4)
			pushed["bob"] = append(pushed["bob"], 0)
			// Deleting alice's ids as bob deletes nothing.
			if err := s.DeleteOffline(ctx, "bob", pushed["alice"]); err != nil {
				t.Errorf("DeleteOffline(bob, alice's ids) = %v, want nil", err)
			}
			for _, u := range users {
				got := offlineStanzas(ctx, t, s, u)
				var want [][]byte
				for i := range pushed[u] {
					want = append(want, []byte(u+fmt.Sprint(i)))
				}
				if !slices.EqualFunc(got, want, bytes.Equal) {
					t.Errorf("queue of %q = %q, want %q", u, got, want)
				}
				wantOfflineCount(ctx, t, s, u, len(want))
			}
		}},
		{"StanzaBytesRoundTrip", func(ctx context.Context, t *testing.T, s offlineStore) {
			every := make([]byte, 512)
			for i := range every {
				every[i] = byte(i)
			}
			stanzas := []struct {
				name   string
				stanza []byte
			}{
				{"Empty", []byte{}},
				{"Emoji", []byte(`<message><body>call me 📞👩‍🚀🏳️‍🌈 ☎ 日本語 ünïcödé</body></message>`)},
				{"TenKiB", bytes.Repeat([]byte("<b>10 KiB 😀</b>"), 10*1024/len("<b>10 KiB 😀</b>")+1)},
				{"EveryByte", every},
				{"InvalidUTF8", []byte("<message>\xff\xfe\xc3(\x00\x80</message>")},
				{"QuotesAndBackslashes", []byte(`<message a='"' b="'">\'\\\"; DROP TABLE offline_messages; --</message>`)},
				{"Over256KiB", bytes.Repeat([]byte("0123456789abcdef"), 300*1024/16)},
			}
			for _, st := range stanzas {
				t.Run(st.name, func(t *testing.T) {
					user := "u-" + st.name
					mustPushOffline(ctx, t, s, user, st.stanza, epoch, 0)
					got := offlineStanzas(ctx, t, s, user)
					if len(got) != 1 || !bytes.Equal(got[0], st.stanza) {
						t.Errorf("stored %d bytes, read back %d stanzas (first %d bytes); want the bytes exactly", len(st.stanza), len(got), len(first(got)))
					}
				})
			}
			if got := offlineStanzas(ctx, t, s, "nil"); len(got) != 0 {
				t.Fatalf("queue of nil = %q", got)
			}
			mustPushOffline(ctx, t, s, "nil", nil, epoch, 0)
			if got := offlineStanzas(ctx, t, s, "nil"); len(got) != 1 || len(got[0]) != 0 {
				t.Errorf("PushOffline(nil stanza) read back as %q, want one empty stanza", got)
			}
		}},
		{"CreatedSurvivesToTheMillisecond", func(ctx context.Context, t *testing.T, s offlineStore) {
			times := []time.Time{
				time.Date(2031, 12, 31, 23, 59, 59, 123456789, time.FixedZone("X", 5*3600)),
				time.Date(1999, 1, 1, 0, 0, 0, 999_999_999, time.UTC),
				epoch,
			}
			for i, at := range times {
				mustPushOffline(ctx, t, s, "alice", chat(i), at, 0)
			}
			msgs, err := s.OfflineMessages(ctx, "alice", 0)
			if err != nil || len(msgs) != len(times) {
				t.Fatalf("OfflineMessages(alice) = %d, %v; want %d", len(msgs), err, len(times))
			}
			for i, m := range msgs {
				want := times[i].Truncate(time.Millisecond)
				if !m.Created.Equal(want) || m.Created.Location() != time.UTC {
					t.Errorf("Created of message %d = %v, want %v in UTC", i, m.Created, want.UTC())
				}
			}
		}},
		{"ReturnedStanzaIsACopy", func(ctx context.Context, t *testing.T, s offlineStore) {
			st := chat(1)
			mustPushOffline(ctx, t, s, "alice", st, epoch, 0)
			st[0] = 'X' // the caller may reuse its buffer after the push
			got := offlineStanzas(ctx, t, s, "alice")
			if len(got) != 1 || !bytes.Equal(got[0], chat(1)) {
				t.Errorf("queue = %q, want the stanza as it was pushed", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			tc.run(ctx, t, asOffline(t, s))
		})
	}
}

func testOfflineConcurrency(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(ctx context.Context, t *testing.T, s offlineStore)
	}{
		{"QuotaRace", func(ctx context.Context, t *testing.T, s offlineStore) {
			// The queue is one short of its quota and 16 pushes race for
			// the last place: exactly one may win, whatever the batching.
			const quota, racers = 10, 16
			for i := range quota - 1 {
				mustPushOffline(ctx, t, s, "alice", chat(i), epoch, quota)
			}
			errs := make([]error, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for r := range racers {
				wg.Go(func() {
					<-start
					_, errs[r] = s.PushOffline(ctx, "alice", chat(100+r), epoch, quota)
				})
			}
			close(start)
			wg.Wait()
			won := 0
			for r, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, storage.ErrQuotaExceeded):
					t.Errorf("racing PushOffline #%d = %v, want nil or ErrQuotaExceeded", r, err)
				}
			}
			if won != 1 {
				t.Errorf("%d racing pushes at quota-1 succeeded, want 1", won)
			}
			wantOfflineCount(ctx, t, s, "alice", quota)
			if got := offlineStanzas(ctx, t, s, "alice"); len(got) != quota {
				t.Errorf("queue holds %d stanzas, want %d", len(got), quota)
			}
		}},
		{"QuotaPerUserUnderLoad", func(ctx context.Context, t *testing.T, s offlineStore) {
			// 8 users × 3 pushers each push 10 with a quota of 12: each
			// queue ends exactly full, with 18 refusals.
			const users, pushers, each, quota = 8, 3, 10, 12
			var (
				mu       sync.Mutex
				accepted = map[string]int{}
				refused  = map[string]int{}
				failures []error
			)
			var wg sync.WaitGroup
			for u := range users {
				for p := range pushers {
					wg.Go(func() {
						user := fmt.Sprintf("user%d", u)
						for i := range each {
							_, err := s.PushOffline(ctx, user, chat(p*100+i), epoch, quota)
							mu.Lock()
							switch {
							case err == nil:
								accepted[user]++
							case errors.Is(err, storage.ErrQuotaExceeded):
								refused[user]++
							default:
								failures = append(failures, err)
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			if err := errors.Join(failures...); err != nil {
				t.Fatalf("concurrent pushes: %v", err)
			}
			for u := range users {
				user := fmt.Sprintf("user%d", u)
				if accepted[user] != quota || refused[user] != pushers*each-quota {
					t.Errorf("%s: %d accepted, %d refused; want %d, %d", user, accepted[user], refused[user], quota, pushers*each-quota)
				}
				wantOfflineCount(ctx, t, s, user, quota)
			}
		}},
		{"EachPushersOrderKept", func(ctx context.Context, t *testing.T, s offlineStore) {
			// 8 pushers × 40 stanzas to one queue: every stanza is stored
			// once, under the id its push returned, and each pusher's
			// stanzas come back in the order it pushed them.
			const pushers, each = 8, 40
			got := make([]map[int64]string, pushers)
			errs := make([]error, pushers)
			var wg sync.WaitGroup
			for p := range pushers {
				got[p] = map[int64]string{}
				wg.Go(func() {
					for i := range each {
						st := fmt.Sprintf("p%d-%03d", p, i)
						id, err := s.PushOffline(ctx, "alice", []byte(st), epoch, 0)
						if err != nil {
							errs[p] = err
							return
						}
						got[p][id] = st
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("concurrent pushes: %v", err)
			}
			msgs, err := s.OfflineMessages(ctx, "alice", 0)
			if err != nil || len(msgs) != pushers*each {
				t.Fatalf("OfflineMessages(alice) = %d, %v; want %d", len(msgs), err, pushers*each)
			}
			next := make([]int, pushers)
			for i, m := range msgs {
				if i > 0 && m.ID <= msgs[i-1].ID {
					t.Fatalf("ids out of order: %d after %d", m.ID, msgs[i-1].ID)
				}
				var p, n int
				if _, err := fmt.Sscanf(string(m.Stanza), "p%d-%d", &p, &n); err != nil || p < 0 || p >= pushers {
					t.Fatalf("unexpected stanza %q", m.Stanza)
				}
				if got[p][m.ID] != string(m.Stanza) {
					t.Errorf("stanza %q came back as id %d, which its push returned for %q", m.Stanza, m.ID, got[p][m.ID])
				}
				if n != next[p] {
					t.Errorf("pusher %d: stanza %d came back where %d was due", p, n, next[p])
				}
				next[p] = n + 1
			}
			wantOfflineCount(ctx, t, s, "alice", pushers*each)
		}},
		{"PushWhileDelivering", func(ctx context.Context, t *testing.T, s offlineStore) {
			// A session drains the queue page by page while pushes keep
			// arriving: nothing is lost or delivered twice, and the count
			// stays true.
			const total = 300
			progress := make(chan struct{}, total)
			pushErr := make(chan error, 1)
			go func() {
				for i := range total {
					if _, err := s.PushOffline(ctx, "alice", chat(i), epoch, 0); err != nil {
						pushErr <- err
						return
					}
					progress <- struct{}{}
				}
				pushErr <- nil
			}()
			var delivered []string
			for done := false; !done; {
				msgs, err := s.OfflineMessages(ctx, "alice", 25)
				if err != nil {
					t.Fatalf("OfflineMessages = %v", err)
				}
				if len(msgs) == 0 {
					// Wait for the next push, or for the pusher to end.
					select {
					case <-progress:
					case err := <-pushErr:
						if err != nil {
							t.Fatalf("PushOffline = %v", err)
						}
						// One last look for what the final pushes stored.
						msgs, err = s.OfflineMessages(ctx, "alice", 0)
						if err != nil {
							t.Fatalf("OfflineMessages = %v", err)
						}
						done = true
					}
				}
				for _, m := range msgs {
					delivered = append(delivered, string(m.Stanza))
				}
				if err := s.DeleteOffline(ctx, "alice", ids(msgs)); err != nil {
					t.Fatalf("DeleteOffline = %v", err)
				}
			}
			if len(delivered) != total {
				t.Fatalf("delivered %d stanzas, want %d", len(delivered), total)
			}
			for i, d := range delivered {
				if d != string(chat(i)) {
					t.Fatalf("stanza %d delivered = %.60q, want %.60q", i, d, chat(i))
				}
			}
			wantOfflineCount(ctx, t, s, "alice", 0)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, s := fresh(t, open)
			tc.run(ctx, t, asOffline(t, s))
		})
	}
}

func equalOffline(a, b storage.OfflineMessage) bool {
	return a.ID == b.ID && bytes.Equal(a.Stanza, b.Stanza) && a.Created.Equal(b.Created)
}

// summary renders messages briefly for failure messages.
func summary(msgs []storage.OfflineMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%d %.30q %s] ", m.ID, m.Stanza, m.Created.Format(time.RFC3339Nano))
	}
	return b.String()
}

func first(bs [][]byte) []byte {
	if len(bs) == 0 {
		return nil
	}
	return bs[0]
}
