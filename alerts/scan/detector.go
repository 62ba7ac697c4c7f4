package scan

import (
	"errors"
	"fmt"
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
	return CheckWindows(o.Windows, time.Minute)
}

// CheckWindows reports windows a detector cannot score: each must be
// from least (whole minutes) to 24h, in increasing order.
func CheckWindows(ws []time.Duration, least time.Duration) error {
	for i, w := range ws {
		if w < least || w > 24*time.Hour {
			return fmt.Errorf("window %s: must be %dm..24h", w, int(least/time.Minute))
		}
		if i > 0 && w <= ws[i-1] {
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
//
// Each active cell (one with a ticket in the longest window) holds a slot;
// per-scan counts, expectations and neighbour links live in flat arrays
// indexed by slot, so a scan of tens of thousands of cells walks arrays
// instead of maps and pointers.
type Detector struct {
	opt  Options
	base *Baseline
	res  int

	mu      sync.Mutex
	cells   map[h3.Cell]*cellState
	slots   []*cellState // by slot; nil when free
	nb      []int32      // by slot×6: slots of the active neighbours, -1 for none
	free    []int32
	catIdx  map[string]int32
	catName []string

	// scratch, reused by each scan
	cands   []candidate
	segs    [maxWindows][]hourSeg
	n       [maxWindows][]int32   // by slot: tickets in the window, all categories
	b       [maxWindows][]float64 // by slot: expected in the window, all categories
	active  [maxWindows][]int32   // slots with a ticket in the window
	members [maxWindows][][]memberCount
	cnt     []int32   // by slot: tickets of the category being scanned
	sh      []float64 // by slot: that category's share
	ones    []float64 // by slot: 1
	areaOf  []int32   // by slot: district index, -1 for none
	mark    []uint32  // by slot: visit stamp of the group search
	stamp   uint32
	queue   []int32
	list    []int32
	shares  []float32 // by district index × category: the category's share, 0 until computed
	catQ    []float64 // by category: the city's share over all hours
	catQH   []float64 // by category: the city's share at this hour of the day
	catB    []int32   // by category: the baseline's index, -1 if it has none
}

const maxNbrs = 6

type cellState struct {
	cell   h3.Cell
	slot   int32
	events []event // by time
	nbrs   []h3.Cell
	hist   *cellHist
	area   *areaHist
	gen    uint64 // of the baseline when hist and area were looked up
	looked bool
}

type event struct {
	Event
	cat int32
	at  int64 // Time in Unix nanoseconds, for the scan's comparisons
}

type memberCount struct{ slot, n int32 }

type hourSeg struct {
	how  int
	frac float64
}

type candidate struct {
	cat   int32 // -1: all
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
	return &Detector{opt: o, base: base, res: base.Res(), cells: map[h3.Cell]*cellState{}, catIdx: map[string]int32{}}, nil
}

// Options returns the detector's options, defaults filled in.
func (d *Detector) Options() Options {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opt
}

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
	ci, ok := d.catIdx[e.Category]
	if !ok {
		ci = int32(len(d.catName))
		d.catIdx[e.Category] = ci
		d.catName = append(d.catName, e.Category)
	}
	cs := d.cells[e.Cell]
	if cs == nil {
		cs = d.activate(e.Cell)
	}
	i := len(cs.events)
	for i > 0 && cs.events[i-1].Time.After(e.Time) {
		i--
	}
	cs.events = slices.Insert(cs.events, i, event{e, ci, e.Time.UnixNano()})
	return nil
}

// activate gives a cell a slot and links it with its active neighbours.
func (d *Detector) activate(cell h3.Cell) *cellState {
	cs := &cellState{cell: cell, nbrs: neighbours(cell)}
	if n := len(d.free); n > 0 {
		cs.slot = d.free[n-1]
		d.free = d.free[:n-1]
		d.slots[cs.slot] = cs
	} else {
		cs.slot = int32(len(d.slots))
		d.slots = append(d.slots, cs)
		d.nb = append(d.nb, -1, -1, -1, -1, -1, -1)
	}
	links := d.nb[int(cs.slot)*maxNbrs:][:maxNbrs]
	for k := range links {
		links[k] = -1
	}
	for k, nb := range cs.nbrs {
		if ns := d.cells[nb]; ns != nil && k < maxNbrs {
			links[k] = ns.slot
			if j := slices.Index(ns.nbrs, cell); j >= 0 && j < maxNbrs {
				d.nb[int(ns.slot)*maxNbrs+j] = cs.slot
			}
		}
	}
	d.cells[cell] = cs
	return cs
}

func (d *Detector) deactivate(cs *cellState) {
	links := d.nb[int(cs.slot)*maxNbrs:][:maxNbrs]
	for k, s := range links {
		if s >= 0 {
			if ns := d.slots[s]; ns != nil {
				if j := slices.Index(ns.nbrs, cs.cell); j >= 0 && j < maxNbrs {
					d.nb[int(s)*maxNbrs+j] = -1
				}
			}
		}
		links[k] = -1
	}
	d.slots[cs.slot] = nil
	d.free = append(d.free, cs.slot)
	delete(d.cells, cs.cell)
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
	var froms [maxWindows]int64
	for wi, w := range wins {
		d.segs[wi] = segments(d.segs[wi][:0], now.Add(-w), now, b.opt.Location)
		froms[wi] = now.Add(-w).UnixNano()
	}
	hod := now.In(b.opt.Location).Hour()
	if n := len(b.areas) * len(d.catName); cap(d.shares) < n {
		d.shares = make([]float32, n, n+n/4)
	} else {
		d.shares = d.shares[:n]
		clear(d.shares)
	}
	// The city-wide part of each category's share, once per scan.
	d.catQ, d.catQH, d.catB = d.catQ[:0], d.catQH[:0], d.catB[:0]
	for _, name := range d.catName {
		q, qh, bi := b.cityShareLocked(name, hod)
		d.catQ, d.catQH, d.catB = append(d.catQ, q), append(d.catQH, qh), append(d.catB, int32(bi))
	}
	ns := len(d.slots)
	for wi := range wins {
		d.n[wi] = grow(d.n[wi], ns)
		d.b[wi] = growF(d.b[wi], ns)
		d.active[wi] = d.active[wi][:0]
		for len(d.members[wi]) < len(d.catName) {
			d.members[wi] = append(d.members[wi], nil)
		}
		for c := range d.members[wi] {
			d.members[wi][c] = d.members[wi][c][:0]
		}
	}
	d.cnt = grow(d.cnt, ns)
	d.sh = growF(d.sh, ns)
	if len(d.ones) < ns {
		for len(d.ones) < ns {
			d.ones = append(d.ones, 1)
		}
	}
	d.areaOf = grow(d.areaOf, ns)
	if len(d.mark) < ns {
		d.mark = append(d.mark, make([]uint32, ns-len(d.mark))...)
	}

	// One pass over the cells: drop what left the longest window, count
	// each window by category, and take the expectations.
	cutoff, nowNs := now.Add(-longest).UnixNano(), now.UnixNano()
	for s, cs := range d.slots {
		for wi := range wins {
			d.n[wi][s], d.b[wi][s] = 0, 0
		}
		if cs == nil {
			continue
		}
		cut := 0
		for cut < len(cs.events) && cs.events[cut].at <= cutoff {
			cut++
		}
		if cut > 0 {
			cs.events = append(cs.events[:0], cs.events[cut:]...)
		}
		if len(cs.events) == 0 {
			d.deactivate(cs)
			continue
		}
		if !cs.looked || cs.gen != b.gen || cs.hist == nil {
			cs.hist, cs.area = b.lookupFastLocked(cs.cell)
			cs.gen, cs.looked = b.gen, true
		}
		d.areaOf[s] = -1
		if cs.area != nil {
			d.areaOf[s] = cs.area.idx
		}
		for k := len(cs.events) - 1; k >= 0; k-- {
			e := &cs.events[k]
			if e.at > nowNs {
				continue
			}
			for wi := range wins {
				if e.at <= froms[wi] {
					continue
				}
				d.n[wi][s]++
				if d.opt.NoCategories {
					continue
				}
				m := d.members[wi][e.cat]
				if l := len(m); l > 0 && m[l-1].slot == int32(s) {
					m[l-1].n++
				} else {
					d.members[wi][e.cat] = append(m, memberCount{int32(s), 1})
				}
			}
		}
		var rates [maxWindows]float64
		b.segRatesLocked(cs.hist, cs.area, d.segs[:len(wins)], weeks, rates[:len(wins)])
		for wi := range wins {
			d.b[wi][s] = rates[wi]
			if d.n[wi][s] > 0 {
				d.active[wi] = append(d.active[wi], int32(s))
			}
		}
	}

	d.cands = d.cands[:0]
	for wi := range wins {
		// All categories together.
		d.scanKey(-1, wi, d.n[wi], d.active[wi], weeks)
		if d.opt.NoCategories {
			continue
		}
		// Each category over its own cells.
		for c, m := range d.members[wi] {
			total := int32(0)
			for _, mc := range m {
				total += mc.n
			}
			if int(total) < d.opt.MinCount {
				continue
			}
			for _, mc := range m {
				d.cnt[mc.slot] = mc.n
			}
			// A cell below the minimum count with no neighbour holding the
			// category can be in no cluster: leave it out.
			list := d.list[:0]
			for _, mc := range m {
				keep := mc.n >= int32(d.opt.MinCount)
				if !keep {
					for _, n := range d.nb[int(mc.slot)*maxNbrs:][:maxNbrs] {
						if n >= 0 && d.cnt[n] > 0 {
							keep = true
							break
						}
					}
				}
				if keep {
					d.sh[mc.slot] = d.share(mc.slot, int32(c), hod)
					list = append(list, mc.slot)
				}
			}
			d.list = list
			d.scanKey(int32(c), wi, d.cnt, list, weeks)
			for _, mc := range m {
				d.cnt[mc.slot] = 0
			}
		}
	}

	sort.Slice(d.cands, func(i, j int) bool {
		a, c := d.cands[i], d.cands[j]
		if a.score != c.score {
			return a.score > c.score
		}
		if (a.cat >= 0) != (c.cat >= 0) {
			return a.cat >= 0 // a category says more than all of them
		}
		if a.c != c.c {
			return a.c > c.c
		}
		return a.cells[0] < c.cells[0]
	})
	// Greedy: best first, skipping any that shares a cell with one
	// chosen of the same category (or where either is all categories).
	var chosen []candidate
	taken := map[h3.Cell][]int32{}
	for _, cand := range d.cands {
		clash := false
		for _, c := range cand.cells {
			for _, cat := range taken[c] {
				if cat == cand.cat || cat < 0 || cand.cat < 0 {
					clash = true
					break
				}
			}
			if clash {
				break
			}
		}
		if clash {
			continue
		}
		chosen = append(chosen, cand)
		for _, c := range cand.cells {
			taken[c] = append(taken[c], cand.cat)
		}
	}
	out := make([]Cluster, 0, len(chosen))
	for _, ch := range chosen {
		out = append(out, d.cluster(ch, now))
	}
	return out
}

// share is a category's share of a cell's tickets, cached per district.
func (d *Detector) share(s, cat int32, _ int) float64 {
	ai := d.areaOf[s]
	if ai < 0 {
		return d.catQH[cat]
	}
	i := int(ai)*len(d.catName) + int(cat)
	if i < len(d.shares) {
		if v := d.shares[i]; v > 0 {
			return float64(v)
		}
	}
	v := d.base.areaShareLocked(d.slots[s].area, int(d.catB[cat]), d.catQ[cat], d.catQH[cat])
	if i >= len(d.shares) {
		return v
	}
	d.shares[i] = float32(v)
	return v
}

// scanKey scores, for one category (-1: all) and window, every cell in
// list alone, its k=1 disk, and the connected groups of hot cells (more
// tickets than expected). cnt holds the counts by slot; for a category,
// d.sh holds its share by slot.
func (d *Detector) scanKey(cat int32, wi int, cnt []int32, list []int32, weeks float64) {
	b := d.base
	bw := d.b[wi]
	th, minc := d.opt.Threshold, int32(d.opt.MinCount)
	// The category's share by slot; all ones for all categories.
	sh := d.sh
	if cat < 0 {
		sh = d.ones
	}
	consider := func(shape string, cells []h3.Cell, c int32, exp float64) {
		if sc := Score(int(c), exp); sc >= th {
			d.cands = append(d.cands, candidate{cat: cat, win: wi, shape: shape, cells: cells, c: int(c), b: exp, score: sc})
		}
	}

	for _, s := range list {
		c := cnt[s]
		if c >= minc {
			if exp := bw[s] * sh[s]; Score(int(c), exp) >= th {
				consider("cell", []h3.Cell{d.slots[s].cell}, c, exp)
			}
		}
		links := d.nb[int(s)*maxNbrs:][:maxNbrs]
		sum := c
		for _, n := range links {
			if n >= 0 {
				sum += cnt[n]
			}
		}
		if sum < minc {
			continue
		}
		// The active cells' expectation first: the rest only adds to it
		// and so only lowers the score.
		exp := bw[s]
		inactive := 0
		for _, n := range links {
			if n >= 0 {
				exp += bw[n]
			} else {
				inactive++
			}
		}
		if Score(int(sum), exp*sh[s]) < th {
			continue
		}
		cs := d.slots[s]
		if inactive > 0 {
			for k, nb := range cs.nbrs {
				if k >= maxNbrs || links[k] < 0 {
					h, a := b.lookupFastLocked(nb)
					exp += b.segRateLocked(h, a, d.segs[wi], weeks)
				}
			}
		}
		exp *= sh[s]
		if Score(int(sum), exp) >= th {
			consider("disk", disk(cs.cell, cs.nbrs), sum, exp)
		}
	}
	// Connected groups of hot cells, by breadth-first search.
	d.stamp++
	if d.stamp == 0 {
		clear(d.mark)
		d.stamp = 1
	}
	for _, s := range list {
		if d.mark[s] == d.stamp || !(float64(cnt[s]) > bw[s]*sh[s]) {
			continue
		}
		q := append(d.queue[:0], s)
		d.mark[s] = d.stamp
		for i := 0; i < len(q); i++ {
			for _, n := range d.nb[int(q[i])*maxNbrs:][:maxNbrs] {
				if n >= 0 && cnt[n] > 0 && d.mark[n] != d.stamp && float64(cnt[n]) > bw[n]*sh[n] {
					d.mark[n] = d.stamp
					q = append(q, n)
				}
			}
		}
		d.queue = q
		if len(q) < 2 || len(q) > d.opt.MaxGroup {
			continue
		}
		var c int32
		var exp float64
		for _, n := range q {
			c += cnt[n]
			exp += bw[n] * sh[n]
		}
		if c < minc || Score(int(c), exp) < th {
			continue
		}
		cells := make([]h3.Cell, len(q))
		for i, n := range q {
			cells[i] = d.slots[n].cell
		}
		slices.Sort(cells)
		consider("group", cells, c, exp)
	}
}

func grow(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n, n+n/4)
	}
	return s[:n]
}

func growF(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n, n+n/4)
	}
	return s[:n]
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
				evs = append(evs, e.Event)
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
	areaCells := b.areaCells
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
	kc, kt := b.cellPriorLocked(perCell), b.opt.HourPrior
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

// segRatesLocked is segRateLocked for several windows at once.
func (b *Baseline) segRatesLocked(c *cellHist, area *areaHist, segs [][]hourSeg, weeks float64, out []float64) {
	if b.total == 0 {
		clear(out)
		return
	}
	var perCell float64
	if area != nil {
		perCell = area.n / (weeks * b.areaCells)
	} else if len(b.areas) > 0 {
		perCell = b.total / (weeks * b.areaCells * float64(len(b.areas)))
	}
	n := 0.0
	if c != nil {
		n = c.n
	}
	kc, kt := b.cellPriorLocked(perCell), b.opt.HourPrior
	r := (n + kc*perCell) / (weeks + kc)
	inv := 1 / (weeks + kt)
	for wi, ss := range segs {
		var sum float64
		for _, s := range ss {
			y := 0.0
			if c != nil {
				y = float64(c.hours[s.how])
			}
			sum += s.frac * (y + kt*r*b.profileLocked(s.how)) * inv
		}
		out[wi] = sum
	}
}
