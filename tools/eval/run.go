package eval

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
)

// Config is one evaluation.
type Config struct {
	PerDay             float64 // background tickets a day (default 2000)
	TrainWeeks         float64 // history the baseline learns from (default 3)
	CalibrateWeeks     float64 // simulated background weeks for thresholds (default 8)
	TestWeeks          float64 // weeks clusters are injected into (default 16)
	FalseAlarmsPerWeek float64 // target of every method's calibration (default 0.25)
	// NoMatched skips the second look at the baselines: at the loosest of a
	// few thresholds whose false alerts on the test weeks are no more than
	// the scan's.
	NoMatched bool
	// NoScanMatched skips the scan at the false-alarm rate the baselines'
	// thresholds actually reach in calibration.
	NoScanMatched bool
	Seed          int64
	Step          time.Duration // scan interval (default 1m)
	Scan          scan.Options
	Scenarios     []Scenario
	Location      *time.Location // default Asia/Shanghai
	Progress      io.Writer      // optional progress lines
}

// DefaultScenarios are the bursts of the target (≥ 8 reports in ≤ 3
// adjacent cells within 30 minutes) and harder ones around it.
func DefaultScenarios() []Scenario {
	return []Scenario{
		{Name: "target: 8-15 reports, <=3 adjacent cells, 10-30 min", MinSize: 8, MaxSize: 15, MaxCells: 3, MinSpan: 10 * time.Minute, MaxSpan: 30 * time.Minute, PerDay: 3},
		{Name: "small: 5-7 reports, <=3 cells, 10-30 min", MinSize: 5, MaxSize: 7, MaxCells: 3, MinSpan: 10 * time.Minute, MaxSpan: 30 * time.Minute, PerDay: 3},
		{Name: "spread: 8-15 reports, <=7 cells, 30-60 min", MinSize: 8, MaxSize: 15, MaxCells: 7, MinSpan: 30 * time.Minute, MaxSpan: 60 * time.Minute, PerDay: 3},
	}
}

func (c Config) withDefaults() Config {
	if c.PerDay <= 0 {
		c.PerDay = 2000
	}
	if c.TrainWeeks <= 0 {
		c.TrainWeeks = 3
	}
	if c.CalibrateWeeks <= 0 {
		c.CalibrateWeeks = 8
	}
	if c.TestWeeks <= 0 {
		c.TestWeeks = 16
	}
	if c.FalseAlarmsPerWeek <= 0 {
		c.FalseAlarmsPerWeek = 0.25
	}
	if c.Step <= 0 {
		c.Step = time.Minute
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = DefaultScenarios()
	}
	if c.Location == nil {
		c.Location, _ = time.LoadLocation("Asia/Shanghai")
		if c.Location == nil {
			c.Location = time.FixedZone("CST", 8*3600)
		}
	}
	return c
}

// Result is one method on one scenario.
type Result struct {
	Method          string  `json:"method"`
	Matched         bool    `json:"matched,omitempty"` // a baseline loosened around the scan's false alerts on the test weeks, or the scan at the baselines' calibrated rate
	Threshold       float64 `json:"threshold"`
	Injected        int     `json:"injected"`
	Detected        int     `json:"detected"`
	Detection       float64 `json:"detection_probability"`
	FalsePerWeek    float64 `json:"false_alerts_per_week"`
	MedianTTD       float64 `json:"median_minutes_after_fifth"` // NaN when nothing was detected
	MedianErrorM    float64 `json:"median_centroid_error_m"`
	CellRecall      float64 `json:"cell_recall"`
	CellPrecision   float64 `json:"cell_precision"`
	CalibrationFAPW float64 `json:"calibration_false_alerts_per_week"`
}

// ScenarioReport holds every method on one scenario.
type ScenarioReport struct {
	Scenario Scenario `json:"scenario"`
	Results  []Result `json:"results"`
}

// Report is a whole evaluation.
type Report struct {
	Config      Config           `json:"-"`
	TrainTicket int              `json:"train_tickets"`
	TestTickets int              `json:"test_tickets"`
	Calibration scan.Calibration `json:"calibration"`
	Scenarios   []ScenarioReport `json:"scenarios"`
	Elapsed     time.Duration    `json:"elapsed_ns"`
}

// Run performs an evaluation.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	if cfg.Progress != nil {
		// Scenarios run concurrently and all report progress.
		cfg.Progress = &lockedWriter{w: cfg.Progress}
	}
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	const res = 8
	// A Monday midnight, local: weeks line up with the city's.
	trainEnd := time.Date(2026, 11, 2, 0, 0, 0, 0, cfg.Location)
	trainSpan := time.Duration(cfg.TrainWeeks * float64(scan.Week))
	say("training background: %.1f weeks of the demo city at %.0f tickets/day", cfg.TrainWeeks, cfg.PerDay)
	train, err := Background(ctx, cfg.PerDay, trainSpan, trainEnd, cfg.Seed, 0, res)
	if err != nil {
		return Report{}, err
	}
	base := scan.NewBaseline(scan.BaselineOptions{Res: res, Location: cfg.Location})
	for _, e := range train {
		_ = base.Observe(e.Cell, e.Category, e.Time)
	}

	say("calibrating the scan: %.1f simulated weeks, target %.2f false alerts/week", cfg.CalibrateWeeks, cfg.FalseAlarmsPerWeek)
	cal, err := scan.Calibrate(ctx, base, cfg.Scan, scan.CalibrateOptions{Weeks: cfg.CalibrateWeeks,
		FalseAlarmsPerWeek: cfg.FalseAlarmsPerWeek, Step: cfg.Step, Seed: uint64(cfg.Seed), Start: trainEnd})
	if err != nil {
		return Report{}, err
	}
	say("scan threshold %.2f (top calibration peaks %v)", cal.Threshold, roundAll(cal.Top))

	// The baselines are calibrated on the very same simulated weeks.
	sim := scan.NewSimulator(base, uint64(cfg.Seed))
	var calEvents []scan.Event
	calEnd := trainEnd.Add(time.Duration(cfg.CalibrateWeeks * float64(scan.Week)))
	for h := trainEnd; h.Before(calEnd); h = h.Add(time.Hour) {
		calEvents = append(calEvents, sim.Hour(h)...)
	}
	newFixed := func() Method { return &FixedCount{Window: 30 * time.Minute} }
	newC2 := func() Method { return &EARSC2{Window: 30 * time.Minute} }
	fixedTh, fixedFA := calibrateMethod(ctx, newFixed, calEvents, trainEnd, calEnd, cfg, true)
	say("fixed count threshold %.0f", fixedTh)
	c2Th, c2FA := calibrateMethod(ctx, newC2, calEvents, trainEnd, calEnd, cfg, false)
	say("EARS C2 threshold %.2f", c2Th)

	// The baselines' thresholds are integers or fall between episodes, so
	// their calibrated rate lands below the target. The scan is also run at
	// the rate they reach (the lower of the two), from the same calibration.
	matchFA := min(fixedFA, c2FA)
	matchTh := math.NaN()
	if !cfg.NoScanMatched {
		matchTh, err = thresholdAt(ctx, cal, matchFA, base, cfg, trainEnd)
		if err != nil {
			return Report{}, err
		}
		say("scan threshold %.2f at the baselines' calibrated %.2f false alerts/week", matchTh, matchFA)
	}

	testFrom := trainEnd.Add(24 * time.Hour)
	testTo := testFrom.Add(time.Duration(cfg.TestWeeks * float64(scan.Week)))
	say("test background: %.1f weeks, the demo's own bursts off", cfg.TestWeeks)
	test, err := Background(ctx, cfg.PerDay, testTo.Sub(trainEnd), testTo, cfg.Seed+1, -1, res)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Config: cfg, TrainTicket: len(train), Calibration: cal}
	for _, e := range test {
		if !e.Time.Before(testFrom) {
			rep.TestTickets++
		}
	}
	// Scenarios are independent: each runs on its own goroutine.
	srs := make([]ScenarioReport, len(cfg.Scenarios))
	errs := make([]error, len(cfg.Scenarios))
	var wg sync.WaitGroup
	for si, sc := range cfg.Scenarios {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srs[si], errs[si] = runScenario(ctx, cfg, si, sc, test, base, cal, matchTh, matchFA,
				fixedTh, fixedFA, c2Th, c2FA, trainEnd, testFrom, testTo, say)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return Report{}, err
		}
	}
	rep.Scenarios = srs
	rep.Elapsed = time.Since(began)
	return rep, nil
}

// thresholdAt is the scan's threshold for fa false alerts a week on the
// calibration weeks: read off cal's top peaks when it is among them, else
// from a calibration of its own.
func thresholdAt(ctx context.Context, cal scan.Calibration, fa float64, base *scan.Baseline, cfg Config, start time.Time) (float64, error) {
	allowed := int(math.Round(fa * cal.Weeks))
	if allowed < len(cal.Top) {
		return math.Nextafter(cal.Top[allowed], math.Inf(1)), nil
	}
	c, err := scan.Calibrate(ctx, base, cfg.Scan, scan.CalibrateOptions{Weeks: cfg.CalibrateWeeks,
		FalseAlarmsPerWeek: fa, Step: cfg.Step, Seed: uint64(cfg.Seed), Start: start})
	return c.Threshold, err
}

// runScenario replays every method on one scenario's test weeks.
func runScenario(ctx context.Context, cfg Config, si int, sc Scenario, test []scan.Event, base *scan.Baseline,
	cal scan.Calibration, matchTh, matchFA, fixedTh, fixedFA, c2Th, c2FA float64,
	trainEnd, testFrom, testTo time.Time, say func(string, ...any)) (ScenarioReport, error) {
	newFixed := func() Method { return &FixedCount{Window: 30 * time.Minute} }
	newC2 := func() Method { return &EARSC2{Window: 30 * time.Minute} }
	evs, injs := Inject(test, sc, testFrom, testTo, uint64(cfg.Seed)+uint64(si)*7919)
	sr := ScenarioReport{Scenario: sc}
	scanDet, err := scan.NewDetector(withThreshold(cfg.Scan, cal.Threshold), base)
	if err != nil {
		return ScenarioReport{}, err
	}
	fixed, c2 := newFixed(), newC2()
	fixed.SetThreshold(fixedTh)
	c2.SetThreshold(c2Th)
	type run struct {
		m     Method
		name  string
		th    float64
		calFA float64
	}
	runs := []run{{ScanMethod{scanDet}, "", cal.Threshold, calFA(cal)}, {fixed, "", fixedTh, fixedFA}, {c2, "", c2Th, c2FA}}
	if !math.IsNaN(matchTh) {
		d, err := scan.NewDetector(withThreshold(cfg.Scan, matchTh), base)
		if err != nil {
			return ScenarioReport{}, err
		}
		runs = append(runs, run{ScanMethod{d}, ScanMethod{}.Name() + ", matched to the baselines' calibrated rate", matchTh, matchFA})
	}
	for _, m := range runs {
		if err := ctx.Err(); err != nil {
			return ScenarioReport{}, err
		}
		dets, starts := replay(m.m, evs, trainEnd, testFrom, testTo, cfg.Step)
		var falseLog io.Writer
		if si == 0 && m.name == "" {
			falseLog = cfg.Progress
		}
		r := score(dets, starts, injs, testTo.Sub(testFrom), falseLog)
		r.Method, r.Threshold, r.CalibrationFAPW = m.m.Name(), m.th, m.calFA
		if m.name != "" {
			r.Method, r.Matched = m.name, true
		}
		sr.Results = append(sr.Results, r)
		say("%s | %s: detection %.2f, false/week %.2f, median TTD %.1f min", sc.Name, r.Method, r.Detection, r.FalsePerWeek, r.MedianTTD)
	}
	if !cfg.NoMatched {
		// The baselines again around the scan's false-alarm rate on
		// these weeks: loosened step by step, the loosest threshold
		// still within it ("matched") and the first past it ("looser"),
		// which brackets what they detect at the scan's rate.
		budget := sr.Results[0].FalsePerWeek
		for _, b := range []struct {
			mk  func() Method
			ths []float64
		}{
			{newFixed, []float64{fixedTh - 1, fixedTh - 2, fixedTh - 3}},
			{newC2, []float64{c2Th * 0.9, c2Th * 0.8, c2Th * 0.7, c2Th * 0.6, c2Th * 0.5}},
		} {
			var within *Result
			for _, th := range b.ths {
				if th < 1 {
					break
				}
				m := b.mk()
				m.SetThreshold(th)
				dets, starts := replay(m, evs, trainEnd, testFrom, testTo, cfg.Step)
				r := score(dets, starts, injs, testTo.Sub(testFrom), nil)
				r.Threshold, r.Matched, r.CalibrationFAPW = th, true, math.NaN()
				if r.FalsePerWeek <= budget {
					r.Method = m.Name() + " (matched)"
					within = &r
					continue
				}
				if within != nil {
					sr.Results = append(sr.Results, *within)
				}
				r.Method = m.Name() + " (looser)"
				sr.Results = append(sr.Results, r)
				say("%s | %s at %.2f: detection %.2f, false/week %.2f", sc.Name, r.Method, th, r.Detection, r.FalsePerWeek)
				within = nil
				break
			}
			if within != nil {
				sr.Results = append(sr.Results, *within)
			}
		}
	}
	return sr, nil
}

func calFA(c scan.Calibration) float64 {
	n := 0
	for _, p := range c.Top {
		if p >= c.Threshold {
			n++
		}
	}
	return float64(n) / c.Weeks
}

func withThreshold(o scan.Options, th float64) scan.Options {
	o.Threshold = th
	return o
}

func roundAll(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(x*100) / 100
	}
	return out
}

type detection struct {
	at time.Time
	c  scan.Cluster
}

// replay feeds evs to m in time order from `from` (earlier ones warm it
// up), scanning every step over [scanFrom, to).
func replay(m Method, evs []scan.Event, from, scanFrom, to time.Time, step time.Duration) (dets, starts []detection) {
	tr := &scan.Tracker{}
	k := 0
	for k < len(evs) && evs[k].Time.Before(scanFrom.Add(-6*time.Hour)) {
		k++
	}
	for t := scanFrom; t.Before(to); t = t.Add(step) {
		for k < len(evs) && !evs[k].Time.After(t) {
			m.Add(evs[k])
			k++
		}
		cs := m.Scan(t)
		for _, c := range cs {
			dets = append(dets, detection{t, c})
		}
		s, _, _ := tr.Update(t, cs)
		for _, st := range s {
			starts = append(starts, detection{t, st.Cluster})
		}
	}
	return dets, starts
}

// calibrateMethod sets a baseline method's threshold on the simulated
// background, as Calibrate does for the scan: just above the peak of the
// (target × weeks + 1)-th highest episode. Integer thresholds (counts)
// round up.
func calibrateMethod(ctx context.Context, mk func() Method, evs []scan.Event, from, to time.Time, cfg Config, integer bool) (float64, float64) {
	m := mk()
	floor := 1.0
	if integer {
		floor = 2
	}
	m.SetThreshold(floor)
	tr := &scan.Tracker{}
	var peaks []float64
	idx := map[string]int{}
	k := 0
	for t := from.Add(cfg.Step); !t.After(to); t = t.Add(cfg.Step) {
		if ctx.Err() != nil {
			break
		}
		for k < len(evs) && !evs[k].Time.After(t) {
			m.Add(evs[k])
			k++
		}
		s, u, _ := tr.Update(t, m.Scan(t))
		for _, x := range append(s, u...) {
			id := x.Fingerprint + x.First.String()
			if i, ok := idx[id]; ok {
				peaks[i] = max(peaks[i], x.Peak)
			} else {
				idx[id] = len(peaks)
				peaks = append(peaks, x.Peak)
			}
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(peaks)))
	weeks := to.Sub(from).Hours() / 168
	allowed := int(math.Floor(cfg.FalseAlarmsPerWeek * weeks))
	th := floor
	if allowed < len(peaks) {
		th = peaks[allowed]
		if integer {
			th = math.Floor(th) + 1
		} else {
			th = math.Nextafter(th, math.Inf(1))
		}
	}
	n := 0
	for _, p := range peaks {
		if p >= th {
			n++
		}
	}
	return th, float64(n) / weeks
}

// matches reports whether a detection at `at` of c is about injection in.
func matches(at time.Time, c scan.Cluster, in Injection, after time.Duration) bool {
	if c.Category != "" && c.Category != in.Category {
		return false
	}
	if at.Before(in.Start()) || at.After(in.End().Add(after)) {
		return false
	}
	for _, cell := range c.Cells {
		if slices.Contains(in.near, cell) {
			return true
		}
	}
	return false
}

func score(dets, starts []detection, injs []Injection, span time.Duration, falseLog io.Writer) Result {
	r := Result{Injected: len(injs), MedianTTD: math.NaN(), MedianErrorM: math.NaN()}
	var ttd, errs []float64
	var recall, precision float64
	for _, in := range injs {
		for _, d := range dets {
			if !matches(d.at, d.c, in, 30*time.Minute) {
				continue
			}
			r.Detected++
			ttd = append(ttd, d.at.Sub(in.Fifth()).Minutes())
			errs = append(errs, distM(d.c.Lat, d.c.Lng, in.Lat, in.Lng))
			hit := 0
			for _, c := range d.c.Cells {
				if slices.Contains(in.Cells, c) {
					hit++
				}
			}
			recall += float64(hit) / float64(len(in.Cells))
			precision += float64(hit) / float64(len(d.c.Cells))
			break
		}
	}
	false_ := 0
	for _, s := range starts {
		ok := false
		for _, in := range injs {
			if matches(s.at, s.c, in, time.Hour) {
				ok = true
				break
			}
		}
		if !ok {
			false_++
			if falseLog != nil {
				fmt.Fprintf(falseLog, "  false alert %s: category %q, %d in %s (expected %.2f, score %.2f), %s of %d cells\n",
					s.at.Format("Mon 15:04"), s.c.Category, s.c.Count, s.c.Window, s.c.Expected, s.c.Score, s.c.Shape, len(s.c.Cells))
			}
		}
	}
	if r.Injected > 0 {
		r.Detection = float64(r.Detected) / float64(r.Injected)
	}
	r.FalsePerWeek = float64(false_) / (span.Hours() / 168)
	if len(ttd) > 0 {
		r.MedianTTD = median(ttd)
		r.MedianErrorM = median(errs)
		r.CellRecall = recall / float64(r.Detected)
		r.CellPrecision = precision / float64(r.Detected)
	}
	return r
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func distM(lat1, lng1, lat2, lng2 float64) float64 {
	return h3.GreatCircleDistanceM(h3.LatLng{Lat: lat1, Lng: lng1}, h3.LatLng{Lat: lat2, Lng: lng2})
}

// Write prints the report as Markdown tables.
func (r Report) Write(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Background: the demo city at %.0f tickets/day; baseline learnt from %.1f weeks (%d tickets); "+
		"thresholds calibrated on %.1f simulated weeks for %.2f false alerts/week; tested on %.1f weeks (%d tickets), "+
		"scanned every %s; seed %d; %s.\n\n",
		c.PerDay, c.TrainWeeks, r.TrainTicket, c.CalibrateWeeks, c.FalseAlarmsPerWeek, c.TestWeeks, r.TestTickets, c.Step, c.Seed, r.Elapsed.Round(time.Second))
	for _, s := range r.Scenarios {
		fmt.Fprintf(w, "**%s** (%d injected)\n\n", s.Scenario.Name, s.Results[0].Injected)
		fmt.Fprintln(w, "| method | threshold | detection | false alerts/week (test) | false alerts/week (calibration) | median min after 5th report | median centroid error | cell recall | cell precision |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
		for _, x := range s.Results {
			fmt.Fprintf(w, "| %s | %.2f | %.1f%% (%d/%d) | %.2f | %s | %s | %s | %.2f | %.2f |\n",
				x.Method, x.Threshold, 100*x.Detection, x.Detected, x.Injected, x.FalsePerWeek, fmtNaN(x.CalibrationFAPW, "%.2f"),
				fmtNaN(x.MedianTTD, "%.1f"), fmtNaN(x.MedianErrorM, "%.0f m"), x.CellRecall, x.CellPrecision)
		}
		fmt.Fprintln(w)
	}
}

func fmtNaN(v float64, f string) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strings.TrimSpace(fmt.Sprintf(f, v))
}

// lockedWriter serialises writes from goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
