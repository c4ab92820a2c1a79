package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit. PushOffline is called by every session that routes a
// message to an offline user, at once, and each call must return only once
// its stanza is durable. A commit costs an fsync (SQLite, and InnoDB with
// innodb_flush_log_at_trx_commit=1) plus, on MySQL, the round trips of
// BEGIN and COMMIT; one per push caps throughput at the disk's fsync rate.
// So a few goroutines, the committers, take the pushes from one channel and
// write as many as are waiting in one transaction:
//
//   - a committer blocks for a first request, then takes whatever else is
//     already queued, without waiting, up to Config.OfflineBatch, and
//     commits. While that commit runs, new requests queue up and form the
//     next batch; under light load a batch is one request and costs no added
//     latency (there is no timer);
//   - SQLite admits one writer, so it gets one committer. MySQL gets
//     several (Config.OfflineCommitters), so that a few pushers are not
//     serialised behind one transaction at a time and InnoDB can overlap
//     their commits. A batch locks its users' queue rows in username order,
//     so concurrent batches never lock two rows in opposite orders;
//   - a batch takes a fixed number of statements however many pushes it
//     holds (offlinebatch.go), so a server across the network costs a few
//     round trips per batch, not two per push;
//   - each request gets its own result once the batch is committed: its id,
//     or storage.ErrQuotaExceeded (the quota is checked per push, inside the
//     transaction, so a batch holding several pushes for one user counts
//     each), or the batch's error;
//   - a request whose caller's ctx ended while it waited in the queue is
//     dropped before the transaction, so it stores nothing; the caller has
//     already returned ctx's error;
//   - if a batch fails on an error that is not about the connection or the
//     commit, each of its requests is retried in a transaction of its own,
//     so one bad request (a stanza the server refuses, say) fails alone;
//   - Close stops new pushes, lets the queued ones commit, and waits for the
//     committers to end. They start with the first push, so a Store that
//     never pushes (the CLI) has none.
//
// The transaction does not use any caller's ctx (a batch serves many); it
// has the latest of their deadlines if they all have one.
//
// Measured with BenchmarkOfflinePushFetch on a shared 2-core VM (raw runs
// in storage/{sqlite,mysql}/testdata/offline-bench.txt; medians of 8):
//
//	                           group commit        one tx per push
//	SQLite, 32 pushers         19.3k pushes/s      3.9k pushes/s
//	                           12.0k stanzas/s     3.5k stanzas/s (push, fetch, delete)
//	SQLite, 2 pushers           4.1k pushes/s      3.9k pushes/s (no significant difference)
//	MariaDB, 32 pushers         9.2k pushes/s      8.1k pushes/s
//	                            0.30 commits,      1.03 commits,
//	                            1.5 statements     4.2 statements per stanza
//	MariaDB, 2 pushers          3.0k pushes/s      3.1k pushes/s (no significant difference)
//
// SQLite is bound by its fsync per commit, which batching shares. MariaDB
// on loopback already merges the log flushes of concurrent commits, and
// the VM's two cores run both server and client, so throughput gains
// little; what batching saves there is server work and round trips per
// stanza, which is what a server across the network charges for.

// errClosed is returned by PushOffline after Close.
var errClosed = errors.New("store is closed")

// pushRequest is one PushOffline call.
type pushRequest struct {
	ctx     context.Context // the caller's; nil for direct pushes
	user    string
	stanza  []byte
	created int64 // unix ms
	quota   int64 // math.MaxInt64 for no limit
	// done receives the result; buffered so the committer never blocks on
	// a caller that gave up.
	done chan pushResult
}

type pushResult struct {
	id  int64
	err error
}

// committer owns the goroutines that commit pushes in batches.
type committer struct {
	s        *Store
	maxBatch int
	workers  int
	reqs     chan *pushRequest

	mu      sync.Mutex // guards started, closed and the Add of senders
	started bool
	closed  bool
	// senders counts callers between the closed check and their send on
	// reqs, so that close can wait for them before closing reqs.
	senders sync.WaitGroup
	running sync.WaitGroup // the run goroutines
	done    chan struct{}  // closed once close has finished

	// batches and pushes count committed transactions and the requests
	// they carried, for tests and metrics.
	batches, pushes atomic.Int64
}

func newCommitter(s *Store, maxBatch, workers int) *committer {
	return &committer{
		s:        s,
		maxBatch: maxBatch,
		workers:  workers,
		// Room for a full batch to queue while the previous one commits,
		// so callers rarely block on the send.
		reqs: make(chan *pushRequest, maxBatch),
		done: make(chan struct{}),
	}
}

// push hands r to the committer and waits for its result or for ctx.
func (c *committer) push(ctx context.Context, r *pushRequest) (int64, error) {
	r.ctx = ctx
	r.done = make(chan pushResult, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, errClosed
	}
	if !c.started {
		c.started = true
		for range c.workers {
			c.running.Go(c.run)
		}
	}
	c.senders.Add(1)
	c.mu.Unlock()

	select {
	case c.reqs <- r:
		c.senders.Done()
	case <-ctx.Done():
		c.senders.Done()
		return 0, ctx.Err()
	}
	select {
	case res := <-r.done:
		return res.id, res.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// close stops new pushes, waits for the queued ones to be committed and
// for the committers to end. It is safe to call more than once.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()
	if !started {
		close(c.done)
		return
	}
	// The committers keep draining while senders finish their sends, and
	// no one sends once they have.
	c.senders.Wait()
	close(c.reqs)
	c.running.Wait()
	close(c.done)
}

func (c *committer) run() {
	batch := make([]*pushRequest, 0, c.maxBatch)
	for r := range c.reqs {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < c.maxBatch {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.commit(batch)
		clear(batch) // let the stanzas go
	}
}

// commit writes the live requests of batch in one transaction and hands
// each its result.
func (c *committer) commit(batch []*pushRequest) {
	live := make([]*pushRequest, 0, len(batch))
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- pushResult{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// Stable: a user's pushes keep their order.
	slices.SortStableFunc(live, func(a, b *pushRequest) int { return strings.Compare(a.user, b.user) })
	ctx, cancel := batchContext(live)
	defer cancel()
	results := make([]pushResult, len(live))
	err := c.s.write(ctx, func(tx *sql.Tx) error {
		clear(results) // a retried transaction starts over
		return c.s.pushBatchTx(ctx, tx, live, results)
	})
	if err == nil {
		c.batches.Add(1)
		c.pushes.Add(int64(len(live)))
		for i, r := range live {
			r.done <- results[i]
		}
		return
	}
	if len(live) > 1 && c.worthAlone(err) {
		for _, r := range live {
			r.done <- c.alone(r)
		}
		return
	}
	for _, r := range live {
		r.done <- pushResult{err: err}
	}
}

// worthAlone reports whether the requests of a batch that failed with err
// should be retried one by one: not when the commit itself failed (the
// batch may be stored), nor when the connection, the server or the
// deadline is the trouble (every request would fail the same way).
func (c *committer) worthAlone(err error) bool {
	var ce *commitError
	switch {
	case errors.As(err, &ce),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		c.s.d.IsConnLost != nil && c.s.d.IsConnLost(err),
		c.s.d.IsRetryable(err):
		return false
	}
	return true
}

// alone writes r in a transaction of its own, under its caller's ctx.
func (c *committer) alone(r *pushRequest) pushResult {
	var res pushResult
	res.err = c.s.write(r.ctx, func(tx *sql.Tx) error {
		var err error
		res.id, err = c.s.pushTx(r.ctx, tx, r)
		return err
	})
	if res.err == nil {
		c.batches.Add(1)
		c.pushes.Add(1)
	}
	return res
}

// batchContext returns the context of a batch's transaction: no caller's
// cancellation, and the latest of the callers' deadlines if they all have
// one.
func batchContext(reqs []*pushRequest) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, r := range reqs {
		d, ok := r.ctx.Deadline()
		if !ok {
			return context.WithCancel(context.Background())
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.Background(), latest)
}
