package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/filestore"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/web"
)

// alerting wires package alerts into the App: ingest feeds the cluster and
// SLA sources, the manager's changes go to the hub, notifications to
// webhooks and the wall.
type alerting struct {
	hub         *stream.Hub
	now         func() time.Time
	log         *slog.Logger
	demo        *demo.City // nil unless the demo runs
	resolution  int        // alerts.resolution
	deadLetters func(context.Context) ([]webhook.DeadLetter, error)
	mgr         *alerts.Manager
	cluster     *alerts.ClusterSource
	sla         *alerts.SLA
	hooks       *webhook.Sender
	wall        *alerts.WallLink
	router      *alerts.Router
	metrics     *alerts.Metrics

	pubMu sync.Mutex // orders hub publications as the manager's changes
}

func newAlerting(a *App, pusher alerts.WallPusher) (*alerting, error) {
	c := a.cfg.Alerts
	al := &alerting{hub: a.hub, now: a.now, log: a.log, demo: a.demo, resolution: c.Resolution, metrics: alerts.NewMetrics(a.reg)}
	al.router = &alerts.Router{Escalation: c.EscalateTo}
	for _, t := range c.Teams {
		al.router.Teams = append(al.router.Teams, alerts.Team{ID: t.ID, Name: t.Name, NameEn: t.NameEn, Members: t.Members,
			Districts: t.Districts, Cells: t.Cells, Categories: t.Categories, Sources: t.Sources, Webhooks: t.Webhooks})
	}
	var targets []webhook.Target
	for i, u := range c.Webhooks {
		targets = append(targets, webhook.Target{Name: fmt.Sprintf("all-%d", i+1), URL: u})
	}
	for _, t := range c.Teams {
		for i, u := range t.Webhooks {
			targets = append(targets, webhook.Target{Name: fmt.Sprintf("%s-%d", t.ID, i+1), URL: u, Teams: []string{t.ID}})
		}
	}
	al.hooks = webhook.New(targets, webhook.Options{Attempts: c.WebhookRetries, Backoff: c.WebhookBackoff,
		Registerer: a.reg, Logger: a.log.With("component", "webhook")})
	notifiers := []alerts.Notifier{al.hooks}
	if pusher != nil && c.WallPush {
		al.wall = alerts.NewWallLink(pusher, a.log.With("component", "wall-link"))
		notifiers = append(notifiers, al.wall)
	}
	var store alerts.Store
	if c.StateFile != "" {
		fs, err := filestore.New(c.StateFile)
		if err != nil {
			return nil, err
		}
		store = fs
	} else {
		a.log.Warn("alerts.state_file is not set: open alerts and their timers do not survive a restart")
	}
	if a.cluster != nil {
		a.cluster.sharedAlerting(al, &store, &notifiers)
	}
	mgr, err := alerts.New(context.Background(), alerts.Options{
		Store: store, Router: al.router, Notifiers: notifiers, Listeners: []alerts.Listener{al.publish},
		EscalateAfter: c.EscalateAfter, Renotify: c.Renotify, Metrics: al.metrics,
		Logger: a.log.With("component", "alerts"), Now: a.now, Active: a.cluster.leaderActive(),
	})
	if err != nil {
		return nil, err
	}
	al.mgr = mgr
	a.onClose(al.close)
	al.deadLetters = func(context.Context) ([]webhook.DeadLetter, error) { return al.hooks.DeadLetters(), nil }
	if a.cluster != nil {
		al.deadLetters = a.cluster.deadLetters
	}

	var cams []alerts.Camera
	for _, cam := range a.cfg.Cameras {
		cams = append(cams, alerts.Camera{ID: cam.ID, Name: cam.Name, NameEn: cam.NameEn, Lat: cam.Lat, Lng: cam.Lng})
	}
	var districts []alerts.District
	for _, d := range a.cfg.City.Districts {
		districts = append(districts, alerts.District{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
	}
	minHistory := c.MinHistory
	if minHistory == 0 {
		minHistory = -1
	}
	baselineFile := ""
	if c.StateFile != "" {
		baselineFile = strings.TrimSuffix(c.StateFile, filepath.Ext(c.StateFile)) + ".baseline.json"
	}
	al.cluster, err = alerts.NewClusterSource(mgr, alerts.ClusterOptions{
		Detector:     scan.Options{Windows: c.Windows, MinCount: c.MinCount, Threshold: c.Threshold},
		Baseline:     scan.BaselineOptions{Res: c.Resolution, Location: a.loc},
		Calibrate:    scan.CalibrateOptions{Weeks: c.CalibrateWeeks, FalseAlarmsPerWeek: c.FalseAlarmsPerWeek},
		Interval:     c.ScanInterval,
		Quiet:        c.Quiet,
		MinHistory:   minHistory,
		BaselineFile: baselineFile,
		Cameras:      cams, NearestCameras: c.NearestCameras, CameraMaxK: c.CameraMaxDistance,
		Districts: districts, CategoryEn: ticket.CategoryNameEn, Metrics: al.metrics,
		Logger: a.log.With("component", "clusters"), Now: a.now, Active: a.cluster.leaderActive(),
	})
	if err != nil {
		return nil, err
	}
	if c.SLAResponse > 0 {
		al.sla = alerts.NewSLA(mgr, alerts.SLAOptions{Limit: c.SLAResponse, Lookup: a.store.Get,
			CategoryEn: ticket.CategoryNameEn, Now: a.now, Active: a.cluster.leaderActive()})
	}
	return al, nil
}

// run starts alerting's goroutines under wg.
func (al *alerting) run(ctx context.Context, wg *sync.WaitGroup) {
	// Publish what survived a restart before anyone subscribes.
	for _, x := range al.mgr.Open() {
		al.publish(x)
	}
	wg.Go(func() { al.mgr.Run(ctx) })
	wg.Go(func() { al.hooks.Run(ctx) })
	if al.wall != nil {
		wg.Go(func() { al.wall.Run(ctx) })
	}
	if al.sla != nil {
		wg.Go(func() { al.sla.Run(ctx) })
	}
	wg.Go(func() {
		al.demo.LearnHistory(ctx, al.cluster, al.now(), al.resolution, al.log.Info)
		al.cluster.Run(ctx)
	})
}

func (al *alerting) close() {
	_ = al.mgr.Close()
}

// ticket and event are called by ingest for every accepted ticket and
// event.
func (al *alerting) ticket(t ticket.Ticket) { al.cluster.Ticket(t) }

func (al *alerting) event(e ticket.Event, _ ticket.State) {
	if al.sla != nil {
		al.sla.Event(context.Background(), e)
	}
}

// publish mirrors one alert change onto the hub's alert topics: open
// alerts are set, resolved ones deleted.
func (al *alerting) publish(x alerts.Alert) {
	al.pubMu.Lock()
	defer al.pubMu.Unlock()
	ctx := context.Background()
	now := al.now()
	topics := []string{web.TopicAlerts}
	for _, t := range x.Teams {
		topics = append(topics, web.TopicAlertsTeam+t)
	}
	if !x.Open() {
		for _, tp := range topics {
			_ = al.hub.PublishState(ctx, tp, nil, []string{x.ID}, now)
		}
		return
	}
	b, err := json.Marshal(x)
	if err != nil {
		return
	}
	for _, tp := range topics {
		_ = al.hub.PublishState(ctx, tp, map[string]json.RawMessage{x.ID: b}, nil, now)
	}
}

// webAlerts is the alerting as its API serves it.
func (al *alerting) webAlerts() *web.Alerts {
	return &web.Alerts{Manager: al.mgr, Router: al.router, Cluster: al.cluster, DeadLetters: al.deadLetters}
}
