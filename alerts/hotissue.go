package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts/phrase"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/surge"
	"github.com/citywall/citywall/geo/ticket"
)

// SourceHotIssue raises surges beyond one neighbourhood and emerging
// phrases.
const SourceHotIssue = "hotissue"

// HotIssue is what the hot-issue detectors found.
type HotIssue struct {
	Kind        string          `json:"kind"`            // surge, week or phrase
	Scale       string          `json:"scale,omitempty"` // grid, district or city
	Region      string          `json:"region,omitempty"`
	Subcategory string          `json:"subcategory,omitempty"`
	Phrase      string          `json:"phrase,omitempty"`
	Window      string          `json:"window"`
	Count       int             `json:"count"`
	Expected    float64         `json:"expected"`
	Rise        float64         `json:"rise"` // count over expected, less one
	Score       float64         `json:"score"`
	Threshold   float64         `json:"threshold"`
	Scales      []HotScale      `json:"scales,omitempty"` // the same event at other scales
	Samples     []string        `json:"samples,omitempty"`
	Districts   []CategoryCount `json:"districts,omitempty"` // where a phrase's summaries come from
	Categories  []CategoryCount `json:"categories,omitempty"`
	Tickets     []string        `json:"tickets,omitempty"`
}

// HotScale is one scale of an event.
type HotScale struct {
	Scale    string  `json:"scale"`
	Region   string  `json:"region,omitempty"`
	Window   string  `json:"window"`
	Count    int     `json:"count"`
	Expected float64 `json:"expected"`
}

// HotIssueOptions tune the hot-issue source. Zero values take the
// defaults.
type HotIssueOptions struct {
	Surge  surge.Options
	Phrase phrase.Options
	// FalseAlarmsPerWeek is the budget of the surge, week and phrase
	// detectors together (default 0.5); a quarter goes to phrases.
	FalseAlarmsPerWeek float64
	CalibrateWeeks     float64       // simulated weeks for surges (default 2; phrases: half, at least one)
	Interval           time.Duration // default 2m
	// StartDelay is how long Run waits before it learns the backlog and
	// calibrates (default 1m), so that the work does not compete with a
	// start's (walls loading, a demo back-filling).
	StartDelay time.Duration
	Places     []string      // names cut out of summaries
	MinHistory time.Duration // default 72h; negative: none
	CategoryEn func(string) string
	Logger     *slog.Logger
	Now        func() time.Time
	Active     func() bool
}

// HotIssueSource runs the surge and phrase detectors over incoming
// tickets and feeds the manager as ClusterSource does.
type HotIssueSource struct {
	m      *Manager
	opt    HotIssueOptions
	base   *scan.Baseline
	surge  *surge.Detector
	phrase *phrase.Detector
	log    *slog.Logger

	mu         sync.Mutex // guards the trackers, last, backlog and calibrated
	backlog    []ticket.Ticket
	calibrated bool // no alerts before the first calibration
	short      surge.Tracker
	week       surge.Tracker
	words      phrase.Tracker
	last       map[string]string
	starts     map[string]bool
}

// NewHotIssueSource returns a source scoring against base, the cluster
// scan's learnt baseline.
func NewHotIssueSource(m *Manager, base *scan.Baseline, o HotIssueOptions) (*HotIssueSource, error) {
	if o.FalseAlarmsPerWeek <= 0 {
		o.FalseAlarmsPerWeek = 0.5
	}
	if o.CalibrateWeeks <= 0 {
		o.CalibrateWeeks = 2
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Minute
	}
	if o.StartDelay == 0 {
		o.StartDelay = time.Minute
	}
	if o.MinHistory == 0 {
		o.MinHistory = 72 * time.Hour
	}
	if o.CategoryEn == nil {
		o.CategoryEn = func(string) string { return "" }
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	sd, err := surge.NewDetector(o.Surge, base)
	if err != nil {
		return nil, fmt.Errorf("surge detector: %w", err)
	}
	pd, err := phrase.NewDetector(o.Phrase, phrase.NewExtractor(o.Places), base.Location())
	if err != nil {
		return nil, fmt.Errorf("phrase detector: %w", err)
	}
	h := &HotIssueSource{m: m, opt: o, base: base, surge: sd, phrase: pd, log: o.Logger, last: map[string]string{}}
	h.short.Related, h.week.Related = sd.Related, sd.Related
	h.week.Quiet = 48 * time.Hour
	return h, nil
}

func surgeEvent(t ticket.Ticket, res int) surge.Event {
	return surge.Event{ID: t.ID, Cell: surge.CellOf(t.Lat, t.Lng, res), Category: t.Category, Subcategory: t.Subcategory,
		District: t.District, Grid: t.Grid, Time: t.Created}
}

func phraseDoc(t ticket.Ticket) phrase.Doc {
	return phrase.Doc{ID: t.ID, Category: t.Category, District: t.District, Grid: t.Grid, Summary: t.Summary, Time: t.Created}
}

// Learn adds a ticket of the past to the history (the baseline learns it
// through the cluster source).
func (h *HotIssueSource) Learn(t ticket.Ticket) {
	h.surge.Learn(surgeEvent(t, h.base.Res()))
	if t.Summary != "" {
		h.phrase.Learn(phraseDoc(t))
	}
}

// Backlog hands over tickets of the past for Run to learn once it starts
// (after StartDelay).
func (h *HotIssueSource) Backlog(ts []ticket.Ticket) {
	h.mu.Lock()
	h.backlog = append(h.backlog, ts...)
	h.mu.Unlock()
}

// Ticket counts a new ticket.
func (h *HotIssueSource) Ticket(t ticket.Ticket) {
	h.surge.Add(surgeEvent(t, h.base.Res()))
	if t.Summary != "" {
		h.phrase.Add(phraseDoc(t))
	}
}

// Recalibrate refreshes the regions' expected counts and sets the
// thresholds by Monte Carlo, sharing the budget.
func (h *HotIssueSource) Recalibrate(ctx context.Context) {
	if h.base.Total() == 0 {
		return
	}
	if h.surge.Refresh(ctx) != nil {
		return
	}
	defer func() {
		if ctx.Err() == nil {
			h.mu.Lock()
			h.calibrated = true
			h.mu.Unlock()
		}
	}()
	budget := h.opt.FalseAlarmsPerWeek
	if cal, err := surge.Calibrate(ctx, h.surge, surge.CalibrateOptions{Weeks: h.opt.CalibrateWeeks, FalseAlarmsPerWeek: budget * 3 / 4}); err != nil {
		h.log.Warn("surge thresholds not calibrated", "err", err)
	} else {
		h.log.Info("surge thresholds calibrated", "window", cal.Threshold, "week", cal.WeekThreshold)
	}
	if h.phrase.Total() > 0 {
		if cal, err := phrase.Calibrate(ctx, h.phrase, phrase.CalibrateOptions{Weeks: max(h.opt.CalibrateWeeks/2, 1), FalseAlarmsPerWeek: budget / 4}); err != nil {
			h.log.Warn("phrase threshold not calibrated", "err", err)
		} else {
			h.log.Info("phrase threshold calibrated", "threshold", cal.Threshold)
		}
	}
}

// Run calibrates, then scans every Interval until ctx ends; it
// recalibrates daily.
func (h *HotIssueSource) Run(ctx context.Context) {
	h.Resume(h.opt.Now())
	select {
	case <-ctx.Done():
		return
	case <-time.After(h.opt.StartDelay):
	}
	h.mu.Lock()
	backlog := h.backlog
	h.backlog = nil
	h.mu.Unlock()
	for i, t := range backlog {
		if i%1024 == 0 && ctx.Err() != nil {
			return
		}
		h.Learn(t)
	}
	h.Recalibrate(ctx)
	scanT := time.NewTicker(h.opt.Interval)
	defer scanT.Stop()
	calT := time.NewTicker(24 * time.Hour)
	defer calT.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-scanT.C:
			if h.opt.Active == nil || h.opt.Active() {
				h.ScanOnce(ctx, h.opt.Now())
			}
		case <-calT.C:
			h.Recalibrate(ctx)
		}
	}
}

// ScanOnce scans at now and fires, updates or clears alerts.
func (h *HotIssueSource) ScanOnce(ctx context.Context, now time.Time) {
	from, to := h.base.Span()
	h.mu.Lock()
	calibrated := h.calibrated
	h.mu.Unlock()
	if !calibrated || h.opt.MinHistory > 0 && to.Sub(from) < h.opt.MinHistory {
		return
	}
	short, week, words := h.surge.Scan(now), h.surge.Week(now), h.phrase.Scan(now)
	h.mu.Lock()
	var sigs []Signal
	var gone []string
	add := func(started, updated, ended []surge.Episode) {
		for _, e := range append(started, updated...) {
			sigs = append(sigs, h.surgeSignal(e))
		}
		for _, e := range ended {
			gone = append(gone, e.Fingerprint)
		}
	}
	add(h.short.Update(now, short))
	add(h.week.Update(now, week))
	s, u, e := h.words.Update(now, words)
	for _, ep := range append(s, u...) {
		sigs = append(sigs, h.phraseSignal(ep))
	}
	for _, ep := range e {
		gone = append(gone, ep.Fingerprint)
	}
	keep := sigs[:0]
	for _, sg := range sigs {
		sum := fmt.Sprintf("%d|%.1f|%s", sg.HotIssue.Count, sg.HotIssue.Expected, sg.HotIssue.Region)
		if h.last[sg.Fingerprint] != sum {
			h.last[sg.Fingerprint] = sum
			keep = append(keep, sg)
		}
	}
	for _, fp := range gone {
		delete(h.last, fp)
	}
	h.mu.Unlock()
	h.m.apply(ctx, h.log, "hot-issue", keep, gone)
}

func (h *HotIssueSource) surgeSignal(e surge.Episode) Signal {
	b := e.Best
	what, whatEn := b.Category, h.opt.CategoryEn(b.Category)
	if whatEn == "" {
		whatEn = what
	}
	if b.Subcategory != "" {
		what += "·" + b.Subcategory
		whatEn += " / " + b.Subcategory
	}
	place, placeEn := b.Region.Name, b.Region.Name
	district := ""
	switch b.Region.Scale {
	case surge.ScaleCity:
		place, placeEn = "全市", "the city"
	case surge.ScaleDistrict:
		district = b.Region.Name
	case surge.ScaleGrid:
		district = h.surge.DistrictOf(b.Region.Name)
		place, placeEn = district+"网格"+b.Region.Name, "grid "+b.Region.Name
	}
	win := scanWindow(b.Window)
	th := h.surge.Options().Threshold
	if b.Kind == surge.KindWeek {
		win, th = "7d", h.surge.Options().WeekThreshold
	}
	hi := &HotIssue{Kind: b.Kind, Scale: b.Region.Scale, Region: b.Region.Name, Subcategory: b.Subcategory, Window: win,
		Count: b.Count, Expected: round3(b.Expected), Rise: round3(b.Rise()), Score: round3(b.Score), Threshold: round3(th), Tickets: b.Tickets}
	for _, s := range e.Scales {
		hi.Scales = append(hi.Scales, HotScale{Scale: s.Region.Scale, Region: s.Region.Name, Window: scanWindow(s.Window), Count: s.Count, Expected: round3(s.Expected)})
	}
	sev := SeverityWarning
	if b.Region.Scale != surge.ScaleGrid && b.Kind == surge.KindSurge {
		sev = SeverityCritical
	}
	return Signal{Source: SourceHotIssue, Kind: b.Kind, Fingerprint: e.Fingerprint, Severity: sev,
		Title:    fmt.Sprintf("%s%s上升：%s内%d件（预期%.1f，+%.0f%%）", place, what, win, b.Count, b.Expected, 100*b.Rise()),
		TitleEn:  fmt.Sprintf("Rise of %s in %s: %d reports in %s (%.1f expected, +%.0f%%)", whatEn, placeEn, b.Count, win, b.Expected, 100*b.Rise()),
		District: district, Category: b.Category, HotIssue: hi}
}

func (h *HotIssueSource) phraseSignal(e phrase.Episode) Signal {
	b := e.Best
	hi := &HotIssue{Kind: "phrase", Phrase: b.Phrase, Window: scanWindow(b.Window), Count: b.Count, Expected: round3(b.Expected),
		Rise: round3(float64(b.Count)/max(b.Expected, 1e-3) - 1), Score: round3(b.Score), Threshold: round3(h.phrase.Threshold()),
		Samples: b.Samples, Tickets: b.Tickets}
	for _, c := range b.Districts {
		hi.Districts = append(hi.Districts, CategoryCount{Category: c.Name, Count: c.Count})
	}
	for _, c := range b.Categories {
		hi.Categories = append(hi.Categories, CategoryCount{Category: c.Name, En: h.opt.CategoryEn(c.Name), Count: c.Count})
	}
	s := Signal{Source: SourceHotIssue, Kind: "phrase", Fingerprint: e.Fingerprint, Severity: SeverityWarning,
		Title:    fmt.Sprintf("新热点“%s”：%s内%d件（预期%.1f）", b.Phrase, hi.Window, b.Count, b.Expected),
		TitleEn:  fmt.Sprintf("Emerging issue \"%s\": %d reports in %s (%.1f expected)", b.Phrase, b.Count, hi.Window, b.Expected),
		HotIssue: hi}
	// One district or category that carries most of it routes it there;
	// otherwise it goes to the duty commanders.
	if len(b.Districts) > 0 && b.Districts[0].Count*10 >= b.Count*6 {
		s.District = b.Districts[0].Name
	}
	if len(b.Categories) > 0 && b.Categories[0].Count*10 >= b.Count*6 {
		s.Category = b.Categories[0].Name
	}
	return s
}

// Resume takes the open hot-issue alerts over as the episodes to follow,
// forgetting what this instance followed before (see
// ClusterSource.Resume).
func (h *HotIssueSource) Resume(now time.Time) {
	open := h.m.List(Filter{Open: true, Source: SourceHotIssue})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.short = surge.Tracker{Related: h.surge.Related}
	h.week = surge.Tracker{Quiet: 48 * time.Hour, Related: h.surge.Related}
	h.words = phrase.Tracker{}
	h.last = map[string]string{}
	for _, a := range open {
		hi := a.HotIssue
		if hi == nil {
			continue
		}
		r := surge.Region{Scale: hi.Scale, Name: hi.Region}
		switch hi.Kind {
		case surge.KindSurge:
			h.short.Resume(a.Fingerprint, hi.Kind, a.Category, r, now)
		case surge.KindWeek:
			h.week.Resume(a.Fingerprint, hi.Kind, a.Category, r, now)
		case "phrase":
			h.words.Resume(a.Fingerprint, hi.Phrase, now)
		}
	}
}
