package web

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
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/cluster/ingestlog"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/wall"
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

	districts []districtView // outlined on the map
	auth      *authenticator
	store     *ticket.Store
	engine    *geo.Engine
	bounds    *geo.Boundaries
	broker    stream.Broker
	redis     redis.UniversalClient // nil without redis.addrs
	cluster   *clusterNode          // nil without redis.addrs
	leader    *leaderNode           // nil without redis.addrs
	hub       *stream.Hub
	ingest    *ingester
	pub       *publisher
	alerting  *alerting // nil when alerts.enabled is false
	feeds     *feedsApp
	walls     *wall.Manager
	metrics   *appMetrics
	video     *video
	handler   http.Handler
	listener  net.Listener
	server    *http.Server
	ready     atomic.Bool

	closeOnce sync.Once
	mu        sync.Mutex // guards cancel and server, set by Run and read by Close
	cancel    context.CancelFunc
	closed    bool
	wg        sync.WaitGroup
}

// New builds an App from a validated configuration. Nothing runs until Run.
func New(cfg config.Config, o Options) (*App, error) {
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
	a := &App{
		cfg:    cfg,
		log:    o.Logger,
		reg:    o.Registry,
		now:    o.Now,
		build:  o.Build,
		loc:    loc,
		auth:   newAuthenticator(cfg.Auth.Tokens),
		store:  ticket.NewStore(ticket.StoreOptions{Retention: cfg.Tickets.Retention, MaxTickets: cfg.Tickets.MaxTickets}),
		bounds: geo.NewBoundaries(200_000),
	}
	for _, d := range cfg.City.Districts {
		a.districts = append(a.districts, districtView{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
	}
	if len(a.districts) == 0 && cfg.Demo.Enabled {
		for _, d := range demo.Districts() {
			a.districts = append(a.districts, districtView{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
		}
	}
	a.engine, err = geo.NewEngine(geo.Options{
		Resolutions:   cfg.Geo.Resolutions,
		Windows:       cfg.Geo.Windows,
		Buckets:       cfg.Geo.Buckets,
		MaxCategories: cfg.Geo.MaxCategories,
	}, a.now())
	if err != nil {
		return nil, fmt.Errorf("geo engine: %w", err)
	}
	a.redis = newRedis(cfg.Redis)
	a.leader = leaderNew(a)
	a.broker = stream.NewMemoryBroker()
	if a.redis != nil {
		if a.cluster, err = newClusterNode(a); err != nil {
			_ = a.redis.Close()
			return nil, err
		}
		a.broker = a.cluster.broker
	}
	a.hub = stream.New(stream.Options{
		QueueBytes:       cfg.Hub.QueueBytes,
		History:          cfg.Hub.History,
		WriteTimeout:     cfg.Hub.WriteTimeout,
		PingPeriod:       cfg.Hub.PingPeriod,
		PongWait:         cfg.Hub.PongWait,
		ReadLimit:        cfg.Hub.ReadLimit,
		MaxSubscriptions: cfg.Hub.MaxSubscriptions,
		Build:            a.build,
		Epoch:            a.clusterEpoch(),
		EpochFor:         a.clusterEpochFor,
		CheckOrigin:      originChecker(cfg.Server.Origins),
		Resolve:          a.resolveTopic,
	}, a.broker, a.reg, a.log.With("component", "hub"))
	if a.walls, err = a.newWalls(); err != nil {
		return nil, fmt.Errorf("walls: %w", err)
	}
	a.metrics = newAppMetrics(a.reg, a)
	if a.video, err = newVideo(a); err != nil {
		return nil, err
	}
	if a.feeds, err = newFeedsApp(a); err != nil {
		return nil, fmt.Errorf("feeds: %w", err)
	}
	a.pub = newPublisher(a)
	a.ingest = &ingester{app: a}
	if cfg.Alerts.Enabled {
		pusher := o.WallPusher
		if pusher == nil {
			pusher = a.walls // cluster alerts put their cameras in the walls' alert slots
		}
		if a.alerting, err = newAlerting(a, pusher); err != nil {
			return nil, fmt.Errorf("alerts: %w", err)
		}
		a.linkAlerting()
	}
	a.linkCluster()
	a.handler = a.routes()
	return a, nil
}

// Handler is the App's HTTP handler, for tests that serve it themselves.
func (a *App) Handler() http.Handler { return a.handler }

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
	a.listener = ln
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
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
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

	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.pub.run(ctx)
	}()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.housekeeping(ctx)
	}()
	a.wg.Go(func() { a.video.run(ctx) })
	if a.alerting != nil {
		a.alerting.run(a.leaderCtx(ctx))
	}
	a.leaderRun(ctx)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		a.walls.Run(ctx)
	}()
	if a.cfg.Demo.Enabled {
		sim := demo.New(demo.Options{PerDay: a.cfg.Demo.PerDay, Speed: a.cfg.Demo.Speed, Seed: a.cfg.Demo.Seed, Backfill: a.demoBackfill()})
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := sim.Run(ctx, a.now, demoEmitter{a}); err != nil && ctx.Err() == nil {
				a.log.Error("demo city stopped", "err", err)
			}
		}()
	}
	a.feeds.start(ctx, &a.wg)
	if a.cluster != nil {
		a.cluster.start(ctx, &a.wg)
	}
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
// HTTP server drains within server.shutdown_timeout, and background work
// stops. Safe to call twice.
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
		if a.leader != nil {
			a.leader.close()
		}
		if a.alerting != nil {
			a.alerting.close()
		}
		if a.redis != nil {
			_ = a.redis.Close()
		}
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
		}
	}
}

// demoEmitter feeds the simulated city through the same path as posted
// tickets.
type demoEmitter struct{ a *App }

// demoBackfill is how far back the demo emits whole tickets on start:
// from yesterday's local midnight, so the tickets falling due today (the
// completion rate's) have their whole lifecycle. 0 (the demo's default
// day) when the demo runs faster than life.
func (a *App) demoBackfill() time.Duration {
	if a.cfg.Demo.Speed > 1 {
		return 0
	}
	now := a.now().In(a.loc)
	yesterday := time.Date(now.Year(), now.Month(), now.Day()-1, 0, 0, 0, 0, a.loc)
	return now.Sub(yesterday)
}

func (d demoEmitter) Ticket(t ticket.Ticket) {
	if err := t.Normalize(d.a.now()); err != nil {
		d.a.metrics.rejected(rejectLabel(err))
		return
	}
	if d.a.clusterDemo(ingestlog.KindTickets, t) {
		return
	}
	d.a.ingest.ticket(context.Background(), t)
}

func (d demoEmitter) Event(e ticket.Event) {
	if err := e.Normalize(d.a.now()); err != nil {
		d.a.metrics.eventsRejected(rejectLabel(err))
		return
	}
	if d.a.clusterDemo(ingestlog.KindEvents, e) {
		return
	}
	_, _, _ = d.a.ingest.event(e)
}

// CellsLive is how many cells hold a count, over every resolution and
// window (all categories).
func (a *App) CellsLive() int { return a.engine.Stats().Cells }
