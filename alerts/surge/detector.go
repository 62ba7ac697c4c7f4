package surge

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
)

// Options tune a Detector. Zero values take the defaults.
type Options struct {
	// Windows are the recent windows scored (default 30m, 1h, 2h, 6h and
	// 24h); the cluster scan covers shorter bursts in a few cells.
	Windows []time.Duration
	// MinCount is the fewest tickets a window needs (default 8).
	MinCount int
	// Threshold is the score a window needs (default 15; Calibrate finds
	// the value for a chosen false-alarm rate).
	Threshold float64
	// WeekThreshold is the score the last seven days need against the
	// weeks before (default 12; calibrated too).
	WeekThreshold float64
	// WeekMinCount is the fewest tickets of the last seven days scored
	// (default 20: below it a week's count swings more from week to week
	// than the Poisson model allows, and a rise of a few tickets is the
	// windows' and the cluster scan's to find).
	WeekMinCount int
	// WeekPrior is how many previous weeks a week is compared with
	// (default 4; two at least must be held).
	WeekPrior int
	// SubPrior is the weight, in tickets, of the city's subcategory mix in
	// a district's (default 20).
	SubPrior float64
	// MaxTickets bounds the ticket ids a detection names (default 20).
	MaxTickets int
}

func (o Options) withDefaults() Options {
	if len(o.Windows) == 0 {
		o.Windows = []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour}
	}
	if o.MinCount <= 0 {
		o.MinCount = 8
	}
	if o.Threshold <= 0 {
		o.Threshold = 15
	}
	if o.WeekThreshold <= 0 {
		o.WeekThreshold = 12
	}
	if o.WeekMinCount <= 0 {
		o.WeekMinCount = 20
	}
	if o.WeekPrior <= 0 {
		o.WeekPrior = 4
	}
	if o.SubPrior <= 0 {
		o.SubPrior = 20
	}
	if o.MaxTickets <= 0 {
		o.MaxTickets = 20
	}
	return o
}

// Validate reports options a Detector cannot work with.
func (o Options) Validate() error {
	if err := scan.CheckWindows(o.Windows, 5*time.Minute); err != nil {
		return err
	}
	if o.WeekPrior == 1 || o.WeekPrior > 8 {
		return fmt.Errorf("week prior %d: must be 2..8", o.WeekPrior)
	}
	return nil
}

// Detection is one region and category whose count stands out.
type Detection struct {
	Kind        string
	Region      Region
	Category    string
	Subcategory string        // empty: the whole category
	Window      time.Duration // 7×24h for a week
	Count       int
	Expected    float64
	Score       float64
	Tickets     []string  // the latest ids in the window, oldest first
	First       time.Time // the window's start
}

// Rise is the count over the expected one, less one (0.5 is +50 %).
func (d Detection) Rise() float64 {
	if d.Expected <= 0 {
		return math.Inf(1)
	}
	return float64(d.Count)/d.Expected - 1
}

type sKey struct {
	r   Region
	key string
}

type series struct {
	at   []int64 // Unix ns, by time, within the longest window
	ids  []string
	days map[int]int
}

// Detector counts tickets per region and category key and scores recent
// windows and weeks. It is safe for concurrent use.
type Detector struct {
	opt  Options
	base *scan.Baseline
	loc  *time.Location

	mu       sync.Mutex
	series   map[sKey]*series
	dirty    map[sKey]bool
	cells    map[h3.Cell]*labels
	grids    map[string]*labels            // a grid's district votes
	subs     map[string]map[string]float64 // district ("" for the city) → key → tickets
	subHour  map[string]*[24]float64       // key → the city's tickets by local hour of the day
	prof     map[sKey]*[168]float64        // region × category: expected per hour of the week
	firstDay int                           // earliest day counted; 0 before any
	surged   map[sKey]time.Time            // region × category: its last window detection
	weekDay  int                           // last day the week test ran for
}

// NewDetector returns a detector scoring against base.
func NewDetector(o Options, base *scan.Baseline) (*Detector, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &Detector{opt: o, base: base, loc: base.Location(), series: map[sKey]*series{}, dirty: map[sKey]bool{},
		cells: map[h3.Cell]*labels{}, grids: map[string]*labels{}, subs: map[string]map[string]float64{},
		subHour: map[string]*[24]float64{}, surged: map[sKey]time.Time{}}, nil
}

// Options returns the options, defaults filled in.
func (d *Detector) Options() Options {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opt
}

// SetThresholds changes the scores needed, e.g. after a calibration.
func (d *Detector) SetThresholds(window, week float64) {
	d.mu.Lock()
	d.opt.Threshold, d.opt.WeekThreshold = window, week
	d.mu.Unlock()
}

// Learn counts a ticket of the past: its day, its place's labels and its
// subcategory's share. The baseline learns it separately.
func (d *Detector) Learn(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.learnLocked(e)
}

func (d *Detector) learnLocked(e Event) {
	if e.Cell != 0 {
		l := d.cells[e.Cell]
		if l == nil {
			l = &labels{}
			d.cells[e.Cell] = l
		}
		l.add(e.District, e.Grid)
	}
	if e.Grid != "" {
		g := d.grids[e.Grid]
		if g == nil {
			g = &labels{}
			d.grids[e.Grid] = g
		}
		g.add(e.District, "")
	}
	if e.Category != "" {
		d.countSubLocked("", e)
		if e.District != "" {
			d.countSubLocked(e.District, e)
		}
	}
	day := dayOf(e.Time, d.loc)
	if d.firstDay == 0 || day < d.firstDay {
		d.firstDay = day
	}
	for _, r := range e.regions() {
		for _, k := range e.keys() {
			s := d.seriesLocked(sKey{r, k})
			s.days[day]++
		}
	}
}

func (d *Detector) countSubLocked(district string, e Event) {
	m := d.subs[district]
	if m == nil {
		m = map[string]float64{}
		d.subs[district] = m
	}
	for _, k := range e.keys() {
		m[k]++
	}
	if district == "" {
		h := e.Time.In(d.loc).Hour()
		for _, k := range e.keys() {
			a := d.subHour[k]
			if a == nil {
				a = new([24]float64)
				d.subHour[k] = a
			}
			a[h]++
		}
	}
}

func (d *Detector) seriesLocked(k sKey) *series {
	s := d.series[k]
	if s == nil {
		s = &series{days: map[int]int{}}
		d.series[k] = s
	}
	return s
}

// Add counts a new ticket into the recent windows (and learns it as Learn
// does).
func (d *Detector) Add(e Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.learnLocked(e)
	at := e.Time.UnixNano()
	for _, r := range e.regions() {
		for _, k := range e.keys() {
			sk := sKey{r, k}
			s := d.series[sk]
			i := len(s.at)
			for i > 0 && s.at[i-1] > at {
				i--
			}
			s.at = slices.Insert(s.at, i, at)
			s.ids = slices.Insert(s.ids, i, e.ID)
			d.dirty[sk] = true
		}
	}
}

// Refresh recomputes the regions' expected counts from the baseline and
// the labels learnt; call it after the baseline has learnt more (hourly is
// plenty). It stops, keeping the expected counts it had, when ctx ends.
func (d *Detector) Refresh(ctx context.Context) error {
	cells := d.base.Cells()
	cats := d.base.Categories()
	// A cell's expected counts go to the districts and grids its tickets
	// name, in the shares they name them: grids are not aligned with
	// cells, and a grid that is nowhere a cell's majority still expects
	// its share.
	places := make([][]part, len(cells))
	d.mu.Lock()
	for i, c := range cells {
		places[i] = []part{{city, 1}}
		if l := d.cells[c]; l != nil {
			places[i] = append(places[i], l.parts(ScaleDistrict, l.district)...)
			places[i] = append(places[i], l.parts(ScaleGrid, l.grid)...)
		}
	}
	d.mu.Unlock()
	prof := map[sKey]*[168]float64{}
	shares := make([][24]float64, len(cats))
	for i, c := range cells {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		rates := d.base.HourRates(c)
		var sum [24]float64
		for ci, cat := range cats {
			shares[ci] = d.base.HourShares(c, cat)
			for h, v := range shares[ci] {
				sum[h] += v
			}
		}
		for ci, cat := range cats {
			for _, pt := range places[i] {
				p := prof[sKey{pt.r, cat}]
				if p == nil {
					p = new([168]float64)
					prof[sKey{pt.r, cat}] = p
				}
				for h := range p {
					if s := sum[h%24]; s > 0 {
						p[h] += pt.w * rates[h] * shares[ci][h%24] / s
					}
				}
			}
		}
	}
	d.mu.Lock()
	d.prof = prof
	d.mu.Unlock()
	return nil
}

// Expected is the count expected in region r of key (a category, or
// category and subcategory) over [from, to).
func (d *Detector) Expected(r Region, category, subcategory string, from, to time.Time) float64 {
	k := category
	if subcategory != "" {
		k = subKey(category, subcategory)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expectedLocked(sKey{r, k}, from, to)
}

func (d *Detector) expectedLocked(k sKey, from, to time.Time) float64 {
	cat, sub := splitKey(k.key)
	p := d.prof[sKey{k.r, cat}]
	if p == nil || !to.After(from) {
		return 0
	}
	var lean *[24]float64
	share := 1.0
	if sub != "" {
		share = d.subShareLocked(k.r, cat, k.key)
		lean = d.subLeanLocked(cat, k.key)
	}
	var sum float64
	for t := from; t.Before(to); {
		local := t.In(d.loc)
		next := local.Truncate(time.Hour).Add(time.Hour)
		if next.After(to) {
			next = to
		}
		v := next.Sub(t).Hours() * p[scan.HourOfWeek(t, d.loc)]
		if lean != nil {
			v *= lean[local.Hour()]
		}
		sum += v
		t = next
	}
	return sum * share
}

// subLeanLocked is, for each local hour of the day, the subcategory's
// share of its category in the city at that hour over its share all day:
// noise complaints lean to the night, a blocked car to the rush hours,
// and an expectation that ignored it would see a surge every night. Each
// hour's share is shrunk towards the day's by SubPrior tickets. Nil when
// nothing is learnt.
func (d *Detector) subLeanLocked(cat, key string) *[24]float64 {
	hk, hc := d.subHour[key], d.subHour[cat]
	cityM := d.subs[""]
	if hk == nil || hc == nil || cityM[cat] == 0 {
		return nil
	}
	q := (cityM[key] + 0.5) / (cityM[cat] + 1)
	k := d.opt.SubPrior
	var out [24]float64
	for h := range out {
		out[h] = (hk[h] + k*q) / (hc[h] + k) / q
	}
	return &out
}

// subShareLocked is the subcategory's share of its category in r's
// district, shrunk towards the city's.
func (d *Detector) subShareLocked(r Region, cat, key string) float64 {
	cityM := d.subs[""]
	q := (cityM[key] + 0.5) / (cityM[cat] + 1)
	dist := ""
	switch r.Scale {
	case ScaleDistrict:
		dist = r.Name
	case ScaleGrid:
		if g := d.grids[r.Name]; g != nil {
			dist = most(g.district)
		}
	}
	m := d.subs[dist]
	if dist == "" || m == nil {
		return q
	}
	k := d.opt.SubPrior
	return (m[key] + k*q) / (m[cat] + k)
}

// Scan scores the windows of the regions and keys that had a ticket since
// the last scan, and returns the best window of each that reaches the
// threshold.
func (d *Detector) Scan(now time.Time) []Detection {
	d.mu.Lock()
	defer d.mu.Unlock()
	wins := d.opt.Windows
	cut := now.Add(-wins[len(wins)-1]).UnixNano()
	end := now.UnixNano()
	var out []Detection
	for k := range d.dirty {
		s := d.series[k]
		i := sort.Search(len(s.at), func(i int) bool { return s.at[i] > cut })
		if i > 0 {
			s.at = slices.Delete(s.at, 0, i)
			s.ids = slices.Delete(s.ids, 0, i)
		}
		var best Detection
		for _, w := range wins {
			from := now.Add(-w)
			lo := sort.Search(len(s.at), func(i int) bool { return s.at[i] > from.UnixNano() })
			hi := sort.Search(len(s.at), func(i int) bool { return s.at[i] > end })
			c := hi - lo
			if c < d.opt.MinCount {
				continue
			}
			b := d.expectedLocked(k, from, now)
			if b <= 0 {
				break // no expectation learnt for this region and category
			}
			sc := scan.Score(c, b)
			if sc < d.opt.Threshold || sc <= best.Score {
				continue
			}
			cat, sub := splitKey(k.key)
			best = Detection{Kind: KindSurge, Region: k.r, Category: cat, Subcategory: sub, Window: w,
				Count: c, Expected: b, Score: sc, First: from, Tickets: slices.Clone(s.ids[max(lo, hi-d.opt.MaxTickets):hi])}
		}
		if best.Kind != "" {
			out = append(out, best)
			d.surged[sKey{k.r, best.Category}] = now
		}
	}
	clear(d.dirty)
	sortDetections(out)
	return out
}

// Week compares, once per local day, the seven days before now's day with
// the WeekPrior weeks before them, and returns the regions and keys whose
// last week reaches the week threshold. It returns nothing on a day it has
// already run for, or before two previous weeks are held.
func (d *Detector) Week(now time.Time) []Detection {
	d.mu.Lock()
	defer d.mu.Unlock()
	day := dayOf(now, d.loc)
	if day == d.weekDay || d.firstDay == 0 {
		return nil
	}
	d.weekDay = day
	prior := min(d.opt.WeekPrior, (day-7-d.firstDay)/7)
	if prior < 2 {
		return nil
	}
	pi := 1 / float64(prior+1)
	oldest := day - 7*(prior+1)
	var out []Detection
	for k, s := range d.series {
		var x, y int
		for dd, n := range s.days {
			switch {
			case dd < oldest-7:
				delete(s.days, dd) // beyond any comparison
			case dd >= day:
			case dd >= day-7:
				x += n
			case dd >= oldest:
				y += n
			}
		}
		if x < d.opt.WeekMinCount {
			continue
		}
		cat, sub := splitKey(k.key)
		if d.surgedLocked(k.r, cat, now) {
			continue // the week's rise is a surge already raised, not a second event
		}
		sc := binomialScore(x, x+y, pi)
		if sc < d.opt.WeekThreshold {
			continue
		}
		out = append(out, Detection{Kind: KindWeek, Region: k.r, Category: cat, Subcategory: sub, Window: 7 * 24 * time.Hour,
			Count: x, Expected: float64(y) / float64(prior), Score: sc, First: midnight(day-7, d.loc)})
	}
	sortDetections(out)
	return out
}

// surgedLocked reports whether a window detection of cat in a region
// overlapping r (Related) fell in the eight days before now.
func (d *Detector) surgedLocked(r Region, cat string, now time.Time) bool {
	for k, t := range d.surged {
		if now.Sub(t) >= 8*24*time.Hour {
			delete(d.surged, k)
			continue
		}
		if k.key == cat && d.relatedLocked(k.r, r) {
			return true
		}
	}
	return false
}

// binomialScore is the log likelihood ratio of x successes in n trials
// against a success probability of pi, for x above n·pi; 0 otherwise. Two
// Poisson counts x and y with equal rates per period, x over one period and
// y over k, give x ~ Binomial(x+y, 1/(k+1)) given their sum.
func binomialScore(x, n int, pi float64) float64 {
	fx, fn := float64(x), float64(n)
	if fx <= fn*pi || n == 0 {
		return 0
	}
	s := fx * math.Log(fx/(fn*pi))
	if n > x {
		s += (fn - fx) * math.Log((fn-fx)/(fn*(1-pi)))
	}
	return s
}

func sortDetections(ds []Detection) {
	sort.Slice(ds, func(i, j int) bool {
		if ds[i].Score != ds[j].Score {
			return ds[i].Score > ds[j].Score
		}
		a, b := ds[i], ds[j]
		return a.Region.Scale+a.Region.Name+a.Category+a.Subcategory < b.Region.Scale+b.Region.Name+b.Category+b.Subcategory
	})
}

// Related reports whether two regions overlap: the same, one the city, or
// a grid and the district most of its tickets name.
func (d *Detector) Related(a, b Region) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.relatedLocked(a, b)
}

func (d *Detector) relatedLocked(a, b Region) bool {
	if a == b || a.Scale == ScaleCity || b.Scale == ScaleCity {
		return true
	}
	if a.Scale == ScaleGrid {
		a, b = b, a
	}
	if a.Scale != ScaleDistrict || b.Scale != ScaleGrid {
		return false
	}
	g := d.grids[b.Name]
	return g != nil && most(g.district) == a.Name
}

// DistrictOf is the district most of a grid's tickets name.
func (d *Detector) DistrictOf(grid string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.grids[grid]; g != nil {
		return most(g.district)
	}
	return ""
}

// emptyCopy shares the model (labels, shares, expected counts) but counts
// nothing yet: the calibration's detector.
func (d *Detector) emptyCopy() *Detector {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &Detector{opt: d.opt, base: d.base, loc: d.loc, series: map[sKey]*series{}, dirty: map[sKey]bool{},
		cells: map[h3.Cell]*labels{}, grids: map[string]*labels{}, subs: map[string]map[string]float64{}, prof: d.prof,
		subHour: map[string]*[24]float64{},
		surged:  map[sKey]time.Time{}}
	for k, v := range d.cells {
		c.cells[k] = &labels{district: maps.Clone(v.district), grid: maps.Clone(v.grid)}
	}
	for k, v := range d.grids {
		c.grids[k] = &labels{district: maps.Clone(v.district)}
	}
	for k, v := range d.subs {
		c.subs[k] = maps.Clone(v)
	}
	for k, v := range d.subHour {
		a := *v
		c.subHour[k] = &a
	}
	return c
}
