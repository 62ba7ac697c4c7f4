package scan

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"
)

// Week is the period of the baseline's rhythm: expected counts are learnt
// per cell and hour of the week.
const (
	Week         = 7 * 24 * time.Hour
	hoursPerWeek = 168
)

// BaselineOptions tune how expected counts are learnt. Zero values take
// the defaults.
type BaselineOptions struct {
	// Res is the detection resolution of the cells observed (default 8).
	Res int
	// AreaRes is the coarser resolution whose cells stand for the
	// district a cell is shrunk towards (default 6, ≈36 km², 49 res-8
	// cells).
	AreaRes int
	// Location is the zone hours of the week are counted in (default UTC);
	// a city's rhythm follows its local clock.
	Location *time.Location
	// CellPrior is the weight, in weeks, of the district's rate in a
	// cell's weekly rate. Zero (the default) estimates it from the data
	// (empirical Bayes): the spread of the cells' rates around their
	// districts' gives the gamma prior's shape, and the weight is shape
	// over the district's rate, so a cell in a busy district with uneven
	// cells follows its own history sooner.
	CellPrior float64
	// HourPrior is the weight, in weeks, of the cell's rate times the
	// city's weekly profile in the cell's rate at one hour of the week
	// (default 4).
	HourPrior float64
	// CategoryPrior is the weight, in tickets, of the city's category mix
	// in a district's (default 20).
	CategoryPrior float64
	// MaxCategories bounds the category names learnt (default 64, above
	// the heat maps' 48); past it a new name is counted as
	// OtherCategory, so a flood of made-up names cannot grow the history.
	MaxCategories int
}

// OtherCategory is where names past MaxCategories are counted (the heat
// maps' name for theirs).
const OtherCategory = "其他"

func (o BaselineOptions) withDefaults() BaselineOptions {
	if o.Res <= 0 {
		o.Res = 8
	}
	if o.AreaRes <= 0 || o.AreaRes >= o.Res {
		o.AreaRes = max(o.Res-2, 0)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.CellPrior < 0 {
		o.CellPrior = 0
	}
	if o.HourPrior <= 0 {
		o.HourPrior = 4
	}
	if o.CategoryPrior <= 0 {
		o.CategoryPrior = 20
	}
	if o.MaxCategories < 2 {
		o.MaxCategories = 64
	}
	return o
}

// Baseline learns expected counts per cell and hour of the week from
// history, by empirical Bayes with Poisson-gamma conjugate priors at two
// levels:
//
//	r_i   = (n_i + κ_g·r̄_g) / (W + κ_g)      weekly rate of cell i, shrunk to its district g
//	λ_ih  = (y_ih + τ·r_i·P(h)) / (W + τ)     rate at hour-of-week h, shrunk to r_i times the city's profile
//
// where W is the weeks of history, n_i and y_ih the cell's counts, r̄_g
// the district's weekly rate per cell (all its child cells, seen or not)
// and P(h) the city's share of a week's tickets falling in hour h. The
// prior weight κ_g = 1/(cv²·r̄_g) comes from cv², the squared coefficient of
// variation of true cell rates around their district's, estimated by the
// method of moments (observed spread less the Poisson part). A
// category's expectation is λ_ih times its share at that hour of the day in
// the city, adjusted by the district's own mix (shrunk to the city's).
//
// A Baseline is safe for concurrent use.
type Baseline struct {
	opt BaselineOptions

	mu        sync.RWMutex
	from, to  time.Time
	total     float64
	hours     [hoursPerWeek]float64
	hourOfDay [24]float64
	cells     map[h3.Cell]*cellHist
	areas     map[h3.Cell]*areaHist
	catIndex  map[string]int
	catNames  []string
	catTotal  []float64
	catHour   [][24]float64
	catLast   []int32 // hour (since 1970) a category was last observed
	cv2       float64 // of cell rates around their district's; 0 until estimated
	cv2At     float64 // total when estimated
	areaCells float64 // cells of the detection resolution in a district cell
	gen       uint64  // changes when the histories are replaced
}

type cellHist struct {
	n     float64
	hours [hoursPerWeek]uint16
	area  *areaHist
	last  int32 // hour (since 1970) of its latest ticket
}

// unixHour is t's hour since 1970, what Prune compares.
func unixHour(t time.Time) int32 { return int32(t.Unix() / 3600) }

type areaHist struct {
	n    float64
	cats []float64
	idx  int32 // order of creation, for per-scan caches
}

// NewBaseline returns an empty baseline.
func NewBaseline(o BaselineOptions) *Baseline {
	o = o.withDefaults()
	return &Baseline{
		opt:       o,
		areaCells: math.Pow(7, float64(o.Res-o.AreaRes)),
		cells:     map[h3.Cell]*cellHist{},
		areas:     map[h3.Cell]*areaHist{},
		catIndex:  map[string]int{},
	}
}

// Res is the resolution of the cells the baseline is learnt for.
func (b *Baseline) Res() int { return b.opt.Res }

// Location is the zone its hours of the week are counted in.
func (b *Baseline) Location() *time.Location { return b.opt.Location }

// HourOfWeek is t's hour of the week in loc, Monday 00:00 = 0.
func HourOfWeek(t time.Time, loc *time.Location) int {
	t = t.In(loc)
	return ((int(t.Weekday())+6)%7)*24 + t.Hour()
}

// Observe counts one ticket of category in cell (at the baseline's
// resolution; a finer cell is taken to its parent) at time t.
func (b *Baseline) Observe(cell h3.Cell, category string, t time.Time) error {
	if cell.Resolution() != b.opt.Res {
		if cell.Resolution() < b.opt.Res {
			return fmt.Errorf("observe: cell %s is coarser than resolution %d", cell, b.opt.Res)
		}
		p, err := cell.Parent(b.opt.Res)
		if err != nil {
			return fmt.Errorf("observe: %w", err)
		}
		cell = p
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.from.IsZero() || t.Before(b.from) {
		b.from = t
	}
	if t.After(b.to) {
		b.to = t
	}
	h := HourOfWeek(t, b.opt.Location)
	b.total++
	b.hours[h]++
	b.hourOfDay[h%24]++
	ci := b.catLocked(category)
	b.catTotal[ci]++
	b.catHour[ci][h%24]++
	at := unixHour(t)
	b.catLast[ci] = max(b.catLast[ci], at)
	c := b.cellLocked(cell)
	c.last = max(c.last, at)
	c.n++
	if c.hours[h] < math.MaxUint16 {
		c.hours[h]++
	}
	c.area.n++
	for len(c.area.cats) <= ci {
		c.area.cats = append(c.area.cats, 0)
	}
	c.area.cats[ci]++
	if b.total < 1000 || b.total >= 1.02*b.cv2At {
		b.estimateLocked()
	}
	return nil
}

// estimateLocked estimates cv², the spread of the cells' true weekly rates
// around their district's mean, pooled over districts.
func (b *Baseline) estimateLocked() {
	b.cv2At = b.total
	w := b.weeksLocked()
	areaCells := b.areaCells
	type acc struct {
		ss   float64
		seen float64
	}
	per := map[*areaHist]*acc{}
	for _, c := range b.cells {
		mu := c.area.n / (w * areaCells)
		x := c.n / w
		a := per[c.area]
		if a == nil {
			a = &acc{}
			per[c.area] = a
		}
		a.ss += (x - mu) * (x - mu)
		a.seen++
	}
	var num, den float64
	for area, a := range per {
		mu := area.n / (w * areaCells)
		ss := a.ss + (areaCells-a.seen)*mu*mu
		num += ss/areaCells - mu/w
		den += mu * mu
	}
	if den <= 0 {
		return
	}
	b.cv2 = min(max(num/den, 0.05), 100)
}

// cellPriorLocked is κ_g, in weeks, for a district whose cells average
// perCell tickets a week.
func (b *Baseline) cellPriorLocked(perCell float64) float64 {
	if b.opt.CellPrior > 0 {
		return b.opt.CellPrior
	}
	if b.cv2 <= 0 || perCell <= 0 {
		return 1
	}
	return min(max(1/(b.cv2*perCell), 0.05), 52)
}

func (b *Baseline) catLocked(name string) int {
	if i, ok := b.catIndex[name]; ok {
		return i
	}
	// One place is kept for OtherCategory.
	if name != OtherCategory && len(b.catNames) >= b.opt.MaxCategories-1 {
		return b.catLocked(OtherCategory)
	}
	i := len(b.catNames)
	b.catIndex[name] = i
	b.catNames = append(b.catNames, name)
	b.catTotal = append(b.catTotal, 0)
	b.catHour = append(b.catHour, [24]float64{})
	b.catLast = append(b.catLast, 0)
	return i
}

func (b *Baseline) cellLocked(cell h3.Cell) *cellHist {
	c := b.cells[cell]
	if c != nil {
		return c
	}
	area, _ := cell.Parent(b.opt.AreaRes)
	a := b.areas[area]
	if a == nil {
		a = &areaHist{idx: int32(len(b.areas))}
		b.areas[area] = a
	}
	c = &cellHist{area: a}
	b.cells[cell] = c
	return c
}

// Weeks is how much history the baseline holds, in weeks (at least one
// day's worth, so a young baseline is not divided by nothing).
func (b *Baseline) Weeks() float64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.weeksLocked()
}

func (b *Baseline) weeksLocked() float64 {
	w := b.to.Sub(b.from).Hours() / hoursPerWeek
	return max(w, 1.0/7)
}

// Span is the time the history covers.
func (b *Baseline) Span() (from, to time.Time) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.from, b.to
}

// Total is the number of tickets observed.
func (b *Baseline) Total() float64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.total
}

// Cells lists the cells with history.
func (b *Baseline) Cells() []h3.Cell {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]h3.Cell, 0, len(b.cells))
	for c := range b.cells {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Prune forgets the cells and the categories last observed before
// before, and says how many of each it forgot. Without it the history
// only grows: every cell a ticket ever fell in and every category name
// ever posted stays for good. A forgotten cell's tickets stay in its
// district's and the city's counts (they did happen), so the cell is
// expected at its district's rate; a forgotten category's share of the
// city and of each district is dropped.
func (b *Baseline) Prune(before time.Time) (cells, categories int) {
	cut := unixHour(before)
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, c := range b.cells {
		if c.last < cut {
			delete(b.cells, id)
			cells++
		}
	}
	keep := make([]int, 0, len(b.catNames)) // old index of each category kept
	for ci := range b.catNames {
		if b.catLast[ci] >= cut {
			keep = append(keep, ci)
		}
	}
	if categories = len(b.catNames) - len(keep); categories > 0 {
		names, total, hour, last := make([]string, len(keep)), make([]float64, len(keep)), make([][24]float64, len(keep)), make([]int32, len(keep))
		index := make(map[string]int, len(keep))
		for ni, ci := range keep {
			names[ni], total[ni], hour[ni], last[ni] = b.catNames[ci], b.catTotal[ci], b.catHour[ci], b.catLast[ci]
			index[names[ni]] = ni
		}
		for _, a := range b.areas {
			cats := make([]float64, 0, len(keep))
			for _, ci := range keep {
				v := 0.0
				if ci < len(a.cats) {
					v = a.cats[ci]
				}
				cats = append(cats, v)
			}
			a.cats = cats
		}
		b.catNames, b.catTotal, b.catHour, b.catLast, b.catIndex = names, total, hour, last, index
	}
	if cells > 0 || categories > 0 {
		b.gen++ // the detector's cached cell lookups
		b.estimateLocked()
	}
	return cells, categories
}

// Categories lists the categories seen, most frequent first.
func (b *Baseline) Categories() []string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := append([]string(nil), b.catNames...)
	sort.SliceStable(out, func(i, j int) bool { return b.catTotal[b.catIndex[out[i]]] > b.catTotal[b.catIndex[out[j]]] })
	return out
}

// cellRate is r_i: the cell's weekly rate shrunk towards its district's.
func (b *Baseline) cellRateLocked(c *cellHist, area *areaHist, w float64) float64 {
	perCell := b.cityPerCellLocked(w)
	if area != nil {
		areaCells := b.areaCells
		perCell = area.n / (w * areaCells)
	}
	n := 0.0
	if c != nil {
		n = c.n
	}
	k := b.cellPriorLocked(perCell)
	return (n + k*perCell) / (w + k)
}

// cityPerCellLocked is the weekly rate of an average cell in the areas
// with any history, the prior of a cell in an area never seen.
func (b *Baseline) cityPerCellLocked(w float64) float64 {
	if len(b.areas) == 0 {
		return 0
	}
	areaCells := b.areaCells
	return b.total / (w * areaCells * float64(len(b.areas)))
}

// profileLocked is P(h), the share of a week's tickets in hour h, with
// add-one smoothing over the week.
func (b *Baseline) profileLocked(h int) float64 {
	return (b.hours[h] + 1) / (b.total + hoursPerWeek)
}

// hourRateLocked is λ_ih: the expected count in cell c during one hour h of
// a week.
func (b *Baseline) hourRateLocked(c *cellHist, area *areaHist, h int, w float64) float64 {
	r := b.cellRateLocked(c, area, w)
	m := r * b.profileLocked(h)
	y := 0.0
	if c != nil {
		y = float64(c.hours[h])
	}
	t := b.opt.HourPrior
	return (y + t*m) / (w + t)
}

// Expected is the count expected in cell, all categories, over [from, to).
func (b *Baseline) Expected(cell h3.Cell, from, to time.Time) float64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	c, area := b.lookupLocked(cell)
	return b.expectedLocked(c, area, from, to)
}

func (b *Baseline) lookupLocked(cell h3.Cell) (*cellHist, *areaHist) {
	if c := b.cells[cell]; c != nil {
		return c, c.area
	}
	p, err := cell.Parent(b.opt.AreaRes)
	if err != nil {
		return nil, nil
	}
	return nil, b.areas[p]
}

func (b *Baseline) expectedLocked(c *cellHist, area *areaHist, from, to time.Time) float64 {
	if !to.After(from) || b.total == 0 {
		return 0
	}
	w := b.weeksLocked()
	var sum float64
	for t := from; t.Before(to); {
		lt := t.In(b.opt.Location)
		next := lt.Truncate(time.Hour).Add(time.Hour)
		if next.After(to) {
			next = to
		}
		frac := next.Sub(t).Hours()
		sum += frac * b.hourRateLocked(c, area, HourOfWeek(t, b.opt.Location), w)
		t = next
	}
	return sum
}

// CategoryShare is the share of category among a cell's tickets at time
// t's hour of the day: the city's share at that hour, adjusted by the
// district's own mix shrunk towards the city's.
func (b *Baseline) CategoryShare(cell h3.Cell, category string, t time.Time) float64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	_, area := b.lookupLocked(cell)
	return b.shareLocked(area, category, t.In(b.opt.Location).Hour())
}

func (b *Baseline) shareLocked(area *areaHist, category string, hod int) float64 {
	q, qh, ci := b.cityShareLocked(category, hod)
	return b.areaShareLocked(area, ci, q, qh)
}

// cityShareLocked is the category's share in the city overall (q) and at
// hour of the day hod (qh), and its index (-1 if never seen).
func (b *Baseline) cityShareLocked(category string, hod int) (q, qh float64, ci int) {
	if b.total == 0 {
		return 1, 1, -1
	}
	ncat := float64(len(b.catNames) + 1)
	ci, ok := b.catIndex[category]
	var tot, hour float64
	if ok {
		tot, hour = b.catTotal[ci], b.catHour[ci][hod]
	} else {
		ci = -1
	}
	q = (tot + 0.5) / (b.total + 0.5*ncat)
	qh = (hour + 5*q) / (b.hourOfDay[hod] + 5)
	return q, qh, ci
}

// areaShareLocked adjusts the city's share by the district's own mix.
func (b *Baseline) areaShareLocked(area *areaHist, ci int, q, qh float64) float64 {
	if b.total == 0 {
		return 1
	}
	if area == nil || ci < 0 {
		return qh
	}
	var ac float64
	if ci < len(area.cats) {
		ac = area.cats[ci]
	}
	k := b.opt.CategoryPrior
	rho := ((ac + k*q) / (area.n + k)) / q
	return min(qh*rho, 1)
}

// snapshot is a Baseline as saved.
type baselineJSON struct {
	Res      int                     `json:"res"`
	AreaRes  int                     `json:"area_res"`
	From     time.Time               `json:"from"`
	To       time.Time               `json:"to"`
	Hours    [hoursPerWeek]float64   `json:"hours"`
	Cats     []string                `json:"categories"`
	CatHour  [][24]float64           `json:"category_hours"`
	Cells    map[string]cellHistJSON `json:"cells"`
	AreaCats map[string][]float64    `json:"area_categories"`
	CatLast  []int32                 `json:"category_last,omitempty"`
	// AreaN is each district cell's tickets, its forgotten cells' too.
	AreaN map[string]float64 `json:"area_n,omitempty"`
}

type cellHistJSON struct {
	Hours map[int]uint16 `json:"h"`
	Last  int32          `json:"l,omitempty"` // hour since 1970 of its latest ticket
}

// MarshalJSON saves the history, so a restart does not forget it.
func (b *Baseline) MarshalJSON() ([]byte, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s := baselineJSON{Res: b.opt.Res, AreaRes: b.opt.AreaRes, From: b.from, To: b.to, Hours: b.hours,
		Cats: b.catNames, CatHour: b.catHour, CatLast: b.catLast, Cells: map[string]cellHistJSON{}, AreaCats: map[string][]float64{}}
	for cell, c := range b.cells {
		h := map[int]uint16{}
		for i, v := range c.hours {
			if v > 0 {
				h[i] = v
			}
		}
		s.Cells[cell.String()] = cellHistJSON{Hours: h, Last: c.last}
	}
	s.AreaN = map[string]float64{}
	for a, h := range b.areas {
		s.AreaCats[a.String()] = h.cats
		s.AreaN[a.String()] = h.n
	}
	return json.Marshal(s)
}

// UnmarshalJSON restores a saved history into b, keeping b's options but
// the saved resolutions.
func (b *Baseline) UnmarshalJSON(data []byte) error {
	var s baselineJSON
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	if s.Res != b.opt.Res || s.AreaRes != b.opt.AreaRes {
		return fmt.Errorf("baseline: saved at resolution %d/%d, want %d/%d", s.Res, s.AreaRes, b.opt.Res, b.opt.AreaRes)
	}
	if len(s.CatHour) != len(s.Cats) {
		return fmt.Errorf("baseline: %d categories but %d hour rows", len(s.Cats), len(s.CatHour))
	}
	if len(s.CatLast) != 0 && len(s.CatLast) != len(s.Cats) {
		return fmt.Errorf("baseline: %d categories but %d last times", len(s.Cats), len(s.CatLast))
	}
	// Saved before last times were kept: everything counts as seen at the
	// end of the history, so nothing is forgotten before its time.
	saved := unixHour(s.To)
	nb := NewBaseline(b.opt)
	nb.from, nb.to, nb.hours = s.From, s.To, s.Hours
	// A saved name past MaxCategories is added to OtherCategory's counts.
	catAt := make([]int, len(s.Cats))
	for i, name := range s.Cats {
		ci := nb.catLocked(name)
		catAt[i] = ci
		last := saved
		if len(s.CatLast) != 0 {
			last = s.CatLast[i]
		}
		nb.catLast[ci] = max(nb.catLast[ci], last)
		for h, v := range s.CatHour[i] {
			nb.catHour[ci][h] += v
			nb.catTotal[ci] += v
			nb.hourOfDay[h] += v
		}
	}
	for _, v := range s.Hours {
		nb.total += v
	}
	for id, ch := range s.Cells {
		cell := h3.CellFromString(id)
		if !cell.IsValid() || cell.Resolution() != nb.opt.Res {
			return fmt.Errorf("baseline: bad cell %q", id)
		}
		c := nb.cellLocked(cell)
		c.last = saved
		if ch.Last != 0 {
			c.last = ch.Last
		}
		for h, v := range ch.Hours {
			if h < 0 || h >= hoursPerWeek {
				return fmt.Errorf("baseline: cell %s: hour %d out of range", id, h)
			}
			c.hours[h] = v
			c.n += float64(v)
			c.area.n += float64(v)
		}
	}
	for id, n := range s.AreaN {
		area := h3.CellFromString(id)
		if !area.IsValid() || area.Resolution() != nb.opt.AreaRes || n < 0 {
			return fmt.Errorf("baseline: bad district cell %q", id)
		}
		a := nb.areas[area]
		if a == nil {
			a = &areaHist{idx: int32(len(nb.areas))}
			nb.areas[area] = a
		}
		a.n = n
	}
	for id, cats := range s.AreaCats {
		area := h3.CellFromString(id)
		if a := nb.areas[area]; a != nil {
			a.cats = make([]float64, len(nb.catNames))
			for i, v := range cats {
				if i < len(catAt) {
					a.cats[catAt[i]] += v
				}
			}
		}
	}
	nb.estimateLocked()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.from, b.to, b.total, b.hours, b.hourOfDay = nb.from, nb.to, nb.total, nb.hours, nb.hourOfDay
	b.cells, b.areas, b.catIndex, b.catNames, b.catTotal, b.catHour, b.catLast = nb.cells, nb.areas, nb.catIndex, nb.catNames, nb.catTotal, nb.catHour, nb.catLast
	b.cv2, b.cv2At = nb.cv2, nb.cv2At
	b.gen++
	return nil
}

// HourRates is the count expected in cell during each hour of the week
// (Monday 00:00 in the baseline's zone first), all categories: λ_ih. The
// hot-issue detectors add cells' rates up into larger areas.
func (b *Baseline) HourRates(cell h3.Cell) [hoursPerWeek]float64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out [hoursPerWeek]float64
	if b.total == 0 {
		return out
	}
	c, area := b.lookupLocked(cell)
	w := b.weeksLocked()
	for h := range out {
		out[h] = b.hourRateLocked(c, area, h, w)
	}
	return out
}

// HourShares is the share of category among cell's tickets at each hour
// of the day, as CategoryShare gives it.
func (b *Baseline) HourShares(cell h3.Cell, category string) [24]float64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out [24]float64
	_, area := b.lookupLocked(cell)
	for h := range out {
		out[h] = b.shareLocked(area, category, h)
	}
	return out
}
