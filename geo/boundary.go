package geo

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/uber/h3-go/v4"
)

// Boundaries caches cell outlines for drawing. Computing one takes a cgo
// call and trigonometry; the wall redraws the same few thousand cells many
// times a second. It is a bounded LRU, safe for concurrent use.
type Boundaries struct {
	mu    sync.Mutex
	max   int
	order *list.List // front is most recently used; values are *boundaryEntry
	byID  map[h3.Cell]*list.Element
}

type boundaryEntry struct {
	cell h3.Cell
	vs   [][2]float64
}

// NewBoundaries returns a cache holding at most size outlines (at least 1).
func NewBoundaries(size int) *Boundaries {
	size = max(size, 1)
	return &Boundaries{max: size, order: list.New(), byID: make(map[h3.Cell]*list.Element, size)}
}

// Get returns the vertices of c as [lat, lng] pairs in WGS84 degrees. The
// slice is the caller's own.
func (b *Boundaries) Get(c h3.Cell) ([][2]float64, error) {
	b.mu.Lock()
	if el, ok := b.byID[c]; ok {
		b.order.MoveToFront(el)
		vs := clone(el.Value.(*boundaryEntry).vs)
		b.mu.Unlock()
		return vs, nil
	}
	b.mu.Unlock()

	// Compute outside the lock: two callers may both miss and compute the
	// same cell, which is harmless and cheaper than serialising all misses.
	if !c.IsValid() {
		return nil, fmt.Errorf("%w %s: not a valid H3 cell", ErrBadCell, c)
	}
	cb, err := h3.CellToBoundary(c)
	if err != nil {
		return nil, fmt.Errorf("boundary of %s: %w", c, err)
	}
	vs := make([][2]float64, len(cb))
	for i, ll := range cb {
		vs[i] = [2]float64{ll.Lat, ll.Lng}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.byID[c]; ok {
		b.order.MoveToFront(el)
		return clone(vs), nil
	}
	b.byID[c] = b.order.PushFront(&boundaryEntry{cell: c, vs: vs})
	for b.order.Len() > b.max {
		last := b.order.Back()
		b.order.Remove(last)
		delete(b.byID, last.Value.(*boundaryEntry).cell)
	}
	return clone(vs), nil
}

// Len returns how many outlines are cached.
func (b *Boundaries) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}

func clone(vs [][2]float64) [][2]float64 {
	return append([][2]float64(nil), vs...)
}
