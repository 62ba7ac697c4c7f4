package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/eval"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/sim"
	"github.com/citywall/citywall/geo/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream/democam"
	"github.com/citywall/citywall/wall"
)

// categoryEn is the taxonomy's English name of a category.
var categoryEn = demo.CategoryNameEn

// demoCity is the demo overlay: with demo.enabled, what the configuration
// leaves out is filled in from the simulated city, here and nowhere else —
// districts, cameras (served by an in-process RTSP server), the walls'
// sets, tours and schedules, the feeds' stations, and the simulators of
// tickets, readings and calls and the alert history they stand on.
type demoCity struct {
	cfg      config.Demo
	backfill time.Duration
	cams     *democam.Server // nil when cameras are configured
	stations []feeds.Station // the demo's own, nil when stations are configured
	feedSim  *sim.Sim
	ingest   func() demoSink
	log      func(msg string, args ...any)
}

// demoSink is where the simulated city's items go: the ingest pipeline.
type demoSink interface {
	EmitTicket(ticket.Ticket)
	EmitEvent(ticket.Event)
}

// newDemoCity applies the overlay to a.cfg.
func newDemoCity(a *App) (*demoCity, error) {
	d := &demoCity{cfg: a.cfg.Demo, backfill: demoBackfill(a.cfg.Demo, a.now().In(a.loc)), log: a.log.Error}
	d.ingest = func() demoSink { return a.ingest }
	if len(a.cfg.City.Districts) == 0 {
		for _, x := range demo.Districts() {
			a.cfg.City.Districts = append(a.cfg.City.Districts, config.District{Name: x.Name, NameEn: x.NameEn, Polygon: x.Polygon})
		}
	}
	if len(a.cfg.Cameras) == 0 {
		srv, err := democam.Start(democam.Options{Addr: "127.0.0.1:0"})
		if err != nil {
			return nil, fmt.Errorf("demo camera: %w", err)
		}
		d.cams = srv
		a.onClose(srv.Close)
		for _, c := range demo.Cameras() {
			a.cfg.Cameras = append(a.cfg.Cameras, config.Camera{
				ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags,
				Main: srv.URL("cam/" + c.ID + "/main"), Sub: srv.URL("cam/" + c.ID + "/sub"),
			})
		}
	}
	if w := a.cfg.Walls; len(w.Sets) == 0 && len(w.Tours) == 0 && len(w.Schedules) == 0 {
		a.cfg.Walls = wall.DemoSpec(w, wallCameras(a.cfg.Cameras))
	}
	if len(a.cfg.Feeds.Stations) == 0 {
		d.stations = sim.Stations()
	}
	d.feedSim = sim.New(sim.Options{Seed: d.cfg.Seed, Speed: d.cfg.Speed, CallsPerDay: d.cfg.PerDay, TicketBackfill: d.backfill})
	return d, nil
}

// demoBackfill is how far back the demo emits whole tickets on start:
// from yesterday's local midnight, so the tickets falling due today (the
// completion rate's) have their whole lifecycle. 0 (the demo's default
// day) when the demo runs faster than life.
func demoBackfill(c config.Demo, now time.Time) time.Duration {
	if c.Speed > 1 {
		return 0
	}
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, now.Location())
	return now.Sub(yesterday)
}

// start runs the simulated city's tickets under wg; nil: no demo.
func (d *demoCity) start(ctx context.Context, now func() time.Time, wg *sync.WaitGroup) {
	if d == nil {
		return
	}
	s := demo.New(demo.Options{PerDay: d.cfg.PerDay, Speed: d.cfg.Speed, Seed: d.cfg.Seed, Backfill: d.backfill})
	wg.Go(func() {
		if err := s.Run(ctx, now, demoEmitter{d.ingest()}); err != nil && ctx.Err() == nil {
			d.log("demo city stopped", "err", err)
		}
	})
}

// demoEmitter feeds the simulated city through the same pipeline as
// posted tickets.
type demoEmitter struct{ s demoSink }

func (e demoEmitter) Ticket(t ticket.Ticket) { e.s.EmitTicket(t) }
func (e demoEmitter) Event(ev ticket.Event)  { e.s.EmitEvent(ev) }

// learnHistory gives the demo city's detector the weeks of history a
// real centre would have: three weeks of the same simulated city before
// the day the demo back-fills. nil: no demo.
func (d *demoCity) learnHistory(ctx context.Context, c *alerts.ClusterSource, now time.Time, res int, log func(string, ...any)) {
	if d == nil {
		return
	}
	from, to := c.Baseline().Span()
	if to.Sub(from) >= 14*24*time.Hour {
		return // kept from an earlier run
	}
	began := time.Now()
	evs, err := eval.Background(ctx, d.cfg.PerDay, 21*24*time.Hour, now.Add(-24*time.Hour), d.cfg.Seed+7, 0, res)
	if err != nil {
		return
	}
	for _, e := range evs {
		_ = c.Baseline().Observe(e.Cell, e.Category, e.Time)
	}
	log("demo alert history learnt", "tickets", len(evs), "took", time.Since(began).Round(time.Millisecond))
}

func wallCameras(cs []config.Camera) []wall.Camera {
	var out []wall.Camera
	for _, c := range cs {
		out = append(out, wall.Camera{ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags})
	}
	return out
}
