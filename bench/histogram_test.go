package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactPercentile is the reference: the smallest sample with at least p % of the samples at
// or below it.
func exactPercentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(p / 100 * float64(len(sorted)))
	if float64(rank) < p/100*float64(len(sorted)) {
		rank++
	}
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestHistogramPercentiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name    string
		samples func() []time.Duration
	}{
		{"one sample", func() []time.Duration { return []time.Duration{1234567} }},
		{"small exact values", func() []time.Duration {
			return []time.Duration{0, 1, 2, 3, 200, 255, 17, 17, 17, 100}
		}},
		{"uniform microseconds", func() []time.Duration {
			s := make([]time.Duration, 10000)
			for i := range s {
				s[i] = time.Duration(rng.IntN(5000)) * time.Microsecond
			}
			return s
		}},
		{"long tail", func() []time.Duration {
			s := make([]time.Duration, 5000)
			for i := range s {
				s[i] = time.Duration(rng.ExpFloat64() * float64(300*time.Microsecond))
			}
			s[17] = 3 * time.Second
			return s
		}},
		{"negative and huge", func() []time.Duration { return []time.Duration{-5, time.Hour, 10} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			samples := tc.samples()
			var h histogram
			for _, d := range samples {
				h.record(d)
			}
			sorted := slices.Clone(samples)
			for i, d := range sorted {
				sorted[i] = min(max(d, 0), time.Duration(1<<histMaxBits-1))
			}
			slices.Sort(sorted)
			if got := h.count(); got != uint64(len(samples)) {
				t.Fatalf("count = %d, want %d", got, len(samples))
			}
			if got, want := h.maximum(), max(slices.Max(samples), 0); got != want {
				t.Fatalf("max = %v, want %v", got, want)
			}
			for _, p := range []float64{0, 1, 50, 90, 99, 99.9, 100} {
				want := exactPercentile(sorted, p)
				got := h.percentile(p)
				// The histogram answers the top of the sample's bucket: never lower, at most
				// 1/128 higher.
				if got < want || float64(got-want) > float64(want)/histSub {
					t.Errorf("p%v = %v, want %v (±1/%d)", p, got, want, histSub)
				}
			}
		})
	}
}

func TestHistogramEmptyAndMerge(t *testing.T) {
	var empty histogram
	if empty.percentile(99) != 0 || empty.maximum() != 0 {
		t.Fatal("empty histogram should answer 0")
	}
	shards := newHistShards(4)
	for i := range 100 {
		shards.shard(i).record(time.Duration(i+1) * time.Millisecond)
	}
	m := shards.merged()
	if m.count() != 100 || m.maximum() != 100*time.Millisecond {
		t.Fatalf("merged count %d max %v", m.count(), m.maximum())
	}
	if p := m.percentile(50); p < 50*time.Millisecond || p > 51*time.Millisecond {
		t.Fatalf("merged p50 = %v", p)
	}
}

func TestBucketBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<40 + 12345, 1<<histMaxBits - 1} {
		i := bucketOf(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		if high := bucketHigh(i); v > high || (i > 0 && v <= bucketHigh(i-1)) {
			t.Fatalf("value %d in bucket %d whose range ends at %d (previous %d)", v, i, high, bucketHigh(i-1))
		}
	}
}
