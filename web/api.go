package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/wall"
)

// maxCellIDs bounds one outline request.
const maxCellIDs = 500

// resolveTopic tells the hub which topics exist.
func (a *App) resolveTopic(name string) (stream.Kind, error) {
	switch {
	case name == topicTickets:
		return stream.KindEvents, nil
	case name == topicStats:
		return stream.KindState, nil
	case name == topicCameras:
		return stream.KindState, nil
	case name == topicAlerts || strings.HasPrefix(name, topicAlertsTeam):
		return a.resolveAlertTopic(name)
	case name == feeds.TopicFlood || name == feeds.TopicTraffic || name == topicKPI:
		return stream.KindState, nil
	case strings.HasPrefix(name, wall.TopicPrefix):
		return a.resolveWallTopic(name)
	case strings.HasPrefix(name, topicHotPre):
		w, err := geo.ParseWindowName(strings.TrimPrefix(name, topicHotPre))
		if err != nil || !a.hasWindow(w) {
			return 0, fmt.Errorf("%w: %q: window is not one of %s", stream.ErrUnknownTopic, name, a.windowNames())
		}
		return stream.KindState, nil
	case strings.HasPrefix(name, "heat/"):
		k, err := geo.ParseHeatTopic(name)
		if err != nil {
			return 0, fmt.Errorf("%w: %v", stream.ErrUnknownTopic, err)
		}
		if !a.hasWindow(k.Window) || !a.hasRes(k.Res) {
			return 0, fmt.Errorf("%w: %q: resolution must be one of %v and window one of %s",
				stream.ErrUnknownTopic, name, a.cfg.Geo.Resolutions, a.windowNames())
		}
		return stream.KindState, nil
	}
	return 0, fmt.Errorf("%w: %q", stream.ErrUnknownTopic, name)
}

func (a *App) hasWindow(w time.Duration) bool {
	for _, x := range a.cfg.Geo.Windows {
		if x == w {
			return true
		}
	}
	return false
}

func (a *App) hasRes(r int) bool {
	for _, x := range a.cfg.Geo.Resolutions {
		if x == r {
			return true
		}
	}
	return false
}

func (a *App) windowNames() []string {
	out := make([]string, len(a.cfg.Geo.Windows))
	for i, w := range a.cfg.Geo.Windows {
		out[i] = geo.WindowName(w)
	}
	return out
}

// PostItem is one item's outcome in a POST answer.
type PostItem = ticket.PostItem

// PostResult answers POST /api/v1/tickets and .../events.
type PostResult = ticket.PostResult

// readBody checks the media type and bounds the body. It answers the client
// itself and returns false when the request cannot go on.
func (a *App) readBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct != "" && err != nil {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedType, fmt.Sprintf("content type %q unreadable", ct))
		return "", false
	}
	switch mt {
	case "", "application/json", "application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain":
	default:
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedType,
			fmt.Sprintf("content type %q: send application/json (an object or an array) or application/x-ndjson", mt))
		return "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, a.cfg.Server.MaxBodyBytes)
	return ct, true
}

// decodeFailure answers a body that could not be read at all. Items decoded
// before the fault are not ingested: the client learns exactly where the
// body broke and resends it; idempotent ids make the resend safe.
func (a *App) decodeFailure(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		a.metrics.rejected("body_too_large")
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("body over %d bytes: nothing was accepted; send smaller batches", mbe.Limit))
	case errors.Is(err, ticket.ErrTooManyItems):
		a.metrics.rejected("too_many_items")
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("%v: at most %d per request; nothing was accepted", err, a.cfg.Tickets.MaxBatch))
	default:
		a.metrics.rejected("malformed")
		writeError(w, http.StatusBadRequest, codeBadRequest, "malformed body: "+err.Error()+"; nothing was accepted")
	}
}

func (a *App) handlePostTickets(w http.ResponseWriter, r *http.Request) {
	ct, ok := a.readBody(w, r)
	if !ok {
		return
	}
	items, err := ticket.DecodeOptions{MaxItems: a.cfg.Tickets.MaxBatch, Now: a.now()}.Decode(r.Body, ct)
	if err != nil {
		a.decodeFailure(w, err)
		return
	}
	if a.cluster != nil {
		a.clusterPostTickets(w, r, items)
		return
	}
	res := PostResult{Items: make([]PostItem, 0, len(items))}
	for _, it := range items {
		pi := PostItem{Index: it.Index, ID: it.Ticket.ID}
		if it.Err != nil {
			a.metrics.rejected(rejectLabel(it.Err))
			pi.Status, pi.Reason = statusRejected, it.Err.Error()
		} else {
			pi.Status, pi.Reason = a.ingest.ticket(r.Context(), it.Ticket)
		}
		count(&res, pi)
		res.Items = append(res.Items, pi)
	}
	writeJSON(w, postStatus(res), res)
}

func count(res *PostResult, pi PostItem) {
	switch pi.Status {
	case statusAccepted:
		res.Accepted++
	case statusDuplicate:
		res.Duplicates++
	default:
		res.Rejected++
	}
}

// postStatus is 200 when anything was taken (or already held), and 422 when
// every item was rejected, so a client that checks only the status still
// notices; the body has the per-item reasons either way.
func postStatus(res PostResult) int {
	if res.Rejected > 0 && res.Accepted == 0 && res.Duplicates == 0 {
		return http.StatusUnprocessableEntity
	}
	return http.StatusOK
}

func (a *App) handlePostEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := a.store.Get(id); !ok {
		writeError(w, http.StatusNotFound, codeUnknownTicket, fmt.Sprintf("no ticket %q", id))
		return
	}
	ct, ok := a.readBody(w, r)
	if !ok {
		return
	}
	now := a.now()
	items, err := ticket.DecodeOptions{MaxItems: a.cfg.Tickets.MaxBatch, Now: now}.DecodeEvents(r.Body, ct)
	if err != nil {
		a.decodeFailure(w, err)
		return
	}
	res := PostResult{Items: make([]PostItem, 0, len(items))}
	var good []ticket.Event // with Redis: what goes to the ingest stream
	var at []int
	for _, it := range items {
		pi := PostItem{Index: it.Index, ID: id}
		e, ierr := it.Event, it.Err
		if ierr != nil && e.Ticket == "" && missingField(ierr, "ticket") {
			// The path names the ticket, so the body may leave it out (as
			// the README's example does); check the rest of the event.
			e.Ticket = id
			ierr = e.Normalize(now)
		}
		switch {
		case ierr != nil:
			a.metrics.eventsRejected(rejectLabel(ierr))
			pi.Status, pi.Reason = statusRejected, ierr.Error()
		case e.Ticket != id:
			a.metrics.eventsRejected("ticket")
			pi.Status, pi.Reason = statusRejected, fmt.Sprintf("ticket: %q does not match the path's %q", e.Ticket, id)
		case a.cluster != nil:
			good, at = append(good, e), append(at, len(res.Items))
		default:
			_, changed, err := a.ingest.event(e)
			switch {
			case err != nil:
				pi.Status, pi.Reason = statusRejected, err.Error()
			case changed:
				pi.Status = statusAccepted
			default:
				pi.Status = statusDuplicate
			}
		}
		count(&res, pi)
		res.Items = append(res.Items, pi)
	}
	if a.cluster != nil {
		a.clusterPostEvents(w, r, res, good, at)
		return
	}
	writeJSON(w, postStatus(res), res)
}

// missingField reports whether err says a required field is absent.
func missingField(err error, field string) bool {
	var fe *ticket.FieldError
	return errors.As(err, &fe) && fe.Field == field && fe.Reason == "required"
}

func (a *App) handleGetTicket(w http.ResponseWriter, r *http.Request) {
	st, ok := a.store.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeUnknownTicket, fmt.Sprintf("no ticket %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (a *App) handleCells(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("ids")
	if raw == "" {
		writeError(w, http.StatusBadRequest, codeBadRequest, "ids: give a comma-separated list of H3 cells")
		return
	}
	ids := strings.Split(raw, ",")
	if len(ids) > maxCellIDs {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("ids: %d cells, at most %d per request", len(ids), maxCellIDs))
		return
	}
	out := make(map[string][][2]float64, len(ids))
	for _, s := range ids {
		c, err := geo.ParseCell(s)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "ids: "+err.Error())
			return
		}
		b, err := a.bounds.Get(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("ids: %s: %v", s, err))
			return
		}
		out[c.String()] = b
	}
	// An outline never changes.
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func (a *App) handleHeat(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	res, err := strconv.Atoi(q.Get("res"))
	if err != nil || !a.hasRes(res) {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("res: %q is not one of %v", q.Get("res"), a.cfg.Geo.Resolutions))
		return
	}
	win, err := geo.ParseWindowName(q.Get("window"))
	if err != nil || !a.hasWindow(win) {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("window: %q is not one of %s", q.Get("window"), a.windowNames()))
		return
	}
	cat := q.Get("category")
	if cat == "" {
		cat = geo.AllCategories
	}
	snap := a.engine.Snapshot(geo.Key{Res: res, Window: win, Category: cat})
	cells := make(map[string]int, len(snap))
	for c, n := range snap {
		cells[c.String()] = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"res": res, "window": geo.WindowName(win), "category": cat, "cells": cells})
}

func (a *App) handleHot(w http.ResponseWriter, r *http.Request) {
	win, err := geo.ParseWindowName(r.URL.Query().Get("window"))
	if err != nil || !a.hasWindow(win) {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("window: %q is not one of %s", r.URL.Query().Get("window"), a.windowNames()))
		return
	}
	type hot struct {
		geo.Topic
		En string `json:"en,omitempty"`
	}
	topics := a.engine.HotTopics(win, a.cfg.Geo.HotTopics)
	out := make([]hot, len(topics))
	for i, t := range topics {
		out[i] = hot{Topic: t, En: demo.CategoryNameEn(t.Category)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"window": geo.WindowName(win), "topics": out})
}

// publicInfo is what every page needs to start; nothing secret.
type publicInfo struct {
	Build string `json:"build"`
	City  struct {
		Name   string `json:"name"`
		NameEn string `json:"name_en"`
		TZ     string `json:"timezone"`
	} `json:"city"`
	Map struct {
		Center  [2]float64 `json:"center"`
		Zoom    float64    `json:"zoom"`
		TileURL string     `json:"tile_url"`
		TileCRS string     `json:"tile_crs"`
	} `json:"map"`
	Geo struct {
		Resolutions []int    `json:"resolutions"`
		Windows     []string `json:"windows"`
	} `json:"geo"`
	Categories []categoryName `json:"categories"`
	Districts  []districtView `json:"districts"`
}

type districtView struct {
	Name    string       `json:"name"`
	NameEn  string       `json:"name_en,omitempty"`
	Polygon [][2]float64 `json:"polygon"`
}

type categoryName struct {
	Name string `json:"name"`
	En   string `json:"en"`
}

func (a *App) handlePublic(w http.ResponseWriter, _ *http.Request) {
	var p publicInfo
	p.Build = a.build
	p.City.Name, p.City.NameEn, p.City.TZ = a.cfg.City.Name, a.cfg.City.NameEn, a.cfg.City.Timezone
	p.Map.Center, p.Map.Zoom, p.Map.TileURL, p.Map.TileCRS = a.cfg.Map.Center, a.cfg.Map.Zoom, a.cfg.Map.TileURL, a.cfg.Map.TileCRS
	p.Geo.Resolutions = a.cfg.Geo.Resolutions
	p.Geo.Windows = a.windowNames()
	p.Categories = a.categoryNames()
	p.Districts = a.districts
	writeJSON(w, http.StatusOK, p)
}

// categoryNames lists the categories seen in the longest window, with the
// demo taxonomy's English names where known.
func (a *App) categoryNames() []categoryName {
	ws := a.cfg.Geo.Windows
	topics := a.engine.HotTopics(ws[len(ws)-1], a.cfg.Geo.MaxCategories+1)
	out := make([]categoryName, 0, len(topics))
	for _, t := range topics {
		out = append(out, categoryName{Name: t.Category, En: demo.CategoryNameEn(t.Category)})
	}
	return out
}
