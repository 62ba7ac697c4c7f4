package geo

import "time"

// unixEpoch aligns bucket boundaries: a 15 m window with 30 buckets steps
// on every whole 30 s of the clock, whichever engine counts it.
var unixEpoch = time.Unix(0, 0)

// window is the ring of time buckets behind one sliding window.
//
// Time is cut into slots of step = window/Buckets, numbered from the Unix
// epoch. The window at slot cur holds slots cur-Buckets+1 .. cur, so its span
// is between window-step and window depending on where the clock is inside
// the current slot.
type window struct {
	d    time.Duration
	step time.Duration
	cur  int64 // slot of the engine clock

	// buckets[s mod Buckets] holds the points of slot s per cell of every resolution and
	// category, so that when the slot leaves the window exactly those counts
	// are taken back off every resolution.
	buckets []map[bucketKey]int32

	// cats[s mod 2*Buckets] holds the points of slot s per category index.
	// The older half is the previous window, which hot-topic trends compare
	// against; per-category totals only, so it stays small.
	cats [][]int32
}

// bucketKeep is the size above which an emptied bucket map is dropped
// rather than cleared, so that a burst does not pin its memory for good.
const bucketKeep = 1024

func newWindow(d time.Duration, buckets, categories int, now time.Time) window {
	w := window{
		d:       d,
		step:    d / time.Duration(buckets),
		buckets: make([]map[bucketKey]int32, buckets),
		cats:    make([][]int32, 2*buckets),
	}
	for i := range w.cats {
		w.cats[i] = make([]int32, categories)
	}
	w.cur = w.slot(now)
	return w
}

// slot numbers the step of the clock that t falls in. Time.Sub saturates,
// so no time makes it overflow.
func (w *window) slot(t time.Time) int64 {
	d := int64(t.Sub(unixEpoch))
	s := int64(w.step)
	q := d / s
	if d%s < 0 {
		q--
	}
	return q
}

// inWindow reports whether slot s is inside the current window.
func (w *window) inWindow(s int64) bool {
	return s > w.cur-int64(len(w.buckets)) && s <= w.cur
}

// inTrend reports whether slot s is inside the current or previous window.
func (w *window) inTrend(s int64) bool {
	return s > w.cur-int64(len(w.cats)) && s <= w.cur
}

func (w *window) bucket(s int64) *map[bucketKey]int32 {
	return &w.buckets[mod(s, len(w.buckets))]
}

func (w *window) catsAt(s int64) []int32 {
	return w.cats[mod(s, len(w.cats))]
}

// categoryTotals sums per-category points over the current and previous
// window into cur and prev, which must have one element per category.
func (w *window) categoryTotals(cur, prev []int) {
	b := int64(len(w.buckets))
	for s := w.cur - 2*b + 1; s <= w.cur; s++ {
		dst := prev
		if s > w.cur-b {
			dst = cur
		}
		for c, n := range w.catsAt(s) {
			dst[c] += int(n)
		}
	}
}

func mod(s int64, n int) int {
	m := int(s % int64(n))
	if m < 0 {
		m += n
	}
	return m
}
