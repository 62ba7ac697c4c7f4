package phrase

import (
	"context"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"time"

	"github.com/citywall/citywall/alerts/scan"
)

// CalibrateOptions tune Calibrate. Zero values take the defaults.
type CalibrateOptions struct {
	Weeks              float64       // simulated (default 2)
	FalseAlarmsPerWeek float64       // default 0.125
	Step               time.Duration // scan interval (default 5m)
	Quiet              time.Duration // of an episode (default 2h)
	Floor              float64       // lowest score followed (default 8)
	Seed               uint64
	Start              time.Time // default: the end of the history
}

// Calibration is what Calibrate found.
type Calibration struct {
	Threshold float64   `json:"threshold"`
	Weeks     float64   `json:"weeks"`
	Target    float64   `json:"false_alarms_per_week"`
	Summaries int       `json:"summaries"`
	Top       []float64 `json:"top_peaks"`
}

// Calibrate sets the threshold so that normal traffic raises the target
// number of false alarms a week, by Monte Carlo as the cluster scan does:
// weeks of summaries are drawn from a sample of the history (each hour as
// many as history has at that hour of the week, Poisson), a copy of d
// scans them every Step, and the threshold is the lowest score at which
// their phrases make no more episodes than allowed.
func Calibrate(ctx context.Context, d *Detector, c CalibrateOptions) (Calibration, error) {
	if c.Weeks <= 0 {
		c.Weeks = 2
	}
	if c.FalseAlarmsPerWeek <= 0 {
		c.FalseAlarmsPerWeek = 0.125
	}
	if c.Step <= 0 {
		c.Step = 5 * time.Minute
	}
	if c.Quiet <= 0 {
		c.Quiet = 2 * time.Hour
	}
	if c.Floor <= 0 {
		c.Floor = 8
	}
	sim, pool, rates, end := d.copyForCalibration()
	if len(pool) == 0 {
		return Calibration{}, errors.New("calibrate: no summaries learnt")
	}
	if c.Start.IsZero() {
		c.Start = end
	}
	c.Start = c.Start.Truncate(time.Hour)
	sim.opt.Threshold = c.Floor
	sim.frozen = true
	rng := rand.New(rand.NewPCG(c.Seed, 0x9a5e))
	var hits []scan.Hit
	n := 0
	stop := c.Start.Add(time.Duration(c.Weeks * float64(scan.Week)))
	for h := c.Start; h.Before(stop); h = h.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return Calibration{}, err
		}
		k := poisson(rng, rates[scan.HourOfWeek(h, sim.loc)])
		docs := make([]Doc, k)
		for i := range docs {
			r := pool[rng.IntN(len(pool))]
			n++
			docs[i] = r.Doc
			docs[i].ID = "sim"
			docs[i].Time = h.Add(time.Duration(rng.Float64() * float64(time.Hour)))
			sim.recent = append(sim.recent, recent{docs[i], r.grams, r.where})
		}
		sortRecent(sim.recent)
		for t := h.Add(c.Step); !t.After(h.Add(time.Hour)); t = t.Add(c.Step) {
			for _, x := range sim.Scan(t) {
				hits = append(hits, scan.Hit{Key: x.Phrase, At: t, Score: x.Score})
			}
		}
	}
	th, top := scan.ThresholdFor(hits, c.Quiet, c.FalseAlarmsPerWeek*c.Weeks, c.Floor)
	d.SetThreshold(th)
	return Calibration{Threshold: th, Weeks: c.Weeks, Target: c.FalseAlarmsPerWeek, Summaries: n, Top: top}, nil
}

// copyForCalibration copies the history (the copy does not learn), the
// sample of summaries, the expected summaries per hour of the week and the
// end of the history.
func (d *Detector) copyForCalibration() (*Detector, []recent, [168]float64, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &Detector{opt: d.opt, x: d.x, loc: d.loc, total: d.total, catN: maps.Clone(d.catN), placeN: maps.Clone(d.placeN),
		grams: make(map[string]*gramHist, len(d.grams))}
	for g, h := range d.grams {
		c.grams[g] = &gramHist{n: h.n, cat: maps.Clone(h.cat), place: maps.Clone(h.place)}
	}
	var rates [168]float64
	weeks := max(d.to.Sub(d.from).Hours()/168, 1.0/7)
	for h, v := range d.how {
		rates[h] = v / weeks
	}
	return c, append([]recent(nil), d.pool...), rates, d.to
}

func sortRecent(rs []recent) {
	for i := 1; i < len(rs); i++ {
		for j := i; j > 0 && rs[j].Time.Before(rs[j-1].Time); j-- {
			rs[j], rs[j-1] = rs[j-1], rs[j]
		}
	}
}

func poisson(rng *rand.Rand, l float64) int {
	if l <= 0 {
		return 0
	}
	if l > 50 {
		return max(0, int(math.Round(l+math.Sqrt(l)*rng.NormFloat64())))
	}
	L, k, p := math.Exp(-l), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= L {
			return k
		}
		k++
	}
}
