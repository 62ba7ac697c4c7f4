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

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
)

// maxCellIDs bounds one outline request.
const maxCellIDs = 500

func (s *Server) hasWindow(w time.Duration) bool {
	for _, x := range s.cfg.Geo.Windows {
		if x == w {
			return true
		}
	}
	return false
}

func (s *Server) hasRes(r int) bool {
	for _, x := range s.cfg.Geo.Resolutions {
		if x == r {
			return true
		}
	}
	return false
}

func (s *Server) windowNames() []string {
	out := make([]string, len(s.cfg.Geo.Windows))
	for i, w := range s.cfg.Geo.Windows {
		out[i] = geo.WindowName(w)
	}
	return out
}

// Item outcomes of an ingest, as the API reports them.
const (
	statusAccepted  = ticket.StatusAccepted
	statusDuplicate = ticket.StatusDuplicate
	statusRejected  = ticket.StatusRejected
)

// PostItem is one item's outcome in a POST answer.
type PostItem = ticket.PostItem

// PostResult answers POST /api/v1/tickets and .../events.
type PostResult = ticket.PostResult

// readBody checks the media type and bounds the body. It answers the client
// itself and returns false when the request cannot go on.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct != "" && err != nil {
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedType, fmt.Sprintf("content type %q unreadable", ct))
		return "", false
	}
	switch mt {
	case "", "application/json", "application/x-ndjson", "application/ndjson", "application/jsonl":
	default:
		writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedType,
			fmt.Sprintf("content type %q: send application/json (an object or an array) or application/x-ndjson", mt))
		return "", false
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.Server.MaxBodyBytes)
	return ct, true
}

// decodeFailure answers a body that could not be read at all. Items decoded
// before the fault are not ingested: the client learns exactly where the
// body broke and resends it; idempotent ids make the resend safe.
func (s *Server) decodeFailure(w http.ResponseWriter, err error) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.ingest.Rejected("body_too_large")
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("body over %d bytes: nothing was accepted; send smaller batches", mbe.Limit))
	case errors.Is(err, ticket.ErrTooManyItems):
		s.ingest.Rejected("too_many_items")
		writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
			fmt.Sprintf("%v: at most %d per request; nothing was accepted", err, s.cfg.Tickets.MaxBatch))
	default:
		s.ingest.Rejected("malformed")
		writeError(w, http.StatusBadRequest, codeBadRequest, "malformed body: "+err.Error()+"; nothing was accepted")
	}
}

func (s *Server) handlePostTickets(w http.ResponseWriter, r *http.Request) {
	ct, ok := s.readBody(w, r)
	if !ok {
		return
	}
	items, err := ticket.DecodeOptions{MaxItems: s.cfg.Tickets.MaxBatch, Now: s.now()}.Decode(r.Body, ct)
	if err != nil {
		s.decodeFailure(w, err)
		return
	}
	res := PostResult{Items: make([]PostItem, len(items))}
	var good []ticket.Ticket
	var at []int
	for i, it := range items {
		res.Items[i] = PostItem{Index: it.Index, ID: it.Ticket.ID}
		if it.Err != nil {
			s.ingest.Rejected(ingest.RejectLabel(it.Err))
			res.Items[i].Status, res.Items[i].Reason = statusRejected, it.Err.Error()
			continue
		}
		good = append(good, it.Ticket)
		at = append(at, i)
	}
	if !s.submit(w, r, ingest.Batch{Kind: ingest.KindTickets, Tickets: good}, at, &res) {
		return
	}
	writeJSON(w, postStatus(res), res)
}

// submit sends the items that passed validation through the ingest
// pipeline and writes each one's answer at its place in res (at[j] is
// the place of the batch's item j), then counts res. false: it answered
// the request with an error.
func (s *Server) submit(w http.ResponseWriter, r *http.Request, b ingest.Batch, at []int, res *PostResult) bool {
	cr, err := s.ingest.Submit(r.Context(), b)
	if err != nil {
		s.unavailable(w, err)
		return false
	}
	for j, pi := range cr.Items {
		if j < len(at) {
			res.Items[at[j]].Status, res.Items[at[j]].Reason = pi.Status, pi.Reason
		}
	}
	res.Accepted, res.Duplicates, res.Rejected = 0, 0, 0
	for _, pi := range res.Items {
		count(res, pi)
	}
	return true
}

// unavailable answers an ingest the pipeline's backend could not take.
func (s *Server) unavailable(w http.ResponseWriter, err error) {
	u := ingest.AsUnavailable(err, codeUnavailable)
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, u.Code, u.Reason)
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

func (s *Server) handlePostEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, ok := s.store.Get(id); !ok {
		writeError(w, http.StatusNotFound, codeUnknownTicket, fmt.Sprintf("no ticket %q", id))
		return
	}
	ct, ok := s.readBody(w, r)
	if !ok {
		return
	}
	now := s.now()
	items, err := ticket.DecodeOptions{MaxItems: s.cfg.Tickets.MaxBatch, Now: now}.DecodeEvents(r.Body, ct)
	if err != nil {
		s.decodeFailure(w, err)
		return
	}
	res := PostResult{Items: make([]PostItem, 0, len(items))}
	var good []ticket.Event // what goes to the pipeline
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
			s.ingest.EventRejected(ingest.RejectLabel(ierr))
			pi.Status, pi.Reason = statusRejected, ierr.Error()
		case e.Ticket != id:
			s.ingest.EventRejected("ticket")
			pi.Status, pi.Reason = statusRejected, fmt.Sprintf("ticket: %q does not match the path's %q", e.Ticket, id)
		default:
			good, at = append(good, e), append(at, len(res.Items))
		}
		count(&res, pi)
		res.Items = append(res.Items, pi)
	}
	if !s.submit(w, r, ingest.Batch{Kind: ingest.KindEvents, Events: good}, at, &res) {
		return
	}
	writeJSON(w, postStatus(res), res)
}

// missingField reports whether err says a required field is absent.
func missingField(err error, field string) bool {
	var fe *ticket.FieldError
	return errors.As(err, &fe) && fe.Field == field && fe.Reason == "required"
}

func (s *Server) handleGetTicket(w http.ResponseWriter, r *http.Request) {
	st, ok := s.store.Get(r.PathValue("id"))
	if !ok {
		writeError(w, http.StatusNotFound, codeUnknownTicket, fmt.Sprintf("no ticket %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (s *Server) handleCells(w http.ResponseWriter, r *http.Request) {
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
	for _, id := range ids {
		c, err := geo.ParseCell(id)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, "ids: "+err.Error())
			return
		}
		b, err := s.bounds.Get(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("ids: %s: %v", id, err))
			return
		}
		out[c.String()] = b
	}
	// An outline never changes.
	w.Header().Set("Cache-Control", "private, max-age=86400, immutable")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) handleHeat(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	res, err := strconv.Atoi(q.Get("res"))
	if err != nil || !s.hasRes(res) {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("res: %q is not one of %v", q.Get("res"), s.cfg.Geo.Resolutions))
		return
	}
	win, err := geo.ParseWindowName(q.Get("window"))
	if err != nil || !s.hasWindow(win) {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("window: %q is not one of %s", q.Get("window"), s.windowNames()))
		return
	}
	cat := q.Get("category")
	if cat == "" {
		cat = geo.AllCategories
	}
	snap := s.engine.Snapshot(geo.Key{Res: res, Window: win, Category: cat})
	cells := make(map[string]int, len(snap))
	for c, n := range snap {
		cells[c.String()] = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"res": res, "window": geo.WindowName(win), "category": cat, "cells": cells})
}

func (s *Server) handleHot(w http.ResponseWriter, r *http.Request) {
	win, err := geo.ParseWindowName(r.URL.Query().Get("window"))
	if err != nil || !s.hasWindow(win) {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("window: %q is not one of %s", r.URL.Query().Get("window"), s.windowNames()))
		return
	}
	type hot struct {
		geo.Topic
		En string `json:"en,omitempty"`
	}
	topics := s.engine.HotTopics(win, s.cfg.Geo.HotTopics)
	out := make([]hot, len(topics))
	for i, t := range topics {
		out[i] = hot{Topic: t, En: s.categoryEn(t.Category)}
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
		Center     [2]float64 `json:"center"`
		Zoom       float64    `json:"zoom"`
		Basemap    string     `json:"basemap"`               // builtin, pmtiles or xyz
		PMTilesURL string     `json:"pmtiles_url,omitempty"` // basemap pmtiles: where the archive is read
		TileURL    string     `json:"tile_url"`
		TileCRS    string     `json:"tile_crs"`
	} `json:"map"`
	Geo struct {
		Resolutions []int    `json:"resolutions"`
		Windows     []string `json:"windows"`
	} `json:"geo"`
	Categories []categoryName `json:"categories"`
	Districts  []District     `json:"districts"`
}

type categoryName struct {
	Name string `json:"name"`
	En   string `json:"en"`
}

func (s *Server) handlePublic(w http.ResponseWriter, _ *http.Request) {
	var p publicInfo
	p.Build = s.build
	p.City.Name, p.City.NameEn, p.City.TZ = s.cfg.City.Name, s.cfg.City.NameEn, s.cfg.City.Timezone
	p.Map.Center, p.Map.Zoom, p.Map.TileURL, p.Map.TileCRS = s.cfg.Map.Center, s.cfg.Map.Zoom, s.cfg.Map.TileURL, s.cfg.Map.TileCRS
	p.Map.Basemap = s.cfg.Map.Basemap
	if p.Map.Basemap == config.BasemapPMTiles {
		p.Map.PMTilesURL = basemapArchivePath
	}
	p.Geo.Resolutions = s.cfg.Geo.Resolutions
	p.Geo.Windows = s.windowNames()
	p.Categories = s.categoryNames()
	p.Districts = s.districts
	writeJSON(w, http.StatusOK, p)
}

// categoryNames lists the categories seen in the longest window, with the
// demo taxonomy's English names where known.
func (s *Server) categoryNames() []categoryName {
	ws := s.cfg.Geo.Windows
	topics := s.engine.HotTopics(ws[len(ws)-1], s.cfg.Geo.MaxCategories+1)
	out := make([]categoryName, 0, len(topics))
	for _, t := range topics {
		out = append(out, categoryName{Name: t.Category, En: s.categoryEn(t.Category)})
	}
	return out
}
