package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Latency histogram: HDR-style log-linear buckets over nanoseconds. Values below 256 ns have a
// bucket each; above, every power of two is split into 128 buckets, so a bucket is never wider
// than 1/128 of its lower bound (under 0.8 % error). Memory is fixed (histBuckets counters) and
// recording is one atomic add, so many receivers can share one histogram.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128 sub-buckets per power of two
	histMaxBits = 41               // values are clamped below 2^41 ns (about 36 minutes)
	histBuckets = 2*histSub + (histMaxBits-histSubBits-1)*histSub
)

// histogram counts durations. The zero value is ready to use.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

// bucketOf is the index of the bucket holding v nanoseconds.
func bucketOf(v uint64) int {
	if v >= 1<<histMaxBits {
		v = 1<<histMaxBits - 1
	}
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // ≥ 1: v>>e is in [128, 255]
	return 2*histSub + (e-1)*histSub + int(v>>e) - histSub
}

// bucketHigh is the largest value that falls into bucket i.
func bucketHigh(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := (i-2*histSub)/histSub + 1
	low := uint64(histSub+(i-2*histSub)%histSub) << e
	return low + 1<<e - 1
}

// record counts one duration; negative durations count as zero.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))].Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// merge adds o's counts into h.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if n := o.counts[i].Load(); n > 0 {
			h.counts[i].Add(n)
		}
	}
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// count is the number of recorded durations.
func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// percentile is the smallest recorded value v (to the bucket's precision, never above the
// largest recorded value) such that at least p % of the recorded values are ≤ v; 0 when
// nothing was recorded.
func (h *histogram) percentile(p float64) time.Duration {
	total := h.count()
	if total == 0 {
		return 0
	}
	rank := uint64(p / 100 * float64(total))
	if float64(rank) < p/100*float64(total) {
		rank++ // ceil
	}
	rank = min(max(rank, 1), total)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), uint64(h.max.Load())))
		}
	}
	return time.Duration(h.max.Load())
}

// maximum is the largest recorded duration, exactly.
func (h *histogram) maximum() time.Duration {
	return time.Duration(h.max.Load())
}

// histShards spreads concurrent recorders over several histograms to keep them from fighting
// over cache lines; merged reads the total.
type histShards []histogram

func newHistShards(n int) histShards {
	return make(histShards, n)
}

// shard returns the histogram for recorder i.
func (s histShards) shard(i int) *histogram {
	return &s[i%len(s)]
}

// merged sums the shards into one histogram.
func (s histShards) merged() *histogram {
	h := new(histogram)
	for i := range s {
		h.merge(&s[i])
	}
	return h
}
