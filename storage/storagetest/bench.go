package storagetest

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ringd/ringd/storage"
)

// BenchOpener returns a new, empty store for a benchmark, with the group
// commit of PushOffline on or off. It should register its own cleanup; the
// benchmark closes the store.
type BenchOpener func(b *testing.B, groupCommit bool) storage.Store

// benchStanza is a typical one-to-one chat message as the router stores
// it: from stamped, a stanza-id and a body.
var benchStanza = []byte(`<message xmlns="jabber:client" from="bob@example.net/phone-7f3a" to="alice@example.com" type="chat" id="5f7c9a1e-3b2d-4e8f-9a6b-1c2d3e4f5a6b"><body>Are we still on for the call at 5? I can do any time after 4:30 if that works better for you.</body><active xmlns="http://jabber.org/protocol/chatstates"/><request xmlns="urn:xmpp:receipts"/><origin-id xmlns="urn:xmpp:sid:0" id="5f7c9a1e-3b2d-4e8f-9a6b-1c2d3e4f5a6b"/><stanza-id xmlns="urn:xmpp:sid:0" by="alice@example.com" id="2J4kq8TzQnGm"/></message>`)

// BenchCounters reads a backend's cumulative server counters (commits,
// statements, …) by name, for the benchmark to report their growth per
// stanza. Any store may be passed; it may ignore it.
type BenchCounters func(b *testing.B, s storage.Store) map[string]int64

// BenchOfflinePushFetch measures offline storage the way the server uses
// it: many sessions push at once (b.RunParallel), then each user's queue
// is fetched and deleted page by page, as at login. One iteration is one
// stanza pushed, fetched and deleted; the timing covers all three. It runs
// with group commit on and off, with GOMAXPROCS and 16×GOMAXPROCS
// pushers, and reports stanzas/s for the whole cycle, pushes/s for the
// push phase alone, and, when counters is not nil, each counter's growth
// per stanza over the whole cycle.
func BenchOfflinePushFetch(b *testing.B, open BenchOpener, counters BenchCounters) {
	for _, gc := range []bool{true, false} {
		for _, par := range []int{1, 16} {
			name := fmt.Sprintf("GroupCommit=%v/Pushers=%d", gc, par*runtime.GOMAXPROCS(0))
			b.Run(name, func(b *testing.B) {
				s := open(b, gc)
				b.Cleanup(func() {
					if err := s.Close(); err != nil {
						b.Errorf("Close() = %v", err)
					}
				})
				o, ok := s.(storage.Offline)
				if !ok {
					b.Fatalf("%T does not implement storage.Offline", s)
				}
				var before map[string]int64
				if counters != nil {
					before = counters(b, s)
				}
				benchPushFetch(b, o, par)
				if counters != nil {
					for k, v := range counters(b, s) {
						b.ReportMetric(float64(v-before[k])/float64(b.N), k+"/stanza")
					}
				}
			})
		}
	}
}

func benchPushFetch(b *testing.B, s storage.Offline, parallelism int) {
	const (
		users    = 100
		page     = 100
		fetchers = 8
	)
	ctx := b.Context()
	created := time.Now()
	b.SetBytes(int64(len(benchStanza)))
	b.SetParallelism(parallelism)
	b.ResetTimer()
	start := time.Now()
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			user := fmt.Sprintf("user%03d", n.Add(1)%users)
			if _, err := s.PushOffline(ctx, user, benchStanza, created, 0); err != nil {
				b.Error(err)
				return
			}
		}
	})
	pushed := time.Since(start)

	var (
		fetched atomic.Int64
		wg      sync.WaitGroup
		next    atomic.Int64
	)
	for range fetchers {
		wg.Go(func() {
			for u := next.Add(1) - 1; u < users; u = next.Add(1) - 1 {
				k, err := drain(ctx, s, fmt.Sprintf("user%03d", u), page)
				fetched.Add(int64(k))
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	total := time.Since(start)
	b.StopTimer()
	if int(fetched.Load()) != b.N && !b.Failed() {
		b.Fatalf("fetched %d stanzas, pushed %d", fetched.Load(), b.N)
	}
	b.ReportMetric(float64(b.N)/total.Seconds(), "stanzas/s")
	b.ReportMetric(float64(b.N)/pushed.Seconds(), "pushes/s")
}

// drain fetches and deletes the user's queue page by page and returns how
// many stanzas it took.
func drain(ctx context.Context, s storage.Offline, user string, page int) (int, error) {
	total := 0
	for {
		msgs, err := s.OfflineMessages(ctx, user, page)
		if err != nil || len(msgs) == 0 {
			return total, err
		}
		if err := s.DeleteOffline(ctx, user, ids(msgs)); err != nil {
			return total, err
		}
		total += len(msgs)
	}
}
