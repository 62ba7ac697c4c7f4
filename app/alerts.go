package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/actionlink"
	"github.com/citywall/citywall/alerts/filestore"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/web"
)

// alerting wires package alerts into the App: ingest feeds the cluster and
// SLA sources, the manager's changes go to the hub, notifications to
// webhooks and the wall.
type alerting struct {
	hub         alertHub
	now         func() time.Time
	log         *slog.Logger
	demo        *demo.City // nil unless the demo runs
	resolution  int        // alerts.resolution
	deadLetters func(context.Context) ([]webhook.DeadLetter, error)
	mgr         *alerts.Manager
	cluster     *alerts.ClusterSource
	hot         *alerts.HotIssueSource // nil: hot issues off
	sla         *alerts.SLA
	hooks       *webhook.Sender
	wall        *alerts.WallLink
	router      *alerts.Router
	links       *actionlink.Links // nil without server.public_url
	metrics     *alerts.Metrics

	pubMu sync.Mutex // orders hub publications as the manager's changes
}

// alertingOptions are what the alerting is built from.
type alertingOptions struct {
	Config   config.Alerts
	City     config.City     // its name and districts
	Places   []string        // names summaries carry as places, never as issues (App.placeNames)
	Cameras  []config.Camera // with the demo overlay's
	Location *time.Location
	Now      func() time.Time
	Reg      prometheus.Registerer
	Log      *slog.Logger
	Hub      alertHub
	Demo     *demo.City                           // nil unless the demo runs: it teaches the detectors its history
	Lookup   func(id string) (ticket.State, bool) // the ticket store, for the SLA
	Pusher   alerts.WallPusher                    // nil: no wall linkage
	DataFile string                               // the data directory's alerts file; "": none
	Shared   sharedAlerts                         // the store shared through Redis; nil alone
	Active   func() bool                          // leader-only work runs while it says so; nil: always
	OnClose  func(func())                         // registers what the App closes when it stops
	// PublicURL is server.public_url: where alert messages link back to.
	PublicURL string
}

// alertHub is where alert changes are published.
type alertHub interface {
	PublishState(ctx context.Context, topic string, set map[string]json.RawMessage, del []string, origin time.Time) error
}

// sharedAlerts is the alert state instances share through Redis
// (leader.go): the store and the leader's outbox in place of the file
// and the direct notifiers, the dead letters, the links' store.
type sharedAlerts interface {
	sharedAlerting(al *alerting, store *alerts.Store, notifiers *[]alerts.Notifier)
	deadLetters(ctx context.Context) ([]webhook.DeadLetter, error)
	linkStore() actionlink.Store
}

func newAlerting(o alertingOptions) (*alerting, error) {
	c := o.Config
	al := &alerting{hub: o.Hub, now: o.Now, log: o.Log, demo: o.Demo, resolution: c.Resolution, metrics: alerts.NewMetrics(o.Reg)}
	al.router = &alerts.Router{Escalation: c.EscalateTo}
	members := map[string][]webhook.Member{}
	for _, t := range c.Teams {
		al.router.Teams = append(al.router.Teams, alerts.Team{ID: t.ID, Name: t.Name, NameEn: t.NameEn, Members: config.Names(t.Members),
			Districts: t.Districts, Cells: t.Cells, Categories: t.Categories, Sources: t.Sources})
		for _, m := range t.Members {
			members[t.ID] = append(members[t.ID], webhook.Member{Name: m.Name, Mobile: m.Mobile, UserID: m.UserID})
		}
	}
	var targets []webhook.Target
	for _, w := range c.WebhookTargets() {
		targets = append(targets, webhook.Target{Name: w.Name, URL: w.URL, Kind: w.Kind, Secret: w.Secret, Teams: w.Teams, PerMinute: w.PerMinute})
	}
	lo := alertLinksOptions{PublicURL: o.PublicURL, StateFile: c.StateFile, Log: o.Log}
	if o.Shared != nil {
		lo.Shared = o.Shared.linkStore()
	}
	links, link, err := newAlertLinks(lo)
	if err != nil {
		return nil, err
	}
	al.links = links
	al.hooks = webhook.New(targets, webhook.Options{Link: link, Attempts: c.WebhookRetries, Backoff: c.WebhookBackoff,
		Members: func(team string) []webhook.Member { return members[team] }, Registerer: o.Reg, Logger: o.Log.With("component", "webhook")})
	notifiers := []alerts.Notifier{al.hooks}
	if o.Pusher != nil && c.WallPush {
		al.wall = alerts.NewWallLink(o.Pusher, o.Log.With("component", "wall-link"))
		notifiers = append(notifiers, al.wall)
	}
	var store alerts.Store
	stateFile := c.StateFile
	if stateFile == "" {
		stateFile = o.DataFile
	}
	switch {
	case o.Shared != nil:
		o.Shared.sharedAlerting(al, &store, &notifiers)
	case stateFile != "":
		fs, err := filestore.New(stateFile)
		if err != nil {
			return nil, err
		}
		store = fs
	default:
		o.Log.Warn("alerts.state_file is not set and storage.memory is set: open alerts and their timers do not survive a restart")
	}
	mgr, err := alerts.New(context.Background(), alerts.Options{
		Store: store, Router: al.router, Notifiers: notifiers, Listeners: []alerts.Listener{al.publish},
		EscalateAfter: c.EscalateAfter, Renotify: c.Renotify, Metrics: al.metrics,
		Logger: o.Log.With("component", "alerts"), Now: o.Now, Active: o.Active,
	})
	if err != nil {
		return nil, err
	}
	al.mgr = mgr
	o.OnClose(al.close)
	al.deadLetters = func(context.Context) ([]webhook.DeadLetter, error) { return al.hooks.DeadLetters(), nil }
	if o.Shared != nil {
		al.deadLetters = o.Shared.deadLetters
	}

	var cams []alerts.Camera
	for _, cam := range o.Cameras {
		cams = append(cams, alerts.Camera{ID: cam.ID, Name: cam.Name, NameEn: cam.NameEn, Lat: cam.Lat, Lng: cam.Lng})
	}
	var districts []alerts.District
	for _, d := range o.City.Districts {
		districts = append(districts, alerts.District{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
	}
	minHistory := c.MinHistory
	if minHistory == 0 {
		minHistory = -1
	}
	baselineFile := ""
	if stateFile != "" {
		baselineFile = strings.TrimSuffix(stateFile, filepath.Ext(stateFile)) + ".baseline.json"
	}
	al.cluster, err = alerts.NewClusterSource(mgr, alerts.ClusterOptions{
		Detector:     scan.Options{Windows: c.Windows, MinCount: c.MinCount, Threshold: c.Threshold},
		Baseline:     scan.BaselineOptions{Res: c.Resolution, Location: o.Location},
		Calibrate:    scan.CalibrateOptions{Weeks: c.CalibrateWeeks, FalseAlarmsPerWeek: c.FalseAlarmsPerWeek},
		Interval:     c.ScanInterval,
		Quiet:        c.Quiet,
		MinHistory:   minHistory,
		Forget:       c.BaselineForget,
		BaselineFile: baselineFile,
		Cameras:      cams, NearestCameras: c.NearestCameras, CameraMaxK: c.CameraMaxDistance,
		Districts: districts, CategoryEn: ticket.CategoryNameEn, Metrics: al.metrics,
		Logger: o.Log.With("component", "clusters"), Now: o.Now, Active: o.Active,
	})
	if err != nil {
		return nil, err
	}
	if c.HotIssueFalseAlarmsPerWeek > 0 {
		al.hot, err = alerts.NewHotIssueSource(mgr, al.cluster.Baseline(), alerts.HotIssueOptions{
			FalseAlarmsPerWeek: c.HotIssueFalseAlarmsPerWeek, CalibrateWeeks: min(c.CalibrateWeeks, 2),
			Places: o.Places, MinHistory: minHistory, CategoryEn: ticket.CategoryNameEn,
			Logger: o.Log.With("component", "hot-issues"), Now: o.Now, Active: o.Active,
		})
		if err != nil {
			return nil, err
		}
	}
	if c.SLAResponse > 0 {
		al.sla = alerts.NewSLA(mgr, alerts.SLAOptions{Limit: c.SLAResponse, Lookup: o.Lookup,
			CategoryEn: ticket.CategoryNameEn, Now: o.Now, Active: o.Active})
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
		al.demo.LearnHistory(ctx, al.cluster, al.hot, al.now(), al.resolution, al.log.Info)
		if al.hot != nil {
			wg.Go(func() { al.hot.Run(ctx) })
		}
		al.cluster.Run(ctx)
	})
}

func (al *alerting) close() {
	_ = al.mgr.Close()
}

// ticket and event are called by ingest for every accepted ticket and
// event.
func (al *alerting) ticket(t ticket.Ticket) {
	al.cluster.Ticket(t)
	if al.hot != nil {
		al.hot.Ticket(t)
	}
}

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
	return &web.Alerts{Manager: al.mgr, Router: al.router, Cluster: al.cluster, DeadLetters: al.deadLetters, Links: al.links}
}
