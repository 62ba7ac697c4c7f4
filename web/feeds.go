package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/cluster/ingestlog"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/feeds/sim"
	"github.com/citywall/citywall/feeds/source"
	"github.com/citywall/citywall/geo/ticket"
)

// topicKPI is the hotline KPIs' state topic: "today" → kpi.Report.
const topicKPI = "kpi"

// feedsApp is the App's flood, traffic and KPI feeds: the feed, the KPI
// tracker, the configured sources and, in the demo city, the simulator.
type feedsApp struct {
	a       *App
	feed    *feeds.Feed
	kpi     *kpi.Tracker
	alerter alerterSlot
	sim     *sim.Sim // nil unless the demo runs
	simOwn  bool     // the demo's own stations are in use, so its readings count

	readings *prometheus.CounterVec
	calls    *prometheus.CounterVec
}

// alerterSlot forwards feed alerts to whatever SetFeedAlerter installed;
// until then they are only logged by the feed.
type alerterSlot struct{ p atomic.Pointer[feeds.Alerter] }

func (s *alerterSlot) Fire(ctx context.Context, al feeds.Alert) error {
	if p := s.p.Load(); p != nil {
		return (*p).Fire(ctx, al)
	}
	return nil
}

func (s *alerterSlot) Clear(ctx context.Context, fp string) error {
	if p := s.p.Load(); p != nil {
		return (*p).Clear(ctx, fp)
	}
	return nil
}

// SetFeedAlerter routes the feeds' threshold and staleness alerts (for
// instance to the alert manager). Safe to call while running.
func (a *App) SetFeedAlerter(al feeds.Alerter) { a.feeds.alerter.p.Store(&al) }

// FeedSim is the demo city's sensor and call simulator, nil when the demo
// is off; tests use it to trigger a rainstorm.
func (a *App) FeedSim() *sim.Sim { return a.feeds.sim }

func newFeedsApp(a *App) (*feedsApp, error) {
	fc := a.cfg.Feeds
	fa := &feedsApp{a: a}
	stations := stationsFromConfig(fc.Stations)
	if len(stations) == 0 && a.cfg.Demo.Enabled {
		stations = sim.Stations()
		fa.simOwn = true
	}
	if a.cfg.Demo.Enabled {
		fa.sim = sim.New(sim.Options{Seed: a.cfg.Demo.Seed, Speed: a.cfg.Demo.Speed, CallsPerDay: a.cfg.Demo.PerDay, TicketBackfill: a.demoBackfill()})
	}
	var err error
	fa.feed, err = feeds.New(feeds.Options{
		Stations:    stations,
		History:     fc.History,
		StaleFactor: fc.StaleFactor,
		JamAfter:    fc.JamAfter,
		Now:         a.now,
		Publisher:   a.hub,
		Alerter:     &fa.alerter,
		Log:         a.log.With("component", "feeds"),
	})
	if err != nil {
		return nil, err
	}
	fa.kpi = kpi.New(kpi.Options{Location: a.loc, ResponseLimit: fc.ResponseLimit, HandlingLimit: fc.HandlingLimit, Now: a.now})
	for _, s := range fc.Sources {
		fa.feed.AddSource(s.Name, s.Type, s.Interval)
	}
	fa.readings = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "citywall_feeds_readings_total", Help: "Readings and incidents taken, by result and station kind.",
	}, []string{"result", "kind"})
	fa.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "citywall_feeds_calls_total", Help: "Call-centre events taken, by result.",
	}, []string{"result"})
	a.reg.MustRegister(fa.readings, fa.calls)
	return fa, nil
}

func stationsFromConfig(cs []config.FeedStation) []feeds.Station {
	out := make([]feeds.Station, 0, len(cs))
	for _, c := range cs {
		out = append(out, feeds.Station{ID: c.ID, Kind: feeds.Kind(c.Kind), Name: c.Name, NameEn: c.NameEn,
			Lat: c.Lat, Lng: c.Lng, District: c.District, Interval: c.Interval, Warn: c.Warn, Limit: c.Limit,
			Hysteresis: c.Hysteresis, Polyline: c.Polyline, FreeFlow: c.FreeFlow, Key: c.Key, Cameras: c.Cameras})
	}
	return out
}

// start runs the feed, the KPI publisher, the sources and the demo under
// wg until ctx ends.
func (fa *feedsApp) start(ctx context.Context, wg *sync.WaitGroup) {
	a := fa.a
	wg.Go(func() { _ = fa.feed.Run(ctx) })
	wg.Go(func() { fa.publishKPI(ctx) })
	for _, s := range a.cfg.Feeds.Sources {
		log := a.log.With("component", "feeds", "source", s.Name)
		switch s.Type {
		case "poll":
			p := &source.Poller{Name: s.Name, URL: s.URL, Token: s.Token, Interval: s.Interval, Timeout: s.Timeout,
				MaxBytes: a.cfg.Server.MaxBodyBytes, Sink: fa.feed, Log: log}
			wg.Go(func() { _ = p.Run(ctx) })
		case "mqtt":
			m := &source.MQTT{Name: s.Name, URL: s.URL, Topics: s.Topics, QoS: byte(s.QoS), ClientID: s.ClientID,
				Username: s.Username, Password: s.Password, SessionExpiry: s.SessionExpiry, Sink: fa.feed, Log: log}
			wg.Go(func() {
				if err := m.Run(ctx); err != nil {
					log.Error("mqtt source stopped", "err", err)
				}
			})
		}
	}
	if fa.sim != nil {
		// With stations of its own a city gets the demo's calls and storm
		// tickets, not readings for stations it does not have.
		var readings sim.ReadingSink = fa.feed
		if !fa.simOwn {
			readings = discardReadings{}
		}
		wg.Go(func() {
			if err := fa.sim.Run(ctx, a.now, readings, callSink{fa}, demoEmitter{a}); err != nil && ctx.Err() == nil {
				a.log.Error("demo feeds stopped", "err", err)
			}
		})
	}
}

type discardReadings struct{}

func (discardReadings) Ingest(context.Context, string, []feeds.Item) []feeds.Outcome { return nil }

// callSink counts the demo's calls like posted ones, and takes the
// demo's request volume of last week.
type callSink struct{ fa *feedsApp }

func (c callSink) Volume(created time.Time) { c.fa.kpi.Volume(created) }

func (c callSink) Call(call kpi.Call) (ticket.PostStatus, string) {
	st, reason := c.fa.kpi.Call(call)
	c.fa.calls.WithLabelValues(string(st)).Inc()
	return st, reason
}

// ticketState is the hook of the ticket-event ingest: the KPIs follow a
// ticket's lifecycle when an event changed it.
func (fa *feedsApp) ticketState(st ticket.State, changed bool) {
	if changed {
		fa.kpi.TicketState(st)
	}
}

// publishKPI publishes today's figures when they changed, at most once a
// second, and at least every 30 s (overdue responses and the date move
// with the clock alone).
func (fa *feedsApp) publishKPI(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last uint64
	var lastAt time.Time
	expire := time.Now()
	for {
		if v := fa.kpi.Version(); v != last || time.Since(lastAt) >= 30*time.Second {
			b, err := json.Marshal(fa.kpi.Today())
			if err == nil && fa.a.hub.PublishState(ctx, topicKPI, map[string]json.RawMessage{"today": b}, nil, time.Time{}) == nil {
				last, lastAt = v, time.Now()
			}
		}
		if time.Since(expire) > 10*time.Minute {
			fa.kpi.Expire()
			expire = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// feedsPost answers POST /api/v1/readings and /api/v1/calls.
type feedsPost struct {
	Accepted   int             `json:"accepted"`
	Duplicates int             `json:"duplicates"`
	Rejected   int             `json:"rejected"`
	Items      []feeds.Outcome `json:"items"`
}

func (p *feedsPost) add(o feeds.Outcome) {
	switch o.Status {
	case feeds.Accepted:
		p.Accepted++
	case feeds.Duplicate:
		p.Duplicates++
	default:
		p.Rejected++
	}
	p.Items = append(p.Items, o)
}

func (p *feedsPost) status() int {
	if p.Rejected > 0 && p.Accepted == 0 && p.Duplicates == 0 {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

func (a *App) feedsDecodeFailure(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("body over %d bytes: nothing was accepted; send smaller batches", mbe.Limit))
	case errors.Is(err, feeds.ErrTooManyItems): // kpi.ErrTooManyItems is the same error
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, err.Error()+"; nothing was accepted")
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, "malformed body: "+err.Error()+"; nothing was accepted")
	}
}

func (a *App) handlePostReadings(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.readBody(w, r); !ok {
		return
	}
	if a.cluster != nil {
		a.clusterPostFeed(w, r, ingestlog.KindReadings)
		return
	}
	items, err := feeds.DecodeReadings(r.Body, a.cfg.Tickets.MaxBatch)
	if err != nil {
		a.feeds.readings.WithLabelValues("malformed", "").Inc()
		a.feedsDecodeFailure(w, err)
		return
	}
	res := feedsPost{Items: make([]feeds.Outcome, 0, len(items))}
	for _, o := range a.feeds.feed.Ingest(r.Context(), "push", items) {
		a.feeds.readings.WithLabelValues(string(o.Status), string(o.Kind())).Inc()
		res.add(o)
	}
	writeJSON(w, res.status(), res)
}

func (a *App) handlePostCalls(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.readBody(w, r); !ok {
		return
	}
	if a.cluster != nil {
		a.clusterPostFeed(w, r, ingestlog.KindCalls)
		return
	}
	items, err := kpi.DecodeCalls(r.Body, a.cfg.Tickets.MaxBatch)
	if err != nil {
		a.feeds.calls.WithLabelValues("malformed").Inc()
		a.feedsDecodeFailure(w, err)
		return
	}
	res := feedsPost{Items: make([]feeds.Outcome, 0, len(items))}
	for _, it := range items {
		o := feeds.Outcome{Index: it.Index, ID: it.Call.ID}
		if it.Err != nil {
			o.Status, o.Reason = feeds.Rejected, it.Err.Error()
			a.feeds.calls.WithLabelValues(string(o.Status)).Inc()
		} else {
			o.Status, o.Reason = callSink{a.feeds}.Call(it.Call)
		}
		res.add(o)
	}
	writeJSON(w, res.status(), res)
}

// handleFeeds lists the stations and their current values.
func (a *App) handleFeeds(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		feeds.TopicFlood:   a.feeds.feed.Snapshot(feeds.TopicFlood),
		feeds.TopicTraffic: a.feeds.feed.Snapshot(feeds.TopicTraffic),
	})
}

// handleFeedHistory answers a station's readings of the last hours.
func (a *App) handleFeedHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("station")
	maxH := a.cfg.Feeds.History.Hours()
	hours := 6.0
	if q := r.URL.Query().Get("hours"); q != "" {
		h, err := strconv.ParseFloat(q, 64)
		if err != nil || !(h > 0) || h > maxH {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("hours: %q must be a number in (0, %g]", q, maxH))
			return
		}
		hours = h
	}
	st, pts, ok := a.feeds.feed.History(id, a.now().Add(-time.Duration(hours*float64(time.Hour))))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no station %q", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": st.ID, "kind": st.Kind, "unit": st.Kind.Unit(), "hours": hours, "points": pts})
}

func (a *App) handleKPI(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.feeds.kpi.Today())
}

// handleDailyReport answers GET /api/v1/reports/daily?date=&format=&lang=.
func (a *App) handleDailyReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := a.now()
	l := now.In(a.loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, a.loc)
	day := today
	if s := q.Get("date"); s != "" {
		d, err := a.feeds.kpi.ParseDate(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
		if d.After(today) {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("date: %s is after today (%s)", s, today.Format(time.DateOnly)))
			return
		}
		if d.Before(today.AddDate(0, 0, -14)) {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("date: %s is older than the 15 days kept", s))
			return
		}
		day = d
	}
	lang := q.Get("lang")
	if lang != "" && lang != "zh" && lang != "en" {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("lang: %q must be zh or en", lang))
		return
	}
	rep := a.feeds.kpi.Day(day, now)
	name := "citywall-daily-" + rep.Date
	switch f := q.Get("format"); f {
	case "", "html":
		city := a.cfg.City.Name
		if lang == "en" && a.cfg.City.NameEn != "" {
			city = a.cfg.City.NameEn
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = rep.HTML(w, lang, city)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
		w.Header().Set("Cache-Control", "no-store")
		_ = rep.CSV(w)
	case "json":
		writeJSON(w, http.StatusOK, rep)
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("format: %q must be html, csv or json", f))
	}
}
