package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/ingest"
)

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

func (s *Server) feedsDecodeFailure(w http.ResponseWriter, err error) {
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

func (s *Server) handlePostReadings(w http.ResponseWriter, r *http.Request) {
	s.postFeed(w, r, s.ingest.ReadingsMalformed, func(body []byte) (ingest.Batch, error) {
		items, err := feeds.DecodeReadings(bytes.NewReader(body), s.cfg.Tickets.MaxBatch)
		return ingest.Batch{Kind: ingest.KindReadings, Readings: items, Raw: body}, err
	})
}

func (s *Server) handlePostCalls(w http.ResponseWriter, r *http.Request) {
	s.postFeed(w, r, s.ingest.CallsMalformed, func(body []byte) (ingest.Batch, error) {
		items, err := kpi.DecodeCalls(bytes.NewReader(body), s.cfg.Tickets.MaxBatch)
		return ingest.Batch{Kind: ingest.KindCalls, Calls: items, Raw: body}, err
	})
}

// postFeed reads a readings or calls body, decodes it with decode
// (counting a body that does not read or decode with malformed), sends the items through the pipeline and
// answers each item's outcome.
func (s *Server) postFeed(w http.ResponseWriter, r *http.Request, malformed func(), decode func([]byte) (ingest.Batch, error)) {
	if _, ok := s.readBody(w, r); !ok {
		return
	}
	body, err := io.ReadAll(r.Body)
	var b ingest.Batch
	if err == nil {
		b, err = decode(body)
	}
	if err != nil {
		malformed()
		s.feedsDecodeFailure(w, err)
		return
	}
	cr, err := s.ingest.Submit(r.Context(), b)
	if err != nil {
		s.unavailable(w, err)
		return
	}
	res := feedsPost{Items: make([]feeds.Outcome, 0, len(cr.Outcomes))}
	for _, o := range cr.Outcomes {
		res.add(o)
	}
	writeJSON(w, res.status(), res)
}

// handleFeeds lists the stations and their current values.
func (s *Server) handleFeeds(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		feeds.TopicFlood:   s.feed.Snapshot(feeds.TopicFlood),
		feeds.TopicTraffic: s.feed.Snapshot(feeds.TopicTraffic),
	})
}

// handleFeedHistory answers a station's readings of the last hours.
func (s *Server) handleFeedHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("station")
	maxH := s.cfg.Feeds.History.Hours()
	hours := 6.0
	if q := r.URL.Query().Get("hours"); q != "" {
		h, err := strconv.ParseFloat(q, 64)
		if err != nil || !(h > 0) || h > maxH {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("hours: %q must be a number in (0, %g]", q, maxH))
			return
		}
		hours = h
	}
	st, pts, ok := s.feed.History(id, s.now().Add(-time.Duration(hours*float64(time.Hour))))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("no station %q", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": st.ID, "kind": st.Kind, "unit": st.Kind.Unit(), "hours": hours, "points": pts})
}

func (s *Server) handleKPI(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.kpi.Today())
}

// handleDailyReport answers GET /api/v1/reports/daily?date=&format=&lang=.
func (s *Server) handleDailyReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.now()
	l := now.In(s.loc)
	today := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, s.loc)
	day := today
	if ds := q.Get("date"); ds != "" {
		d, err := s.kpi.ParseDate(ds)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
		if d.After(today) {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("date: %s is after today (%s)", ds, today.Format(time.DateOnly)))
			return
		}
		if d.Before(today.AddDate(0, 0, -14)) {
			writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("date: %s is older than the 15 days kept", ds))
			return
		}
		day = d
	}
	lang := q.Get("lang")
	if lang != "" && lang != "zh" && lang != "en" {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("lang: %q must be zh or en", lang))
		return
	}
	rep := s.kpi.Day(day, now)
	name := "citywall-daily-" + rep.Date
	switch f := q.Get("format"); f {
	case "", "html":
		city := s.cfg.City.Name
		if lang == "en" && s.cfg.City.NameEn != "" {
			city = s.cfg.City.NameEn
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
