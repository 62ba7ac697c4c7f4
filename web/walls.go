package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/wall"
)

// codeWallInvalid answers a request whose content breaks a rule of the walls.
const codeWallInvalid = "invalid"

// rolesWallControl may drive the walls: switch sets, layouts and tours,
// push cameras, change layouts, sets, tours and schedules.
var rolesWallControl = []config.Role{config.RolePatrol, config.RoleCommander}

// resolveWallTopic accepts wall/{id} for the walls that exist.
func (s *Server) resolveWallTopic(name string) (stream.Kind, error) {
	if !s.walls.HasWall(strings.TrimPrefix(name, wall.TopicPrefix)) {
		return 0, fmt.Errorf("%w: %q: no such wall", stream.ErrUnknownTopic, name)
	}
	return stream.KindState, nil
}

// wallRoutes adds the walls' pages and API.
func (s *Server) wallRoutes(mux *http.ServeMux, static fs.FS) {
	read := func(h http.HandlerFunc) http.Handler { return s.require(rolesRead, h) }
	ctl := func(h func(http.ResponseWriter, *http.Request, wall.Actor)) http.Handler {
		return s.require(rolesWallControl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := s.auth.authenticate(r)
			role := ""
			for _, x := range p.Roles {
				if x == config.RoleAdmin || wallHasRole(rolesWallControl, x) {
					role = string(x)
					break
				}
			}
			h(w, r, wall.Actor{Name: p.Name, Role: role})
		}))
	}
	wallPage := s.page(rolesRead, "wall.html", static)
	mux.HandleFunc("GET /wall/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !s.walls.HasWall(r.PathValue("id")) {
			writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("wall %q: no such wall", r.PathValue("id")))
			return
		}
		wallPage.ServeHTTP(w, r)
	})
	mux.Handle("GET /console", s.page(append([]config.Role{}, rolesWallControl...), "console.html", static))

	mux.Handle("GET /api/v1/walls", read(s.handleWalls))
	mux.Handle("GET /api/v1/walls/{id}", read(s.handleWall))
	mux.Handle("GET /api/v1/audit", read(s.handleAudit))
	mux.Handle("POST /api/v1/walls/{id}/set", ctl(s.handleWallSet))
	mux.Handle("POST /api/v1/walls/{id}/layout", ctl(s.handleWallLayout))
	mux.Handle("POST /api/v1/walls/{id}/push", ctl(s.handleWallPush))
	mux.Handle("POST /api/v1/walls/{id}/tour", ctl(s.handleWallTour))
	mux.Handle("POST /api/v1/walls/{id}/release", ctl(s.handleWallRelease))
	mux.Handle("PUT /api/v1/walls/{id}/layouts/{layout}", ctl(s.handlePutLayout))
	mux.Handle("DELETE /api/v1/walls/{id}/layouts/{layout}", ctl(s.handleDeleteLayout))
	mux.Handle("PUT /api/v1/camera-sets/{id}", ctl(putSpec(s, func(x *wall.Set) *string { return &x.ID }, s.walls.PutSet)))
	mux.Handle("DELETE /api/v1/camera-sets/{id}", ctl(s.handleDeleteSet))
	mux.Handle("PUT /api/v1/tours/{id}", ctl(putSpec(s, func(t *wall.Tour) *string { return &t.ID }, s.walls.PutTour)))
	mux.Handle("DELETE /api/v1/tours/{id}", ctl(s.handleDeleteTour))
	mux.Handle("PUT /api/v1/schedules/{id}", ctl(putSpec(s, func(x *wall.Schedule) *string { return &x.ID }, s.walls.PutSchedule)))
	mux.Handle("DELETE /api/v1/schedules/{id}", ctl(s.handleDeleteSchedule))
}

func wallHasRole(roles []config.Role, r config.Role) bool {
	for _, x := range roles {
		if x == r {
			return true
		}
	}
	return false
}

// wallsInfo answers GET /api/v1/walls: everything a console needs.
type wallsInfo struct {
	Default   string          `json:"default"`
	Walls     []wall.View     `json:"walls"`
	Layouts   map[string]any  `json:"layouts"` // wall id → its layouts
	Sets      []wall.Set      `json:"sets"`
	Tours     []wall.Tour     `json:"tours"`
	Schedules []wall.Schedule `json:"schedules"`
	Cameras   []wall.Camera   `json:"cameras"`
	Modules   widgetModules   `json:"modules"`
}

// widgetModules names the widget and map-layer modules built in, so pages load
// only those and show a placeholder for the rest without asking.
type widgetModules struct {
	Widgets []string `json:"widgets"`
	Layers  []string `json:"layers"`
}

func wallModules() widgetModules {
	list := func(dir string) []string {
		out := []string{}
		entries, _ := fs.ReadDir(staticFS, "static/js/"+dir)
		for _, e := range entries {
			if n, ok := strings.CutSuffix(e.Name(), ".js"); ok && !e.IsDir() && wall.ValidID(n) {
				out = append(out, n)
			}
		}
		return out
	}
	return widgetModules{Widgets: list("widgets"), Layers: list("layers")}
}

func (s *Server) handleWalls(w http.ResponseWriter, _ *http.Request) {
	sp := s.walls.Spec()
	info := wallsInfo{
		Default: s.walls.DefaultWall(), Walls: s.walls.Views(), Layouts: map[string]any{},
		Sets: wallNonNil(sp.Sets), Tours: wallNonNil(sp.Tours), Schedules: wallNonNil(sp.Schedules), Cameras: wallNonNil(s.walls.Cameras()),
		Modules: wallModules(),
	}
	for _, wl := range sp.Walls {
		info.Layouts[wl.ID] = wl.Layouts
	}
	writeJSON(w, http.StatusOK, info)
}

func wallNonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) handleWall(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, err := s.walls.View(id)
	if err != nil {
		s.wallError(w, r, err)
		return
	}
	var layouts []wall.Layout
	for _, wl := range s.walls.Spec().Walls {
		if wl.ID == id {
			layouts = wl.Layouts
		}
	}
	writeJSON(w, http.StatusOK, struct {
		wall.View
		Layouts []wall.Layout `json:"layouts"`
	}{v, layouts})
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var aq wall.AuditQuery
	aq.Wall = q.Get("wall")
	if s := q.Get("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("since %q: want an RFC 3339 time such as 2026-11-22T09:30:00+08:00", s))
			return
		}
		aq.Since = t
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 10000 {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("limit %q: want 1..10000", s))
			return
		}
		aq.Limit = n
	}
	if aq.Wall != "" && !s.walls.HasWall(aq.Wall) {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("wall %q: no such wall", aq.Wall))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": wallNonNil(s.walls.Audit(aq))})
}

// decodeWallBody reads a small JSON body into v; unknown fields are errors.
func decodeWallBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedType, fmt.Sprintf("content type %q: send application/json", ct))
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 256<<10))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body over %d bytes", mbe.Limit))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, codeBadRequest, "body unreadable: "+err.Error())
		return false
	}
	if err := decodeStrict(body, v, false); err != nil {
		var we *wall.Error
		if errors.As(err, &we) {
			writeError(w, http.StatusUnprocessableEntity, codeWallInvalid, we.Error())
			return false
		}
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return false
	}
	return true
}

// wallError answers a failed wall operation.
func (s *Server) wallError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, wall.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeNotFound, err.Error())
		return
	}
	if errors.Is(err, wall.ErrUnavailable) {
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, err.Error())
		return
	}
	if errs := wall.Errors(err); len(errs) > 0 {
		parts := make([]string, len(errs))
		for i, e := range errs {
			parts[i] = e.Error()
		}
		writeError(w, http.StatusUnprocessableEntity, codeWallInvalid, strings.Join(parts, "; "))
		return
	}
	s.logError(r, "wall operation failed", err)
	writeError(w, http.StatusInternalServerError, "internal", "the change could not be made; see the server log")
}

// wallHoldFor is the optional "for" every manual switch takes: how long
// it holds off the schedule.
type wallHoldFor struct {
	For string `json:"for"`
}

func (h *wallHoldFor) holdFor() string { return h.For }

// decodeWallAction reads a manual switch's body and its "for".
func decodeWallAction(w http.ResponseWriter, r *http.Request, body interface{ holdFor() string }) (time.Duration, bool) {
	if !decodeWallBody(w, r, body) {
		return 0, false
	}
	return wallHold(w, body.holdFor())
}

// wallHold reads the optional "for" of a manual switch.
func wallHold(w http.ResponseWriter, s string) (time.Duration, bool) {
	if s == "" {
		return 0, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > wall.MaxOverride {
		writeError(w, http.StatusUnprocessableEntity, codeWallInvalid, fmt.Sprintf("'for' = %q: want a duration from 1m to 168h, such as \"2h\"", s))
		return 0, false
	}
	return d, true
}

func (s *Server) wallDone(w http.ResponseWriter, r *http.Request, v wall.View, err error) {
	if err != nil {
		s.wallError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) handleWallSet(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	var body struct {
		Set string `json:"set"`
		wallHoldFor
	}
	d, ok := decodeWallAction(w, r, &body)
	if !ok {
		return
	}
	v, err := s.walls.ShowSet(r.Context(), who, r.PathValue("id"), body.Set, d)
	s.wallDone(w, r, v, err)
}

func (s *Server) handleWallLayout(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	var body struct {
		Layout string `json:"layout"`
		wallHoldFor
	}
	d, ok := decodeWallAction(w, r, &body)
	if !ok {
		return
	}
	v, err := s.walls.ShowLayout(r.Context(), who, r.PathValue("id"), body.Layout, d)
	s.wallDone(w, r, v, err)
}

func (s *Server) handleWallPush(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	var body struct {
		Slot   string `json:"slot"`
		Camera string `json:"camera"`
		wallHoldFor
	}
	d, ok := decodeWallAction(w, r, &body)
	if !ok {
		return
	}
	v, err := s.walls.PushCamera(r.Context(), who, r.PathValue("id"), body.Slot, body.Camera, d)
	s.wallDone(w, r, v, err)
}

func (s *Server) handleWallTour(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	var body struct {
		Action string `json:"action"`
		Tour   string `json:"tour"`
		wallHoldFor
	}
	d, ok := decodeWallAction(w, r, &body)
	if !ok {
		return
	}
	v, err := s.walls.TourAction(r.Context(), who, r.PathValue("id"), body.Action, body.Tour, d)
	s.wallDone(w, r, v, err)
}

func (s *Server) handleWallRelease(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	if r.ContentLength > 0 {
		var body struct{}
		if !decodeWallBody(w, r, &body) {
			return
		}
	}
	v, err := s.walls.Release(r.Context(), who, r.PathValue("id"))
	s.wallDone(w, r, v, err)
}

// wallIDMatches checks that a body's id, when given, is the path's.
func wallIDMatches(w http.ResponseWriter, path string, body *string) bool {
	if *body == "" {
		*body = path
	}
	if *body != path {
		writeError(w, http.StatusUnprocessableEntity, codeWallInvalid, fmt.Sprintf("'id' = %q: the body names another id than the path (%q)", *body, path))
		return false
	}
	return true
}

func (s *Server) specDone(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		s.wallError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) handlePutLayout(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	var l wall.Layout
	if !decodeWallBody(w, r, &l) || !wallIDMatches(w, r.PathValue("layout"), &l.ID) {
		return
	}
	s.specDone(w, r, s.walls.PutLayout(r.Context(), who, r.PathValue("id"), l))
}

func (s *Server) handleDeleteLayout(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	s.specDone(w, r, s.walls.DeleteLayout(r.Context(), who, r.PathValue("id"), r.PathValue("layout")))
}

// putSpec is the PUT of a camera set, tour or schedule: its body, whose
// id (given or not) must be the path's, then put.
func putSpec[T any](s *Server, id func(*T) *string, put func(context.Context, wall.Actor, T) error) func(http.ResponseWriter, *http.Request, wall.Actor) {
	return func(w http.ResponseWriter, r *http.Request, who wall.Actor) {
		var v T
		if !decodeWallBody(w, r, &v) || !wallIDMatches(w, r.PathValue("id"), id(&v)) {
			return
		}
		s.specDone(w, r, put(r.Context(), who, v))
	}
}

func (s *Server) handleDeleteSet(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	s.specDone(w, r, s.walls.DeleteSet(r.Context(), who, r.PathValue("id")))
}

func (s *Server) handleDeleteTour(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	s.specDone(w, r, s.walls.DeleteTour(r.Context(), who, r.PathValue("id")))
}

func (s *Server) handleDeleteSchedule(w http.ResponseWriter, r *http.Request, who wall.Actor) {
	s.specDone(w, r, s.walls.DeleteSchedule(r.Context(), who, r.PathValue("id")))
}
