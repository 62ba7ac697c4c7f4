package geo

import "github.com/uber/h3-go/v4"

// Changes drains everything changed since the last call: per key, the
// absolute count of each changed cell, 0 for a cell that is gone. It
// returns nil when nothing changed. Callers coalesce by calling it a few
// times a second.
func (e *Engine) Changes() map[Key]map[h3.Cell]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.counts.dirty) == 0 {
		return nil
	}
	// Size every map up front: a drain can carry thousands of cells per
	// key, and growing maps cell by cell was most of its cost.
	sizes := e.counts.changed()
	out := make(map[Key]map[h3.Cell]int)
	bySeries := make([]map[h3.Cell]int, len(sizes))
	for series, n := range sizes {
		if n > 0 {
			m := make(map[h3.Cell]int, n)
			bySeries[series] = m
			out[e.keyOf(series)] = m
		}
	}
	e.counts.drain(func(series int, cell h3.Cell, n int32) {
		bySeries[series][cell] = int(n)
	})
	return out
}

// Pending receives a value when changes become pending after a drain, so a
// publisher can send on the leading edge and then coalesce. It has room
// for one value and is never closed.
func (e *Engine) Pending() <-chan struct{} { return e.pending }

// Snapshot returns the current counts of one key, nil for a key the engine
// does not count.
func (e *Engine) Snapshot(k Key) map[h3.Cell]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	series, ok := e.seriesOf(k)
	if !ok {
		return nil
	}
	return e.counts.snapshot(series)
}

// Keys lists the keys that currently have cells, by window, resolution in
// the order of Options, then the total, OtherCategory and categories in the
// order they were first seen.
func (e *Engine) Keys() []Key {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Key
	for series, n := range e.counts.live {
		if n > 0 {
			out = append(out, e.keyOf(series))
		}
	}
	return out
}
