package eval

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts/phrase"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/surge"
	"github.com/citywall/citywall/geo/ticket"
)

// HotConfig is one evaluation of the hot-issue detectors (packages surge
// and phrase) on the demo city's background with hot issues injected.
type HotConfig struct {
	PerDay             float64       // background tickets a day (default 2000)
	TrainWeeks         float64       // history learnt (default 4)
	CalibrateWeeks     float64       // simulated weeks for the thresholds (default 4)
	TestWeeks          float64       // weeks events are injected into (default 6)
	FalseAlarmsPerWeek float64       // hot-issue budget, all kinds (default 0.5; the cluster scan's comes on top)
	PerWeek            int           // events of each scenario injected a week (default 3)
	Step               time.Duration // scan interval (default 5m)
	Seed               int64
	Location           *time.Location // default Asia/Shanghai
	Progress           io.Writer
	// Trace, when set, gets one line per false alert of the hot-issue
	// detectors (what raised it: scale, key, window, count, expected,
	// score) and per event found or missed (its size and, for surges and
	// rises, the score a test knowing its key and span would give it).
	Trace io.Writer
	// ClusterFalseAlarmsPerWeek is the cluster scan's budget (default
	// 0.25, the server's alerts.false_alarms_per_week; negative: the scan
	// is not run). The scan runs beside the hot-issue detectors on the same
	// tickets, as it does in the server, so that the false alerts of all
	// kinds together are counted on the same weeks.
	ClusterFalseAlarmsPerWeek float64
	ClusterStep               time.Duration // the cluster scan's interval (default 1m)
}

func (c HotConfig) withDefaults() HotConfig {
	if c.PerDay <= 0 {
		c.PerDay = 2000
	}
	if c.TrainWeeks <= 0 {
		c.TrainWeeks = 4
	}
	if c.CalibrateWeeks <= 0 {
		c.CalibrateWeeks = 4
	}
	if c.TestWeeks <= 0 {
		c.TestWeeks = 6
	}
	if c.FalseAlarmsPerWeek <= 0 {
		c.FalseAlarmsPerWeek = 0.5
	}
	if c.PerWeek <= 0 {
		c.PerWeek = 3
	}
	if c.ClusterFalseAlarmsPerWeek == 0 {
		c.ClusterFalseAlarmsPerWeek = 0.25
	}
	if c.ClusterStep <= 0 {
		c.ClusterStep = time.Minute
	}
	if c.Step <= 0 {
		c.Step = 5 * time.Minute
	}
	if c.Location == nil {
		c.Location, _ = time.LoadLocation("Asia/Shanghai")
		if c.Location == nil {
			c.Location = time.FixedZone("CST", 8*3600)
		}
	}
	return c
}

// HotResult is one method on one scenario.
type HotResult struct {
	Scenario     string  `json:"scenario"`
	Method       string  `json:"method"`
	Injected     int     `json:"injected"`
	Detected     int     `json:"detected"`
	Detection    float64 `json:"detection_probability"`
	Within30     float64 `json:"within_30_min"` // phrases: share found within 30 min of the 20th report
	FalsePerWeek float64 `json:"false_alerts_per_week"`
	MedianMin    float64 `json:"median_minutes"` // after the event's start (phrases: its 20th report)
	MedianSize   int     `json:"median_tickets_injected"`
	// Visible is how many events a test that knew the event's key and
	// span, seeing exactly its expected count plus the injected tickets,
	// would score at the scenario's threshold or above (district surges:
	// the window threshold; slow rises: the week threshold); VisibleFound
	// is how many of those were found. Both are zero for the scenarios
	// without such a score.
	Visible      int `json:"visible,omitempty"`
	VisibleFound int `json:"visible_found,omitempty"`
}

// HotReport is a whole evaluation.
type HotReport struct {
	Config       HotConfig          `json:"-"`
	Surge        surge.Calibration  `json:"surge_calibration"`
	Cluster      *scan.Calibration  `json:"cluster_calibration,omitempty"` // nil: the cluster scan was not run
	Phrase       phrase.Calibration `json:"phrase_calibration"`
	FlatPerWeek  map[string]float64 `json:"flat_false_alerts_per_week"` // by kind, no events injected
	C2Threshold  float64            `json:"ears_c2_threshold"`
	Results      []HotResult        `json:"results"`
	Limit        *HotLimit          `json:"limit,omitempty"`
	TrainTickets int                `json:"train_tickets"`
	TestTickets  int                `json:"test_tickets"`
	Elapsed      time.Duration      `json:"elapsed_ns"`
}

// HotLimit is what 90 % detection of the district surges and of the slow
// rises would take: the window and week thresholds that 90 % of their
// ideal scores (HotResult.Visible) reach, and the false alerts a week the
// flat weeks raise with each lowered to it (the other left calibrated).
type HotLimit struct {
	Window        float64 `json:"window_threshold"`
	WindowPerWeek float64 `json:"window_false_alerts_per_week"`
	Week          float64 `json:"week_threshold"`
	WeekPerWeek   float64 `json:"week_false_alerts_per_week"`
}

// hotEvent is one injected event: the truth alerts are matched against.
type hotEvent struct {
	scenario   string
	start, end time.Time
	twentieth  time.Time // phrases
	category   string
	sub        string // the surge's and the rise's subcategory
	districts  []string
	phrase     string
	ids        map[string]bool
	week       bool
	ideal      float64 // the score at the event's expected size (see HotResult.Visible); 0: none
	debug      string
}

// hotAlert is one alert raised in a replay.
type hotAlert struct {
	kind     string
	at       time.Time
	category string
	sub      string // empty: the whole category (or no subcategory named)
	district string // empty: the city
	phrase   string
	tickets  []string
	desc     string // what raised it, for HOTDEBUG
}

// HotScenarios names the scenarios, in report order.
var HotScenarios = []string{
	"district surge: +50..200% of one subcategory in one district over 1-6 h (keys expecting ≥ 10 in the span)",
	"city-wide outage: 100-300 reports of 停水水压 in 2 h across three districts",
	"emerging phrase: 20-60 summaries with new words over 2 h, mixed categories",
	"slow rise: one grid's subcategory +40% over a week (keys with ≥ 15 that week)",
}

// A rise of a share of a count is an event only where the count is a
// number of tickets: +50 % of a district × subcategory expecting 2 tickets
// in the span is one ticket, which no centre would call a surge and no test
// can tell from chance. The surged district × subcategory is drawn among
// those expecting at least minSurgeExpected tickets in the span, and the
// grid × subcategory that rises over a week among those with at least
// minRiseWeek tickets in that week; both in proportion to their traffic
// (a busy key is where a surge is more likely to happen and to matter).
const (
	minSurgeExpected = 10 // +50 % is 5 tickets or more, +200 % 20
	minRiseWeek      = 15 // +40 % is 6 tickets or more
)

type districtKey struct{ district, category, subcategory string }

// districtKeys lists the district × subcategory keys of the tickets, sorted.
func districtKeys(ts []ticket.Ticket) []districtKey {
	seen := map[districtKey]bool{}
	for _, t := range ts {
		seen[districtKey{t.District, t.Category, t.Subcategory}] = true
	}
	out := slices.Collect(maps.Keys(seen))
	slices.SortFunc(out, func(a, b districtKey) int {
		return strings.Compare(a.district+"|"+a.category+"|"+a.subcategory, b.district+"|"+b.category+"|"+b.subcategory)
	})
	return out
}

// pickSurgeKey draws a span of 1-6 h in the slot and a district ×
// subcategory expecting at least minSurgeExpected tickets in it, in
// proportion to its expected count. When no key qualifies (a short span at
// night) the start and span are drawn again.
func pickSurgeKey(rng *rand.Rand, sd *surge.Detector, keys []districtKey, slotStart time.Time, slot time.Duration) (time.Time, time.Duration, districtKey, float64, bool) {
	for range 200 {
		span := time.Hour + time.Duration(rng.Float64()*float64(5*time.Hour))
		start := slotStart.Add(time.Duration(rng.Float64() * float64(slot-span-2*time.Hour)))
		var cand []districtKey
		var ws []float64
		var sum float64
		for _, k := range keys {
			e := sd.Expected(surge.Region{Scale: surge.ScaleDistrict, Name: k.district}, k.category, k.subcategory, start, start.Add(span))
			if e >= minSurgeExpected {
				cand, ws, sum = append(cand, k), append(ws, e), sum+e
			}
		}
		if len(cand) == 0 {
			continue
		}
		u := rng.Float64() * sum
		for i, w := range ws {
			if u < w || i == len(ws)-1 {
				return start, span, cand[i], w, true
			}
			u -= w
		}
	}
	return time.Time{}, 0, districtKey{}, 0, false
}

// pickRiseKey draws a grid × subcategory with at least minRiseWeek tickets
// in [start, end) of bg, in proportion to that count, and returns those
// tickets (the places the rise's tickets are copied from).
func pickRiseKey(rng *rand.Rand, bg []ticket.Ticket, start, end time.Time) ([]ticket.Ticket, bool) {
	by := map[[3]string][]ticket.Ticket{}
	for _, t := range bg {
		if t.Grid != "" && t.Subcategory != "" && !t.Created.Before(start) && t.Created.Before(end) {
			k := [3]string{t.Grid, t.Category, t.Subcategory}
			by[k] = append(by[k], t)
		}
	}
	var cand [][3]string
	total := 0
	for k, ts := range by {
		if len(ts) >= minRiseWeek {
			cand = append(cand, k)
			total += len(ts)
		}
	}
	if len(cand) == 0 {
		return nil, false
	}
	slices.SortFunc(cand, func(a, b [3]string) int { return strings.Compare(a[0]+a[1]+a[2], b[0]+b[1]+b[2]) })
	u := rng.IntN(total)
	for _, k := range cand {
		if u -= len(by[k]); u < 0 {
			return by[k], true
		}
	}
	return by[cand[len(cand)-1]], true
}

// tracer writes the trace lines of a run (HotConfig.Trace); nil writes
// nothing. The scenarios are scored at once, so the lines are locked.
type tracer struct {
	mu sync.Mutex
	w  io.Writer
}

func (t *tracer) printf(format string, args ...any) {
	if t == nil || t.w == nil {
		return
	}
	t.mu.Lock()
	fmt.Fprintf(t.w, format, args...)
	t.mu.Unlock()
}

var newPhrases = []string{"燃气异味", "冒充客服退款诈骗", "公交线路改线", "电动车充电起火", "自来水发黄浑浊", "地铁施工震动"}

// RunHot performs the hot-issue evaluation.
func RunHot(ctx context.Context, cfg HotConfig) (HotReport, error) {
	cfg = cfg.withDefaults()
	tr := &tracer{w: cfg.Trace}
	began := time.Now()
	say := func(format string, args ...any) {
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, format+"\n", args...)
		}
	}
	trainEnd := time.Date(2026, 11, 2, 0, 0, 0, 0, cfg.Location)
	say("training: %.0f weeks of the demo city at %.0f tickets/day", cfg.TrainWeeks, cfg.PerDay)
	train, err := BackgroundTickets(ctx, cfg.PerDay, time.Duration(cfg.TrainWeeks*float64(scan.Week)), trainEnd, cfg.Seed, 0)
	if err != nil {
		return HotReport{}, err
	}
	base := scan.NewBaseline(scan.BaselineOptions{Res: 8, Location: cfg.Location})
	for _, t := range train {
		if c := surge.CellOf(t.Lat, t.Lng, 8); c != 0 {
			_ = base.Observe(c, t.Category, t.Created)
		}
	}
	places := []string{}
	for _, t := range train {
		if t.District != "" && !slices.Contains(places, t.District) {
			places = append(places, t.District)
		}
	}
	newDets := func() (*surge.Detector, *phrase.Detector) {
		sd, _ := surge.NewDetector(surge.Options{}, base)
		pd, _ := phrase.NewDetector(phrase.Options{}, phrase.NewExtractor(places), cfg.Location)
		for _, t := range train {
			sd.Learn(hotSurgeEvent(t))
			pd.Learn(hotDoc(t))
		}
		_ = sd.Refresh(ctx)
		return sd, pd
	}
	sd, pd := newDets()
	say("calibrating: %.0f simulated weeks, %.2f false alerts/week for all hot-issue kinds", cfg.CalibrateWeeks, cfg.FalseAlarmsPerWeek)
	scal, err := surge.Calibrate(ctx, sd, surge.CalibrateOptions{Weeks: cfg.CalibrateWeeks, FalseAlarmsPerWeek: cfg.FalseAlarmsPerWeek * 3 / 4,
		Step: cfg.Step, Seed: uint64(cfg.Seed), Start: trainEnd})
	if err != nil {
		return HotReport{}, err
	}
	pcal, err := phrase.Calibrate(ctx, pd, phrase.CalibrateOptions{Weeks: min(cfg.CalibrateWeeks, 2), FalseAlarmsPerWeek: cfg.FalseAlarmsPerWeek / 4,
		Step: cfg.Step, Seed: uint64(cfg.Seed), Start: trainEnd})
	if err != nil {
		return HotReport{}, err
	}
	say("thresholds: window %.2f (top %.1f), week %.2f (top %.1f), phrase %.2f", scal.Threshold, scal.Top, scal.WeekThreshold, scal.WeekTop, pcal.Threshold)
	var ccal *scan.Calibration
	if cfg.ClusterFalseAlarmsPerWeek > 0 {
		say("calibrating the cluster scan: %.0f simulated weeks, %.2f false alerts/week", cfg.CalibrateWeeks, cfg.ClusterFalseAlarmsPerWeek)
		c, err := scan.Calibrate(ctx, base, scan.Options{}, scan.CalibrateOptions{Weeks: cfg.CalibrateWeeks,
			FalseAlarmsPerWeek: cfg.ClusterFalseAlarmsPerWeek, Step: cfg.ClusterStep, Seed: uint64(cfg.Seed), Start: trainEnd})
		if err != nil {
			return HotReport{}, err
		}
		ccal = &c
		say("cluster scan threshold %.2f (top %.1f)", c.Threshold, c.Top)
	}

	testFrom := trainEnd.Add(24 * time.Hour)
	testTo := testFrom.Add(time.Duration(cfg.TestWeeks * float64(scan.Week)))
	test, err := BackgroundTickets(ctx, cfg.PerDay, testTo.Sub(trainEnd), testTo, cfg.Seed+1, -1)
	if err != nil {
		return HotReport{}, err
	}
	rep := HotReport{Config: cfg, Surge: scal, Cluster: ccal, Phrase: pcal, TrainTickets: len(train), TestTickets: len(test), FlatPerWeek: map[string]float64{}}
	weeks := testTo.Sub(testFrom).Hours() / 168

	// replayAt replays a stream at the given window and week thresholds,
	// with the cluster scan when cluster is set; replay at the calibrated
	// ones.
	replayAt := func(stream []ticket.Ticket, window, week float64, cluster bool) (ours []hotAlert, c2 []scan.Hit, top3 []hotAlert) {
		s, p := newDets()
		s.SetThresholds(window, week)
		p.SetThreshold(pcal.Threshold)
		var cl *scan.Detector
		if ccal != nil && cluster {
			// Local: replays run on the scenarios' goroutines at once.
			d, derr := scan.NewDetector(scan.Options{Threshold: ccal.Threshold}, base)
			if derr != nil {
				panic(derr) // default options with a calibrated threshold
			}
			cl = d
		}
		return replayHot(s, p, cl, stream, trainEnd, testFrom, testTo, cfg.Step, cfg.ClusterStep, train)
	}
	replay := func(stream []ticket.Ticket) (ours []hotAlert, c2 []scan.Hit, top3 []hotAlert) {
		return replayAt(stream, scal.Threshold, scal.WeekThreshold, true)
	}
	say("flat test weeks: %.0f", weeks)
	flat, flatC2, flatTop := replay(test)
	for _, a := range flat {
		rep.FlatPerWeek[a.kind] += 1 / weeks
		tr.printf("FLAT %s %s %s\n", a.at.Format("01-02 15:04 Mon"), a.kind, a.desc)
	}
	rep.FlatPerWeek["top-3 hot topics"] = float64(len(flatTop)) / weeks
	ourFA := float64(len(flat)) / weeks
	rep.C2Threshold, _ = scan.ThresholdFor(flatC2, 2*time.Hour, math.Max(ourFA, cfg.FalseAlarmsPerWeek)*weeks, 2)
	say("flat: %d alerts (%.2f a week); EARS C2 threshold %.2f at that rate", len(flat), ourFA, rep.C2Threshold)

	ourName := "hot-issue detectors (surge, week, phrase)"
	if ccal != nil {
		ourName = "hot-issue detectors and cluster scan"
	}
	results := make([][]HotResult, len(HotScenarios))
	ideals := make([][]float64, len(HotScenarios))
	var wg sync.WaitGroup
	for si := range HotScenarios {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cfg.Seed)+uint64(si)*7919, 0x407))
			extra, evs := injectHot(si, rng, test, sd, testFrom, testTo, cfg.PerWeek)
			for _, e := range evs {
				if e.ideal > 0 {
					ideals[si] = append(ideals[si], e.ideal)
				}
			}
			stream := append(slices.Clone(test), extra...)
			sort.SliceStable(stream, func(i, j int) bool { return stream[i].Created.Before(stream[j].Created) })
			ours, c2hits, top := replay(stream)
			c2 := c2Alerts(c2hits, rep.C2Threshold)
			for _, m := range []struct {
				name   string
				alerts []hotAlert
			}{{ourName, ours}, {"EARS C2 per district x subcategory", c2}, {"category enters the top three hot topics", top}} {
				var t *tracer
				if strings.HasPrefix(m.name, "hot") {
					t = tr
				}
				bar := 0.0
				switch si {
				case 0:
					bar = scal.Threshold
				case 3:
					bar = scal.WeekThreshold
				}
				r := scoreHot(HotScenarios[si], m.name, m.alerts, evs, weeks, bar, t)
				results[si] = append(results[si], r)
				say("%s | %s: detection %.2f, false/week %.2f", r.Scenario, r.Method, r.Detection, r.FalsePerWeek)
			}
		})
	}
	wg.Wait()
	for _, r := range results {
		rep.Results = append(rep.Results, r...)
	}
	// What 90 % would take: the threshold the ideal scores of 90 % of the
	// district surges (and of the slow rises) reach, and the false alerts
	// the flat weeks raise at it, each test lowered on its own.
	if w, k := reach(ideals[0], 0.9), reach(ideals[3], 0.9); w > 0 && k > 0 {
		say("what 90%% would take: window %.2f, week %.2f; replaying the flat weeks at each", w, k)
		lim := HotLimit{Window: w, Week: k}
		ws, _, _ := replayAt(test, w, scal.WeekThreshold, false)
		ks, _, _ := replayAt(test, scal.Threshold, k, false)
		for _, a := range ws {
			if a.kind == surge.KindSurge {
				lim.WindowPerWeek += 1 / weeks
			}
		}
		for _, a := range ks {
			if a.kind == surge.KindWeek {
				lim.WeekPerWeek += 1 / weeks
			}
		}
		rep.Limit = &lim
	}
	rep.Elapsed = time.Since(began)
	return rep, nil
}

// reach is the highest threshold that at least share of the scores reach
// (0 for none).
func reach(scores []float64, share float64) float64 {
	if len(scores) == 0 {
		return 0
	}
	xs := slices.Sorted(slices.Values(scores))
	need := int(math.Ceil(share * float64(len(xs))))
	return xs[len(xs)-need]
}

func hotSurgeEvent(t ticket.Ticket) surge.Event {
	return surge.Event{ID: t.ID, Cell: surge.CellOf(t.Lat, t.Lng, 8), Category: t.Category, Subcategory: t.Subcategory,
		District: t.District, Grid: t.Grid, Time: t.Created}
}

func hotDoc(t ticket.Ticket) phrase.Doc {
	return phrase.Doc{ID: t.ID, Category: t.Category, District: t.District, Grid: t.Grid, Summary: t.Summary, Time: t.Created}
}

// replayHot feeds the stream from trainEnd, scans every step and returns
// the alerts started in [testFrom, testTo): the hot-issue detectors' and
// the cluster scan's (cl, every cstep; nil: not run), the EARS C2
// statistics (per district × subcategory, as hits to be thresholded) and
// the top-three baseline's.
func replayHot(sd *surge.Detector, pd *phrase.Detector, cl *scan.Detector, stream []ticket.Ticket, trainEnd, testFrom, testTo time.Time,
	step, cstep time.Duration, train []ticket.Ticket) (ours []hotAlert, c2 []scan.Hit, top []hotAlert) {
	short := &surge.Tracker{Related: sd.Related}
	week := &surge.Tracker{Quiet: 48 * time.Hour, Related: sd.Related}
	words := &phrase.Tracker{}
	ears := newC2()
	for _, t := range train {
		ears.add(t)
	}
	hot := &topThree{}
	clusters := &scan.Tracker{}
	district := map[string]string{} // ticket id → district, for the cluster scan's alerts
	if cl == nil || step%cstep != 0 {
		cstep = step
	}
	k := 0
	for now := trainEnd.Add(cstep); now.Before(testTo); now = now.Add(cstep) {
		for k < len(stream) && !stream[k].Created.After(now) {
			t := stream[k]
			sd.Add(hotSurgeEvent(t))
			pd.Add(hotDoc(t))
			ears.add(t)
			hot.add(t)
			if cl != nil {
				district[t.ID] = t.District
				_ = cl.Add(scan.Event{ID: t.ID, Cell: surge.CellOf(t.Lat, t.Lng, 8), Category: t.Category, Time: t.Created, Lat: t.Lat, Lng: t.Lng})
			}
			k++
		}
		if cl != nil {
			started, _, _ := clusters.Update(now, cl.Scan(now))
			for _, tr := range started {
				if now.Before(testFrom) {
					continue
				}
				c := tr.Cluster
				votes := map[string]int{}
				for _, id := range c.Tickets {
					votes[district[id]]++
				}
				ours = append(ours, hotAlert{kind: "cluster", at: now, category: c.Category, district: most(votes), tickets: c.Tickets,
					desc: fmt.Sprintf("cluster %s %d cells win %s c %d exp %.1f score %.2f", c.Category, len(c.Cells), c.Window, c.Count, c.Expected, c.Score)})
			}
		}
		if now.Sub(trainEnd)%step != 0 {
			continue
		}
		s1, _, _ := short.Update(now, sd.Scan(now))
		s2, _, _ := week.Update(now, sd.Week(now))
		s3, _, _ := words.Update(now, pd.Scan(now))
		hits := ears.scan(now)
		entered := hot.scan(now)
		if now.Before(testFrom) {
			continue
		}
		for _, e := range append(s1, s2...) {
			b := e.Best
			a := hotAlert{kind: e.Kind, at: now, category: e.Category, sub: b.Subcategory, tickets: b.Tickets,
				desc: fmt.Sprintf("%s %s:%s %s/%s win %s c %d exp %.1f score %.2f", b.Kind, b.Region.Scale, b.Region.Name, b.Category, b.Subcategory, b.Window, b.Count, b.Expected, b.Score)}
			switch e.Best.Region.Scale {
			case surge.ScaleDistrict:
				a.district = e.Best.Region.Name
			case surge.ScaleGrid:
				a.district = sd.DistrictOf(e.Best.Region.Name)
			}
			ours = append(ours, a)
		}
		for _, e := range s3 {
			ours = append(ours, hotAlert{kind: "phrase", at: now, phrase: e.Best.Phrase, tickets: e.Best.Tickets, desc: "phrase " + e.Best.Phrase})
		}
		c2 = append(c2, hits...)
		for _, c := range entered {
			top = append(top, hotAlert{kind: "top3", at: now, category: c})
		}
	}
	return ours, c2, top
}

// most is the key with the highest count, the first in order on a tie;
// empty keys do not count.
func most(votes map[string]int) string {
	best, n := "", 0
	for _, k := range slices.Sorted(maps.Keys(votes)) {
		if k != "" && votes[k] > n {
			best, n = k, votes[k]
		}
	}
	return best
}

// c2 is EARS C2 per district × subcategory on rolling 24-hour counts: the
// last 24 hours against the same 24 hours of the seven days before a
// two-day guard, (x − μ) / max(σ, 0.5), scored when a ticket arrives.
type c2 struct {
	times map[[2]string][]time.Time
	dirty map[[2]string]bool
}

func newC2() *c2 { return &c2{times: map[[2]string][]time.Time{}, dirty: map[[2]string]bool{}} }

func (e *c2) add(t ticket.Ticket) {
	k := [2]string{t.District, t.Category + "/" + t.Subcategory}
	e.times[k] = append(e.times[k], t.Created)
	e.dirty[k] = true
}

func (e *c2) scan(now time.Time) []scan.Hit {
	var out []scan.Hit
	for k := range e.dirty {
		ts := e.times[k]
		i := sort.Search(len(ts), func(i int) bool { return ts[i].After(now.Add(-10 * 24 * time.Hour)) })
		ts = ts[i:]
		e.times[k] = ts
		count := func(from, to time.Time) float64 {
			lo := sort.Search(len(ts), func(i int) bool { return ts[i].After(from) })
			hi := sort.Search(len(ts), func(i int) bool { return ts[i].After(to) })
			return float64(hi - lo)
		}
		x := count(now.Add(-24*time.Hour), now)
		if x < 3 {
			continue
		}
		var bins [7]float64
		var mean float64
		for j := range 7 {
			to := now.Add(-time.Duration(j+3) * 24 * time.Hour)
			bins[j] = count(to.Add(-24*time.Hour), to)
			mean += bins[j] / 7
		}
		var v float64
		for _, b := range bins {
			v += (b - mean) * (b - mean)
		}
		sd := max(math.Sqrt(v/6), 0.5)
		out = append(out, scan.Hit{Key: k[0] + "|" + k[1], At: now, Score: (x - mean) / sd})
	}
	clear(e.dirty)
	return out
}

// c2Alerts makes alerts of the hits at or above th: one per district ×
// subcategory until it has been quiet for two hours.
func c2Alerts(hits []scan.Hit, th float64) []hotAlert {
	last := map[string]time.Time{}
	var out []hotAlert
	for _, h := range hits {
		if h.Score < th {
			continue
		}
		if t, ok := last[h.Key]; !ok || h.At.Sub(t) >= 2*time.Hour {
			dist, sub, _ := strings.Cut(h.Key, "|")
			cat, sc, _ := strings.Cut(sub, "/")
			out = append(out, hotAlert{kind: "c2", at: h.At, category: cat, sub: sc, district: dist})
		}
		last[h.Key] = h.At
	}
	return out
}

// topThree alerts when a category enters the three with most tickets in
// the last hour, as the hot-topics widget ranks them.
type topThree struct {
	times []ticket.Ticket
	prev  []string
}

func (h *topThree) add(t ticket.Ticket) { h.times = append(h.times, t) }

func (h *topThree) scan(now time.Time) []string {
	i := sort.Search(len(h.times), func(i int) bool { return h.times[i].Created.After(now.Add(-time.Hour)) })
	h.times = h.times[i:]
	n := map[string]int{}
	for _, t := range h.times {
		n[t.Category]++
	}
	cats := make([]string, 0, len(n))
	for c := range n {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		if n[cats[i]] != n[cats[j]] {
			return n[cats[i]] > n[cats[j]]
		}
		return cats[i] < cats[j]
	})
	cats = cats[:min(3, len(cats))]
	var entered []string
	if h.prev != nil {
		for _, c := range cats {
			if !slices.Contains(h.prev, c) {
				entered = append(entered, c)
			}
		}
	}
	h.prev = cats
	return entered
}

// injectHot draws the events of scenario si, PerWeek a week at times that
// do not overlap, and returns their tickets and truth.
func injectHot(si int, rng *rand.Rand, bg []ticket.Ticket, sd *surge.Detector, from, to time.Time, perWeek int) ([]ticket.Ticket, []hotEvent) {
	var pool []ticket.Ticket
	for _, t := range bg {
		if !t.Created.Before(from) && t.Created.Before(to) && t.District != "" && t.Subcategory != "" {
			pool = append(pool, t)
		}
	}
	weeks := int(to.Sub(from).Hours() / 168)
	n := weeks * perWeek
	slot := to.Sub(from) / time.Duration(n)
	var extra []ticket.Ticket
	var evs []hotEvent
	seq := 0
	mk := func(ref ticket.Ticket, cat, sub, summary string, at time.Time) ticket.Ticket {
		seq++
		t := ref
		t.ID = fmt.Sprintf("hot%d-%d", si, seq)
		t.Category, t.Subcategory, t.Created = cat, sub, at
		if summary != "" {
			t.Summary = summary
		}
		return t
	}
	inDistrict := func(d string) []ticket.Ticket {
		var out []ticket.Ticket
		for _, t := range pool {
			if t.District == d {
				out = append(out, t)
			}
		}
		return out
	}
	keys := districtKeys(pool)
	for k := range n {
		slotStart := from.Add(time.Duration(k) * slot)
		ev := hotEvent{scenario: HotScenarios[si], ids: map[string]bool{}}
		var tickets []ticket.Ticket
		switch si {
		case 0: // district surge
			start, span, key, exp, ok := pickSurgeKey(rng, sd, keys, slotStart, slot)
			if !ok {
				continue
			}
			rise := 0.5 + 1.5*rng.Float64()
			m := max(1, int(math.Round(rise*exp)))
			places := inDistrict(key.district)
			for range m {
				p := places[rng.IntN(len(places))]
				tickets = append(tickets, mk(p, key.category, key.subcategory, "", start.Add(time.Duration(rng.Float64()*float64(span)))))
			}
			ev.start, ev.end, ev.category, ev.sub, ev.districts = start, start.Add(span), key.category, key.subcategory, []string{key.district}
			ev.ideal = scan.Score(int(math.Round(exp))+m, exp)
			ev.debug = fmt.Sprintf("exp %.1f rise %.2f ideal %.2f", exp, rise, ev.ideal)
		case 1: // city-wide outage
			var ds []string
			for _, t := range pool {
				if !slices.Contains(ds, t.District) {
					ds = append(ds, t.District)
				}
			}
			rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
			ds = ds[:min(3, len(ds))]
			start := slotStart.Add(time.Duration(rng.Float64() * float64(slot-4*time.Hour)))
			m := 100 + rng.IntN(201)
			for range m {
				p := inDistrict(ds[rng.IntN(len(ds))])
				ref := p[rng.IntN(len(p))]
				tickets = append(tickets, mk(ref, "供水排水", "停水水压", ref.Grid+"：小区突然停水，水龙头没有水", start.Add(time.Duration(rng.Float64()*float64(2*time.Hour)))))
			}
			ev.start, ev.end, ev.category, ev.districts = start, start.Add(2*time.Hour), "供水排水", ds
		case 2: // emerging phrase
			ph := newPhrases[k%len(newPhrases)]
			start := slotStart.Add(time.Duration(rng.Float64() * float64(slot-4*time.Hour)))
			m := 20 + rng.IntN(41)
			lead := []string{"小区里", "楼道里", "市民称", "附近", "家门口"}
			tail := []string{"，请尽快处理", "，担心安全", "，已经好几次了", "", "，很多人都遇到"}
			for range m {
				ref := pool[rng.IntN(len(pool))]
				tickets = append(tickets, mk(ref, ref.Category, ref.Subcategory, ref.Grid+"："+lead[rng.IntN(len(lead))]+ph+tail[rng.IntN(len(tail))],
					start.Add(time.Duration(rng.Float64()*float64(2*time.Hour)))))
			}
			ev.start, ev.end, ev.phrase = start, start.Add(2*time.Hour), ph
		case 3: // slow rise over a week
			start := slotStart.Truncate(24 * time.Hour)
			end := start.Add(7 * 24 * time.Hour)
			if end.After(to) {
				continue // the week runs past the test weeks
			}
			places, ok := pickRiseKey(rng, bg, start, end)
			if !ok {
				continue
			}
			ref := places[0]
			m := max(1, int(math.Round(0.4*float64(len(places)))))
			for range m {
				p := places[rng.IntN(len(places))]
				tickets = append(tickets, mk(p, ref.Category, ref.Subcategory, "", start.Add(time.Duration(rng.Float64()*float64(7*24*time.Hour)))))
			}
			ev.start, ev.end, ev.category, ev.sub, ev.districts, ev.week = start, end, ref.Category, ref.Subcategory, []string{ref.District}, true
			w := float64(len(places))
			x, n := w+float64(m), 5*w+float64(m)
			ideal := x*math.Log(x/(n*0.2)) + (n-x)*math.Log((n-x)/(n*0.8))
			ev.ideal = ideal
			ev.debug = fmt.Sprintf("grid %s week %d ideal %.2f", ref.Grid, len(places), ideal)
		}
		slices.SortFunc(tickets, func(a, b ticket.Ticket) int { return a.Created.Compare(b.Created) })
		for _, t := range tickets {
			ev.ids[t.ID] = true
		}
		if len(tickets) >= 20 {
			ev.twentieth = tickets[19].Created
		}
		extra = append(extra, tickets...)
		evs = append(evs, ev)
	}
	return extra, evs
}

// matches reports whether alert a is about event e: it names one of the
// event's tickets (then it is about the event whenever it is raised, e.g. a
// 24-hour window that still holds them), or it is raised between the
// event's start and its end plus a grace time and names its phrase, or its
// category in one of its districts or the city. The cluster scan's alerts
// are about the few cells whose tickets they name, and match only by those
// tickets: a cluster of 交通出行 somewhere in a district is not one grid's
// rise of 违停挪车 there. An alert naming another
// subcategory of that category is about something else: a city-wide rise of
// 交通违法 does not find one grid's rise of 违停挪车.
func (e hotEvent) matches(a hotAlert) bool {
	if a.at.Before(e.start) {
		return false
	}
	for _, id := range a.tickets {
		if e.ids[id] {
			return true
		}
	}
	if a.kind == "cluster" {
		return false
	}
	grace := 2 * time.Hour
	if e.week {
		grace = 48 * time.Hour
	}
	if a.at.After(e.end.Add(grace)) {
		return false
	}
	if e.phrase != "" {
		return a.phrase != "" && (strings.Contains(e.phrase, a.phrase) || strings.Contains(a.phrase, e.phrase))
	}
	if e.sub != "" && a.sub != "" && a.sub != e.sub {
		return false
	}
	return a.category == e.category && (a.district == "" || slices.Contains(e.districts, a.district))
}

// bar is the score an event's ideal needs to count as visible (0: the
// scenario has none).
func scoreHot(scenario, method string, alerts []hotAlert, evs []hotEvent, weeks, bar float64, tr *tracer) HotResult {
	r := HotResult{Scenario: scenario, Method: method, Injected: len(evs)}
	var delays []float64
	within := 0
	falses := 0
	for _, a := range alerts {
		matched := false
		for _, e := range evs {
			if e.matches(a) {
				matched = true
				break
			}
		}
		if !matched {
			falses++
			tr.printf("FA [%.20s] %s %s\n", scenario, a.at.Format("01-02 15:04 Mon"), a.desc)
		}
	}
	for _, e := range evs {
		first, by := time.Time{}, ""
		for _, a := range alerts {
			if e.matches(a) && (first.IsZero() || a.at.Before(first)) {
				first, by = a.at, a.desc
			}
		}
		if !first.IsZero() {
			tr.printf("HIT [%.20s] %s %s %v %s/%s n %d %s; by %s\n", scenario, e.start.Format("01-02 15:04 Mon"), e.end.Sub(e.start).Round(time.Minute), e.districts, e.category, e.sub, len(e.ids), e.debug, by)
		}
		visible := bar > 0 && e.ideal >= bar
		if visible {
			r.Visible++
			if !first.IsZero() {
				r.VisibleFound++
			}
		}
		if first.IsZero() {
			tr.printf("MISS [%.20s] %s %s %v %s/%s n %d %s\n", scenario, e.start.Format("01-02 15:04 Mon"), e.end.Sub(e.start).Round(time.Minute), e.districts, e.category, e.sub, len(e.ids), e.debug)
			continue
		}
		r.Detected++
		ref := e.start
		if !e.twentieth.IsZero() && e.phrase != "" {
			ref = e.twentieth
			if first.Sub(ref) <= 30*time.Minute {
				within++
			}
		}
		delays = append(delays, first.Sub(ref).Minutes())
	}
	sizes := make([]int, 0, len(evs))
	for _, e := range evs {
		sizes = append(sizes, len(e.ids))
	}
	if len(sizes) > 0 {
		slices.Sort(sizes)
		r.MedianSize = sizes[len(sizes)/2]
	}
	r.Detection = float64(r.Detected) / float64(max(len(evs), 1))
	r.Within30 = float64(within) / float64(max(len(evs), 1))
	r.FalsePerWeek = float64(falses) / weeks
	r.MedianMin = math.NaN()
	if len(delays) > 0 {
		sort.Float64s(delays)
		r.MedianMin = delays[len(delays)/2]
	}
	return r
}

// Write prints the report as Markdown.
func (r HotReport) Write(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "Background: the demo city at %.0f tickets/day; learnt from %.0f weeks (%d tickets); thresholds calibrated on %.0f simulated weeks "+
		"for %.2f false alerts/week (surge and week 3/4, phrase 1/4): window %.2f, week %.2f, phrase %.2f; tested on %.0f weeks (%d tickets), "+
		"%d events of each scenario a week, scanned every %s; seed %d; %s.\n\n",
		c.PerDay, c.TrainWeeks, r.TrainTickets, c.CalibrateWeeks, c.FalseAlarmsPerWeek, r.Surge.Threshold, r.Surge.WeekThreshold, r.Phrase.Threshold,
		c.TestWeeks, r.TestTickets, c.PerWeek, c.Step, c.Seed, r.Elapsed.Round(time.Second))
	if r.Cluster != nil {
		fmt.Fprintf(w, "The cluster scan runs beside them on the same tickets, as in the server: calibrated on the same simulated weeks for %.2f false alerts/week "+
			"(threshold %.2f), scanned every %s; its alerts count among \"all kinds\".\n\n", r.Cluster.Target, r.Cluster.Threshold, c.ClusterStep)
	}
	kinds := make([]string, 0, len(r.FlatPerWeek))
	for k := range r.FlatPerWeek {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	fmt.Fprint(w, "False alerts a week with nothing injected:")
	for _, k := range kinds {
		fmt.Fprintf(w, " %s %.2f;", k, r.FlatPerWeek[k])
	}
	fmt.Fprintf(w, " EARS C2 threshold set to the hot-issue detectors' rate there: %.2f.\n\n", r.C2Threshold)
	fmt.Fprintln(w, "| scenario | tickets injected (median) | method | detection | of those a test knowing key and span could see | within 30 min of the 20th report | false alerts/week (all kinds) | median minutes to alert |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, x := range r.Results {
		w30 := "–"
		if strings.HasPrefix(x.Scenario, "emerging") {
			w30 = fmt.Sprintf("%.1f%%", 100*x.Within30)
		}
		vis := "–"
		if strings.HasPrefix(x.Scenario, "district") || strings.HasPrefix(x.Scenario, "slow") {
			vis = fmt.Sprintf("%d/%d", x.VisibleFound, x.Visible)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %.1f%% (%d/%d) | %s | %s | %.2f | %s |\n", x.Scenario, x.MedianSize, x.Method, 100*x.Detection, x.Detected, x.Injected,
			vis, w30, x.FalsePerWeek, fmtNaN(x.MedianMin, "%.0f"))
	}
	fmt.Fprintln(w)
	if l := r.Limit; l != nil {
		fmt.Fprintf(w, "What 90 %% would take: a test knowing each event's key and span scores 90 %% of the district surges %.2f or more, "+
			"and at that window threshold the flat weeks raise %.2f surge alerts a week (calibrated: %.2f); it scores 90 %% of the slow rises "+
			"%.2f or more, and at that week threshold the flat weeks raise %.2f week alerts a week (calibrated: %.2f).\n\n",
			l.Window, l.WindowPerWeek, r.Surge.Threshold, l.Week, l.WeekPerWeek, r.Surge.WeekThreshold)
	}
}
