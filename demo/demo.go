// Package demo is the demo city as one overlay on the configuration:
// with demo.enabled, what the configuration leaves out is filled in from
// a simulated Haikou, here and nowhere else — districts, cameras (served
// by an in-process RTSP server), the walls' sets, tours and schedules,
// the feeds' stations, the simulators of tickets, readings and calls,
// and the alert history the detector learns from; started without a
// configuration file, also tokens and teams (Unconfigured).
//
// Production code imports this package and nothing else of the demo:
// demo/city simulates tickets, demo/feedsim readings and calls,
// demo/democam serves the cameras.
package demo

import (
	"context"
	"fmt"
	"github.com/uber/h3-go/v4"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/demo/feedsim"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/tools/eval"
	"github.com/citywall/citywall/wall"
)

// City is the demo overlay's running part; a nil *City is no demo, and
// its methods do nothing.
type City struct {
	cfg      config.Demo
	backfill time.Duration
	cams     *democam.Server // nil when cameras are configured
	stations []feeds.Station // the demo's own, nil when stations are configured
	feedSim  *feedsim.Sim
	// ownDistricts: the districts are the demo city's, so is its land.
	ownDistricts bool
}

// Sink is where the simulated city's tickets, events and calls go: the
// ingest pipeline, like posted ones.
type Sink interface {
	EmitTicket(ticket.Ticket)
	EmitEvent(ticket.Event)
	Call(kpi.Call) (ticket.PostStatus, string)
	Volume(created time.Time)
}

// Apply fills in cfg from the demo city when cfg.Demo.Enabled, and
// returns nil otherwise. now is the city's local time. Close the City to
// stop its cameras.
func Apply(cfg *config.Config, now time.Time) (*City, error) {
	if !cfg.Demo.Enabled {
		return nil, nil
	}
	d := &City{cfg: cfg.Demo, backfill: backfill(cfg.Demo, now)}
	if len(cfg.City.Districts) == 0 {
		d.ownDistricts = true
		for _, x := range city.Districts() {
			cfg.City.Districts = append(cfg.City.Districts, config.District{Name: x.Name, NameEn: x.NameEn, Polygon: x.Polygon})
		}
	}
	if len(cfg.Cameras) == 0 {
		// Each camera plays its own clip on its main and sub stream.
		paths := map[string]*democam.Clip{}
		for _, c := range city.Cameras() {
			clip, err := cameraClip(c.ID)
			if err != nil {
				return nil, fmt.Errorf("demo camera: %w", err)
			}
			paths["cam/"+c.ID+"/main"], paths["cam/"+c.ID+"/sub"] = clip, clip
		}
		srv, err := democam.Start(democam.Options{Addr: "127.0.0.1:0", Paths: paths})
		if err != nil {
			return nil, fmt.Errorf("demo camera: %w", err)
		}
		d.cams = srv
		for _, c := range city.Cameras() {
			cfg.Cameras = append(cfg.Cameras, config.Camera{
				ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags,
				Main: srv.URL("cam/" + c.ID + "/main"), Sub: srv.URL("cam/" + c.ID + "/sub"),
			})
		}
	}
	if w := cfg.Walls; len(w.Sets) == 0 && len(w.Tours) == 0 && len(w.Schedules) == 0 {
		var cams []wall.Camera
		for _, c := range cfg.Cameras {
			cams = append(cams, wall.Camera{ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags})
		}
		cfg.Walls = wallSpec(w, cams)
	}
	if len(cfg.Feeds.Stations) == 0 {
		d.stations = feedsim.Stations()
	}
	d.feedSim = feedsim.New(feedsim.Options{Seed: d.cfg.Seed, Speed: d.cfg.Speed, CallsPerDay: d.cfg.PerDay, TicketBackfill: d.backfill})
	return d, nil
}

// backfill is how far back the demo emits whole tickets on start: from
// yesterday's local midnight, so the tickets falling due today (the
// completion rate's) have their whole lifecycle. 0 (the demo's default
// day) when the demo runs faster than life.
func backfill(c config.Demo, now time.Time) time.Duration {
	if c.Speed > 1 {
		return 0
	}
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, now.Location())
	return now.Sub(yesterday)
}

// Close stops the demo cameras.
func (d *City) Close() {
	if d != nil && d.cams != nil {
		d.cams.Close()
	}
}

// Stations are the demo's feed stations, nil when the configuration has
// its own (then the demo's readings are dropped, its calls and storm
// tickets kept).
func (d *City) Stations() []feeds.Station {
	if d == nil {
		return nil
	}
	return d.stations
}

// FeedSim is the simulator of readings, calls and rainstorms.
func (d *City) FeedSim() *feedsim.Sim {
	if d == nil {
		return nil
	}
	return d.feedSim
}

// Start runs the simulated city's tickets and its sensors, calls and
// rainstorms into sink and feed under wg until ctx ends; logf hears why
// one stopped early. With stations of its own a city gets the demo's
// calls and storm tickets, not readings for stations it does not have.
func (d *City) Start(ctx context.Context, now func() time.Time, sink Sink, feed feedsim.ReadingSink, wg *sync.WaitGroup, logf func(string, ...any)) {
	if d == nil {
		return
	}
	s := city.New(city.Options{PerDay: d.cfg.PerDay, Speed: d.cfg.Speed, Seed: d.cfg.Seed, Backfill: d.backfill})
	wg.Go(func() {
		if err := s.Run(ctx, now, emitter{sink}); err != nil && ctx.Err() == nil {
			logf("demo city stopped", "err", err)
		}
	})
	if d.stations == nil {
		feed = discardReadings{}
	}
	wg.Go(func() {
		if err := d.feedSim.Run(ctx, now, feed, sink, emitter{sink}); err != nil && ctx.Err() == nil {
			logf("demo feeds stopped", "err", err)
		}
	})
}

type discardReadings struct{}

func (discardReadings) Ingest(context.Context, string, []feeds.Item) []feeds.Outcome { return nil }

type emitter struct{ s Sink }

func (e emitter) Ticket(t ticket.Ticket) { e.s.EmitTicket(t) }
func (e emitter) Event(ev ticket.Event)  { e.s.EmitEvent(ev) }

// LearnHistory gives the demo city's detectors the weeks of history a
// real centre would have: three weeks of the same simulated city before
// the day the demo back-fills, at H3 resolution res. The hot-issue source
// (nil: none) is handed the whole tickets (subcategories, places,
// summaries) to learn when it starts.
func (d *City) LearnHistory(ctx context.Context, c *alerts.ClusterSource, hot *alerts.HotIssueSource, now time.Time, res int, logf func(string, ...any)) {
	if d == nil {
		return
	}
	from, to := c.Baseline().Span()
	kept := to.Sub(from) >= 14*24*time.Hour // from an earlier run
	if kept && hot == nil {
		return
	}
	began := time.Now()
	tickets, err := eval.BackgroundTickets(ctx, d.cfg.PerDay, 21*24*time.Hour, now.Add(-24*time.Hour), d.cfg.Seed+7, 0)
	if err != nil {
		return
	}
	for i, t := range tickets {
		if i%1024 == 0 && ctx.Err() != nil {
			return
		}
		if !kept {
			if cell, err := h3.LatLngToCell(h3.LatLng{Lat: t.Lat, Lng: t.Lng}, res); err == nil {
				_ = c.Baseline().Observe(cell, t.Category, t.Created)
			}
		}
	}
	if hot != nil {
		hot.Backlog(tickets) // learnt when it starts, after its delay
	}
	logf("demo alert history learnt", "tickets", len(tickets), "took", time.Since(began).Round(time.Millisecond))
}
