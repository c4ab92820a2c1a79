package inflight

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/storage/sqlite"
)

func openStore(t *testing.T) storage.Store {
	t.Helper()
	store, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ringd.db"))
	if err != nil {
		t.Fatalf("sqlite.Open() = %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

func openJournal(t *testing.T, cfg Config) (*Journal, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	j, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open() = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		j.Close(ctx)
	})
	return j, reg
}

func storedIDs(t *testing.T, s storage.Inflight) []int64 {
	t.Helper()
	recs, err := s.InflightMessages(t.Context(), 0, 0)
	if err != nil {
		t.Fatalf("InflightMessages() = %v", err)
	}
	ids := []int64{}
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

func waitDurable(t *testing.T, j *Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := j.WaitDurable(ctx, j.Batch()); err != nil {
		t.Fatal(err)
	}
}

func TestAddIsDurableOnceItsBatchIs(t *testing.T) {
	store := openStore(t)
	now := time.Date(2026, 11, 22, 10, 0, 0, 123456789, time.UTC)
	j, reg := openJournal(t, Config{Store: store, Now: func() time.Time { return now }})
	first := j.Batch()
	id := j.Add("bob", []byte("<message><body>hi</body></message>"))
	if id != 1 {
		t.Fatalf("first Add() = %d, want 1", id)
	}
	if j.Added() != 1 {
		t.Errorf("Added() = %d, want 1", j.Added())
	}
	fired := make(chan struct{})
	j.OnDurable(first, func() { close(fired) })
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("OnDurable never fired")
	}
	if !j.Durable(first) {
		t.Error("Durable(first) = false after OnDurable fired")
	}
	recs, err := store.InflightMessages(t.Context(), 0, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("stored records = %d, %v; want 1", len(recs), err)
	}
	if r := recs[0]; r.ID != id || r.User != "bob" || string(r.Stanza) != "<message><body>hi</body></message>" || !r.Created.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("stored %+v", r)
	}
	if got := counterValue(t, reg, "ringd_inflight_written_total"); got != 1 {
		t.Errorf("written_total = %v, want 1", got)
	}
	// Called after the fact, fn runs at once.
	ran := false
	j.OnDurable(first, func() { ran = true })
	if !ran {
		t.Error("OnDurable on a durable batch did not run fn at once")
	}
}

func TestReleaseBeforeCommitWritesNothing(t *testing.T) {
	store := openStore(t)
	// A long linger: the release surely comes before the commit.
	j, reg := openJournal(t, Config{Store: store, Linger: 200 * time.Millisecond})
	a := j.Add("bob", []byte("<message>a</message>"))
	b := j.Add("bob", []byte("<message>b</message>"))
	j.Release(a)
	waitDurable(t, j)
	if ids := storedIDs(t, store); !slices.Equal(ids, []int64{b}) {
		t.Errorf("stored ids = %v, want only %d (the one not released)", ids, b)
	}
	if got := counterValue(t, reg, "ringd_inflight_cancelled_total"); got != 1 {
		t.Errorf("cancelled_total = %v, want 1", got)
	}
	// Released after its commit: deleted with the next batch.
	j.Release(b)
	waitDurable(t, j)
	if ids := storedIDs(t, store); len(ids) != 0 {
		t.Errorf("stored ids after releasing %d = %v, want none", b, ids)
	}
	if got := counterValue(t, reg, "ringd_inflight_deleted_total"); got != 1 {
		t.Errorf("deleted_total = %v, want 1", got)
	}
}

func TestFilterSkipsMessages(t *testing.T) {
	store := openStore(t)
	j, _ := openJournal(t, Config{Store: store, Filter: func(raw []byte) bool { return string(raw) != "<message/>" }})
	if id := j.Add("bob", []byte("<message/>")); id != 0 {
		t.Errorf("Add(filtered) = %d, want 0", id)
	}
	if j.Added() != 0 {
		t.Errorf("Added() = %d after a filtered message", j.Added())
	}
}

func TestOpenContinuesAfterStoredIDs(t *testing.T) {
	store := openStore(t)
	if err := store.UpdateInflight(t.Context(), []storage.InflightMessage{{ID: 41, User: "a", Stanza: []byte("x"), Created: time.Now()}}, nil); err != nil {
		t.Fatal(err)
	}
	j, _ := openJournal(t, Config{Store: store})
	if id := j.Add("a", []byte("y")); id != 42 {
		t.Errorf("Add() after a stored 41 = %d, want 42", id)
	}
}

func TestRecover(t *testing.T) {
	store := openStore(t)
	var add []storage.InflightMessage
	for i := range 1203 {
		add = append(add, storage.InflightMessage{ID: int64(i + 1), User: fmt.Sprintf("u%d", i%3), Stanza: fmt.Appendf(nil, "m%d", i+1), Created: time.Now()})
	}
	if err := store.UpdateInflight(t.Context(), add, nil); err != nil {
		t.Fatal(err)
	}
	j, reg := openJournal(t, Config{Store: store})
	var kept []string
	moved, err := j.Recover(t.Context(), func(_ context.Context, m storage.InflightMessage) error {
		if m.ID == 500 {
			return errors.New("quota")
		}
		kept = append(kept, string(m.Stanza))
		return nil
	})
	if err != nil || moved != 1202 {
		t.Fatalf("Recover() = %d, %v; want 1202, nil", moved, err)
	}
	if kept[0] != "m1" || kept[498] != "m499" || kept[499] != "m501" || kept[1201] != "m1203" {
		t.Errorf("kept out of order: %q … %q", kept[:3], kept[len(kept)-3:])
	}
	if ids := storedIDs(t, store); !slices.Equal(ids, []int64{500}) {
		t.Errorf("left after Recover: %v, want [500] (the one keep refused)", ids)
	}
	if got := counterValue(t, reg, "ringd_inflight_recover_failures_total"); got != 1 {
		t.Errorf("recover_failures_total = %v, want 1", got)
	}
}

// flaky fails UpdateInflight while failing is set: a storage outage.
type flaky struct {
	storage.Inflight
	failing atomic.Bool
	calls   atomic.Int32
}

func (f *flaky) UpdateInflight(ctx context.Context, add []storage.InflightMessage, del []int64) error {
	f.calls.Add(1)
	if f.failing.Load() {
		return errors.New("storage down")
	}
	return f.Inflight.UpdateInflight(ctx, add, del)
}

func TestCommitRetriesUntilStorageIsBack(t *testing.T) {
	store := openStore(t)
	f := &flaky{Inflight: store}
	f.failing.Store(true)
	j, reg := openJournal(t, Config{Store: f, Linger: -1})
	seq := j.Batch()
	j.Add("bob", []byte("<message>a</message>"))
	waitFor(t, func() bool { return f.calls.Load() >= 2 })
	if j.Durable(seq) {
		t.Fatal("batch durable while storage fails")
	}
	j.Add("bob", []byte("<message>b</message>")) // joins a later batch meanwhile
	f.failing.Store(false)
	waitDurable(t, j)
	if ids := storedIDs(t, store); !slices.Equal(ids, []int64{1, 2}) {
		t.Errorf("stored ids = %v, want [1 2]", ids)
	}
	if got := counterValue(t, reg, "ringd_inflight_commit_errors_total"); got < 1 {
		t.Errorf("commit_errors_total = %v, want at least 1", got)
	}
}

func TestCloseCommitsPending(t *testing.T) {
	store := openStore(t)
	j, err := Open(t.Context(), Config{Store: store, Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	j.Add("bob", []byte("<message>a</message>"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := j.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if ids := storedIDs(t, store); !slices.Equal(ids, []int64{1}) {
		t.Errorf("stored after Close = %v, want [1]", ids)
	}
	if id := j.Add("bob", []byte("<message>b</message>")); id != 0 {
		t.Errorf("Add after Close = %d, want 0", id)
	}
}

// TestConcurrentAddRelease checks the bookkeeping under concurrency: every
// record released ends deleted or never written, every other one stored.
func TestConcurrentAddRelease(t *testing.T) {
	store := openStore(t)
	j, _ := openJournal(t, Config{Store: store, Linger: time.Millisecond})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var keep []int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				id := j.Add(fmt.Sprintf("u%d", w), []byte("<message/>"))
				if i%5 == 0 {
					mu.Lock()
					keep = append(keep, id)
					mu.Unlock()
					continue
				}
				if i%2 == 0 {
					time.Sleep(50 * time.Microsecond)
				}
				j.Release(id)
			}
		}()
	}
	wg.Wait()
	waitDurable(t, j)
	waitDurable(t, j) // deletes of records released during the last batch
	slices.Sort(keep)
	if ids := storedIDs(t, store); !slices.Equal(ids, keep) {
		t.Errorf("stored %d ids, want the %d never released", len(ids), len(keep))
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
