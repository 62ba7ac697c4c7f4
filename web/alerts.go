package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/internal/jsoncheck"
	"github.com/citywall/citywall/stream"
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

// resolveTopic knows the alert topics.
func (al *Alerts) resolveTopic(name string) (stream.Kind, error) {
	if name == TopicAlerts {
		return stream.KindState, nil
	}
	id := strings.TrimPrefix(name, TopicAlertsTeam)
	if _, ok := al.Router.Team(id); ok {
		return stream.KindState, nil
	}
	return 0, fmt.Errorf("%w: %q: no team %q", stream.ErrUnknownTopic, name, id)
}

// resolveAlertTopic is resolveTopic's case for alert topics.
func (s *Server) resolveAlertTopic(name string) (stream.Kind, error) {
	if s.alerting == nil {
		return 0, fmt.Errorf("%w: %q: alerting is off", stream.ErrUnknownTopic, name)
	}
	return s.alerting.resolveTopic(name)
}

// --- HTTP API ---------------------------------------------------------------

// withAlerting answers 404 when alerting is off.
func (s *Server) withAlerting(f func(al *Alerts, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.alerting == nil {
			writeError(w, http.StatusNotFound, codeNotFound, "alerting is off (alerts.enabled: false)")
			return
		}
		f(s.alerting, w, r)
	}
}

func (s *Server) handleListAlerts(al *Alerts, w http.ResponseWriter, r *http.Request) {
	f, err := parseAlertFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	list := al.Manager.List(f)
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

func (s *Server) handleGetAlert(al *Alerts, w http.ResponseWriter, r *http.Request) {
	x, ok := al.Manager.Get(r.PathValue("id"))
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

// decodeStrict reads one JSON object with no unknown fields, no member
// named twice and valid UTF-8; an empty body is the zero value when
// allowEmpty.
func decodeStrict(data []byte, v any, allowEmpty bool) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return nil
		}
		return errors.New("empty body: send a JSON object")
	}
	if err := jsoncheck.Check(data); err != nil {
		return fmt.Errorf("malformed body: %w", err)
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

// decodeAck reads an ack body.
func decodeAck(data []byte) (AckRequest, error) {
	var req AckRequest
	if err := decodeStrict(data, &req, true); err != nil {
		return req, err
	}
	if len(req.Note) > 2000 {
		return req, errors.New("note: at most 2000 bytes")
	}
	return req, nil
}

// decodeResolve reads a resolve body; the reason is required.
func decodeResolve(data []byte) (ResolveRequest, error) {
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

// decodeSilence reads a silence body into a silence starting at now unless
// it says otherwise; alerts.Silence.Validate checks the rest.
func decodeSilence(data []byte, now time.Time) (alerts.Silence, error) {
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
func (al *Alerts) mayHandle(p principal, x alerts.Alert) bool {
	if p.has(config.RoleCommander) {
		return true
	}
	mine := al.Router.TeamsOf(p.Name)
	if len(mine) == 0 {
		return true // a team token in no configured team: the role decides
	}
	return slices.ContainsFunc(mine, func(t string) bool { return slices.Contains(x.Teams, t) })
}

func (s *Server) lifecycleError(w http.ResponseWriter, err error) {
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

func (s *Server) handleAckAlert(al *Alerts, w http.ResponseWriter, r *http.Request) {
	p, _ := s.auth.authenticate(r)
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	req, err := decodeAck(data)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	s.actOnAlert(al, w, r, p, func(ctx context.Context, id string) (alerts.Alert, error) {
		return al.Manager.Ack(ctx, id, p.Name, req.Note)
	})
}

func (s *Server) handleResolveAlert(al *Alerts, w http.ResponseWriter, r *http.Request) {
	p, _ := s.auth.authenticate(r)
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	req, err := decodeResolve(data)
	if err != nil {
		s.lifecycleError(w, err)
		return
	}
	s.actOnAlert(al, w, r, p, func(ctx context.Context, id string) (alerts.Alert, error) {
		return al.Manager.Resolve(ctx, id, p.Name, req.Reason)
	})
}

// actOnAlert runs act on the alert of the path when it is routed to the
// caller's team (or the caller may handle any), and answers with the
// alert as act left it.
func (s *Server) actOnAlert(al *Alerts, w http.ResponseWriter, r *http.Request, p principal, act func(context.Context, string) (alerts.Alert, error)) {
	id := r.PathValue("id")
	if x, ok := al.Manager.Get(id); ok && !al.mayHandle(p, x) {
		writeError(w, http.StatusForbidden, codeForbidden, "this alert is not routed to your team")
		return
	}
	x, err := act(r.Context(), id)
	if err != nil {
		s.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, x)
}

func (s *Server) handlePostSilence(al *Alerts, w http.ResponseWriter, r *http.Request) {
	p, _ := s.auth.authenticate(r)
	data, ok := readAlertBody(w, r)
	if !ok {
		return
	}
	sil, err := decodeSilence(data, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	sil.CreatedBy = p.Name
	sil, err = al.Manager.AddSilence(r.Context(), sil)
	if err != nil {
		s.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, sil)
}

func (s *Server) handleListSilences(al *Alerts, w http.ResponseWriter, _ *http.Request) {
	list := al.Manager.Silences()
	if list == nil {
		list = []alerts.Silence{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": list})
}

func (s *Server) handleDeleteSilence(al *Alerts, w http.ResponseWriter, r *http.Request) {
	if err := al.Manager.ExpireSilence(r.Context(), r.PathValue("id")); err != nil {
		s.lifecycleError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": r.PathValue("id"), "status": "expired"})
}

// handleAlertTeams tells a page the teams and which are the caller's.
func (s *Server) handleAlertTeams(al *Alerts, w http.ResponseWriter, r *http.Request) {
	p, _ := s.auth.authenticate(r)
	type teamView struct {
		ID     string `json:"id"`
		Name   string `json:"name"`
		NameEn string `json:"name_en,omitempty"`
	}
	teams := []teamView{}
	for _, t := range al.Router.Teams {
		teams = append(teams, teamView{t.ID, t.Name, t.NameEn})
	}
	mine := al.Router.TeamsOf(p.Name)
	if mine == nil {
		mine = []string{}
	}
	cal := al.Cluster.Calibration()
	writeJSON(w, http.StatusOK, map[string]any{"teams": teams, "mine": mine, "escalation": al.Router.Escalation,
		"name": p.Name, "may_handle": p.has(rolesAlertHandle...), "threshold": al.Cluster.Detector().Threshold(), "calibration": cal})
}

// handleDeadLetters shows the webhook notifications given up on.
func (s *Server) handleDeadLetters(al *Alerts, w http.ResponseWriter, r *http.Request) {
	list, _ := al.DeadLetters(r.Context())
	if list == nil {
		list = []webhook.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dead_letters": list})
}
