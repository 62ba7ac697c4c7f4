package eval

import (
	"math"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
)

// Method is a detector under evaluation: it is fed tickets in time order
// and asked, every step, for the regions it alarms on.
type Method interface {
	Name() string
	Add(e scan.Event)
	Scan(now time.Time) []scan.Cluster
	SetThreshold(th float64)
}

// ScanMethod is the space-time scan of package scan.
type ScanMethod struct{ D *scan.Detector }

func (m ScanMethod) Name() string                      { return "space-time scan (EBP)" }
func (m ScanMethod) Add(e scan.Event)                  { _ = m.D.Add(e) }
func (m ScanMethod) Scan(now time.Time) []scan.Cluster { return m.D.Scan(now) }
func (m ScanMethod) SetThreshold(th float64)           { m.D.SetThreshold(th) }

type key struct {
	cell h3.Cell
	cat  string
}

// cellSeries keeps recent ticket times per cell and category.
type cellSeries struct {
	keep  time.Duration
	times map[key][]time.Time
}

func (s *cellSeries) add(e scan.Event) {
	if s.times == nil {
		s.times = map[key][]time.Time{}
	}
	k := key{e.Cell, e.Category}
	s.times[k] = append(s.times[k], e.Time)
}

func (s *cellSeries) trim(now time.Time) {
	for k, ts := range s.times {
		i := 0
		for i < len(ts) && !ts[i].After(now.Add(-s.keep)) {
			i++
		}
		if i == len(ts) {
			delete(s.times, k)
			continue
		}
		s.times[k] = ts[i:]
	}
}

func count(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, t := range ts {
		if t.After(from) && !t.After(to) {
			n++
		}
	}
	return n
}

func single(k key, n int, score float64) scan.Cluster {
	ll, _ := k.cell.LatLng()
	return scan.Cluster{Category: k.cat, Cells: []h3.Cell{k.cell}, Shape: "cell", Window: 30 * time.Minute,
		Count: n, Score: score, Lat: ll.Lat, Lng: ll.Lng}
}

// FixedCount alarms when one cell holds at least K tickets of one category
// within the window: the rule of thumb of a duty desk.
type FixedCount struct {
	Window time.Duration
	K      float64
	s      cellSeries
}

func (m *FixedCount) Name() string            { return "fixed count per cell" }
func (m *FixedCount) SetThreshold(th float64) { m.K = th }
func (m *FixedCount) Add(e scan.Event) {
	m.s.keep = m.Window
	m.s.add(e)
}

func (m *FixedCount) Scan(now time.Time) []scan.Cluster {
	m.s.trim(now)
	var out []scan.Cluster
	for k, ts := range m.s.times {
		n := count(ts, now.Add(-m.Window), now)
		if float64(n) >= m.K {
			out = append(out, single(k, n, float64(n)))
		}
	}
	return out
}

// EARSC2 is the CDC's Early Aberration Reporting System C2 statistic per
// cell and category: the count of the current window against the mean and
// standard deviation of the seven windows before it, after a guard of two
// windows, (x − μ) / max(σ, MinSigma).
type EARSC2 struct {
	Window    time.Duration
	Threshold float64
	MinSigma  float64 // default 0.5: sparse cells have σ = 0
	MinCount  int     // default 2
	s         cellSeries
}

func (m *EARSC2) Name() string            { return "EARS C2 per cell" }
func (m *EARSC2) SetThreshold(th float64) { m.Threshold = th }
func (m *EARSC2) Add(e scan.Event) {
	m.s.keep = 10 * m.Window
	m.s.add(e)
}

func (m *EARSC2) Scan(now time.Time) []scan.Cluster {
	m.s.trim(now)
	minSigma := m.MinSigma
	if minSigma <= 0 {
		minSigma = 0.5
	}
	minCount := max(m.MinCount, 2)
	var out []scan.Cluster
	for k, ts := range m.s.times {
		x := count(ts, now.Add(-m.Window), now)
		if x < minCount {
			continue
		}
		var bins [7]float64
		var mean float64
		for j := range 7 {
			to := now.Add(-time.Duration(j+3) * m.Window)
			bins[j] = float64(count(ts, to.Add(-m.Window), to))
			mean += bins[j]
		}
		mean /= 7
		var v float64
		for _, b := range bins {
			v += (b - mean) * (b - mean)
		}
		sd := max(math.Sqrt(v/6), minSigma)
		stat := (float64(x) - mean) / sd
		if stat >= m.Threshold {
			out = append(out, single(k, x, stat))
		}
	}
	return out
}
