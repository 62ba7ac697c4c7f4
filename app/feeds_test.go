package app_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// feedStations configures one station of each kind.
func feedStations(c *config.Config) {
	c.Feeds.Stations = []config.FeedStation{
		{ID: "res-a", Kind: "reservoir", Name: "甲水库", NameEn: "Reservoir A", Lat: 19.98, Lng: 110.30, Interval: 5 * time.Minute, Warn: 18.5, Limit: 19},
		{ID: "wl-a", Kind: "waterlogging", Name: "甲下穿", Lat: 20.01, Lng: 110.31, Interval: time.Minute, Warn: 15, Limit: 30},
		{ID: "road-a", Kind: "road", Name: "甲大道", Interval: time.Minute, FreeFlow: 60, Key: true,
			Polyline: [][2]float64{{20.03, 110.30}, {20.03, 110.32}}},
	}
}

type feedsAnswer struct {
	Accepted, Duplicates, Rejected int
	Items                          []struct {
		Index                    int
		ID, Status, Reason, Note string
	}
}

func decodeFeeds(t *testing.T, b []byte) feedsAnswer {
	t.Helper()
	var a feedsAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("answer: %v\n%s", err, b)
	}
	return a
}

// TestReadingsAPI posts readings over HTTP: per-item outcomes, status
// codes, roles, and the value on the hub's feeds/flood topic.
func TestReadingsAPI(t *testing.T) {
	s := startServer(t, feedStations)
	ws := s.connect(s.tokens[config.RoleWall])
	ws.subscribe("feeds/flood")
	ws.subscribe("feeds/traffic")

	now := time.Now().UTC().Truncate(time.Second)
	ts := now.Format(time.RFC3339)
	body := `[
{"station":"res-a","time":"` + ts + `","level":1860,"unit":"cm","inflow":12.5,"outflow":8},
{"station":"res-a","time":"` + ts + `","level":18.6,"unit":"m"},
{"station":"res-a","time":"` + now.Add(-time.Minute).Format(time.RFC3339) + `","level":18.4,"unit":"m"},
{"station":"nope","time":"` + ts + `","level":1,"unit":"m"},
{"station":"wl-a","time":"` + ts + `","depth":"NaN","unit":"cm"},
{"station":"wl-a","time":"` + ts + `","depth":12,"unit":"km/h"},
{"station":"road-a","time":"` + ts + `","speed":8,"unit":"km/h"},
{"incident":"acc-1","type":"accident","road":"road-a","time":"` + ts + `","lat":20.03,"lng":110.31,"summary":"两车追尾"}]`
	code, b := s.post("/api/v1/readings", body)
	a := decodeFeeds(t, b)
	if code != http.StatusOK || a.Accepted != 4 || a.Duplicates != 1 || a.Rejected != 3 {
		t.Fatalf("answer %d %s", code, b)
	}
	for i, want := range []string{"accepted", "duplicate", "accepted", "rejected", "rejected", "rejected", "accepted", "accepted"} {
		if a.Items[i].Status != want {
			t.Errorf("item %d: %s %q, want %s", i, a.Items[i].Status, a.Items[i].Reason, want)
		}
	}
	for i, field := range map[int]string{3: "station:", 4: "depth: NaN", 5: "unit:"} {
		if !strings.HasPrefix(a.Items[i].Reason, field) {
			t.Errorf("item %d reason %q does not name %q", i, a.Items[i].Reason, field)
		}
	}
	if !strings.Contains(a.Items[2].Note, "older") {
		t.Errorf("out-of-order note %q", a.Items[2].Note)
	}

	ws.until("res-a on feeds/flood", func() bool {
		var v struct {
			Value  float64
			State  string
			Inflow float64
		}
		_ = json.Unmarshal(ws.state["feeds/flood"]["res-a"], &v)
		return v.Value == 18.6 && v.State == "warning" && v.Inflow == 12.5
	})
	ws.until("road and incident on feeds/traffic", func() bool {
		var v struct{ Level int }
		_ = json.Unmarshal(ws.state["feeds/traffic"]["road-a"], &v)
		_, inc := ws.state["feeds/traffic"]["incident:acc-1"]
		return v.Level == 4 && inc
	})

	// Everything rejected: 422; not JSON: 400; wrong roles: 401 and 403.
	code, b = s.post("/api/v1/readings", `{"station":"nope","time":"`+ts+`","value":1,"unit":"m"}`)
	if code != http.StatusUnprocessableEntity {
		t.Errorf("all rejected: %d %s", code, b)
	}
	code, b = s.post("/api/v1/readings", `{"station":`)
	checkError(t, "malformed", code, b, http.StatusBadRequest, "bad_request", "malformed body", "nothing was accepted")
	code, _, b = s.do(http.MethodPost, "/api/v1/readings", "", "application/json", strings.NewReader(body))
	checkError(t, "no token", code, b, http.StatusUnauthorized, "unauthorized")
	code, _, b = s.do(http.MethodPost, "/api/v1/readings", s.tokens[config.RoleWall], "application/json", strings.NewReader(body))
	checkError(t, "wall token", code, b, http.StatusForbidden, "forbidden")
	code, _, b = s.do(http.MethodPost, "/api/v1/readings", s.tokens[config.RoleIngest], "text/csv", strings.NewReader(body))
	checkError(t, "csv", code, b, http.StatusUnsupportedMediaType, "unsupported_media_type")

	// History: the out-of-order reading is in it.
	var h struct {
		Unit   string
		Points []struct {
			T int64
			V float64
		}
	}
	s.getJSON("/api/v1/feeds/res-a/history?hours=1", s.tokens[config.RoleWall], &h)
	if h.Unit != "m" || len(h.Points) != 2 || h.Points[0].V != 18.4 || h.Points[1].V != 18.6 {
		t.Errorf("history %+v", h)
	}
	code, _, b = s.do(http.MethodGet, "/api/v1/feeds/res-a/history?hours=abc", s.tokens[config.RoleWall], "", nil)
	checkError(t, "bad hours", code, b, http.StatusBadRequest, "bad_request", "hours")
	code, _, b = s.do(http.MethodGet, "/api/v1/feeds/zzz/history", s.tokens[config.RoleWall], "", nil)
	checkError(t, "unknown station", code, b, http.StatusNotFound, "not_found", "zzz")
}

// TestCallsAndKPI posts calls, tickets and events and reads the KPIs on the
// API and on the hub's kpi topic; then the daily report and its errors.
func TestCallsAndKPI(t *testing.T) {
	// Days are counted in the city's zone: pick one where the last hour
	// and the next minutes are the same local day, so the test holds at
	// any time it runs.
	zone := "Asia/Shanghai"
	for _, z := range []string{"Asia/Shanghai", "Europe/London", "America/New_York"} {
		loc, _ := time.LoadLocation(z)
		if h := time.Now().In(loc).Hour(); h >= 2 && h <= 22 {
			zone = z
			break
		}
	}
	s := startServer(t, func(c *config.Config) { c.City.Timezone = zone })
	ws := s.connect(s.tokens[config.RoleWall])
	ws.subscribe("kpi")
	now := time.Now().UTC().Truncate(time.Second)
	ts := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	code, b := s.post("/api/v1/calls", `[
{"id":"c1","type":"offered","time":"`+ts(-5*time.Minute)+`"},
{"id":"c1","type":"answered","time":"`+ts(-5*time.Minute+10*time.Second)+`","wait_s":10},
{"id":"c2","type":"answered","time":"`+ts(-4*time.Minute)+`","wait_s":30},
{"id":"c3","type":"abandoned","time":"`+ts(-3*time.Minute)+`","wait_s":45},
{"id":"c3","type":"answered","time":"`+ts(-2*time.Minute)+`","wait_s":90},
{"id":"c1","type":"offered","time":"`+ts(-5*time.Minute)+`"},
{"id":"c4","type":"answered","time":"`+ts(0)+`"}]`)
	a := decodeFeeds(t, b)
	if code != http.StatusOK || a.Accepted != 4 || a.Duplicates != 1 || a.Rejected != 2 {
		t.Fatalf("calls answer %d %s", code, b)
	}
	if !strings.Contains(a.Items[4].Reason, "already abandoned") || !strings.HasPrefix(a.Items[6].Reason, "wait_s:") {
		t.Errorf("reasons %q, %q", a.Items[4].Reason, a.Items[6].Reason)
	}
	// A ticket dispatched and responded within the hour.
	if code, res := s.postTickets(newTicket("K-1", 20.02, 110.33).with("created", ts(-40*time.Minute)).json()); code != 200 || res.Accepted != 1 {
		t.Fatalf("ticket: %d %+v", code, res)
	}
	if code, res := s.postEvents("K-1", `[{"type":"dispatched","time":"`+ts(-35*time.Minute)+`","department":"水务局"},{"type":"responded","time":"`+ts(-20*time.Minute)+`"}]`); code != 200 || res.Accepted != 2 {
		t.Fatalf("events: %d %+v", code, res)
	}
	var rep struct {
		CallsOffered int `json:"calls_offered"`
		AnswerRate   struct {
			Value    float64
			Num, Den int
		} `json:"answer_rate"`
		AvgWait  float64 `json:"avg_wait_s"`
		Tickets  int
		Response struct{ Num, Den int } `json:"response_30m"`
	}
	ws.until("the KPIs on the hub", func() bool {
		_ = json.Unmarshal(ws.state["kpi"]["today"], &rep)
		return rep.CallsOffered == 3 && rep.Tickets == 1 && rep.Response.Den == 1
	})
	if rep.AnswerRate.Num != 2 || rep.AnswerRate.Den != 3 || rep.AvgWait != 20 {
		t.Errorf("KPIs %+v", rep)
	}

	wall := s.tokens[config.RoleWall]
	code, h, b := s.do(http.MethodGet, "/api/v1/reports/daily?format=csv", wall, "", nil)
	if code != 200 || !strings.HasPrefix(string(b), "date,metric,name_zh,name_en,value,numerator,denominator\n") || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") {
		t.Errorf("CSV: %d %s\n%s", code, h.Get("Content-Type"), b)
	}
	if !strings.Contains(string(b), ",answer_rate,接通率,Answer rate,0.6667,2,3\n") {
		t.Errorf("CSV lacks today's answer rate:\n%s", b)
	}
	code, _, b = s.do(http.MethodGet, "/api/v1/reports/daily?lang=en", wall, "", nil)
	if code != 200 || !strings.Contains(string(b), "hotline daily report") || !strings.Contains(string(b), "Answer rate") {
		t.Errorf("HTML (en): %d", code)
	}
	for _, c := range []struct{ q, mention string }{
		{"date=2026-13-40", `date: "2026-13-40" is not a date like`},
		{"date=yesterday", "date:"},
		{"date=" + now.AddDate(0, 0, 3).Format(time.DateOnly), "is after today"},
		{"date=" + now.AddDate(0, -2, 0).Format(time.DateOnly), "older than the 15 days kept"},
		{"format=xml", `format: "xml" must be html, csv or json`},
		{"lang=fr", `lang: "fr" must be zh or en`},
	} {
		code, _, b := s.do(http.MethodGet, "/api/v1/reports/daily?"+c.q, wall, "", nil)
		checkError(t, c.q, code, b, http.StatusBadRequest, "bad_request", c.mention)
	}
}

// TestConfiguredPollSource starts an App whose config polls a JSON URL:
// the readings reach feeds/flood and the source shows as ok.
func TestConfiguredPollSource(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"station":"wl-a","time":%q,"depth":160,"unit":"mm"}`, time.Now().UTC().Truncate(time.Second).Format(time.RFC3339))
	}))
	defer up.Close()
	s := startServer(t, func(c *config.Config) {
		feedStations(c)
		c.Feeds.Sources = []config.FeedSource{{Name: "hydro", Type: "poll", URL: up.URL, Interval: time.Second, Timeout: time.Second}}
	})
	ws := s.connect(s.tokens[config.RoleWall])
	ws.subscribe("feeds/flood")
	ws.until("the polled reading and the source's state", func() bool {
		var v struct {
			Value  float64
			State  string
			Source string
		}
		var src struct{ State string }
		_ = json.Unmarshal(ws.state["feeds/flood"]["wl-a"], &v)
		_ = json.Unmarshal(ws.state["feeds/flood"]["source:hydro"], &src)
		return v.Value == 16 && v.State == "warning" && v.Source == "hydro" && src.State == "ok"
	})
}
