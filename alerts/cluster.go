package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/internal/atomicfile"
)

// District is an outlined district, for naming where a cluster is.
type District = geo.District

// ClusterOptions tune the cluster source. Zero values take the defaults.
type ClusterOptions struct {
	Detector scan.Options
	Baseline scan.BaselineOptions
	// Calibrate sets the threshold from the learnt baseline at start and
	// every Recalibrate; off when Detector.Threshold is given.
	Calibrate   scan.CalibrateOptions
	Recalibrate time.Duration // default 24h
	Interval    time.Duration // scan interval (default 30s)
	Quiet       time.Duration // a cluster not seen for this long has subsided (default 30m)
	MinHistory  time.Duration // no cluster alerts before the baseline covers this (default 72h; negative: none)
	// Forget: cells and categories of the baseline not observed for this
	// long are pruned, hourly (default 53 weeks).
	Forget time.Duration
	// BaselineFile keeps the learnt history across restarts (saved
	// hourly and on stop); empty: not kept.
	BaselineFile   string
	Cameras        []Camera
	NearestCameras int // default 3
	CameraMaxK     int // grid steps (default 3)
	Districts      []District
	CategoryEn     func(string) string
	Metrics        *Metrics
	Logger         *slog.Logger
	Now            func() time.Time
	// Active, when set, says whether this instance scans: only the leader
	// of several instances does (see Resume).
	Active func() bool
}

// ClusterSource runs the space-time scan over incoming tickets and feeds
// its clusters to the manager: a new cluster fires an alert, a cluster
// found again updates it, one that subsides clears it.
type ClusterSource struct {
	m    *Manager
	opt  ClusterOptions
	base *scan.Baseline
	det  *scan.Detector
	cams *cameraIndex
	log  *slog.Logger

	mu        sync.Mutex // guards tracker, last, districts and cal
	tracker   scan.Tracker
	last      map[string]string // fingerprint → summary of the last signal
	districts map[string]ticketPlace
	cal       scan.Calibration
	calibrate bool
	pending   []pendingTicket // recent tickets not yet in the history
}

// pendingTicket waits until it has left the scan's windows before it is
// learnt, so that a cluster never raises its own expectation.
type pendingTicket struct {
	cell h3.Cell
	cat  string
	at   time.Time
}

// maxPending bounds the tickets waiting to be learnt.
const maxPending = 1 << 20

type ticketPlace struct {
	district string
	at       time.Time
}

// NewClusterSource returns a cluster source feeding m, with its history
// loaded from BaselineFile when there is one.
func NewClusterSource(m *Manager, o ClusterOptions) (*ClusterSource, error) {
	if o.Recalibrate <= 0 {
		o.Recalibrate = 24 * time.Hour
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.Quiet <= 0 {
		o.Quiet = 30 * time.Minute
	}
	if o.Forget <= 0 {
		o.Forget = 53 * 7 * 24 * time.Hour
	}
	if o.MinHistory == 0 {
		o.MinHistory = 72 * time.Hour
	}
	if o.NearestCameras <= 0 {
		o.NearestCameras = 3
	}
	if o.CameraMaxK <= 0 {
		o.CameraMaxK = 3
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
	base := scan.NewBaseline(o.Baseline)
	if o.BaselineFile != "" {
		if data, err := os.ReadFile(o.BaselineFile); err == nil {
			if err := base.UnmarshalJSON(data); err != nil {
				o.Logger.Warn("saved cluster baseline not used", "file", o.BaselineFile, "err", err)
			}
		}
	}
	calibrate := o.Detector.Threshold <= 0
	det, err := scan.NewDetector(o.Detector, base)
	if err != nil {
		return nil, fmt.Errorf("cluster detector: %w", err)
	}
	c := &ClusterSource{m: m, opt: o, base: base, det: det, log: o.Logger, calibrate: calibrate,
		cams: newCameraIndex(o.Cameras, base.Res()), last: map[string]string{}, districts: map[string]ticketPlace{}}
	c.tracker.Quiet = o.Quiet
	if o.Metrics != nil {
		o.Metrics.ScanThreshold.Set(det.Threshold())
	}
	return c, nil
}

// Baseline is the learnt history.
func (c *ClusterSource) Baseline() *scan.Baseline { return c.base }

// Detector is the scan.
func (c *ClusterSource) Detector() *scan.Detector { return c.det }

// Calibration is the last calibration (zero before the first).
func (c *ClusterSource) Calibration() scan.Calibration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cal
}

// Learn adds a ticket of the past to the history only.
func (c *ClusterSource) Learn(t ticket.Ticket) {
	cell, err := h3.LatLngToCell(h3.LatLng{Lat: t.Lat, Lng: t.Lng}, c.base.Res())
	if err != nil {
		return
	}
	_ = c.base.Observe(cell, t.Category, t.Created)
}

// Ticket counts a new ticket into the windows the scan looks at; it joins
// the history once it has left them.
func (c *ClusterSource) Ticket(t ticket.Ticket) {
	cell, err := h3.LatLngToCell(h3.LatLng{Lat: t.Lat, Lng: t.Lng}, c.base.Res())
	if err != nil {
		return
	}
	_ = c.det.Add(scan.Event{ID: t.ID, Cell: cell, Category: t.Category, Time: t.Created, Lat: t.Lat, Lng: t.Lng})
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.District != "" {
		c.districts[t.ID] = ticketPlace{t.District, t.Created}
	}
	if len(c.pending) >= maxPending {
		p := c.pending[0]
		_ = c.base.Observe(p.cell, p.cat, p.at)
		c.pending = c.pending[1:]
	}
	c.pending = append(c.pending, pendingTicket{cell, t.Category, t.Created})
}

// learn moves the tickets that have left the longest window into the
// history; c.mu is held.
func (c *ClusterSource) learnLocked(now time.Time) {
	wins := c.det.Options().Windows
	cutoff := now.Add(-wins[len(wins)-1])
	keep := c.pending[:0]
	for _, p := range c.pending {
		if p.at.Before(cutoff) {
			_ = c.base.Observe(p.cell, p.cat, p.at)
		} else {
			keep = append(keep, p)
		}
	}
	clear(c.pending[len(keep):])
	c.pending = keep
}

// Run resumes the open cluster alerts, calibrates, then scans every
// Interval until ctx ends.
func (c *ClusterSource) Run(ctx context.Context) {
	now := c.opt.Now()
	c.mu.Lock()
	for _, a := range c.m.List(Filter{Open: true, Source: SourceCluster}) {
		var cells []h3.Cell
		for _, id := range a.Cells {
			if cell := h3.CellFromString(id); cell.IsValid() {
				cells = append(cells, cell)
			}
		}
		if len(cells) > 0 {
			c.tracker.Resume(a.Fingerprint, a.Category, cells, now)
		}
	}
	c.mu.Unlock()
	if c.calibrate {
		c.Recalibrate(ctx)
	}
	scanT := time.NewTicker(c.opt.Interval)
	defer scanT.Stop()
	calT := time.NewTicker(c.opt.Recalibrate)
	defer calT.Stop()
	saveT := time.NewTicker(time.Hour)
	defer saveT.Stop()
	defer c.saveBaseline()
	for {
		select {
		case <-ctx.Done():
			return
		case <-scanT.C:
			if c.opt.Active == nil || c.opt.Active() {
				c.ScanOnce(ctx, c.opt.Now())
			}
		case <-calT.C:
			if c.calibrate {
				c.Recalibrate(ctx)
			}
		case <-saveT.C:
			c.pruneBaseline(c.opt.Now())
			c.saveBaseline()
		}
	}
}

// Recalibrate sets the threshold by Monte Carlo on the learnt baseline.
func (c *ClusterSource) Recalibrate(ctx context.Context) {
	if c.base.Total() == 0 {
		return
	}
	began := time.Now()
	cal, err := scan.Calibrate(ctx, c.base, c.det.Options(), c.opt.Calibrate)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("cluster threshold not calibrated", "err", err)
		}
		return
	}
	c.det.SetThreshold(cal.Threshold)
	c.mu.Lock()
	c.cal = cal
	c.mu.Unlock()
	if c.opt.Metrics != nil {
		c.opt.Metrics.ScanThreshold.Set(cal.Threshold)
	}
	c.log.Info("cluster threshold calibrated", "threshold", cal.Threshold, "weeks", cal.Weeks,
		"false_alarms_per_week", cal.Target, "took", time.Since(began).Round(time.Millisecond))
}

// ScanOnce scans at now and fires, updates or clears alerts.
func (c *ClusterSource) ScanOnce(ctx context.Context, now time.Time) {
	c.mu.Lock()
	c.learnLocked(now)
	c.mu.Unlock()
	from, to := c.base.Span()
	if c.opt.MinHistory > 0 && to.Sub(from) < c.opt.MinHistory {
		return // still learning what normal looks like
	}
	began := time.Now()
	clusters := c.det.Scan(now)
	if c.opt.Metrics != nil {
		c.opt.Metrics.ScanDuration.Observe(time.Since(began).Seconds())
	}
	c.mu.Lock()
	started, updated, ended := c.tracker.Update(now, clusters)
	var sigs []Signal
	for _, tr := range append(started, updated...) {
		s := c.signal(tr)
		sum := fmt.Sprintf("%d|%v|%.1f|%s", s.Cluster.Count, s.Cells, s.Cluster.Score, s.Category)
		if c.last[tr.Fingerprint] == sum {
			continue
		}
		c.last[tr.Fingerprint] = sum
		sigs = append(sigs, s)
	}
	var gone []string
	for _, tr := range ended {
		delete(c.last, tr.Fingerprint)
		gone = append(gone, tr.Fingerprint)
	}
	for id, p := range c.districts {
		if now.Sub(p.at) > 2*time.Hour {
			delete(c.districts, id)
		}
	}
	c.mu.Unlock()
	c.m.apply(ctx, c.log, "cluster", sigs, gone)
}

// signal describes a track as an alert; c.mu is held.
func (c *ClusterSource) signal(tr scan.Track) Signal {
	cl := tr.Cluster
	cells := make([]string, len(cl.Cells))
	for i, x := range cl.Cells {
		cells[i] = x.String()
	}
	district, districtEn := c.districtOf(cl)
	cat, catEn := cl.Category, c.opt.CategoryEn(cl.Category)
	if cat == "" {
		cat, catEn = "各类诉求", "all categories"
	}
	if catEn == "" {
		catEn = cat
	}
	win := int(cl.Window.Minutes())
	place := district
	if place == "" {
		place = "同一片区"
	}
	placeEn := districtEn
	if placeEn == "" {
		placeEn = "one area"
	}
	s := Signal{
		Source:      SourceCluster,
		Kind:        "burst",
		Fingerprint: tr.Fingerprint,
		Severity:    SeverityCritical,
		Title:       fmt.Sprintf("%s%s聚集：%d分钟内%d件（预期%.1f）", place, cat, win, cl.Count, cl.Expected),
		TitleEn:     fmt.Sprintf("Cluster of %s in %s: %d reports in %d min (%.1f expected)", catEn, placeEn, cl.Count, win, cl.Expected),
		Lat:         round6(cl.Lat),
		Lng:         round6(cl.Lng),
		District:    district,
		Category:    cl.Category,
		Cells:       cells,
		Cluster: &Cluster{Count: cl.Count, Expected: round3(cl.Expected), Score: round3(cl.Score), Threshold: round3(c.det.Threshold()),
			Window: scanWindow(cl.Window), Shape: cl.Shape, Tickets: cl.Tickets, First: cl.First},
	}
	for i, cc := range cl.Categories {
		if i == 3 {
			break
		}
		s.Cluster.TopCategories = append(s.Cluster.TopCategories, CategoryCount{Category: cc.Category, En: c.opt.CategoryEn(cc.Category), Count: cc.Count})
	}
	s.CameraInfo = c.cams.Nearest(cl.Cells, cl.Lat, cl.Lng, c.opt.NearestCameras, c.opt.CameraMaxK)
	for _, r := range s.CameraInfo {
		s.Cameras = append(s.Cameras, r.ID)
	}
	return s
}

// districtOf names the district of a cluster: the one its centroid lies
// in, else the one most of its tickets name.
func (c *ClusterSource) districtOf(cl scan.Cluster) (string, string) {
	if d, ok := geo.DistrictAt(c.opt.Districts, cl.Lat, cl.Lng); ok {
		return d.Name, d.NameEn
	}
	votes := map[string]int{}
	for _, id := range cl.Tickets {
		if p, ok := c.districts[id]; ok {
			votes[p.district]++
		}
	}
	best, n := "", 0
	for d, v := range votes {
		if v > n || v == n && d < best {
			best, n = d, v
		}
	}
	return best, ""
}

// pruneBaseline forgets the cells and categories of the history not
// observed for Forget.
func (c *ClusterSource) pruneBaseline(now time.Time) {
	if cells, cats := c.base.Prune(now.Add(-c.opt.Forget)); cells > 0 || cats > 0 {
		c.log.Info("cluster baseline pruned", "cells", cells, "categories", cats, "unseen_for", c.opt.Forget)
	}
}

func (c *ClusterSource) saveBaseline() {
	if c.opt.BaselineFile == "" {
		return
	}
	data, err := c.base.MarshalJSON()
	if err == nil {
		err = atomicfile.Write(c.opt.BaselineFile, data)
	}
	if err != nil {
		c.log.Warn("cluster baseline not saved", "err", err)
	}
}

// Fingerprints lists the open tracks, for tests and diagnostics.
func (c *ClusterSource) Fingerprints() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, t := range c.tracker.Open() {
		out = append(out, t.Fingerprint)
	}
	slices.Sort(out)
	return out
}

func scanWindow(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
func round6(f float64) float64 { return float64(int64(f*1e6+0.5)) / 1e6 }
