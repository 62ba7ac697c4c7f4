package hubload

import (
	"math"
	"testing"
	"time"
)

func TestHistIndex(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/200 {
		i := histIndex(us)
		if i < prev {
			t.Fatalf("index(%d) = %d, below previous %d", us, i, prev)
		}
		prev = i
		if lo, hi := histLower(i), histLower(i+1); us < lo || us >= hi {
			t.Fatalf("%d µs in bucket %d = [%d, %d)", us, i, lo, hi)
		}
	}
	if i := histIndex(math.MaxUint64); i >= histBuckets {
		t.Fatalf("index of max = %d, want < %d", i, histBuckets)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 10000; i++ {
		h.record(i, time.Duration(i)*time.Microsecond)
	}
	s := h.summary()
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", s.P50, 5}, {"p99", s.P99, 9.9}, {"p999", s.P999, 9.99}, {"max", s.Max, 10},
	} {
		if math.Abs(c.got-c.want)/c.want > 0.02 {
			t.Errorf("%s = %.3f ms, want %.3f ±2%%", c.name, c.got, c.want)
		}
	}
	if s.Count != 10000 {
		t.Errorf("count = %d", s.Count)
	}
}
