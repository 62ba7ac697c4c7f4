package surge

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
)

// CalibrateOptions tune Calibrate. Zero values take the defaults.
type CalibrateOptions struct {
	Weeks              float64       // weeks of background simulated (default 4)
	WeekTestWeeks      float64       // weeks the week test is calibrated on (default 26, at least Weeks)
	FalseAlarmsPerWeek float64       // for both kinds together (default 0.25)
	WeekShare          float64       // of that budget, the weekly test's (default 1/3)
	Step               time.Duration // scan interval (default 5m)
	Quiet              time.Duration // of an episode (default 2h; 2 days for weeks)
	Seed               uint64
	Start              time.Time // of the simulated weeks (default: the baseline's end)
}

// Calibration is what Calibrate found.
type Calibration struct {
	Threshold     float64   `json:"threshold"`
	WeekThreshold float64   `json:"week_threshold"`
	Weeks         float64   `json:"weeks"`
	Target        float64   `json:"false_alarms_per_week"`
	Tickets       int       `json:"tickets"`
	Top           []float64 `json:"top_peaks"`
	WeekTop       []float64 `json:"week_top_peaks"`
}

// Calibrate sets the detector's two thresholds so that normal traffic
// raises the target number of false alarms a week, by Monte Carlo on the
// same simulated background as the cluster scan's calibration
// (scan.Simulator): weeks of tickets drawn from the learnt baseline, each
// given the labels most tickets of its cell carried and a subcategory
// drawn from its district's mix. A copy of d scans them every Step and
// runs the week test at each midnight (after WeekPrior weeks of warm-up);
// trackers group the detections into episodes, and each threshold is set
// just above the peak of the episode one past its share of the budget.
func Calibrate(ctx context.Context, d *Detector, c CalibrateOptions) (Calibration, error) {
	if c.Weeks <= 0 {
		c.Weeks = 4
	}
	if c.WeekTestWeeks < c.Weeks {
		c.WeekTestWeeks = max(26, c.Weeks)
	}
	if c.FalseAlarmsPerWeek <= 0 {
		c.FalseAlarmsPerWeek = 0.25
	}
	if c.WeekShare <= 0 || c.WeekShare >= 1 {
		c.WeekShare = 1.0 / 3
	}
	if c.Step <= 0 {
		c.Step = 5 * time.Minute
	}
	if c.Quiet <= 0 {
		c.Quiet = 2 * time.Hour
	}
	base := d.base
	if base.Total() == 0 {
		return Calibration{}, errors.New("calibrate: the baseline has no history")
	}
	if c.Start.IsZero() {
		_, c.Start = base.Span()
	}
	c.Start = c.Start.Truncate(time.Hour)
	sim := d.emptyCopy()
	sim.opt.Threshold, sim.opt.WeekThreshold = 4, 2 // floors: every candidate is followed
	sim.opt.MaxTickets = 1
	rng := rand.New(rand.NewPCG(c.Seed, 0x5e6e))
	subsOf := sim.subcategories()
	label := func(e scan.Event) Event {
		out := Event{ID: e.ID, Cell: e.Cell, Category: e.Category, Time: e.Time}
		if l := sim.cells[e.Cell]; l != nil {
			// In the shares the cell's tickets carried; a grid keeps
			// the district its tickets name.
			out.Grid = pick(rng, l.grid)
			if g := sim.grids[out.Grid]; g != nil && out.Grid != "" {
				out.District = most(g.district)
			} else {
				out.District = pick(rng, l.district)
			}
		}
		out.Subcategory = sim.drawSub(rng, out.District, e.Category, subsOf[e.Category], e.Time)
		return out
	}
	gen := scan.NewSimulator(base, c.Seed)
	warm := time.Duration(sim.opt.WeekPrior) * scan.Week
	tickets := 0
	for h := c.Start; h.Before(c.Start.Add(warm)); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return Calibration{}, err
		}
		for _, e := range gen.Hour(h) {
			sim.Learn(label(e))
		}
	}
	var short, week []scan.Hit
	from := c.Start.Add(warm)
	end := from.Add(time.Duration(c.Weeks * float64(scan.Week)))
	for h := from; h.Before(end); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return Calibration{}, err
		}
		if h.Sub(from)%scan.Week == 0 {
			// A new draw of the cells' true rates from their posterior
			// each week: the false alarms are averaged over what the
			// learnt baseline does not know, not taken from one guess.
			gen = scan.NewSimulator(base, c.Seed+uint64(h.Sub(from)/scan.Week)+1)
		}
		evs := gen.Hour(h)
		tickets += len(evs)
		k := 0
		for t := h.Add(c.Step); !t.After(h.Add(time.Hour)); t = t.Add(c.Step) {
			for k < len(evs) && !evs[k].Time.After(t) {
				sim.Add(label(evs[k]))
				k++
			}
			for _, x := range sim.Scan(t) {
				short = append(short, scan.Hit{Key: x.Region.Scale + ":" + x.Region.Name + "/" + x.Category + "/" + x.Subcategory, At: t, Score: x.Score})
			}
			for _, x := range sim.Week(t) {
				week = append(week, scan.Hit{Key: x.Region.Scale + ":" + x.Region.Name + "/" + x.Category + "/" + x.Subcategory, At: t, Score: x.Score})
			}
		}
	}
	// The week test runs once a day, so a few weeks give it a handful of
	// chances to err and its threshold would rest on one or two peaks:
	// it goes on alone (no window scans, which cost the time) for
	// WeekTestWeeks in all.
	wend := from.Add(time.Duration(c.WeekTestWeeks * float64(scan.Week)))
	for h := end; h.Before(wend); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return Calibration{}, err
		}
		if h.Sub(from)%scan.Week == 0 {
			gen = scan.NewSimulator(base, c.Seed+uint64(h.Sub(from)/scan.Week)+1)
		}
		for _, e := range gen.Hour(h) {
			sim.Learn(label(e))
		}
		for _, x := range sim.Week(h.Add(time.Hour)) {
			week = append(week, scan.Hit{Key: x.Region.Scale + ":" + x.Region.Name + "/" + x.Category + "/" + x.Subcategory, At: h.Add(time.Hour), Score: x.Score})
		}
	}
	th, top := scan.ThresholdFor(short, c.Quiet, c.FalseAlarmsPerWeek*(1-c.WeekShare)*c.Weeks, 4)
	wth, wtop := scan.ThresholdFor(week, 48*time.Hour, c.FalseAlarmsPerWeek*c.WeekShare*max(c.WeekTestWeeks, c.Weeks), 2)
	d.SetThresholds(th, wth)
	return Calibration{Threshold: th, WeekThreshold: wth, Weeks: c.Weeks, Target: c.FalseAlarmsPerWeek,
		Tickets: tickets, Top: top, WeekTop: wtop}, nil
}

// subcategories lists the subcategory keys of each category seen.
func (d *Detector) subcategories() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]string{}
	for k := range d.subs[""] {
		if cat, sub := splitKey(k); sub != "" {
			out[cat] = append(out[cat], k)
		}
	}
	for _, ks := range out {
		sort.Strings(ks)
	}
	return out
}

// drawSub draws a subcategory of cat from district's mix at t's hour.
func (d *Detector) drawSub(rng *rand.Rand, district, cat string, keys []string, t time.Time) string {
	if len(keys) == 0 {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ws := make([]float64, len(keys))
	var sum float64
	h := t.In(d.loc).Hour()
	for i, k := range keys {
		ws[i] = d.subShareLocked(Region{ScaleDistrict, district}, cat, k)
		if lean := d.subLeanLocked(cat, k); lean != nil {
			ws[i] *= lean[h]
		}
		sum += ws[i]
	}
	u := rng.Float64() * sum
	for i, w := range ws {
		if u < w || i == len(ws)-1 {
			_, sub := splitKey(keys[i])
			return sub
		}
		u -= w
	}
	return ""
}

// CellOf is the cell at the baseline's resolution of a point, 0 when the
// point is not valid.
func CellOf(lat, lng float64, res int) h3.Cell {
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	if err != nil {
		return 0
	}
	return c
}
