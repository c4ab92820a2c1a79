package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHistogramBuckets checks that every value lands in a bucket whose
// upper bound is at least the value and at most 1/32 above it, and that
// buckets are ordered.
func TestHistogramBuckets(t *testing.T) {
	values := []int64{0, 1, 63, 64, 65, 127, 128, 1000, 1 << 20, 1<<20 + 1, 123456789, 1<<40 - 1}
	for range 10000 {
		values = append(values, rand.Int64N(1<<40))
	}
	for _, v := range values {
		i := histIndex(v)
		up := histUpper(i)
		if up < v || float64(up-v) > float64(v)/32+1 {
			t.Fatalf("value %d: bucket %d has upper bound %d", v, i, up)
		}
		if i > 0 && histUpper(i-1) >= v {
			t.Fatalf("value %d: the previous bucket's upper bound %d already covers it", v, histUpper(i-1))
		}
	}
	if got := histIndex(1 << 50); got != histBuckets-1 {
		t.Errorf("histIndex(2^50) = %d, want the last bucket %d", got, histBuckets-1)
	}
}

// TestHistogramQuantiles compares quantiles with the exact ones of a
// sorted sample.
func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) int64
	}{
		{"uniform µs", func(r *rand.Rand) int64 { return 1000 + r.Int64N(1_000_000) }},
		{"exponential", func(r *rand.Rand) int64 { return int64(r.ExpFloat64() * 200_000) }},
		{"bimodal", func(r *rand.Rand) int64 {
			if r.IntN(100) == 0 {
				return 50_000_000 + r.Int64N(1_000_000)
			}
			return 80_000 + r.Int64N(10_000)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h, a, b histogram
			var all []int64
			for i := range 100_000 {
				v := tc.gen(r)
				all = append(all, v)
				h.Record(v)
				if i%2 == 0 {
					a.Record(v)
				} else {
					b.Record(v)
				}
			}
			a.Merge(&b)
			slices.Sort(all)
			for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
				exact := all[int(math.Ceil(q*float64(len(all))))-1]
				got := h.Quantile(q)
				if got < exact || float64(got-exact) > float64(exact)/32+1 {
					t.Errorf("Quantile(%v) = %d, exact %d", q, got, exact)
				}
				if m := a.Quantile(q); m != got {
					t.Errorf("merged halves: Quantile(%v) = %d, want %d", q, m, got)
				}
			}
			if h.Quantile(1) != all[len(all)-1] || h.max != all[len(all)-1] || h.min != all[0] {
				t.Errorf("max/min = %d/%d, want %d/%d", h.max, h.min, all[len(all)-1], all[0])
			}
			s := h.Summary()
			if s.N != uint64(len(all)) || s.P50 > s.P90 || s.P90 > s.P99 || s.P99 > s.P999 || s.P999 > s.Max {
				t.Errorf("Summary() = %+v: not ordered", s)
			}
		})
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h histogram
	if h.Quantile(0.5) != 0 || h.Summary() != (latencySummary{}) {
		t.Error("empty histogram does not report zeros")
	}
	h.Record(-5)
	if h.Count() != 1 || h.Quantile(1) != 0 {
		t.Errorf("negative value: count %d, max %d; want 1 and 0", h.Count(), h.Quantile(1))
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h histogram
	v := int64(12345)
	for b.Loop() {
		h.Record(v)
		v = v*7 + 13&(1<<30-1)
	}
}
