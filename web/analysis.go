package web

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citywall/citywall/analysis"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// rolesAnalysis may open the analysis view and its API.
var rolesAnalysis = []config.Role{config.RoleCommander}

// kpiDays is how many local days of KPIs the tracker keeps, today
// included (kpi.Options.Days' default).
const kpiDays = 15

func (s *Server) analysisRoutes(mux *http.ServeMux) {
	for path, h := range map[string]http.HandlerFunc{
		"meta":    s.handleAnalysisMeta,
		"counts":  s.handleAnalysisCounts,
		"rising":  s.handleAnalysisRising,
		"areas":   s.handleAnalysisAreas,
		"tickets": s.handleAnalysisTickets,
		"kpi":     s.handleAnalysisKPI,
	} {
		mux.Handle("GET /api/v1/analysis/"+path, s.require(rolesAnalysis, h))
	}
}

// badParam is a query parameter the analysis API refuses.
type badParam struct {
	name, reason string
}

func (e *badParam) Error() string { return e.name + ": " + e.reason }

func writeBadParam(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
}

// analysisQuery reads an analysis request's parameters; the first bad one
// is kept in err and the rest are skipped.
type analysisQuery struct {
	q   url.Values
	h   *analysis.History
	err error
}

var filterParams = []string{"district", "grid", "category", "subcategory", "channel"}

// newAnalysisQuery refuses a parameter the endpoint does not take and one
// given twice, naming it.
func (s *Server) newAnalysisQuery(r *http.Request, takes ...string) *analysisQuery {
	a := &analysisQuery{q: r.URL.Query(), h: s.analysis}
	takes = append(takes, "format")
	keys := make([]string, 0, len(a.q))
	for k := range a.q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		switch {
		case !slices.Contains(takes, k):
			a.err = &badParam{k, "unknown parameter; this endpoint takes " + strings.Join(takes, ", ")}
		case len(a.q[k]) > 1:
			a.err = &badParam{k, "given more than once"}
		default:
			continue
		}
		break
	}
	return a
}

func (a *analysisQuery) fail(name, format string, args ...any) {
	if a.err == nil {
		a.err = &badParam{name, fmt.Sprintf(format, args...)}
	}
}

// day reads a date parameter, def when absent; it must lie between first
// and last.
func (a *analysisQuery) day(name string, def, first, last int32, kept string) int32 {
	v := a.q.Get(name)
	if v == "" || a.err != nil {
		return def
	}
	d, err := analysis.ParseDate(v)
	switch {
	case err != nil:
		a.fail(name, "%q is not a date like 2026-11-22", v)
	case d > last:
		a.fail(name, "%s is after %s (today)", v, analysis.Date(last))
	case d < first:
		a.fail(name, "%s is older than the %s kept (the first is %s)", v, kept, analysis.Date(first))
	}
	return d
}

// span reads from and to: by default the days kept, to today.
func (a *analysisQuery) span() (from, to int32) {
	today, first := a.h.Today(), a.h.First()
	kept := fmt.Sprintf("%d days", a.h.Days())
	from = a.day("from", first, first, today, kept)
	to = a.day("to", today, first, today, kept)
	if a.err == nil && from > to {
		a.fail("from", "%s is after to (%s)", analysis.Date(from), analysis.Date(to))
	}
	return from, to
}

// filter reads the span and the dimension filters.
func (a *analysisQuery) filter() analysis.Filter {
	var f analysis.Filter
	f.From, f.To = a.span()
	for i, name := range filterParams {
		v, ok := a.q[name]
		if !ok || a.err != nil {
			continue
		}
		if name == "channel" && !slices.Contains(ticket.Channels, ticket.Channel(v[0])) {
			a.fail(name, "%q is not a channel (%s)", v[0], channelList())
			continue
		}
		if len(v[0]) > 200 {
			a.fail(name, "longer than 200 bytes")
			continue
		}
		// An empty value selects the tickets without one (a grid-less
		// ticket's row in the drill-down).
		f.Set(analysis.Dim(i), v[0])
	}
	return f
}

func channelList() string {
	out := make([]string, len(ticket.Channels))
	for i, c := range ticket.Channels {
		out[i] = string(c)
	}
	return strings.Join(out, ", ")
}

// intParam reads an integer parameter in [lo, hi], def when absent.
func (a *analysisQuery) intParam(name string, def, lo, hi int) int {
	v := a.q.Get(name)
	if v == "" || a.err != nil {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		a.fail(name, "%q must be a whole number from %d to %d", v, lo, hi)
		return def
	}
	return n
}

// oneOf reads a parameter that must be one of choices, the first by
// default.
func (a *analysisQuery) oneOf(name string, choices ...string) string {
	v := a.q.Get(name)
	if v == "" || a.err != nil {
		return choices[0]
	}
	if !slices.Contains(choices, v) {
		a.fail(name, "%q must be %s", v, strings.Join(choices, " or "))
	}
	return v
}

func (a *analysisQuery) format() string { return a.oneOf("format", "json", "csv") }

// writeCSV answers a table as a CSV download named name. A byte order
// mark first: spreadsheet programs then read the Chinese names as UTF-8.
func writeCSV(w http.ResponseWriter, name string, header []string, rows [][]string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "\ufeff")
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	_ = cw.WriteAll(rows)
}

func (s *Server) handleAnalysisMeta(w http.ResponseWriter, r *http.Request) {
	a := s.newAnalysisQuery(r)
	if a.err != nil {
		writeBadParam(w, a.err)
		return
	}
	channels := make([]string, len(ticket.Channels))
	for i, c := range ticket.Channels {
		channels[i] = string(c)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"first": analysis.Date(s.analysis.First()), "today": analysis.Date(s.analysis.Today()), "days": s.analysis.Days(),
		"kpi_days": kpiDays, "tickets": s.analysis.Len(),
		"districts": s.analysis.Values(analysis.District), "categories": s.analysis.Values(analysis.Category),
		"channels": channels, "zone": s.loc.String(),
	})
}

// handleAnalysisCounts answers GET /api/v1/analysis/counts?group=day|week
// &by=district,category,channel&from=&to=&district=&...&format=json|csv.
func (s *Server) handleAnalysisCounts(w http.ResponseWriter, r *http.Request) {
	a := s.newAnalysisQuery(r, append([]string{"group", "by", "from", "to"}, filterParams...)...)
	group := analysis.Group(a.oneOf("group", "day", "week"))
	var by []analysis.Dim
	if v := a.q.Get("by"); v != "" && a.err == nil {
		for _, n := range strings.Split(v, ",") {
			d, err := analysis.ParseDim(strings.TrimSpace(n))
			switch {
			case err != nil:
				a.fail("by", "%s", err)
			case slices.Contains(by, d):
				a.fail("by", "%s given twice", d)
			case len(by) == 3:
				a.fail("by", "at most three dimensions")
			}
			by = append(by, d)
		}
	}
	f := a.filter()
	format := a.format()
	if a.err != nil {
		writeBadParam(w, a.err)
		return
	}
	c := s.analysis.Counts(f, group, by)
	if format == "json" {
		writeJSON(w, http.StatusOK, c)
		return
	}
	header := append(slices.Clone(c.By), "period", "tickets")
	var rows [][]string
	for _, sr := range c.Series {
		for i, p := range c.Periods {
			rows = append(rows, append(slices.Clone(sr.Key), p, strconv.Itoa(sr.Counts[i])))
		}
	}
	writeCSV(w, "citywall-counts-"+string(group)+"-"+c.From+"-"+c.To, header, rows)
}

// handleAnalysisRising answers GET /api/v1/analysis/rising?kind=
// subcategory|phrase&days=&to=&limit=&district=&...&format=.
func (s *Server) handleAnalysisRising(w http.ResponseWriter, r *http.Request) {
	a := s.newAnalysisQuery(r, append([]string{"kind", "days", "to", "limit"}, filterParams...)...)
	kind := analysis.Kind(a.oneOf("kind", "subcategory", "phrase"))
	days := a.intParam("days", 1, 1, max(1, s.analysis.Days()/5))
	limit := a.intParam("limit", 10, 1, 100)
	f := a.filter()
	format := a.format()
	if a.err != nil {
		writeBadParam(w, a.err)
		return
	}
	res := s.analysis.Rising(kind, f, days, limit)
	if format == "json" {
		writeJSON(w, http.StatusOK, res)
		return
	}
	var rows [][]string
	for _, it := range res.Items {
		change := ""
		if it.Change != nil {
			change = strconv.FormatFloat(*it.Change, 'f', -1, 64)
		}
		rows = append(rows, []string{it.Name, it.Category, strconv.Itoa(it.Recent), strconv.FormatFloat(it.Expected, 'f', -1, 64),
			change, strconv.FormatFloat(it.Score, 'f', -1, 64), strings.Join(it.Samples, " | ")})
	}
	writeCSV(w, "citywall-rising-"+string(kind)+"-"+res.To, []string{string(kind), "category", "recent", "expected", "change", "score", "samples"}, rows)
}

// handleAnalysisAreas answers GET /api/v1/analysis/areas: the districts,
// or with district= its grids.
func (s *Server) handleAnalysisAreas(w http.ResponseWriter, r *http.Request) {
	a := s.newAnalysisQuery(r, append([]string{"from", "to"}, filterParams...)...)
	f := a.filter()
	format := a.format()
	if a.err != nil {
		writeBadParam(w, a.err)
		return
	}
	res := s.analysis.Areas(f)
	if format == "json" {
		writeJSON(w, http.StatusOK, res)
		return
	}
	col := "district"
	if res.Level == "district" {
		col = "grid"
	}
	var rows [][]string
	for _, ar := range res.Areas {
		rows = append(rows, []string{ar.Name, strconv.Itoa(ar.Tickets), strconv.Itoa(ar.Urgent), ar.TopCategory, strconv.Itoa(ar.TopCount)})
	}
	name := "citywall-areas-" + res.From + "-" + res.To
	if res.District != "" {
		name = "citywall-grids-" + res.From + "-" + res.To
	}
	writeCSV(w, name, []string{col, "tickets", "urgent", "top_category", "top_category_tickets"}, rows)
}

// handleAnalysisTickets answers GET /api/v1/analysis/tickets: the tickets
// of a district, grid, category..., newest first.
func (s *Server) handleAnalysisTickets(w http.ResponseWriter, r *http.Request) {
	a := s.newAnalysisQuery(r, append([]string{"from", "to", "limit"}, filterParams...)...)
	limit := a.intParam("limit", 200, 1, 5000)
	f := a.filter()
	format := a.format()
	if a.err != nil {
		writeBadParam(w, a.err)
		return
	}
	ts, total := s.analysis.Tickets(f, limit)
	if format == "json" {
		writeJSON(w, http.StatusOK, map[string]any{"total": total, "tickets": ts})
		return
	}
	rows := make([][]string, 0, len(ts))
	for _, t := range ts {
		rows = append(rows, []string{t.ID, t.Created.Format(time.RFC3339), t.District, t.Grid, t.Category, t.Subcategory, t.Channel,
			strconv.FormatBool(t.Urgent), t.Summary})
	}
	writeCSV(w, "citywall-tickets", []string{"id", "created", "district", "grid", "category", "subcategory", "channel", "urgent", "summary"}, rows)
}

// kpiRow is one day's KPIs as the analysis view charts them.
type kpiRow struct {
	Date           string   `json:"date"`
	Tickets        int      `json:"tickets"`
	Open           int      `json:"open"`
	CallsOffered   int      `json:"calls_offered"`
	AnswerRate     *float64 `json:"answer_rate"`
	Response30m    *float64 `json:"response_30m"`
	Completion     *float64 `json:"completion"`
	Satisfaction   *float64 `json:"satisfaction"`
	DirectResolved *float64 `json:"direct_resolution"`
}

// handleAnalysisKPI answers GET /api/v1/analysis/kpi?from=&to=: the daily
// KPIs over the days the tracker keeps.
func (s *Server) handleAnalysisKPI(w http.ResponseWriter, r *http.Request) {
	a := s.newAnalysisQuery(r, "from", "to")
	today := s.analysis.Today()
	first := today - kpiDays + 1
	kept := fmt.Sprintf("%d days of KPIs", kpiDays)
	from := a.day("from", first, first, today, kept)
	to := a.day("to", today, first, today, kept)
	if a.err == nil && from > to {
		a.fail("from", "%s is after to (%s)", analysis.Date(from), analysis.Date(to))
	}
	format := a.format()
	if a.err != nil {
		writeBadParam(w, a.err)
		return
	}
	now := s.now()
	rows := []kpiRow{}
	for d := from; d <= to; d++ {
		mid, _ := s.kpi.ParseDate(analysis.Date(d))
		rep := s.kpi.Day(mid, now)
		rows = append(rows, kpiRow{Date: rep.Date, Tickets: rep.Tickets, Open: rep.Open, CallsOffered: rep.CallsOffered,
			AnswerRate: rep.AnswerRate.Value, Response30m: rep.Response.Value, Completion: rep.Completion.Value,
			Satisfaction: rep.Satisfaction.Value, DirectResolved: rep.DirectResolve.Value})
	}
	if format == "json" {
		writeJSON(w, http.StatusOK, map[string]any{"from": analysis.Date(from), "to": analysis.Date(to), "days": rows})
		return
	}
	val := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	out := make([][]string, 0, len(rows))
	for _, k := range rows {
		out = append(out, []string{k.Date, strconv.Itoa(k.Tickets), strconv.Itoa(k.Open), strconv.Itoa(k.CallsOffered),
			val(k.AnswerRate), val(k.Response30m), val(k.Completion), val(k.Satisfaction), val(k.DirectResolved)})
	}
	writeCSV(w, "citywall-kpi-"+analysis.Date(from)+"-"+analysis.Date(to),
		[]string{"date", "tickets", "open", "calls_offered", "answer_rate", "response_30m", "completion", "satisfaction", "direct_resolution"}, out)
}
