package inflight

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ringd/ringd/storage"
)

// DefaultLinger is Config.Linger's default: long enough for a client on
// the same network to acknowledge before the batch is written, short
// enough that the sender's acknowledgement is not noticeably late.
const DefaultLinger = 5 * time.Millisecond

// retryPause is the first pause after a failed commit; it doubles up to
// maxRetryPause while storage keeps failing.
const (
	retryPause    = 50 * time.Millisecond
	maxRetryPause = 2 * time.Second
)

// Config configures a Journal.
type Config struct {
	Store storage.Inflight
	// Filter reports whether a message is worth recording: whether
	// Recover's keep function would keep it. It may answer true for more
	// than that (it runs on the routing path, so a cheap over-estimate
	// beats an exact parse). nil records every message.
	Filter func(raw []byte) bool
	// Linger is how long a batch waits before it is committed, so that
	// records acknowledged meanwhile are never written. 0 means
	// DefaultLinger; negative means no wait.
	Linger     time.Duration
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock for the records' Created; nil means time.Now.
	Now func() time.Time
}

// Journal batches in-flight records into storage. Its methods are safe
// for concurrent use.
type Journal struct {
	cfg     Config
	metrics *metrics

	mu        sync.Mutex
	open      []storage.InflightMessage // the batch being filled, in ID order; a nil Stanza is cancelled
	cancelled int                       // records of open that were cancelled
	dels      []int64                   // committed (or committing) records to delete
	spareRecs []storage.InflightMessage
	spareDels []int64
	nextID    int64
	openSeq   uint64   // number of the batch being filled
	waiters   []waiter // in seq order
	closed    bool

	batch   atomic.Uint64 // openSeq, for Batch without the lock
	durable atomic.Uint64 // the last batch committed
	added   atomic.Uint64 // records ever added

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
}

type waiter struct {
	seq uint64
	fn  func()
}

// Open returns a Journal whose ids continue after the records already
// stored, and starts its committer. Call Recover before the first Add to
// move records left by an earlier run to offline storage, and Close to
// stop.
func Open(ctx context.Context, cfg Config) (*Journal, error) {
	if cfg.Store == nil {
		return nil, errors.New("inflight: nil Store")
	}
	switch {
	case cfg.Linger == 0:
		cfg.Linger = DefaultLinger
	case cfg.Linger < 0:
		cfg.Linger = 0
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	maxID, err := cfg.Store.MaxInflightID(ctx)
	if err != nil {
		return nil, fmt.Errorf("inflight: open: %w", err)
	}
	j := &Journal{
		cfg: cfg, metrics: m, nextID: maxID + 1, openSeq: 1,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	j.batch.Store(1)
	go j.run()
	return j, nil
}

// Add records raw, a message queued for a client of the account user,
// and returns the record's id; 0 when the Filter says it is not worth
// recording (or the journal is closed). raw must not change afterwards:
// the record holds it until it is written or cancelled.
func (j *Journal) Add(user string, raw []byte) int64 {
	if j.cfg.Filter != nil && !j.cfg.Filter(raw) {
		return 0
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0
	}
	id := j.nextID
	j.nextID++
	j.open = append(j.open, storage.InflightMessage{ID: id, User: user, Stanza: raw})
	j.mu.Unlock()
	j.added.Add(1)
	j.signal()
	return id
}

// Release ends the records ids: their messages were acknowledged by the
// recipient or handed to offline storage. A record not yet committed is
// cancelled and never written; a committed one is deleted with the next
// batch.
func (j *Journal) Release(ids ...int64) {
	if len(ids) == 0 {
		return
	}
	j.mu.Lock()
	for _, id := range ids {
		if len(j.open) > 0 && id >= j.open[0].ID {
			i, found := slices.BinarySearchFunc(j.open, id, func(m storage.InflightMessage, id int64) int {
				switch {
				case m.ID < id:
					return -1
				case m.ID > id:
					return 1
				}
				return 0
			})
			if found && j.open[i].Stanza != nil {
				j.open[i].Stanza = nil
				j.cancelled++
			}
			continue
		}
		j.dels = append(j.dels, id)
	}
	j.mu.Unlock()
	j.signal()
}

// Added returns how many records were ever added. A caller compares it
// before and after routing a stanza to learn whether routing added any
// (or some other goroutine did: then it waits for a batch it did not
// need, which is safe).
func (j *Journal) Added() uint64 { return j.added.Load() }

// Batch returns the number of the batch being filled: every record added
// so far is in it or in an earlier one.
func (j *Journal) Batch() uint64 { return j.batch.Load() }

// Durable reports whether batch seq, and every batch before it, is
// committed.
func (j *Journal) Durable(seq uint64) bool { return j.durable.Load() >= seq }

// OnDurable calls fn once batch seq is committed: at once, in the
// caller's goroutine, if it is already, else later in the committer's.
// fn must not block. After Close, fn is called only if the final commit
// covered seq.
func (j *Journal) OnDurable(seq uint64, fn func()) {
	if j.Durable(seq) {
		fn()
		return
	}
	j.mu.Lock()
	if j.Durable(seq) { // the committer got there meanwhile
		j.mu.Unlock()
		fn()
		return
	}
	i, _ := slices.BinarySearchFunc(j.waiters, seq, func(w waiter, seq uint64) int {
		if w.seq <= seq {
			return -1
		}
		return 1
	})
	j.waiters = slices.Insert(j.waiters, i, waiter{seq: seq, fn: fn})
	j.mu.Unlock()
	j.signal()
}

// WaitDurable waits until batch seq is committed.
func (j *Journal) WaitDurable(ctx context.Context, seq uint64) error {
	if j.Durable(seq) {
		return nil
	}
	ch := make(chan struct{})
	j.OnDurable(seq, func() { close(ch) })
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("inflight: wait for batch %d: %w", seq, ctx.Err())
	}
}

// Close commits what is pending, within ctx, and stops the committer.
// Later Adds record nothing.
func (j *Journal) Close(ctx context.Context) error {
	j.mu.Lock()
	already := j.closed
	j.closed = true
	j.mu.Unlock()
	if !already {
		close(j.stop)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return fmt.Errorf("inflight: close: %w", ctx.Err())
	}
	j.mu.Lock()
	left := len(j.open) - j.cancelled + len(j.dels)
	j.mu.Unlock()
	if left > 0 {
		return fmt.Errorf("inflight: close: %d records not committed", left)
	}
	return nil
}

func (j *Journal) signal() {
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// run is the committer: after a wake-up it lingers, then commits the
// batch being filled. Once stopped it makes one last attempt with
// everything pending (a commit that was retrying gave its batch back).
func (j *Journal) run() {
	defer close(j.done)
	ctx := context.Background()
	var linger *time.Timer
	if j.cfg.Linger > 0 {
		linger = time.NewTimer(time.Hour)
		linger.Stop()
	}
	for {
		select {
		case <-j.wake:
		case <-j.stop:
			j.commit(ctx)
			return
		}
		if linger != nil {
			linger.Reset(j.cfg.Linger)
			select {
			case <-linger.C:
			case <-j.stop:
				linger.Stop()
				j.commit(ctx)
				return
			}
		}
		if !j.commit(ctx) {
			j.commit(ctx) // stopping: one last attempt
			return
		}
	}
}

// commit writes the batch being filled and the pending deletes, retrying
// while storage fails, then runs the waiters it satisfied. When the
// journal stops while it retries, it puts the batch back and returns
// false; once stopped, that makes it give up after one attempt.
func (j *Journal) commit(ctx context.Context) bool {
	j.mu.Lock()
	recs, dels, cancelled := j.open, j.dels, j.cancelled
	j.open, j.dels, j.cancelled = j.spareRecs[:0], j.spareDels[:0], 0
	j.spareRecs, j.spareDels = nil, nil
	seq := j.openSeq
	j.openSeq++
	j.batch.Store(j.openSeq)
	j.mu.Unlock()

	add := recs[:0]
	created := j.cfg.Now().UTC().Truncate(time.Millisecond)
	for _, m := range recs {
		if m.Stanza != nil {
			m.Created = created
			add = append(add, m)
		}
	}
	j.metrics.cancelled.Add(float64(cancelled))
	if len(add) > 0 || len(dels) > 0 {
		start := time.Now()
		pause := retryPause
		for {
			err := j.cfg.Store.UpdateInflight(ctx, add, dels)
			if err == nil {
				break
			}
			j.metrics.errors.Inc()
			j.cfg.Logger.Error("in-flight records not committed; retrying", "added", len(add), "deleted", len(dels), "err", err)
			select {
			case <-time.After(pause):
			case <-j.stop:
				j.requeue(add, dels)
				return false
			}
			pause = min(2*pause, maxRetryPause)
		}
		j.metrics.commitSeconds.Observe(time.Since(start).Seconds())
		j.metrics.commits.Inc()
		j.metrics.written.Add(float64(len(add)))
		j.metrics.deleted.Add(float64(len(dels)))
	}
	j.durable.Store(seq)

	j.mu.Lock()
	n := 0
	for n < len(j.waiters) && j.waiters[n].seq <= seq {
		n++
	}
	ready := slices.Clone(j.waiters[:n])
	j.waiters = slices.Delete(j.waiters, 0, n)
	clear(recs) // the stanzas belong to the queues, not to the spare array
	j.spareRecs, j.spareDels = recs[:0], dels[:0]
	j.mu.Unlock()
	for _, w := range ready {
		w.fn()
	}
	return true
}

// requeue puts an uncommitted batch back in front of what was added
// since, so that Close can report it or the final commit write it.
func (j *Journal) requeue(add []storage.InflightMessage, dels []int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open = append(slices.Clone(add), j.open...)
	j.dels = append(slices.Clone(dels), j.dels...)
}

// Recover moves every stored record to offline storage with keep, oldest
// first, deleting each page of records once kept. A record keep fails on
// is logged and left for the next start. Call it before serving.
func (j *Journal) Recover(ctx context.Context, keep func(context.Context, storage.InflightMessage) error) (moved int, err error) {
	const page = 500
	var after int64
	for {
		recs, err := j.cfg.Store.InflightMessages(ctx, after, page)
		if err != nil {
			return moved, fmt.Errorf("inflight: recover: %w", err)
		}
		if len(recs) == 0 {
			return moved, nil
		}
		done := make([]int64, 0, len(recs))
		for _, m := range recs {
			if err := keep(ctx, m); err != nil {
				if ctx.Err() != nil {
					return moved, fmt.Errorf("inflight: recover: %w", ctx.Err())
				}
				j.metrics.recoverFailed.Inc()
				j.cfg.Logger.ErrorContext(ctx, "in-flight message not recovered; it stays for the next start",
					"id", m.ID, "user", m.User, "err", err)
				continue
			}
			done = append(done, m.ID)
		}
		if err := j.cfg.Store.UpdateInflight(ctx, nil, done); err != nil {
			return moved, fmt.Errorf("inflight: recover: %w", err)
		}
		moved += len(done)
		j.metrics.recovered.Add(float64(len(done)))
		after = recs[len(recs)-1].ID
	}
}
