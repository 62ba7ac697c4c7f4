package hubload

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// A histogram counts durations in microsecond units with 64 buckets per
// power of two, so a reported quantile is within 1.6% of the true one. It is
// written from thousands of goroutines at once: counts are atomic and spread
// over shards so they do not all fight over one cache line.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
	histShards  = 16
)

type histShard struct {
	counts [histBuckets]atomic.Uint64
	_      [64]byte
}

type histogram struct {
	shards [histShards]histShard
	max    atomic.Int64 // nanoseconds
	sum    atomic.Int64 // microseconds
}

func newHistogram() *histogram { return &histogram{} }

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	e := bits.Len64(us) - histSubBits - 1
	return (e+1)*histSub + int(us>>e) - histSub
}

// histLower is the smallest value that falls in bucket i.
func histLower(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	return uint64(i%histSub+histSub) << e
}

// record adds one duration; shard is any number that spreads writers.
func (h *histogram) record(shard int, d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	h.shards[shard%histShards].counts[histIndex(us)].Add(1)
	h.sum.Add(int64(us))
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// LatencySummary is what a histogram reports, in milliseconds.
type LatencySummary struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

func (h *histogram) summary() LatencySummary {
	var counts [histBuckets]uint64
	var total uint64
	for s := range h.shards {
		for i := range counts {
			c := h.shards[s].counts[i].Load()
			counts[i] += c
			total += c
		}
	}
	s := LatencySummary{Count: total, Max: float64(h.max.Load()) / 1e6}
	if total == 0 {
		return s
	}
	s.Mean = float64(h.sum.Load()) / float64(total) / 1e3
	q := func(p float64) float64 {
		rank := uint64(math.Ceil(p * float64(total)))
		if rank < 1 {
			rank = 1
		}
		var seen uint64
		for i, c := range counts {
			seen += c
			if seen >= rank {
				// The middle of the bucket, but never past the true maximum.
				lo, hi := histLower(i), histLower(i+1)
				v := float64(lo+hi) / 2 / 1e3
				return min(v, s.Max)
			}
		}
		return s.Max
	}
	s.P50, s.P90, s.P99, s.P999 = q(0.50), q(0.90), q(0.99), q(0.999)
	return s
}
