// Package app is citywall's composition root: it builds every part from
// the configuration (the ticket store, the H3 windows, the hub, the
// ingest pipeline and its backend, the walls, the video relay, the feeds,
// the alerting and the HTTP server), decides once whether this instance
// runs alone or shares Redis with others, and owns start and stop.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/phrase"
	"github.com/citywall/citywall/analysis"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/internal/connlimit"
	"github.com/citywall/citywall/internal/logkit"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/wall"
	"github.com/citywall/citywall/web"
	"github.com/citywall/citywall/web/session"
)

// Options are what an App takes besides its configuration.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry // nil: a fresh one
	Build    string               // build id shown to pages; they reload when it changes
	Now      func() time.Time     // nil: time.Now
	// WallPusher shows a new cluster alert's cameras on the walls' alert
	// slots (alerts.wall_push); nil: the App's own walls.
	WallPusher alerts.WallPusher
}

// App is one citywall server.
type App struct {
	cfg   config.Config
	log   *slog.Logger
	reg   *prometheus.Registry
	now   func() time.Time
	build string
	loc   *time.Location

	store    *ticket.Store
	analysis *analysis.History
	engine   *geo.Engine
	hub      *stream.Hub
	cluster  *clusterMode  // nil: this instance runs alone
	storage  *storagePart  // nil: Redis, or storage.memory
	sessions session.Store // nil: memory
	ingest   *ingest.Pipeline
	pub      *publisher
	alerting *alerting // nil when alerts.enabled is false
	feeds    *feedsPart
	walls    *wall.Manager
	video    *video
	demo     *demo.City // nil unless demo.enabled
	web      *web.Server

	listener *connlimit.Listener
	ready    atomic.Bool
	cleanup  []func() // what New opened, closed last-in first-out

	closeOnce sync.Once
	mu        sync.Mutex // guards cancel and server, set by Run and read by Close
	cancel    context.CancelFunc
	server    *http.Server
	closed    bool
	wg        sync.WaitGroup
}

// New builds an App from a validated configuration. Nothing runs until Run.
// When a step fails, what the steps before it opened is closed again.
func New(cfg config.Config, o Options) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Build == "" {
		o.Build = "dev"
	}
	loc, err := time.LoadLocation(cfg.City.Timezone)
	if err != nil {
		return nil, fmt.Errorf("city.timezone: %w", err)
	}
	// Every line carries a component, and a request's lines its id.
	a := &App{cfg: cfg, log: slog.New(logkit.Wrap(o.Logger.Handler())), reg: o.Registry, now: o.Now, build: o.Build, loc: loc}
	defer func() {
		if err != nil {
			a.rollback()
		}
	}()
	// The demo overlay fills in the configuration before any part reads it.
	if a.demo, err = demo.Apply(&a.cfg, a.now().In(loc)); err != nil {
		return nil, err
	}
	a.onClose(a.demo.Close)
	a.store = ticket.NewStore(ticket.StoreOptions{Retention: a.cfg.Tickets.Retention, MaxTickets: a.cfg.Tickets.MaxTickets, MaxEvents: a.cfg.Tickets.MaxEvents})
	a.engine, err = geo.NewEngine(geo.Options{
		Resolutions:   a.cfg.Geo.Resolutions,
		Windows:       a.cfg.Geo.Windows,
		Buckets:       a.cfg.Geo.Buckets,
		MaxCategories: a.cfg.Geo.MaxCategories,
	}, a.now())
	if err != nil {
		return nil, fmt.Errorf("geo engine: %w", err)
	}
	// Single instance or Redis: decided here, once. Alone, the data
	// directory (or memory) keeps the ingest log, walls, sessions and
	// alerts; with Redis, Redis keeps them, shared.
	var (
		broker    stream.Broker = stream.NewMemoryBroker()
		wallStore wall.Store    // nil: walls.state_file, or memory
		shared    sharedAlerts  // nil alone
	)
	if a.cfg.Redis.Enabled() {
		a.cluster, err = newClusterMode(clusterOptions{Redis: a.cfg.Redis, HubHistory: a.cfg.Hub.History,
			Now: a.now, Reg: a.reg, Log: a.log, OnClose: a.onClose})
		if err != nil {
			return nil, err
		}
		broker, wallStore, shared = a.cluster.broker, a.cluster.wallStore(a.cfg.Walls.AuditKeep), a.cluster
		a.sessions = a.cluster.sessionStore()
	} else {
		a.storage, err = openStorage(storageOptions{Config: a.cfg.Storage, Now: a.now, Log: a.log, Reg: a.reg, OnClose: a.onClose})
		if err != nil {
			return nil, err
		}
		wallStore = a.storage.wallStore(a.cfg.Walls)
		if a.sessions, err = a.storage.sessionStore(); err != nil {
			return nil, fmt.Errorf("sessions: %w", err)
		}
	}
	a.hub = stream.New(stream.Options{
		QueueBytes:       a.cfg.Hub.QueueBytes,
		History:          a.cfg.Hub.History,
		WriteTimeout:     a.cfg.Hub.WriteTimeout,
		PingPeriod:       a.cfg.Hub.PingPeriod,
		PongWait:         a.cfg.Hub.PongWait,
		ReadLimit:        a.cfg.Hub.ReadLimit,
		MaxSubscriptions: a.cfg.Hub.MaxSubscriptions,
		Build:            a.build,
		Epoch:            a.cluster.epoch(),
		EpochFor:         a.cluster.epochFor,
		CheckOrigin:      web.OriginChecker(a.cfg.Server.Origins),
		Resolve:          func(name string) (stream.Kind, error) { return a.web.ResolveTopic(name) },
	}, broker, a.reg, a.log.With("component", "hub"))
	if a.walls, err = newWalls(wallsOptions{Spec: a.cfg.Walls, Cameras: a.cfg.Cameras, Store: wallStore,
		Active: a.cluster.leaderActive(), Publisher: a.hub, Location: a.loc, Now: a.now, Reg: a.reg, Log: a.log}); err != nil {
		return nil, fmt.Errorf("walls: %w", err)
	}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		a.store.Collector(), a.engine.Collector())
	if a.video, err = newVideo(videoOptions{Config: a.cfg.Video, Cameras: a.cfg.Cameras, Hub: a.hub,
		Owners: cameraOwners(a.cluster), Reg: a.reg, Log: a.log}); err != nil {
		return nil, err
	}
	a.onClose(a.video.close)
	if a.feeds, err = newFeeds(feedsOptions{Config: a.cfg.Feeds, MaxBodyBytes: a.cfg.Server.MaxBodyBytes, Stations: a.demo.Stations(),
		Location: a.loc, Now: a.now, Hub: a.hub, Log: a.log}); err != nil {
		return nil, fmt.Errorf("feeds: %w", err)
	}
	a.pub = newPublisher(a.hub, a.engine, a.cfg.Geo, a.log)
	if cfg.Alerts.Enabled {
		pusher := o.WallPusher
		if pusher == nil {
			pusher = a.walls // cluster alerts put their cameras in the walls' alert slots
		}
		if a.alerting, err = newAlerting(alertingOptions{Config: a.cfg.Alerts, City: a.cfg.City, Places: a.placeNames(), Cameras: a.cfg.Cameras,
			Location: a.loc, Now: a.now, Reg: a.reg, Log: a.log, Hub: a.hub, Demo: a.demo, Lookup: a.store.Get,
			Pusher: pusher, DataFile: a.storage.alertsFile(), Shared: shared, Active: a.cluster.leaderActive(),
			OnClose: a.onClose, PublicURL: a.cfg.Server.PublicURL}); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		// Feed thresholds and cameras that go down raise alerts through
		// the one lifecycle; without alerting they are only logged.
		fa := feedAlerts(a.alerting.mgr)
		a.feeds.alerter.p.Store(&fa)
		a.video.alerter = cameraAlerts{a.alerting.mgr}
	}
	a.analysis = a.newAnalysis()
	if a.ingest, err = a.newIngest(); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	a.pub.today = a.ingest.Today
	a.cluster.attach(clusterParts{hub: a.hub, engine: a.engine, pub: a.pub, walls: a.walls, alerting: a.alerting})
	a.web = web.New(a.webDeps())
	return a, nil
}

// onClose adds f to what Close (or a failed New) undoes, last first.
func (a *App) onClose(f func()) { a.cleanup = append(a.cleanup, f) }

func (a *App) rollback() {
	for i := len(a.cleanup) - 1; i >= 0; i-- {
		a.cleanup[i]()
	}
	a.cleanup = nil
}

// newIngest builds the one ingest pipeline: every accepted ticket goes
// to the store, the windows, alerting and the KPIs; the backend is the
// cluster's when there is one.
func (a *App) newIngest() (*ingest.Pipeline, error) {
	o := ingest.Options{
		Store: a.store, Engine: a.engine, Hub: a.hub, Readings: a.feeds.feed, Calls: a.feeds.kpi,
		Touched: a.pub.touch, StatsChanged: a.pub.statsChanged,
		Location: a.loc, Now: a.now, Log: a.log, Registerer: a.reg,
	}
	for _, d := range a.cfg.City.Districts {
		o.Districts = append(o.Districts, geo.District{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
	}
	o.Area = cityArea(a.cfg.City, o.Districts)
	a.log.Info("city area: tickets outside it are rejected", "area", o.Area.String())
	if a.alerting != nil {
		o.OnTicket = append(o.OnTicket, a.alerting.ticket)
		o.OnEvent = append(o.OnEvent, a.alerting.event)
	}
	o.OnTicket = append(o.OnTicket, a.feeds.kpi.Ticket, a.analysis.Add)
	o.OnEvent = append(o.OnEvent, func(_ ticket.Event, st ticket.State) { a.feeds.kpi.TicketState(st) })
	switch {
	case a.cluster != nil:
		o.Backend = a.cluster.ingestBackend
	case a.storage != nil:
		o.Backend = a.storage.ingestBackend(a.store)
	}
	return ingest.New(o)
}

// cityArea is city.area when set, else the districts' bounding box grown
// by city.area_margin_km; nil (anywhere) without either. Validate has
// checked the polygon.
func cityArea(c config.City, ds []geo.District) *geo.Area {
	if len(c.Area) > 0 {
		if a, err := geo.NewArea(c.Area); err == nil {
			return a
		}
	}
	return geo.AreaAround(ds, c.AreaMarginKm)
}

// newAnalysis keeps the tickets of the days the ingest log holds (the
// log's replay at start fills it) for the analysis view; its phrases are
// cut as the emerging-issue detector cuts them, the city's and districts'
// names left out.
func (a *App) newAnalysis() *analysis.History {
	retention := a.cfg.Storage.Retention
	if a.cluster != nil {
		retention = a.cfg.Redis.Retention
	}
	return analysis.New(analysis.Options{Location: a.loc, Retention: retention, Now: a.now,
		Grams: phrase.NewExtractor(a.placeNames()).Grams})
}

// placeNames are the names summaries carry as places, never as issues:
// the city, its districts, its cameras and its feed stations (waterlogging
// points, reservoirs, gauges, road segments). A storm's reports naming one
// underpass are a burst at that place, which the cluster scan reports; the
// underpass's name is not an emerging issue. It needs a.feeds.
func (a *App) placeNames() []string {
	names := []string{a.cfg.City.Name}
	for _, d := range a.cfg.City.Districts {
		names = append(names, d.Name)
	}
	for _, c := range a.cfg.Cameras {
		names = append(names, c.Name)
	}
	for _, s := range a.feeds.feed.Stations() {
		names = append(names, s.Name)
	}
	return names
}

// webDeps is what the HTTP server serves from.
func (a *App) webDeps() web.Deps {
	d := web.Deps{
		Config: a.cfg, Log: a.log, Registry: a.reg, Build: a.build, Now: a.now, Location: a.loc,
		CategoryEn: ticket.CategoryNameEn,
		Store:      a.store, Engine: a.engine, Hub: a.hub, Ingest: a.ingest,
		Feed: a.feeds.feed, KPI: a.feeds.kpi, Analysis: a.analysis, Walls: a.walls, Relay: a.video.relay,
		NotReady: a.notReady, Land: a.demo.Land(), Sessions: a.sessions, PeerKey: a.cluster.peerKey(),
	}
	for _, dt := range a.cfg.City.Districts {
		d.Districts = append(d.Districts, web.District{Name: dt.Name, NameEn: dt.NameEn, Polygon: dt.Polygon})
	}
	if a.alerting != nil {
		d.Alerts = a.alerting.webAlerts()
	}
	if a.storage != nil {
		d.Backup = a.Backup
	}
	return d
}

// notReady says why this instance should not get traffic yet.
func (a *App) notReady() string {
	if !a.ready.Load() {
		return "not ready"
	}
	if a.cluster == nil {
		return a.ingest.NotReady()
	}
	return a.cluster.notReady()
}

// Handler is the App's HTTP handler, for tests that serve it themselves.
func (a *App) Handler() http.Handler { return a.web.Handler() }

// Listen binds the configured address. Run calls it when it has not been
// called; tests call it first to learn the port (listen on 127.0.0.1:0).
func (a *App) Listen() (net.Addr, error) {
	if a.listener != nil {
		return a.listener.Addr(), nil
	}
	ln, err := net.Listen("tcp", a.cfg.Server.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", a.cfg.Server.Listen, err)
	}
	a.listener = limitConns(ln, a.cfg.Server, a.reg, a.log)
	return ln.Addr(), nil
}

// URL is the base URL the App serves on, once listening.
func (a *App) URL() string {
	if a.listener == nil {
		return ""
	}
	scheme := "http"
	if a.cfg.Server.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + a.listener.Addr().String()
}

// Run serves until ctx ends, then shuts down gracefully (requests get
// server.shutdown_timeout to finish) and returns. A failure to serve is
// returned at once.
func (a *App) Run(ctx context.Context) error {
	if _, err := a.Listen(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer a.Close()

	srv := &http.Server{
		Handler:           a.web.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    a.cfg.Server.MaxHeaderBytes,
		IdleTimeout:       2 * time.Minute,
		ConnContext:       a.listener.ConnContext,
		ConnState:         a.listener.ConnState,
		ErrorLog:          slog.NewLogLogger(a.log.With(logkit.Component, "http").Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	a.mu.Lock()
	a.cancel, a.server = cancel, srv
	closed := a.closed
	a.mu.Unlock()
	if closed {
		cancel()
		return nil
	}
	serveErr := make(chan error, 1)
	go func() {
		var err error
		if a.cfg.Server.TLSCert != "" {
			srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = srv.ServeTLS(a.listener, a.cfg.Server.TLSCert, a.cfg.Server.TLSKey)
		} else {
			err = srv.Serve(a.listener)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		serveErr <- err
	}()

	a.wg.Go(func() { a.pub.run(ctx) })
	a.wg.Go(func() { a.housekeeping(ctx) })
	a.wg.Go(func() { a.video.run(ctx) })
	if a.alerting != nil {
		a.alerting.run(a.cluster.leaderCtx(ctx), &a.wg)
	}
	a.cluster.start(ctx, &a.wg, advertiseURL(a.cfg.Redis.AdvertiseURL, a.listener.Addr().String(), a.cfg.Server.TLSCert != ""))
	if a.cluster == nil { // with Redis the leader keeps walls and alerts together
		var open []alerts.Alert
		if a.alerting != nil {
			open = a.alerting.mgr.Open()
		}
		releaseUnknownAlerts(ctx, a.walls, open, a.log)
	}
	a.wg.Go(func() { a.walls.Run(ctx) })
	a.demo.Start(ctx, a.now, a.ingest, a.feeds.feed, &a.wg, a.log.Error)
	a.feeds.start(ctx, &a.wg)
	a.wg.Go(func() { a.ingest.Run(ctx) })
	a.ready.Store(true)
	a.log.Info("citywall serving", "url", a.URL(), "build", a.build, "demo", a.cfg.Demo.Enabled)

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	a.ready.Store(false)
	return nil
}

// Close stops serving: the hub says goodbye to every client (1001), the
// HTTP server drains within server.shutdown_timeout, background work
// stops, and what New opened is closed, last first. Safe to call twice.
func (a *App) Close() error {
	var err error
	a.closeOnce.Do(func() {
		a.ready.Store(false)
		a.mu.Lock()
		a.closed = true
		cancelRun, srv := a.cancel, a.server
		a.mu.Unlock()
		if cancelRun != nil {
			cancelRun()
		}
		_ = a.hub.Close()
		a.video.close()
		if srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Server.ShutdownTimeout)
			defer cancel()
			if e := srv.Shutdown(ctx); e != nil {
				err = fmt.Errorf("shutdown: %w", e)
				_ = srv.Close()
			}
		} else if a.listener != nil {
			_ = a.listener.Close()
		}
		a.wg.Wait()
		a.rollback()
	})
	return err
}

// housekeeping slides the windows and expires old tickets.
func (a *App) housekeeping(ctx context.Context) {
	slide := time.NewTicker(time.Second)
	defer slide.Stop()
	expire := time.NewTicker(time.Minute)
	defer expire.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-slide.C:
			a.engine.Advance(a.now())
		case <-expire.C:
			if n := a.store.Expire(a.now()); n > 0 {
				a.log.Debug("tickets expired", "n", n)
			}
			a.storage.compact()
		}
	}
}
