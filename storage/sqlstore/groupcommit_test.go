package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// The group committer's tests hold the SQLite writer slot to stop the
// committer inside a transaction, queue requests behind it, and release it:
// what then forms one batch is known exactly.

func openMigrated(t *testing.T, cfg Config) *Store {
	t.Helper()
	db := openSQLite(t)
	ms, err := SQLiteMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(t.Context(), db, ms); err != nil {
		t.Fatalf("Migrate() = %v", err)
	}
	d := Dialect{Name: "test", Upsert: UpsertOnConflict, SingleWriter: true,
		IsConflict: func(error) bool { return false }, IsRetryable: func(error) bool { return false }}
	s, err := New(db, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitUntil polls cond, failing t after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

type pushed struct {
	id  int64
	err error
}

// blockCommitter takes the writer slot, sends one push and waits until the
// committer holds it in a batch waiting for the slot. The returned release
// frees the slot; the channel yields the first push's result.
func blockCommitter(t *testing.T, s *Store) (release func(), first <-chan pushed) {
	t.Helper()
	s.writer <- struct{}{}
	ch := make(chan pushed, 1)
	go func() {
		id, err := s.PushOffline(context.Background(), "first", []byte("first"), time.Now(), 0)
		ch <- pushed{id, err}
	}()
	waitUntil(t, "the committer to take the first push", func() bool {
		s.push.mu.Lock()
		started := s.push.started
		s.push.mu.Unlock()
		return started && len(s.push.reqs) == 0 && s.push.batches.Load() == 0
	})
	// The send may not have happened yet when the channel looked empty.
	waitUntil(t, "the first push to be queued", func() bool { return len(s.push.reqs) == 0 })
	var once sync.Once
	return func() { once.Do(func() { <-s.writer }) }, ch
}

// pushAsync starts PushOffline calls and returns their results in order.
func pushAsync(ctx context.Context, s *Store, users []string, quota int) []chan pushed {
	out := make([]chan pushed, len(users))
	for i, u := range users {
		out[i] = make(chan pushed, 1)
		go func() {
			id, err := s.PushOffline(ctx, u, fmt.Appendf(nil, "%s-%d", u, i), time.Now(), quota)
			out[i] <- pushed{id, err}
		}()
	}
	return out
}

func TestGroupCommitBatches(t *testing.T) {
	s := openMigrated(t, Config{})
	defer s.Close()
	release, first := blockCommitter(t, s)
	defer release()
	const n = 40
	users := make([]string, n)
	for i := range users {
		users[i] = fmt.Sprintf("user%d", i%5)
	}
	results := pushAsync(t.Context(), s, users, 0)
	waitUntil(t, "the pushes to queue", func() bool { return len(s.push.reqs) == n })
	release()
	if r := <-first; r.err != nil {
		t.Fatalf("first push = %v", r.err)
	}
	ids := map[int64]bool{}
	for i, ch := range results {
		r := <-ch
		if r.err != nil || ids[r.id] {
			t.Errorf("push %d = %d, %v; want a fresh id", i, r.id, r.err)
		}
		ids[r.id] = true
	}
	if b, p := s.push.batches.Load(), s.push.pushes.Load(); b != 2 || p != n+1 {
		t.Errorf("%d pushes committed in %d transactions; want %d in 2", p, b, n+1)
	}
	for u := range 5 {
		if c, err := s.CountOffline(t.Context(), fmt.Sprintf("user%d", u)); err != nil || c != n/5 {
			t.Errorf("CountOffline(user%d) = %d, %v; want %d", u, c, err, n/5)
		}
	}
}

func TestGroupCommitBatchLimit(t *testing.T) {
	const limit = 8
	s := openMigrated(t, Config{OfflineBatch: limit})
	defer s.Close()
	release, first := blockCommitter(t, s)
	defer release()
	users := make([]string, limit)
	for i := range users {
		users[i] = "alice"
	}
	results := pushAsync(t.Context(), s, users, 0)
	waitUntil(t, "the pushes to queue", func() bool { return len(s.push.reqs) == limit })
	more := pushAsync(t.Context(), s, []string{"bob", "bob"}, 0)
	release()
	<-first
	for _, ch := range append(results, more...) {
		if r := <-ch; r.err != nil {
			t.Errorf("push = %v", r.err)
		}
	}
	// first alone, then at most limit per transaction.
	if b := s.push.batches.Load(); b != 3 {
		t.Errorf("%d transactions for 1 + %d + 2 pushes with batches of %d; want 3", b, limit, limit)
	}
}

func TestGroupCommitQuotaWithinBatch(t *testing.T) {
	s := openMigrated(t, Config{})
	defer s.Close()
	release, first := blockCommitter(t, s)
	defer release()
	users := []string{"alice", "bob", "alice", "alice", "bob", "alice", "alice", "bob", "bob", "bob"}
	results := pushAsync(t.Context(), s, users, 3)
	waitUntil(t, "the pushes to queue", func() bool { return len(s.push.reqs) == len(users) })
	release()
	<-first
	won := map[string]int{}
	for i, ch := range results {
		r := <-ch
		switch {
		case r.err == nil:
			won[users[i]]++
		case !errors.Is(r.err, storage.ErrQuotaExceeded):
			t.Errorf("push %d for %s = %v, want nil or ErrQuotaExceeded", i, users[i], r.err)
		}
	}
	if won["alice"] != 3 || won["bob"] != 3 {
		t.Errorf("accepted %v in one batch with quota 3, want 3 each", won)
	}
	if b := s.push.batches.Load(); b != 2 {
		t.Errorf("%d transactions, want 2", b)
	}
	for _, u := range []string{"alice", "bob"} {
		if n, err := s.CountOffline(t.Context(), u); err != nil || n != 3 {
			t.Errorf("CountOffline(%s) = %d, %v; want 3", u, n, err)
		}
	}
}

func TestGroupCommitKeepsEachUsersOrder(t *testing.T) {
	// Requests are sorted by user inside a batch; each user's own order
	// must survive it.
	s := openMigrated(t, Config{})
	defer s.Close()
	release, first := blockCommitter(t, s)
	defer release()
	users := []string{"zed", "alice", "zed", "bob", "alice", "zed", "alice"}
	var results []chan pushed
	for i := range users {
		// One at a time, so that the queue order is the index order.
		results = append(results, pushAsync(t.Context(), s, users[i:i+1], 0)...)
		waitUntil(t, "the push to queue", func() bool { return len(s.push.reqs) == i+1 })
	}
	release()
	<-first
	last := map[string]int64{}
	for i, ch := range results {
		r := <-ch
		if r.err != nil {
			t.Fatalf("push %d = %v", i, r.err)
		}
		if r.id <= last[users[i]] {
			t.Errorf("push %d for %s got id %d after %d; want growing ids per user", i, users[i], r.id, last[users[i]])
		}
		last[users[i]] = r.id
	}
}

func TestGroupCommitDropsCancelledRequests(t *testing.T) {
	s := openMigrated(t, Config{})
	defer s.Close()
	release, first := blockCommitter(t, s)
	defer release()
	ctx, cancel := context.WithCancel(t.Context())
	results := pushAsync(ctx, s, []string{"alice"}, 0)
	waitUntil(t, "the push to queue", func() bool { return len(s.push.reqs) == 1 })
	cancel()
	// The caller returns at once, while its request is still queued.
	if r := <-results[0]; !errors.Is(r.err, context.Canceled) {
		t.Errorf("cancelled push = %d, %v; want context.Canceled", r.id, r.err)
	}
	release()
	if r := <-first; r.err != nil {
		t.Fatalf("first push = %v", r.err)
	}
	// The committer dropped it: nothing stored.
	waitUntil(t, "the queue to drain", func() bool { return len(s.push.reqs) == 0 })
	if _, err := s.PushOffline(t.Context(), "bob", []byte("x"), time.Now(), 0); err != nil {
		t.Fatal(err) // a later push runs after the dropped one was handled
	}
	if n, err := s.CountOffline(t.Context(), "alice"); err != nil || n != 0 {
		t.Errorf("CountOffline(alice) = %d, %v; want 0: a push cancelled while queued is not stored", n, err)
	}
}

func TestGroupCommitBadRequestFailsAlone(t *testing.T) {
	s := openMigrated(t, Config{})
	defer s.Close()
	// A server-side refusal of one stanza (think max_allowed_packet).
	if _, err := s.db.ExecContext(t.Context(), `CREATE TRIGGER poison BEFORE INSERT ON offline_messages
		WHEN NEW.username = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned stanza'); END`); err != nil {
		t.Fatal(err)
	}
	release, first := blockCommitter(t, s)
	defer release()
	users := []string{"alice", "poison", "bob"}
	results := pushAsync(t.Context(), s, users, 0)
	waitUntil(t, "the pushes to queue", func() bool { return len(s.push.reqs) == len(users) })
	release()
	<-first
	for i, ch := range results {
		r := <-ch
		if users[i] == "poison" {
			if r.err == nil || !strings.Contains(r.err.Error(), "poisoned") {
				t.Errorf("poisoned push = %d, %v; want its own error", r.id, r.err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("push for %s batched with a bad one = %v, want nil", users[i], r.err)
		}
	}
	for _, u := range users {
		want := 1
		if u == "poison" {
			want = 0
		}
		if n, err := s.CountOffline(t.Context(), u); err != nil || n != want {
			t.Errorf("CountOffline(%s) = %d, %v; want %d", u, n, err, want)
		}
	}
}

func TestCloseCommitsQueuedPushes(t *testing.T) {
	s := openMigrated(t, Config{})
	release, first := blockCommitter(t, s)
	defer release()
	users := []string{"a", "b", "c", "d", "e"}
	results := pushAsync(t.Context(), s, users, 0)
	waitUntil(t, "the pushes to queue", func() bool { return len(s.push.reqs) == len(users) })
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitUntil(t, "Close to begin", func() bool {
		s.push.mu.Lock()
		defer s.push.mu.Unlock()
		return s.push.closed
	})
	if _, err := s.PushOffline(t.Context(), "late", []byte("x"), time.Now(), 0); !errors.Is(err, errClosed) {
		t.Errorf("PushOffline() during Close = %v, want errClosed", err)
	}
	release()
	if r := <-first; r.err != nil {
		t.Errorf("first push = %v", r.err)
	}
	for i, ch := range results {
		if r := <-ch; r.err != nil {
			t.Errorf("push %d queued before Close = %v, want it committed", i, r.err)
		}
	}
	if err := <-closed; err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
}

// TestCommittersEnd: the committers start with the first push and are
// gone after Close.
func TestCommittersEnd(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		push bool
	}{
		{"NeverPushed", Config{}, false},
		{"Pushed", Config{}, true},
		{"SeveralCommitters", Config{OfflineCommitters: 3}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			s := openMigrated(t, tc.cfg)
			if tc.push {
				if _, err := s.PushOffline(t.Context(), "alice", []byte("x"), time.Now(), 0); err != nil {
					t.Fatal(err)
				}
			} else if s.push.started {
				t.Error("committer started before any push")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
		})
	}
}

func TestConfig(t *testing.T) {
	single := Dialect{SingleWriter: true}
	tests := []struct {
		name    string
		d       Dialect
		in      Config
		want    Config
		wantErr bool
	}{
		{"ZeroSingleWriter", single, Config{}, Config{OfflineBatch: DefaultOfflineBatch, OfflineCommitters: 1}, false},
		{"Zero", Dialect{}, Config{}, Config{OfflineBatch: DefaultOfflineBatch, OfflineCommitters: DefaultOfflineCommitters}, false},
		{"NoGroupCommit", Dialect{}, Config{OfflineBatch: 1}, Config{OfflineBatch: 1, OfflineCommitters: DefaultOfflineCommitters}, false},
		{"NegativeBatch", Dialect{}, Config{OfflineBatch: -1}, Config{}, true},
		{"NegativeCommitters", Dialect{}, Config{OfflineCommitters: -2}, Config{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.withDefaults(tc.d)
			err := got.validate()
			if (err != nil) != tc.wantErr {
				t.Fatalf("validate() = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("withDefaults() = %+v, want %+v", got, tc.want)
			}
		})
	}
	s := openMigrated(t, Config{OfflineBatch: 1})
	defer s.Close()
	if s.push != nil {
		t.Error("OfflineBatch 1 built a group committer")
	}
	if _, err := s.PushOffline(t.Context(), "alice", []byte("x"), time.Now(), 1); err != nil {
		t.Errorf("PushOffline() without group commit = %v", err)
	}
	if _, err := s.PushOffline(t.Context(), "alice", []byte("x"), time.Now(), 1); !errors.Is(err, storage.ErrQuotaExceeded) {
		t.Errorf("PushOffline() over quota without group commit = %v, want ErrQuotaExceeded", err)
	}
}

var (
	errContention = errors.New("contention")
	errConnLost   = errors.New("connection lost")
)

func TestRetryPolicy(t *testing.T) {
	d := Dialect{Name: "test", Upsert: UpsertOnConflict,
		IsConflict:  func(error) bool { return false },
		IsRetryable: func(err error) bool { return errors.Is(err, errContention) },
		IsConnLost:  func(err error) bool { return errors.Is(err, errConnLost) },
	}
	s, err := New(openSQLite(t), d, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tests := []struct {
		name       string
		err        error
		idempotent bool
		want       bool
	}{
		{"Contention", errContention, false, true},
		{"ContentionAtCommit", &commitError{errContention}, false, true},
		{"ConnLostBeforeCommit", fmt.Errorf("statement: %w", errConnLost), false, true},
		{"ConnLostAtCommit", &commitError{errConnLost}, false, false},
		{"ConnLostAtCommitIdempotent", &commitError{errConnLost}, true, true},
		{"Other", errors.New("syntax"), true, false},
		{"OtherAtCommit", &commitError{errors.New("disk full")}, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wrapped := fmt.Errorf("layer: %w", tc.err)
			if got := s.retryable(wrapped, tc.idempotent); got != tc.want {
				t.Errorf("retryable(%v, idempotent %v) = %v, want %v", tc.err, tc.idempotent, got, tc.want)
			}
		})
	}
	// A lost connection without IsConnLost (SQLite) is never retried.
	lite := Dialect{Name: "lite", Upsert: UpsertOnConflict,
		IsConflict: func(error) bool { return false }, IsRetryable: func(error) bool { return false }}
	s2, err := New(openSQLite(t), lite, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if s2.retryable(errConnLost, true) {
		t.Error("retryable() without IsConnLost = true, want false")
	}
	// Reads retry after a lost connection.
	calls := 0
	err = s.query(t.Context(), func() error {
		calls++
		if calls == 1 {
			return errConnLost
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("query() = %v after %d calls; want nil after 2", err, calls)
	}
}

// TestGroupCommitSplitsInserts: a batch larger than one INSERT may carry,
// in rows or in bytes, is stored in several, every stanza intact and under
// the id its push returned.
func TestGroupCommitSplitsInserts(t *testing.T) {
	const n = insertChunkRows*2 + 7
	s := openMigrated(t, Config{OfflineBatch: n})
	defer s.Close()
	release, first := blockCommitter(t, s)
	defer release()
	big := strings.Repeat("x", insertChunkBytes/3)
	stanzas := map[int64]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		st := fmt.Sprintf("%s-%d", []string{"alice", "bob", "carol"}[i%3], i)
		if i%50 == 0 {
			st += big
		}
		user := st[:strings.IndexByte(st, '-')]
		wg.Go(func() {
			id, err := s.PushOffline(t.Context(), user, []byte(st), time.Now(), 0)
			if err != nil {
				t.Errorf("push %d = %v", i, err)
				return
			}
			mu.Lock()
			stanzas[id] = st
			mu.Unlock()
		})
	}
	waitUntil(t, "the pushes to queue", func() bool { return len(s.push.reqs) == n })
	release()
	<-first
	wg.Wait()
	if b := s.push.batches.Load(); b != 2 {
		t.Errorf("%d transactions, want 2", b)
	}
	got := 0
	for _, u := range []string{"alice", "bob", "carol"} {
		msgs, err := s.OfflineMessages(t.Context(), u, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if stanzas[m.ID] != string(m.Stanza) {
				t.Errorf("id %d holds %.20q…, its push stored %.20q…", m.ID, m.Stanza, stanzas[m.ID])
			}
			got++
		}
	}
	if got != n {
		t.Errorf("%d stanzas stored, want %d", got, n)
	}
}
