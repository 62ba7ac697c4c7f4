package scan

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/uber/h3-go/v4"
)

// CalibrateOptions tune Calibrate. Zero values take the defaults.
type CalibrateOptions struct {
	Weeks              float64       // weeks of background simulated (default 4)
	FalseAlarmsPerWeek float64       // target (default 0.5)
	Step               time.Duration // scan interval (default 1m)
	Floor              float64       // lowest score followed (default 4)
	Seed               uint64
	Start              time.Time // of the simulated weeks (default: the baseline's end)
}

// Calibration is what Calibrate found.
type Calibration struct {
	Threshold float64   `json:"threshold"`
	Weeks     float64   `json:"weeks"`
	Target    float64   `json:"false_alarms_per_week"`
	Tickets   int       `json:"tickets"`
	Tracks    int       `json:"tracks_over_floor"`
	Top       []float64 `json:"top_peaks"` // highest track peaks, highest first
}

// Calibrate finds the threshold at which normal traffic raises the target
// number of false alarms a week. It simulates weeks of background from the
// baseline itself: for each hour, every cell's count is drawn from a
// Poisson law whose rate is drawn from the cell's posterior at that hour of
// the week (so the error of the learnt baseline is accounted for), each
// ticket at a uniform time within the hour and of a category drawn from the
// cell's mix at that hour of the day. A detector with opt (threshold set to
// Floor) scans the simulated stream every Step and a Tracker groups its
// detections into episodes, as in production. An episode raises an alarm at
// threshold u when its peak score reaches u, so the threshold is set just
// above the peak of the (target × weeks + 1)-th highest episode.
//
// Episodes are followed at the floor, where two nearby episodes may merge
// into one; at the threshold they might have been two alarms. Such merges
// need two rare events in one place within Quiet, so the bias is small.
func Calibrate(ctx context.Context, base *Baseline, opt Options, c CalibrateOptions) (Calibration, error) {
	if c.Weeks <= 0 {
		c.Weeks = 4
	}
	if c.FalseAlarmsPerWeek <= 0 {
		c.FalseAlarmsPerWeek = 0.5
	}
	if c.Step <= 0 {
		c.Step = time.Minute
	}
	if c.Floor <= 0 {
		c.Floor = 4
	}
	if base.Total() == 0 {
		return Calibration{}, errors.New("calibrate: the baseline has no history")
	}
	if c.Start.IsZero() {
		_, c.Start = base.Span()
	}
	opt.Threshold = c.Floor
	det, err := NewDetector(opt, base)
	if err != nil {
		return Calibration{}, err
	}
	tr := &Tracker{}
	peaks := map[string]float64{}
	var order []string
	note := func(ts []Track) {
		for _, t := range ts {
			if _, ok := peaks[t.Fingerprint+t.First.String()]; !ok {
				order = append(order, t.Fingerprint+t.First.String())
			}
			k := t.Fingerprint + t.First.String()
			peaks[k] = max(peaks[k], t.Peak)
		}
	}
	sim := NewSimulator(base, c.Seed)
	end := c.Start.Add(time.Duration(c.Weeks * float64(Week)))
	tickets := 0
	for hour := c.Start; hour.Before(end); hour = hour.Add(time.Hour) {
		if err := ctx.Err(); err != nil {
			return Calibration{}, err
		}
		evs := sim.Hour(hour)
		tickets += len(evs)
		k := 0
		for t := hour.Add(c.Step); !t.After(hour.Add(time.Hour)); t = t.Add(c.Step) {
			for k < len(evs) && !evs[k].Time.After(t) {
				_ = det.Add(evs[k])
				k++
			}
			s, u, _ := tr.Update(t, det.Scan(t))
			note(s)
			note(u)
		}
	}
	var all []float64
	for _, k := range order {
		all = append(all, peaks[k])
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(all)))
	allowed := int(math.Floor(c.FalseAlarmsPerWeek * c.Weeks))
	th := c.Floor
	if allowed < len(all) {
		th = math.Nextafter(all[allowed], math.Inf(1))
	}
	cal := Calibration{Threshold: max(th, c.Floor), Weeks: c.Weeks, Target: c.FalseAlarmsPerWeek, Tickets: tickets, Tracks: len(all)}
	cal.Top = all[:min(len(all), 10)]
	return cal, nil
}

// Simulator draws background tickets from a baseline: what normal traffic
// looks like to the detector.
type Simulator struct {
	base  *Baseline
	rng   *rand.Rand
	cells []h3.Cell
	cats  []string
	rates []float64
	seq   int
}

// NewSimulator returns a simulator over the cells with history.
func NewSimulator(base *Baseline, seed uint64) *Simulator {
	return &Simulator{base: base, rng: rand.New(rand.NewPCG(seed, 0x5ca9)), cells: base.Cells(), cats: base.Categories()}
}

// Hour draws the tickets of the hour starting at start, by time.
func (s *Simulator) Hour(start time.Time) []Event {
	b := s.base
	b.mu.RLock()
	defer b.mu.RUnlock()
	w := b.weeksLocked()
	how := HourOfWeek(start, b.opt.Location)
	hod := start.In(b.opt.Location).Hour()
	var out []Event
	shares := make([]float64, len(s.cats))
	var lastArea *areaHist
	if s.rates == nil {
		// The cell's weekly rate is drawn once from its posterior: the
		// true rate is fixed but only estimated.
		s.rates = make([]float64, len(s.cells))
		for i, cell := range s.cells {
			h, a := b.lookupFastLocked(cell)
			mean := b.cellRateLocked(h, a, w)
			k := b.cellPriorLocked(0)
			if a != nil {
				k = b.cellPriorLocked(a.n / (w * b.areaCells))
			}
			s.rates[i] = gamma(s.rng, mean*(w+k)) / (w + k)
		}
	}
	for i, cell := range s.cells {
		h, a := b.lookupFastLocked(cell)
		// λ_ih from its posterior given the drawn weekly rate, so that
		// calibration accounts for the error of a baseline learnt from a
		// few weeks, not only for Poisson noise around it.
		y := 0.0
		if h != nil {
			y = float64(h.hours[how])
		}
		t := b.opt.HourPrior
		lambda := gamma(s.rng, y+t*s.rates[i]*b.profileLocked(how)) / (w + t)
		n := poisson(s.rng, lambda)
		if n == 0 {
			continue
		}
		if a != lastArea || lastArea == nil {
			var sum float64
			for i, name := range s.cats {
				shares[i] = b.shareLocked(a, name, hod)
				sum += shares[i]
			}
			for i := range shares {
				shares[i] /= sum
			}
			lastArea = a
		}
		ll, _ := cell.LatLng()
		for range n {
			u := s.rng.Float64()
			ci := 0
			for ci < len(shares)-1 && u > shares[ci] {
				u -= shares[ci]
				ci++
			}
			s.seq++
			out = append(out, Event{ID: "sim-" + itoa(s.seq), Cell: cell, Category: s.cats[ci],
				Time: start.Add(time.Duration(s.rng.Float64() * float64(time.Hour))), Lat: ll.Lat, Lng: ll.Lng})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// gamma draws from Gamma(shape, 1) (Marsaglia and Tsang).
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape <= 0 {
		return 0
	}
	if shape < 1 {
		return gamma(rng, shape+1) * math.Pow(rng.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}
