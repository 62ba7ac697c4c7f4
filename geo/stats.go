package geo

import "time"

// Stats is a point-in-time view of the engine's size and intake, for the
// "window sizes" metrics.
type Stats struct {
	Windows    []WindowStats // live cells per resolution and window, over all categories
	Cells      int           // sum of Windows[i].Cells
	Entries    int           // counters held over every key, the engine's real size
	Categories int           // distinct categories with their own counts
	Pending    int           // changed counters waiting for Changes
	Added      uint64        // points counted
	IgnoredOld uint64        // points older than the longest window, not counted
	Folded     uint64        // points counted as OtherCategory for lack of a usable name or a free slot
}

// WindowStats is the number of cells with a count at one resolution and
// window.
type WindowStats struct {
	Res    int
	Window time.Duration
	Cells  int
}

// Stats returns the engine's current size and intake counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Stats{
		Entries:    e.counts.size(),
		Categories: len(e.catNames) - 2,
		Pending:    len(e.counts.dirty),
		Added:      e.added,
		IgnoredOld: e.ignoredOld,
		Folded:     e.folded,
	}
	for wi, w := range e.windows {
		for ri, r := range e.res {
			n := e.counts.live[e.counts.series(wi, e.counts.set(ri, catAll))]
			st.Windows = append(st.Windows, WindowStats{Res: r, Window: w.d, Cells: n})
			st.Cells += n
		}
	}
	return st
}
