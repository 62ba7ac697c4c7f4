package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/eval"
	"github.com/citywall/citywall/alerts/filestore"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
)

// Alert topics: the open alerts, and those routed to one team.
const (
	topicAlerts     = "alerts"
	topicAlertsTeam = "alerts/team/"
)

// Error codes of the alert API.
const (
	codeConflict       = "conflict"
	codeReasonRequired = "reason_required"
)

// Who may handle alerts.
var (
	rolesAlertHandle = []config.Role{config.RoleCommander, config.RoleTeam}
	rolesSilence     = []config.Role{config.RoleCommander}
	rolesTeamPage    = []config.Role{config.RoleTeam, config.RoleCommander}
)

// alerting wires package alerts into the App: ingest feeds the cluster and
// SLA sources, the manager's changes go to the hub, notifications to
// webhooks and the wall.
type alerting struct {
	a       *App
	mgr     *alerts.Manager
	cluster *alerts.ClusterSource
	sla     *alerts.SLA
	hooks   *webhook.Sender
	wall    *alerts.WallLink
	router  *alerts.Router
	metrics *alerts.Metrics

	pubMu sync.Mutex // orders hub publications as the manager's changes
}

func newAlerting(a *App, pusher alerts.WallPusher) (*alerting, error) {
	c := a.cfg.Alerts
	al := &alerting{a: a, metrics: alerts.NewMetrics(a.reg)}
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
	if a.leader != nil {
		a.leaderAlerting(al, &store, &notifiers)
	}
	mgr, err := alerts.New(context.Background(), alerts.Options{
		Store: store, Router: al.router, Notifiers: notifiers, Listeners: []alerts.Listener{al.publish},
		EscalateAfter: c.EscalateAfter, Renotify: c.Renotify, Metrics: al.metrics,
		Logger: a.log.With("component", "alerts"), Now: a.now, Active: a.leaderActive(),
	})
	if err != nil {
		return nil, err
	}
	al.mgr = mgr

	var cams []alerts.Camera
	for _, cam := range a.cfg.Cameras {
		cams = append(cams, alerts.Camera{ID: cam.ID, Name: cam.Name, NameEn: cam.NameEn, Lat: cam.Lat, Lng: cam.Lng})
	}
	if len(cams) == 0 && a.cfg.Demo.Enabled {
		for _, cam := range demo.Cameras() {
			cams = append(cams, alerts.Camera{ID: cam.ID, Name: cam.Name, NameEn: cam.NameEn, Lat: cam.Lat, Lng: cam.Lng})
		}
	}
	var districts []alerts.District
	for _, d := range a.districts {
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
		Districts: districts, CategoryEn: demo.CategoryNameEn, Metrics: al.metrics,
		Logger: a.log.With("component", "clusters"), Now: a.now, Active: a.leaderActive(),
	})
	if err != nil {
		return nil, err
	}
	if c.SLAResponse > 0 {
		al.sla = alerts.NewSLA(mgr, alerts.SLAOptions{Limit: c.SLAResponse, Lookup: a.store.Get,
			CategoryEn: demo.CategoryNameEn, Now: a.now, Active: a.leaderActive()})
	}
	return al, nil
}

// Manager is the App's alert manager (nil when alerting is off): other
// sources (cameras, feeds) fire and clear alerts through it.
func (a *App) Manager() *alerts.Manager {
	if a.alerting == nil {
		return nil
	}
	return a.alerting.mgr
}

// run starts alerting's goroutines under the App's WaitGroup.
func (al *alerting) run(ctx context.Context) {
	a := al.a
	goRun := func(f func(context.Context)) {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			f(ctx)
		}()
	}
	// Publish what survived a restart before anyone subscribes.
	for _, x := range al.mgr.Open() {
		al.publish(x)
	}
	goRun(al.mgr.Run)
	goRun(al.hooks.Run)
	if al.wall != nil {
		goRun(al.wall.Run)
	}
	if al.sla != nil {
		goRun(al.sla.Run)
	}
	goRun(func(ctx context.Context) {
		if a.cfg.Demo.Enabled {
			al.learnDemoHistory(ctx)
		}
		al.cluster.Run(ctx)
	})
}

// learnDemoHistory gives the demo city's detector the weeks of history a
// real centre would have: three weeks of the same simulated city before
// the day the demo back-fills.
func (al *alerting) learnDemoHistory(ctx context.Context) {
	from, to := al.cluster.Baseline().Span()
	if to.Sub(from) >= 14*24*time.Hour {
		return // kept from an earlier run
	}
	began := time.Now()
	end := al.a.now().Add(-24 * time.Hour)
	evs, err := eval.Background(ctx, al.a.cfg.Demo.PerDay, 21*24*time.Hour, end, al.a.cfg.Demo.Seed+7, 0, al.a.cfg.Alerts.Resolution)
	if err != nil {
		return
	}
	for _, e := range evs {
		_ = al.cluster.Baseline().Observe(e.Cell, e.Category, e.Time)
	}
	al.a.log.Info("demo alert history learnt", "tickets", len(evs), "took", time.Since(began).Round(time.Millisecond))
}

func (al *alerting) close() {
	_ = al.mgr.Close()
}

// ticket and event are called by ingest for every accepted ticket and
// event.
func (al *alerting) ticket(t ticket.Ticket) { al.cluster.Ticket(t) }

func (al *alerting) event(e ticket.Event) {
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
	now := al.a.now()
	topics := []string{topicAlerts}
	for _, t := range x.Teams {
		topics = append(topics, topicAlertsTeam+t)
	}
	if !x.Open() {
		for _, tp := range topics {
			_ = al.a.hub.PublishState(ctx, tp, nil, []string{x.ID}, now)
		}
		return
	}
	b, err := json.Marshal(x)
	if err != nil {
		return
	}
	for _, tp := range topics {
		_ = al.a.hub.PublishState(ctx, tp, map[string]json.RawMessage{x.ID: b}, nil, now)
	}
}

// resolveTopic knows the alert topics.
func (al *alerting) resolveTopic(name string) (stream.Kind, error) {
	if name == topicAlerts {
		return stream.KindState, nil
	}
	id := strings.TrimPrefix(name, topicAlertsTeam)
	if _, ok := al.router.Team(id); ok {
		return stream.KindState, nil
	}
	return 0, fmt.Errorf("%w: %q: no team %q", stream.ErrUnknownTopic, name, id)
}

// resolveAlertTopic is resolveTopic's case for alert topics.
func (a *App) resolveAlertTopic(name string) (stream.Kind, error) {
	if a.alerting == nil {
		return 0, fmt.Errorf("%w: %q: alerting is off", stream.ErrUnknownTopic, name)
	}
	return a.alerting.resolveTopic(name)
}

// --- HTTP API ---------------------------------------------------------------

// withAlerting answers 404 when alerting is off.
func (a *App) withAlerting(f func(al *alerting, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.alerting == nil {
			writeError(w, http.StatusNotFound, codeNotFound, "alerting is off (alerts.enabled: false)")
			return
		}
		f(a.alerting, w, r)
	}
}

func (a *App) handleListAlerts(al *alerting, w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	list := al.mgr.List(f)
	if list == nil {
		list = []alerts.Alert{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": list, "count": len(list)})
}

func parseAlertFilter(q map[string][]string) (alerts.Filter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	f := alerts.Filter{Source: get("source"), Category: get("category"), District: get("district"), Team: get("team")}
	switch s := get("state"); s {
	case "":
	case "open":
		f.Open = true
	case string(alerts.StateFiring), string(alerts.StateAcknowledged), string(alerts.StateResolved):
		f.State = alerts.State(s)
	default:
		return f, fmt.Errorf("state: %q is not one of open, firing, acknowledged, resolved", s)
	}
	for _, p := range []struct {
		key string
		t   *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := get(p.key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, fmt.Errorf("%s: %q is not an RFC 3339 time (2026-11-22T09:30:00+08:00)", p.key, v)
			}
			*p.t = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, errors.New("to: must be after from")
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 5000 {
			return f, fmt.Errorf("limit: %q must be 1..5000", v)
		}
		f.Limit = n
	}
	return f, nil
}

func (a *App) handleGetAlert(al *alerting, w http.ResponseWriter, r *http.Request) {
	x, ok := al.mgr.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no alert %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, x)
}

// AckRequest is the optional body of POST /api/v1/alerts/{id}/ack.
type AckRequest struct {
	Note string `json:"note"`
}

// ResolveRequest is the body of POST /api/v1/alerts/{id}/resolve.
type ResolveRequest struct {
	Reason string `json:"reason"`
}

// SilenceRequest is the body of POST /api/v1/silences: ends_at or a
// duration such as "2h".
type SilenceRequest struct {
	Category string    `json:"category"`
	District string    `json:"district"`
	Cells    []string  `json:"cells"`
	Source   string    `json:"source"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Duration string    `json:"duration"`
	Comment  string    `json:"comment"`
}

// maxAlertBody bounds the bodies of the alert API.
const maxAlertBody = 64 << 10

// decodeStrict reads one JSON object with no unknown fields; an empty body
// is the zero value when allowEmpty.
func decodeStrict(data []byte, v any, allowEmpty bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return nil
		}
		return errors.New("empty body: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed body: %w", err)
	}
	if dec.More() {
		return errors.New("malformed body: more than one JSON value")
	}
	return nil
}

// DecodeAck reads an ack body.
func DecodeAck(data []byte) (AckRequest, error) {
	var req AckRequest
	if err := decodeStrict(data, &req, true); err != nil {
		return req, err
	}
	if len(req.Note) > 2000 {
		return req, errors.New("note: at most 2000 bytes")
	}
	return req, nil
}

// DecodeResolve reads a resolve body; the reason is required.
func DecodeResolve(data []byte) (ResolveRequest, error) {
	var req ResolveRequest
	if err := decodeStrict(data, &req, false); err != nil {
		return req, err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		return req, alerts.ErrReasonRequired
	}
	if len(req.Reason) > 2000 {
		return req, errors.New("reason: at most 2000 bytes")
	}
	return req, nil
}

// DecodeSilence reads a silence body into a silence starting at now unless
// it says otherwise; alerts.Silence.Validate checks the rest.
func DecodeSilence(data []byte, now time.Time) (alerts.Silence, error) {
	var req SilenceRequest
	if err := decodeStrict(data, &req, false); err != nil {
		return alerts.Silence{}, err
	}
	s := alerts.Silence{Category: req.Category, District: req.District, Cells: req.Cells, Source: req.Source,
		StartsAt: req.StartsAt, EndsAt: req.EndsAt, Comment: req.Comment}
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	if req.Duration != "" {
		if !req.EndsAt.IsZero() {
			return s, errors.New("duration: give ends_at or duration, not both")
		}
		d, err := time.ParseDuration(req.Duration)
		if err != nil || d <= 0 {
			return s, fmt.Errorf("duration: %q is not a positive duration such as 2h", req.Duration)
		}
		if d > alerts.MaxSilence {
			return s, fmt.Errorf("duration: at most %s", alerts.MaxSilence)
		}
		s.EndsAt = s.StartsAt.Add(d)
	}
	if err := s.Validate(now); err != nil {
		return s, err
	}
	return s, nil
}

func readAlertBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlertBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body over %d bytes", mbe.Limit))
		} else {
			writeError(w, http.StatusBadRequest, codeBadRequest, "body unreadable: "+err.Error())
		}
		return nil, false
	}
	return data, true
}

// mayHandle checks that a team member handles only its teams' alerts;
// commanders and admins handle all.
func (al *alerting) mayHandle(p principal, x alerts.Alert) bool {
	if p.has(config.RoleCommander) {
		return true
	}
	mine := al.router.TeamsOf(p.Name)
	if len(mine) == 0 {
		return true // a team token in no configured team: the role decides
	}
	return slices.ContainsFunc(mine, func(t string) bool { return slices.Contains(x.Teams, t) })
}

func (a *App) lifecycleError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
	case errors.Is(err, alerts.ErrState):
		writeError(w, http.StatusConflict, codeConflict, err.Error())
	case errors.Is(err, alerts.ErrReasonRequired):
		writeError(w, http.StatusBadRequest, codeReasonRequired, "reason: say why the alert is resolved")
	case errors.Is(err, alerts.ErrClosed), errors.Is(err, alerts.ErrUnavailable):
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, err.Error())
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
	}
}

func (a *App) handleAckAlert(al *alerting, w http.ResponseWriter, r *http.Request) {
	p, _ := a.auth.authenticate(r)
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeAck(data)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	id := r.PathValue("id")
	if x, ok := al.mgr.Get(id); ok && !al.mayHandle(p, x) {
		writeError(w, http.StatusForbidden, codeForbidden, "this alert is not routed to your team")
		return
	}
	x, err := al.mgr.Ack(r.Context(), id, p.Name, req.Note)
	if err != nil {
		a.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (a *App) handleResolveAlert(al *alerting, w http.ResponseWriter, r *http.Request) {
	p, _ := a.auth.authenticate(r)
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	req, err := DecodeResolve(data)
	if err != nil {
		a.lifecycleError(w, err)
		return
	}
	id := r.PathValue("id")
	if x, ok := al.mgr.Get(id); ok && !al.mayHandle(p, x) {
		writeError(w, http.StatusForbidden, codeForbidden, "this alert is not routed to your team")
		return
	}
	x, err := al.mgr.Resolve(r.Context(), id, p.Name, req.Reason)
	if err != nil {
		a.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (a *App) handlePostSilence(al *alerting, w http.ResponseWriter, r *http.Request) {
	p, _ := a.auth.authenticate(r)
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	s, err := DecodeSilence(data, a.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.CreatedBy = p.Name
	s, err = al.mgr.AddSilence(r.Context(), s)
	if err != nil {
		a.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

func (a *App) handleListSilences(al *alerting, w http.ResponseWriter, _ *http.Request) {
	list := al.mgr.Silences()
	if list == nil {
		list = []alerts.Silence{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": list})
}

func (a *App) handleDeleteSilence(al *alerting, w http.ResponseWriter, r *http.Request) {
	if err := al.mgr.ExpireSilence(r.Context(), r.PathValue("id")); err != nil {
		a.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": "expired"})
}

// handleAlertTeams tells a page the teams and which are the caller's.
func (a *App) handleAlertTeams(al *alerting, w http.ResponseWriter, r *http.Request) {
	p, _ := a.auth.authenticate(r)
	type teamView struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		NameEn string `json:"name_en,omitempty"`
	}
	teams := []teamView{}
	for _, t := range al.router.Teams {
		teams = append(teams, teamView{t.ID, t.Name, t.NameEn})
	}
	mine := al.router.TeamsOf(p.Name)
	if mine == nil {
		mine = []string{}
	}
	cal := al.cluster.Calibration()
	writeJSON(w, http.StatusOK, map[string]any{"teams": teams, "mine": mine, "escalation": al.router.Escalation,
		"name": p.Name, "may_handle": p.has(rolesAlertHandle...), "threshold": al.cluster.Detector().Threshold(), "calibration": cal})
}

// handleDeadLetters shows the webhook notifications given up on.
func (a *App) handleDeadLetters(al *alerting, w http.ResponseWriter, r *http.Request) {
	list := al.hooks.DeadLetters()
	if a.leader != nil {
		list, _ = a.leaderDeadLetters(r.Context())
	}
	if list == nil {
		list = []webhook.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": list})
}
