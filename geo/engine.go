package geo

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/uber/h3-go/v4"
)

// Point is one request to count: where (WGS84), when, and its level-1
// category.
type Point struct {
	Lat, Lng float64
	Time     time.Time
	Category string
}

// FutureSkew is how far ahead of the engine clock a point may be stamped and
// still count (as now): clocks of intake systems drift a little.
const FutureSkew = time.Minute

// maxCategoryLen bounds a category name kept for good; level-1 names are a
// few characters, anything longer is noise and counts as OtherCategory.
const maxCategoryLen = 64

// ErrFuture is wrapped by Add for a point stamped beyond FutureSkew.
var ErrFuture = errors.New("point time in the future")

// Category indices: the total and OtherCategory come first, then names in
// the order they were first seen.
const (
	catAll   = 0
	catOther = 1
)

// Engine counts points into H3 cells over sliding windows, per resolution,
// window and category, and records which cells changed so a publisher can
// send only those. It is safe for concurrent use.
//
// The Add path indexes the point with h3 at each resolution, then does one
// map lookup per resolution for the category and one for the total, shared
// by all windows; it allocates nothing once the maps have grown to the
// city's size. Buckets hold the cell of every resolution, so expiry takes a
// point off exactly the cells it was added to.
type Engine struct {
	// Fixed at construction.
	opts     Options
	res      []int    // resolutions counted, in the order of Options
	resIndex [16]int8 // resolution → its index in res
	nRes     int
	nCat     int // MaxCategories plus the total and OtherCategory
	maxCats  int
	longest  int // index of the longest window
	pending  chan struct{}

	mu       sync.Mutex
	now      time.Time
	windows  []window
	catIndex map[string]uint16
	catNames []string // by category index
	counts   store

	added, ignoredOld, folded uint64
}

// NewEngine returns an engine with its clock at now. Options are validated
// and defaulted.
func NewEngine(o Options, now time.Time) (*Engine, error) {
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("geo options: %w", err)
	}
	if now.IsZero() {
		return nil, errors.New("new engine: zero clock")
	}
	o = o.WithDefaults()
	e := &Engine{
		opts:     o,
		res:      o.Resolutions,
		nRes:     len(o.Resolutions),
		nCat:     o.MaxCategories + 2,
		maxCats:  o.MaxCategories,
		longest:  len(o.Windows) - 1,
		pending:  make(chan struct{}, 1),
		now:      now,
		catIndex: make(map[string]uint16),
		catNames: []string{AllCategories, OtherCategory},
	}
	for _, d := range o.Windows {
		e.windows = append(e.windows, newWindow(d, o.Buckets, e.nCat, now))
	}
	for i, r := range e.res {
		e.resIndex[r] = int8(i)
	}
	e.counts = newStore(len(o.Windows), e.nRes, e.nCat)
	return e, nil
}

// Options returns the options in effect, defaults filled in.
func (e *Engine) Options() Options { return e.opts.WithDefaults() }

// Add counts p into every window its time falls in, at every resolution,
// under its category and the total. A point older than the longest window
// is ignored and counted in Stats; one stamped up to FutureSkew ahead counts
// as now. Bad coordinates and points further in the future are errors.
func (e *Engine) Add(p Point) error {
	if err := ValidLatLng(p.Lat, p.Lng); err != nil {
		return fmt.Errorf("add point: %w", err)
	}
	// Index outside the lock: it is the costliest step and needs no state.
	// Each resolution is indexed on its own: H3 is not exactly nested, and
	// a fine cell's logical parent misses the point for a few percent of
	// points near coarse cell edges.
	var cells [16]h3.Cell
	ll := h3.LatLng{Lat: p.Lat, Lng: p.Lng}
	for i, r := range e.res {
		c, err := h3.LatLngToCell(ll, r)
		if err != nil {
			return fmt.Errorf("add point: index at resolution %d: %w", r, err)
		}
		cells[i] = c
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	t := p.Time
	if t.After(e.now) {
		if ahead := t.Sub(e.now); ahead > FutureSkew {
			return fmt.Errorf("add point: %w: %s ahead of the clock", ErrFuture, ahead)
		}
		t = e.now
	}
	if lw := &e.windows[e.longest]; !lw.inWindow(lw.slot(t)) {
		e.ignoredOld++
		return nil
	}
	e.added++
	cat := e.category(p.Category)
	var wmask uint32 // windows the point is in
	for wi := range e.windows {
		w := &e.windows[wi]
		s := w.slot(t)
		if !w.inTrend(s) {
			continue
		}
		w.catsAt(s)[cat]++
		if !w.inWindow(s) {
			continue
		}
		b := w.bucket(s)
		if *b == nil {
			*b = make(map[bucketKey]int32)
		}
		for ri := range e.nRes {
			(*b)[packBucketKey(cells[ri], cat)]++
		}
		wmask |= 1 << wi
	}
	wasIdle := len(e.counts.dirty) == 0
	for ri := range e.nRes {
		e.counts.add(e.counts.set(ri, int(cat)), cells[ri], wmask, 1)
		e.counts.add(e.counts.set(ri, catAll), cells[ri], wmask, 1)
	}
	if wasIdle {
		e.signal()
	}
	return nil
}

// Advance moves the clock to now: buckets that fell out of a window are
// taken off its counts and the cells they touched are recorded as changed.
// A clock going backwards is ignored.
func (e *Engine) Advance(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !now.After(e.now) {
		return
	}
	e.now = now
	wasIdle := len(e.counts.dirty) == 0
	for wi := range e.windows {
		w := &e.windows[wi]
		next := w.slot(now)
		if next <= w.cur {
			continue
		}
		// The ring position of each slot entered holds the slot one
		// window earlier, which is what leaves.
		nb := int64(len(w.buckets))
		for s := max(w.cur+1, next-nb+1); s <= next; s++ {
			e.expire(wi, w.bucket(s))
		}
		nc := int64(len(w.cats))
		for s := max(w.cur+1, next-nc+1); s <= next; s++ {
			clear(w.catsAt(s))
		}
		w.cur = next
	}
	if wasIdle {
		e.signal()
	}
}

// expire takes the counts of one bucket off window wi and empties it.
func (e *Engine) expire(wi int, b *map[bucketKey]int32) {
	for k, n := range *b {
		res := k.res()
		cell, cat, ri := k.cell(res), int(k.cat()), int(e.resIndex[res])
		e.counts.add(e.counts.set(ri, cat), cell, 1<<wi, -n)
		e.counts.add(e.counts.set(ri, catAll), cell, 1<<wi, -n)
	}
	if len(*b) > bucketKeep {
		*b = nil
	} else {
		clear(*b)
	}
}

// signal tells Pending that changes wait, if they do; it never blocks.
func (e *Engine) signal() {
	if len(e.counts.dirty) == 0 {
		return
	}
	select {
	case e.pending <- struct{}{}:
	default:
	}
}

// category returns the index a category name is counted under, assigning a
// new one while fewer than MaxCategories are in use. Folded names are not
// remembered, so a flood of distinct names cannot grow the engine.
func (e *Engine) category(name string) uint16 {
	if i, ok := e.catIndex[name]; ok {
		return i
	}
	switch {
	case name == OtherCategory:
		return catOther
	case name == "" || name == AllCategories || len(name) > maxCategoryLen || !utf8.ValidString(name):
		e.folded++
		return catOther
	case len(e.catNames)-2 >= e.maxCats:
		e.folded++
		return catOther
	}
	i := uint16(len(e.catNames))
	e.catIndex[name] = i
	e.catNames = append(e.catNames, name)
	return i
}

// keyOf names a series of the store.
func (e *Engine) keyOf(series int) Key {
	wi, set := series/e.counts.nSets, series%e.counts.nSets
	ri, ci := set/e.nCat, set%e.nCat
	return Key{Res: e.res[ri], Window: e.windows[wi].d, Category: e.catNames[ci]}
}

// seriesOf finds the series of k; ok is false for a key the engine does not
// count.
func (e *Engine) seriesOf(k Key) (int, bool) {
	ri := slices.Index(e.res, k.Res)
	wi := e.windowIndex(k.Window)
	if ri < 0 || wi < 0 {
		return 0, false
	}
	var ci int
	switch k.Category {
	case AllCategories:
		ci = catAll
	case OtherCategory:
		ci = catOther
	default:
		i, ok := e.catIndex[k.Category]
		if !ok {
			return 0, false
		}
		ci = int(i)
	}
	return e.counts.series(wi, e.counts.set(ri, ci)), true
}

// windowIndex returns the index of the window of length d, or -1.
func (e *Engine) windowIndex(d time.Duration) int {
	for i := range e.windows {
		if e.windows[i].d == d {
			return i
		}
	}
	return -1
}
