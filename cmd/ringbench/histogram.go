package main

import (
	"math"
	"math/bits"
	"sync"
)

// histogram records latencies in nanoseconds in log-linear buckets: each
// power of two is split into 32, so a reported percentile is at most about
// 3 % above the true value (values under 64 ns are exact). Recording is a
// few instructions and never allocates; the fixed array (9 KiB) covers up
// to 2^40 ns, about 18 minutes, and larger values land in the last bucket.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	sum      uint64
	min, max int64
}

const (
	histSubBits  = 5
	histSub      = 1 << histSubBits
	histMaxShift = 40 - histSubBits - 1
	histBuckets  = (histMaxShift + 2) * histSub
)

// histIndex is the bucket of v (v >= 0).
func histIndex(v int64) int {
	u := uint64(v)
	if u < 2*histSub {
		return int(u)
	}
	shift := bits.Len64(u) - (histSubBits + 1)
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return (shift+1)*histSub + int((u>>shift)&(histSub-1))
}

// histUpper is the largest value that lands in bucket i.
func histUpper(i int) int64 {
	if i < 2*histSub {
		return int64(i)
	}
	shift := i/histSub - 1
	sub := i % histSub
	lower := uint64(histSub+sub) << shift
	return int64(lower + (1 << shift) - 1)
}

// Record adds one value; negative values (a clock that went backwards
// cannot happen with the monotonic clock, but a corrupt timestamp can)
// count as 0.
func (h *histogram) Record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[histIndex(ns)]++
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
	h.n++
	h.sum += uint64(ns)
}

// Merge adds o's values.
func (h *histogram) Merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of values recorded.
func (h *histogram) Count() uint64 { return h.n }

// Quantile returns the value at quantile q (0 < q <= 1): the upper bound
// of the bucket holding the ceil(q·n)-th smallest value, capped at the
// largest value seen.
func (h *histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(histUpper(i), h.max)
		}
	}
	return h.max
}

// latencySummary is how a histogram appears in the JSON summary:
// microseconds, one decimal.
type latencySummary struct {
	N    uint64  `json:"n"`
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

func (h *histogram) Summary() latencySummary {
	if h.n == 0 {
		return latencySummary{}
	}
	us := func(ns int64) float64 { return math.Round(float64(ns)/100) / 10 }
	return latencySummary{
		N:    h.n,
		Mean: us(int64(h.sum / h.n)),
		Min:  us(h.min),
		P50:  us(h.Quantile(0.50)),
		P90:  us(h.Quantile(0.90)),
		P99:  us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)),
		Max:  us(h.max),
	}
}

// lockedHistogram is a histogram shared by goroutines. On the one core
// the tool runs on, an uncontended mutex costs less than sharding would.
type lockedHistogram struct {
	mu sync.Mutex
	h  histogram
}

func (l *lockedHistogram) Record(ns int64) {
	l.mu.Lock()
	l.h.Record(ns)
	l.mu.Unlock()
}

// Snapshot copies the histogram.
func (l *lockedHistogram) Snapshot() *histogram {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.h
	return &c
}
