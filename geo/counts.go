package geo

import (
	"math/bits"

	"github.com/uber/h3-go/v4"
)

// store holds the counters. Per (resolution, category) set, a map leads
// from a cell to an entry, and each entry holds one count per window: a
// fresh point falls in every window, so the windows share one lookup.
//
// A series (window, resolution, category) is a Key; it is numbered
// window*nSets + set.
type store struct {
	nWin, nCat, nSets int

	sets    []map[h3.Cell]int32 // by set: entry index
	entries []entry
	counts  []int32 // nWin per entry, by entry index
	free    []int32 // entry slots to reuse
	dirty   []int32 // entries changed since the last drain
	live    []int   // by series: cells with a count above zero
	sizes   []int   // by series: scratch for changed
}

// entry is one cell of one set. It outlives a drop to zero in every window
// until the zeros have been drained, then its slot is reused.
type entry struct {
	cell  h3.Cell
	set   int32
	dirty uint32 // a bit per window changed since the last drain
}

// dirtyKeep bounds the capacity the drained change list keeps, so one burst
// does not pin its memory.
const dirtyKeep = 1 << 14

func newStore(nWin, nRes, nCat int) store {
	nSets := nRes * nCat
	return store{
		nWin:  nWin,
		nCat:  nCat,
		nSets: nSets,
		sets:  make([]map[h3.Cell]int32, nSets),
		live:  make([]int, nWin*nSets),
		sizes: make([]int, nWin*nSets),
	}
}

func (s *store) set(ri, ci int) int { return ri*s.nCat + ci }

func (s *store) series(wi, set int) int { return wi*s.nSets + set }

// add adds delta to the count of cell in every window of wmask, never
// below zero, and marks those windows changed.
func (s *store) add(set int, cell h3.Cell, wmask uint32, delta int32) {
	if wmask == 0 {
		return
	}
	m := s.sets[set]
	i, ok := m[cell]
	if !ok {
		if delta <= 0 {
			return // nothing to take off; cannot happen while counts are consistent
		}
		if m == nil {
			m = make(map[h3.Cell]int32)
			s.sets[set] = m
		}
		i = s.alloc(cell, set)
		m[cell] = i
	}
	c := s.counts[int(i)*s.nWin:][:s.nWin]
	for mk := wmask; mk != 0; mk &= mk - 1 {
		w := bits.TrailingZeros32(mk)
		was := c[w]
		now := max(was+delta, 0)
		c[w] = now
		switch {
		case was == 0 && now > 0:
			s.live[s.series(w, set)]++
		case was > 0 && now == 0:
			s.live[s.series(w, set)]--
		}
	}
	en := &s.entries[i]
	if en.dirty == 0 {
		s.dirty = append(s.dirty, i)
	}
	en.dirty |= wmask
}

func (s *store) alloc(cell h3.Cell, set int) int32 {
	en := entry{cell: cell, set: int32(set)}
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		s.entries[i] = en
		return i
	}
	s.entries = append(s.entries, en)
	for range s.nWin {
		s.counts = append(s.counts, 0)
	}
	return int32(len(s.entries) - 1)
}

// changed counts the pending changes per series. The slice is reused by
// the next call.
func (s *store) changed() []int {
	clear(s.sizes)
	for _, i := range s.dirty {
		en := &s.entries[i]
		for mk := en.dirty; mk != 0; mk &= mk - 1 {
			s.sizes[s.series(bits.TrailingZeros32(mk), int(en.set))]++
		}
	}
	return s.sizes
}

// drain calls fn for every changed count, clears the marks and frees the
// entries that are zero in every window.
func (s *store) drain(fn func(series int, cell h3.Cell, n int32)) {
	for _, i := range s.dirty {
		en := &s.entries[i]
		c := s.counts[int(i)*s.nWin:][:s.nWin]
		for mk := en.dirty; mk != 0; mk &= mk - 1 {
			w := bits.TrailingZeros32(mk)
			fn(s.series(w, int(en.set)), en.cell, c[w])
		}
		en.dirty = 0
		if allZero(c) {
			s.release(i)
		}
	}
	if cap(s.dirty) > dirtyKeep {
		s.dirty = nil
	} else {
		s.dirty = s.dirty[:0]
	}
}

func (s *store) release(i int32) {
	en := &s.entries[i]
	m := s.sets[en.set]
	delete(m, en.cell)
	if len(m) == 0 {
		s.sets[en.set] = nil // maps never shrink; dropping an empty one frees it
	}
	*en = entry{}
	s.free = append(s.free, i)
}

// snapshot returns the cells of one series with a count above zero.
func (s *store) snapshot(series int) map[h3.Cell]int {
	w, set := series/s.nSets, series%s.nSets
	out := make(map[h3.Cell]int, s.live[series])
	for cell, i := range s.sets[set] {
		if n := s.counts[int(i)*s.nWin+w]; n > 0 {
			out[cell] = int(n)
		}
	}
	return out
}

// size is the number of entries held.
func (s *store) size() int { return len(s.entries) - len(s.free) }

func allZero(c []int32) bool {
	for _, n := range c {
		if n != 0 {
			return false
		}
	}
	return true
}
