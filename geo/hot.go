package geo

import (
	"slices"
	"strings"
	"time"
)

// Topic is one line of the hot-topics list: a category, its count in the
// window, the count in the window before it, and the relative change.
type Topic struct {
	Category string  `json:"category"`
	Count    int     `json:"count"`
	Prev     int     `json:"prev"`
	Trend    float64 `json:"trend"` // (Count-Prev)/max(Prev,1)
}

// HotTopics returns the n categories with the most points in the window,
// most first (ties: rising faster first, then by name); n <= 0 means all.
// Categories without points in the window are left out. It returns nil for
// a window the engine does not count.
//
// The current window ends inside the clock's bucket, so it may span up to
// one bucket less than the previous one; with the default 30 buckets the
// trend reads at most about 3% low.
func (e *Engine) HotTopics(window time.Duration, n int) []Topic {
	e.mu.Lock()
	wi := e.windowIndex(window)
	if wi < 0 {
		e.mu.Unlock()
		return nil
	}
	cur := make([]int, e.nCat)
	prev := make([]int, e.nCat)
	e.windows[wi].categoryTotals(cur, prev)
	names := slices.Clone(e.catNames)
	e.mu.Unlock()

	var out []Topic
	for c := catOther; c < len(names); c++ {
		if cur[c] == 0 {
			continue
		}
		out = append(out, Topic{
			Category: names[c],
			Count:    cur[c],
			Prev:     prev[c],
			Trend:    float64(cur[c]-prev[c]) / float64(max(prev[c], 1)),
		})
	}
	slices.SortFunc(out, func(a, b Topic) int {
		switch {
		case a.Count != b.Count:
			return b.Count - a.Count
		case a.Trend > b.Trend:
			return -1
		case a.Trend < b.Trend:
			return 1
		}
		return strings.Compare(a.Category, b.Category)
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
