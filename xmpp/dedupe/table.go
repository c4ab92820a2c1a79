package dedupe

import "sync"

// shard is one lock's worth of the table. Every entry of seen has exactly
// one record in q, and q is in insertion order, which is expiry order
// because the window is fixed and the clock monotonic.
type shard struct {
	mu   sync.Mutex
	seen map[uint64]uint64 // h1 → h2
	q    fifo
	_    [64]byte // keep shards' locks off each other's cache lines
}

// expire drops the entries whose window ended at or before now.
func (sh *shard) expire(now int64) {
	for sh.q.n > 0 {
		r := sh.q.buf[sh.q.head]
		if r.exp > now {
			return
		}
		sh.q.pop()
		delete(sh.seen, r.h1)
	}
}

type record struct {
	h1  uint64
	exp int64 // nanoseconds since Filter.base
}

// fifo is a growable ring buffer of records.
type fifo struct {
	buf  []record
	head int
	n    int
}

func (q *fifo) push(r record) {
	if q.n == len(q.buf) {
		q.resize(max(16, 2*len(q.buf)))
	}
	q.buf[(q.head+q.n)%len(q.buf)] = r
	q.n++
}

// pop removes and returns the oldest record; the queue must not be empty.
func (q *fifo) pop() record {
	r := q.buf[q.head]
	q.head = (q.head + 1) % len(q.buf)
	q.n--
	if len(q.buf) > 1024 && q.n < len(q.buf)/4 {
		q.resize(len(q.buf) / 2)
	}
	return r
}

func (q *fifo) resize(size int) {
	buf := make([]record, size)
	for i := 0; i < q.n; i++ {
		buf[i] = q.buf[(q.head+i)%len(q.buf)]
	}
	q.buf, q.head = buf, 0
}
