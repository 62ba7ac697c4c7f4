package webhook

import (
	"slices"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	m := time.Minute + 3*time.Second // the span held 5 % long
	for _, tc := range []struct {
		t    Target
		want []limit
	}{
		{Target{Kind: KindWeCom}, []limit{{20, m}}},
		{Target{Kind: KindDingTalk, PerMinute: 10}, []limit{{10, m}}},
		{Target{Kind: KindFeishu}, []limit{{100, m}, {5, m / 60}}},
		{Target{Kind: KindFeishu, PerMinute: 300}, []limit{{300, m}, {5, m / 60}}}, // its second still holds
		{Target{Kind: KindFeishu, PerMinute: -1}, nil},
		{Target{}, nil},
		{Target{Kind: KindGeneric, PerMinute: 30}, []limit{{30, m}}},
	} {
		if got := limits(tc.t, time.Minute); !slices.Equal(got, tc.want) {
			t.Errorf("%+v: %v, want %v", tc.t, got, tc.want)
		}
	}
}

// TestPacerSlidingWindow: 20 a minute means 20 in any minute: the 21st
// waits until the first has left the span, and a post counts from when
// its answer came.
func TestPacerSlidingWindow(t *testing.T) {
	p := newPacer([]limit{{20, time.Minute}})
	t0 := time.Now()
	for i := range 20 {
		if _, d := p.reserve(t0.Add(time.Duration(i) * time.Second)); d != 0 {
			t.Fatalf("post %d waits %v", i, d)
		}
	}
	if _, d := p.reserve(t0.Add(30 * time.Second)); d != 30*time.Second {
		t.Fatalf("the 21st waits %v, want 30s (until the first is a minute old)", d)
	}
	if _, d := p.reserve(t0.Add(time.Minute)); d != 0 {
		t.Fatalf("a minute after the first: waits %v", d)
	}
	// A post counts from its answer: the next waits a minute from then.
	q := newPacer([]limit{{1, time.Minute}})
	seq, _ := q.reserve(time.Now())
	q.posted(seq)
	if _, d := q.reserve(time.Now()); d < 59*time.Second {
		t.Fatalf("waits %v after the answer, want a minute", d)
	}
}
