package scan

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"
)

// Event is one ticket as the detector counts it.
type Event struct {
	ID       string
	Cell     h3.Cell // at the detector's resolution (finer cells are taken to their parent)
	Category string
	Time     time.Time
	Lat, Lng float64
}

// Options tune a Detector. Zero values take the defaults.
type Options struct {
	// Windows are the recent windows scanned (default 30m and 1h); at most
	// four.
	Windows []time.Duration
	// MinCount is the fewest tickets a region needs to be reported
	// (default 5).
	MinCount int
	// Threshold is the score a region needs (default 12; Calibrate finds
	// the value for a chosen false-alarm rate).
	Threshold float64
	// MaxGroup bounds a connected group of hot cells (default 7); larger
	// groups are covered by disks.
	MaxGroup int
	// NoCategories scans all categories together only.
	NoCategories bool
}

const maxWindows = 4

func (o Options) withDefaults() Options {
	if len(o.Windows) == 0 {
		o.Windows = []time.Duration{30 * time.Minute, time.Hour}
	}
	if o.MinCount <= 0 {
		o.MinCount = 5
	}
	if o.Threshold <= 0 {
		o.Threshold = 12
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 7
	}
	return o
}

// Validate reports options a Detector cannot work with.
func (o Options) Validate() error {
	if len(o.Windows) > maxWindows {
		return fmt.Errorf("at most %d windows, got %d", maxWindows, len(o.Windows))
	}
	for i, w := range o.Windows {
		if w < time.Minute || w > 24*time.Hour {
			return fmt.Errorf("window %s: must be 1m..24h", w)
		}
		if i > 0 && w <= o.Windows[i-1] {
			return errors.New("windows must be in increasing order")
		}
	}
	return nil
}

// Cluster is one region that scored above the threshold.
type Cluster struct {
	Category   string          // "" for all categories together
	Cells      []h3.Cell       // sorted
	Shape      string          // cell, disk or group
	Window     time.Duration   // the window it scored in
	Count      int             // tickets in the region and window (of Category)
	Expected   float64         // expected count
	Score      float64         // expectation-based Poisson score
	Tickets    []string        // ids, oldest first
	First      time.Time       // oldest ticket's time
	Lat, Lng   float64         // centroid of the tickets
	Categories []CategoryCount // all tickets in the region and window, by category, most first
}

// CategoryCount is one category's tickets in a region.
type CategoryCount struct {
	Category string `json:"category"`
	Count    int    `json:"count"`
}

// Detector counts recent tickets per cell and scans for clusters. It is
// safe for concurrent use.
type Detector struct {
	opt  Options
	base *Baseline
	res  int

	mu      sync.Mutex
	cells   map[h3.Cell]*cellState
	catIdx  map[string]int
	catName []string
	latest  time.Time

	// scratch, reused by each scan
	cands []candidate
	segs  [maxWindows][]hourSeg
}

type cellState struct {
	cell   h3.Cell
	events []Event // by time
	nbrs   []h3.Cell
	hist   *cellHist
	area   *areaHist

	n    [maxWindows]int
	cats [maxWindows][]catCount
	b    [maxWindows]float64
}

type catCount struct{ cat, n int }

type hourSeg struct {
	how  int
	frac float64
}

type candidate struct {
	cat   int // -1: all
	win   int
	shape string
	cells []h3.Cell
	c     int
	b     float64
	score float64
}

// NewDetector returns a detector scoring against base.
func NewDetector(o Options, base *Baseline) (*Detector, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Detector{opt: o, base: base, res: base.Res(), cells: map[h3.Cell]*cellState{}, catIdx: map[string]int{}}, nil
}

// Options returns the detector's options, defaults filled in.
func (d *Detector) Options() Options { return d.opt }

// SetThreshold changes the score needed, e.g. after a calibration.
func (d *Detector) SetThreshold(th float64) {
	d.mu.Lock()
	d.opt.Threshold = th
	d.mu.Unlock()
}

// Threshold is the score needed.
func (d *Detector) Threshold() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opt.Threshold
}

// Add counts one ticket.
func (d *Detector) Add(e Event) error {
	if e.Cell.Resolution() != d.res {
		if e.Cell.Resolution() < d.res || !e.Cell.IsValid() {
			return fmt.Errorf("add: cell %s is not at resolution %d or finer", e.Cell, d.res)
		}
		e.Cell = Parent(e.Cell, d.res)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.catIdx[e.Category]; !ok && !d.opt.NoCategories {
		d.catIdx[e.Category] = len(d.catName)
		d.catName = append(d.catName, e.Category)
	}
	cs := d.cells[e.Cell]
	if cs == nil {
		cs = &cellState{cell: e.Cell}
		d.cells[e.Cell] = cs
	}
	i := len(cs.events)
	for i > 0 && cs.events[i-1].Time.After(e.Time) {
		i--
	}
	cs.events = slices.Insert(cs.events, i, e)
	if e.Time.After(d.latest) {
		d.latest = e.Time
	}
	return nil
}

// Active is the number of cells holding a ticket within the longest window.
func (d *Detector) Active() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.cells)
}

// Parent is c's parent at res (c itself at its own resolution), computed
// from the index's bits: each digit below res becomes 7.
func Parent(c h3.Cell, res int) h3.Cell {
	v := uint64(c)
	v = v&^(uint64(0xf)<<52) | uint64(res)<<52
	for r := res + 1; r <= 15; r++ {
		v |= uint64(7) << ((15 - r) * 3)
	}
	return h3.Cell(v)
}

// Scan drops tickets older than the longest window before now and returns
// the clusters scoring at least the threshold, best first; clusters of the
// same category (or where either is all categories) never share a cell.
func (d *Detector) Scan(now time.Time) []Cluster {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.base
	b.mu.RLock()
	defer b.mu.RUnlock()

	wins := d.opt.Windows
	longest := wins[len(wins)-1]
	weeks := b.weeksLocked()
	for wi, w := range wins {
		d.segs[wi] = segments(d.segs[wi][:0], now.Add(-w), now, b.opt.Location)
	}
	hod := now.In(b.opt.Location).Hour()

	// Per cell: counts per window and category, and expectations.
	for id, cs := range d.cells {
		cut := 0
		for cut < len(cs.events) && !cs.events[cut].Time.After(now.Add(-longest)) {
			cut++
		}
		if cut > 0 {
			cs.events = append(cs.events[:0], cs.events[cut:]...)
		}
		if len(cs.events) == 0 {
			delete(d.cells, id)
			continue
		}
		cs.hist, cs.area = b.lookupFastLocked(id)
		for wi, w := range wins {
			from := now.Add(-w)
			cs.n[wi] = 0
			cs.cats[wi] = cs.cats[wi][:0]
			for k := len(cs.events) - 1; k >= 0; k-- {
				e := &cs.events[k]
				if !e.Time.After(from) {
					break
				}
				if e.Time.After(now) {
					continue
				}
				cs.n[wi]++
				if !d.opt.NoCategories {
					cs.cats[wi] = addCat(cs.cats[wi], d.catIdx[e.Category])
				}
			}
			cs.b[wi] = b.segRateLocked(cs.hist, cs.area, d.segs[wi], weeks)
		}
	}

	d.cands = d.cands[:0]
	th, minc := d.opt.Threshold, d.opt.MinCount
	consider := func(cat, wi int, shape string, cells []h3.Cell, c int, exp float64) {
		if c < minc {
			return
		}
		if s := Score(c, exp); s >= th {
			d.cands = append(d.cands, candidate{cat: cat, win: wi, shape: shape, cells: cells, c: c, b: exp, score: s})
		}
	}
	shareOf := func(area *areaHist, cat int) float64 {
		return b.shareLocked(area, d.catName[cat], hod)
	}

	for wi := range wins {
		for id, cs := range d.cells {
			n := cs.n[wi]
			if n == 0 {
				continue
			}
			// The cell alone.
			if n >= minc {
				consider(-1, wi, "cell", []h3.Cell{id}, n, cs.b[wi])
				for _, cc := range cs.cats[wi] {
					if cc.n >= minc {
						consider(cc.cat, wi, "cell", []h3.Cell{id}, cc.n, cs.b[wi]*shareOf(cs.area, cc.cat))
					}
				}
			}
			// Its k=1 disk.
			if cs.nbrs == nil {
				cs.nbrs = neighbours(id)
			}
			c := n
			for _, nb := range cs.nbrs {
				if ns := d.cells[nb]; ns != nil {
					c += ns.n[wi]
				}
			}
			if c < minc {
				continue
			}
			exp := cs.b[wi]
			for _, nb := range cs.nbrs {
				if ns := d.cells[nb]; ns != nil {
					exp += ns.b[wi]
				} else {
					h, a := b.lookupFastLocked(nb)
					exp += b.segRateLocked(h, a, d.segs[wi], weeks)
				}
			}
			if Score(c, exp) >= th {
				consider(-1, wi, "disk", disk(id, cs.nbrs), c, exp)
			}
			for _, cc := range cs.cats[wi] {
				cc2 := cc.n
				for _, nb := range cs.nbrs {
					if ns := d.cells[nb]; ns != nil {
						cc2 += catN(ns.cats[wi], cc.cat)
					}
				}
				if cc2 >= minc {
					consider(cc.cat, wi, "disk", disk(id, cs.nbrs), cc2, exp*shareOf(cs.area, cc.cat))
				}
			}
		}
		d.groups(wi, hod, consider)
	}

	sort.Slice(d.cands, func(i, j int) bool {
		a, c := d.cands[i], d.cands[j]
		if a.score != c.score {
			return a.score > c.score
		}
		if a.c != c.c {
			return a.c > c.c
		}
		return a.cells[0] < c.cells[0]
	})
	var chosen []candidate
	for _, cand := range d.cands {
		clash := false
		for _, ch := range chosen {
			if (ch.cat == cand.cat || ch.cat < 0 || cand.cat < 0) && overlaps(ch.cells, cand.cells) {
				clash = true
				break
			}
		}
		if !clash {
			chosen = append(chosen, cand)
		}
	}
	out := make([]Cluster, 0, len(chosen))
	for _, ch := range chosen {
		out = append(out, d.cluster(ch, now))
	}
	return out
}

// groups scores connected groups of hot cells: cells whose count (of a
// category, or of all) is above what they expect.
func (d *Detector) groups(wi, hod int, consider func(cat, wi int, shape string, cells []h3.Cell, c int, exp float64)) {
	b := d.base
	keys := []int{-1}
	if !d.opt.NoCategories {
		for i := range d.catName {
			keys = append(keys, i)
		}
	}
	countOf := func(cs *cellState, cat int) (int, float64) {
		if cat < 0 {
			return cs.n[wi], cs.b[wi]
		}
		n := catN(cs.cats[wi], cat)
		if n == 0 {
			return 0, 0
		}
		return n, cs.b[wi] * b.shareLocked(cs.area, d.catName[cat], hod)
	}
	// The cells holding each category, so a category's pass visits only
	// its own cells.
	members := map[int][]h3.Cell{}
	all := make([]h3.Cell, 0, len(d.cells))
	for id, cs := range d.cells {
		if cs.n[wi] == 0 {
			continue
		}
		all = append(all, id)
		for _, cc := range cs.cats[wi] {
			members[cc.cat] = append(members[cc.cat], id)
		}
	}
	seen := map[h3.Cell]bool{}
	for _, cat := range keys {
		clear(seen)
		list := all
		if cat >= 0 {
			list = members[cat]
		}
		for _, id := range list {
			cs := d.cells[id]
			if seen[id] {
				continue
			}
			n, exp := countOf(cs, cat)
			if n == 0 || float64(n) <= exp {
				continue
			}
			// Breadth-first over hot neighbours.
			group := []h3.Cell{id}
			seen[id] = true
			c, e := n, exp
			big := false
			for q := 0; q < len(group); q++ {
				g := d.cells[group[q]]
				if g.nbrs == nil {
					g.nbrs = neighbours(g.cell)
				}
				for _, nb := range g.nbrs {
					ns := d.cells[nb]
					if ns == nil || seen[nb] {
						continue
					}
					nn, ne := countOf(ns, cat)
					if nn == 0 || float64(nn) <= ne {
						continue
					}
					seen[nb] = true
					group = append(group, nb)
					c += nn
					e += ne
				}
				if len(group) > d.opt.MaxGroup {
					big = true
				}
			}
			if big || len(group) < 2 {
				continue
			}
			slices.Sort(group)
			consider(cat, wi, "group", group, c, e)
		}
	}
}

// cluster describes a chosen candidate.
func (d *Detector) cluster(ch candidate, now time.Time) Cluster {
	w := d.opt.Windows[ch.win]
	from := now.Add(-w)
	cl := Cluster{Cells: slices.Clone(ch.cells), Shape: ch.shape, Window: w, Count: ch.c,
		Expected: ch.b, Score: ch.score}
	slices.Sort(cl.Cells)
	if ch.cat >= 0 {
		cl.Category = d.catName[ch.cat]
	}
	byCat := map[string]int{}
	var evs []Event
	for _, id := range ch.cells {
		cs := d.cells[id]
		if cs == nil {
			continue
		}
		for _, e := range cs.events {
			if !e.Time.After(from) || e.Time.After(now) {
				continue
			}
			byCat[e.Category]++
			if cl.Category == "" || e.Category == cl.Category {
				evs = append(evs, e)
			}
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
	for _, e := range evs {
		cl.Tickets = append(cl.Tickets, e.ID)
		cl.Lat += e.Lat
		cl.Lng += e.Lng
	}
	if len(evs) > 0 {
		cl.Lat /= float64(len(evs))
		cl.Lng /= float64(len(evs))
		cl.First = evs[0].Time
	}
	for c, n := range byCat {
		cl.Categories = append(cl.Categories, CategoryCount{c, n})
	}
	sort.Slice(cl.Categories, func(i, j int) bool {
		if cl.Categories[i].Count != cl.Categories[j].Count {
			return cl.Categories[i].Count > cl.Categories[j].Count
		}
		return cl.Categories[i].Category < cl.Categories[j].Category
	})
	return cl
}

func addCat(cs []catCount, cat int) []catCount {
	for i := range cs {
		if cs[i].cat == cat {
			cs[i].n++
			return cs
		}
	}
	return append(cs, catCount{cat, 1})
}

func catN(cs []catCount, cat int) int {
	for _, c := range cs {
		if c.cat == cat {
			return c.n
		}
	}
	return 0
}

func neighbours(c h3.Cell) []h3.Cell {
	ring, err := c.GridDisk(1)
	if err != nil {
		return []h3.Cell{}
	}
	out := make([]h3.Cell, 0, len(ring))
	for _, r := range ring {
		if r != c && r != 0 {
			out = append(out, r)
		}
	}
	return out
}

func disk(c h3.Cell, nbrs []h3.Cell) []h3.Cell {
	out := make([]h3.Cell, 0, len(nbrs)+1)
	out = append(out, c)
	return append(out, nbrs...)
}

func overlaps(a, b []h3.Cell) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// segments cuts [from, to) at the hours of the week in loc.
func segments(out []hourSeg, from, to time.Time, loc *time.Location) []hourSeg {
	for t := from; t.Before(to); {
		next := t.In(loc).Truncate(time.Hour).Add(time.Hour)
		if next.After(to) {
			next = to
		}
		out = append(out, hourSeg{how: HourOfWeek(t, loc), frac: next.Sub(t).Hours()})
		t = next
	}
	return out
}

// lookupFastLocked is lookupLocked with the parent taken from the bits.
func (b *Baseline) lookupFastLocked(cell h3.Cell) (*cellHist, *areaHist) {
	if c := b.cells[cell]; c != nil {
		return c, c.area
	}
	return nil, b.areas[Parent(cell, b.opt.AreaRes)]
}

// segRateLocked is the expected count of a cell over the hour segments.
func (b *Baseline) segRateLocked(c *cellHist, area *areaHist, segs []hourSeg, weeks float64) float64 {
	if b.total == 0 {
		return 0
	}
	areaCells := math.Pow(7, float64(b.opt.Res-b.opt.AreaRes))
	var perCell float64
	if area != nil {
		perCell = area.n / (weeks * areaCells)
	} else if len(b.areas) > 0 {
		perCell = b.total / (weeks * areaCells * float64(len(b.areas)))
	}
	n := 0.0
	if c != nil {
		n = c.n
	}
	kc, kt := b.opt.CellPrior, b.opt.HourPrior
	r := (n + kc*perCell) / (weeks + kc)
	var sum float64
	for _, s := range segs {
		y := 0.0
		if c != nil {
			y = float64(c.hours[s.how])
		}
		m := r * b.profileLocked(s.how)
		sum += s.frac * (y + kt*m) / (weeks + kt)
	}
	return sum
}
