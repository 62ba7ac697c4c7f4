package app_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// analysisTicket is a posted ticket as the tests expect it counted.
type analysisTicket struct {
	id, district, grid, category, subcategory, channel, summary string
	day                                                         string // city-local date
	created                                                     time.Time
}

// analysisFixture is three weeks of tickets across three districts, five
// grids, three categories and three channels, made up from the ticket's
// number so that every count differs, and today a rise of 噪声 in
// 龙华区 LH-01 with 燃气异味 in summaries under two categories. Today's
// tickets are created halfway between midnight and now, so they are in the
// past and on today's date whenever the test runs.
func analysisFixture(now time.Time, loc *time.Location) []analysisTicket {
	type place struct{ district, grid string }
	places := []place{{"龙华区", "LH-01"}, {"龙华区", "LH-02"}, {"美兰区", "ML-01"}, {"秀英区", "XY-01"}, {"秀英区", "XY-02"}}
	cats := [][3]string{{"城市管理", "道路脏乱", "人行道上有建筑垃圾"}, {"环境保护", "噪声", "夜间施工噪声扰民"}, {"交通运输", "公交服务", "公交车到站不停"}}
	channels := []string{"phone", "wechat", "app"}
	l := now.In(loc)
	midnight := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	var out []analysisTicket
	n := 0
	add := func(k int, p place, c [3]string, ch, summary string) {
		at := time.Date(l.Year(), l.Month(), l.Day()-k, 9, 0, 0, 0, loc).Add(time.Duration(n) * time.Minute)
		if k == 0 {
			at = midnight.Add(now.Sub(midnight) / 2).Add(-time.Duration(n) * time.Millisecond)
		}
		n++
		out = append(out, analysisTicket{id: fmt.Sprintf("an-%03d", n), district: p.district, grid: p.grid, category: c[0],
			subcategory: c[1], channel: ch, summary: summary, day: at.In(loc).Format(time.DateOnly), created: at})
	}
	for k := 20; k >= 0; k-- {
		for i := range 3 + (k*7)%5 {
			j := k*3 + i
			c := cats[j%3]
			add(k, places[(j*7)%5], c, channels[(j/2)%3], c[2])
		}
	}
	for i := range 12 {
		add(0, places[0], cats[1], channels[i%2], "楼下夜间噪声扰民")
	}
	for i := range 6 {
		add(0, places[i%2], cats[(i%2)*2], "phone", "小区燃气异味很重")
	}
	return out
}

func (a analysisTicket) json() tk {
	return tk{"id": a.id, "channel": a.channel, "category": a.category, "subcategory": a.subcategory, "summary": a.summary,
		"lat": 20.02, "lng": 110.33, "district": a.district, "grid": a.grid, "created": a.created.UTC().Format(time.RFC3339Nano)}
}

func postAnalysisFixture(t *testing.T, s *server, all []analysisTicket) {
	t.Helper()
	items := make([]tk, len(all))
	for i, a := range all {
		items[i] = a.json()
	}
	code, res := s.postTickets(array(items...))
	if code != http.StatusOK || res.Accepted != len(all) {
		t.Fatalf("post fixture: %d, accepted %d of %d: %+v", code, res.Accepted, len(all), res)
	}
}

type countsJSON struct {
	Group   string   `json:"group"`
	By      []string `json:"by"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Periods []string `json:"periods"`
	Series  []struct {
		Key    []string `json:"key"`
		Counts []int    `json:"counts"`
		Total  int      `json:"total"`
	} `json:"series"`
	Totals []int `json:"totals"`
	Total  int   `json:"total"`
}

// asMap is a counts answer as key/period → count, zeros left out.
func (c countsJSON) asMap() map[string]int {
	m := map[string]int{}
	for _, s := range c.Series {
		for i, n := range s.Counts {
			if n > 0 {
				m[strings.Join(s.Key, "/")+"@"+c.Periods[i]] = n
			}
		}
	}
	return m
}

func mondayOf(day string) string {
	d, _ := time.Parse(time.DateOnly, day)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)).Format(time.DateOnly)
}

func TestAnalysisAPI(t *testing.T) {
	cfg, tokens := testConfig(t)
	s := startWith(t, cfg, tokens)
	loc, _ := time.LoadLocation(cfg.City.Timezone)
	now := time.Now()
	all := analysisFixture(now, loc)
	postAnalysisFixture(t, s, all)
	cmd := tokens[config.RoleCommander]
	today := now.In(loc).Format(time.DateOnly)
	from := now.In(loc).AddDate(0, 0, -20).Format(time.DateOnly)

	check := func(t *testing.T, s *server) {
		t.Run("by day and district", func(t *testing.T) {
			var c countsJSON
			s.getJSON("/api/v1/analysis/counts?group=day&by=district&from="+from+"&to="+today, cmd, &c)
			want := map[string]int{}
			for _, a := range all {
				want[a.district+"@"+a.day]++
			}
			if got := c.asMap(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("counts\n got %v\nwant %v", got, want)
			}
			if len(c.Periods) != 21 || c.Periods[0] != from || c.Periods[20] != today || c.Total != len(all) {
				t.Errorf("periods %v total %d, want 21 days %s..%s and %d", c.Periods, c.Total, from, today, len(all))
			}
		})
		t.Run("by week, category and channel, in one district", func(t *testing.T) {
			var c countsJSON
			s.getJSON("/api/v1/analysis/counts?group=week&by=category,channel&district="+url.QueryEscape("龙华区"), cmd, &c)
			want := map[string]int{}
			for _, a := range all {
				if a.district == "龙华区" {
					want[a.category+"/"+a.channel+"@"+mondayOf(a.day)]++
				}
			}
			if got := c.asMap(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("counts\n got %v\nwant %v", got, want)
			}
		})
		t.Run("csv", func(t *testing.T) {
			code, h, body := s.do("GET", "/api/v1/analysis/counts?group=day&by=channel&channel=wechat&format=csv", cmd, "", nil)
			if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/csv") || !strings.Contains(h.Get("Content-Disposition"), "attachment") {
				t.Fatalf("csv: %d %v", code, h)
			}
			rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\ufeff")))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows[0], []string{"channel", "period", "tickets"}) {
				t.Fatalf("header %v", rows[0])
			}
			want := map[string]int{}
			for _, a := range all {
				if a.channel == "wechat" {
					want[a.day]++
				}
			}
			got := map[string]int{}
			for _, r := range rows[1:] {
				n, _ := strconv.Atoi(r[2])
				if r[0] != "wechat" {
					t.Errorf("row %v: another channel", r)
				}
				if n > 0 {
					got[r[1]] = n
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("csv\n got %v\nwant %v", got, want)
			}
		})
		t.Run("drill-down", func(t *testing.T) {
			var city struct {
				Level string `json:"level"`
				Areas []struct {
					Name    string `json:"name"`
					Tickets int    `json:"tickets"`
				} `json:"areas"`
			}
			s.getJSON("/api/v1/analysis/areas", cmd, &city)
			wantD, wantG, wantT := map[string]int{}, map[string]int{}, []string{}
			for _, a := range all {
				wantD[a.district]++
				if a.district == "龙华区" {
					wantG[a.grid]++
				}
				if a.grid == "LH-02" {
					wantT = append(wantT, a.id)
				}
			}
			got := map[string]int{}
			for _, a := range city.Areas {
				got[a.Name] = a.Tickets
			}
			if city.Level != "city" || fmt.Sprint(got) != fmt.Sprint(wantD) {
				t.Errorf("city: %s %v, want %v", city.Level, got, wantD)
			}
			s.getJSON("/api/v1/analysis/areas?district="+url.QueryEscape("龙华区"), cmd, &city)
			clear(got)
			for _, a := range city.Areas {
				got[a.Name] = a.Tickets
			}
			if city.Level != "district" || fmt.Sprint(got) != fmt.Sprint(wantG) {
				t.Errorf("district: %s %v, want %v", city.Level, got, wantG)
			}
			var tl struct {
				Total   int `json:"total"`
				Tickets []struct {
					ID   string `json:"id"`
					Grid string `json:"grid"`
				} `json:"tickets"`
			}
			s.getJSON("/api/v1/analysis/tickets?district="+url.QueryEscape("龙华区")+"&grid=LH-02&limit=5000", cmd, &tl)
			var ids []string
			for _, x := range tl.Tickets {
				ids = append(ids, x.ID)
			}
			slices.Sort(ids)
			slices.Sort(wantT)
			if tl.Total != len(wantT) || !slices.Equal(ids, wantT) {
				t.Errorf("grid LH-02: %d %v, want %v", tl.Total, ids, wantT)
			}
		})
		t.Run("rising", func(t *testing.T) {
			var r struct {
				BaseDays int `json:"base_days"`
				Items    []struct {
					Name     string  `json:"name"`
					Category string  `json:"category"`
					Recent   int     `json:"recent"`
					Expected float64 `json:"expected"`
				} `json:"items"`
			}
			s.getJSON("/api/v1/analysis/rising?kind=subcategory&days=1", cmd, &r)
			recent, base := 0, 0
			yesterday4 := now.In(loc).AddDate(0, 0, -4).Format(time.DateOnly)
			for _, a := range all {
				if a.subcategory == "噪声" {
					if a.day == today {
						recent++
					} else if a.day >= yesterday4 {
						base++
					}
				}
			}
			if r.BaseDays != 4 || len(r.Items) == 0 || r.Items[0].Name != "噪声" || r.Items[0].Recent != recent ||
				r.Items[0].Expected != float64(base)/4 {
				t.Errorf("rising subcategories: %+v, want 噪声 first with %d recent, %g expected", r, recent, float64(base)/4)
			}
			s.getJSON("/api/v1/analysis/rising?kind=phrase&days=1", cmd, &r)
			found := false
			for _, it := range r.Items {
				found = found || strings.Contains(it.Name, "燃气异味") && it.Recent == 6
			}
			if !found {
				t.Errorf("rising phrases: %+v, want one holding 燃气异味 with 6", r.Items)
			}
		})
		t.Run("kpi", func(t *testing.T) {
			var k struct {
				Days []struct {
					Date    string `json:"date"`
					Tickets int    `json:"tickets"`
				} `json:"days"`
			}
			s.getJSON("/api/v1/analysis/kpi", cmd, &k)
			want := map[string]int{}
			for _, a := range all {
				want[a.day]++
			}
			if len(k.Days) != 15 || k.Days[14].Date != today {
				t.Fatalf("kpi days: %+v", k.Days)
			}
			for _, d := range k.Days {
				if d.Tickets != want[d.Date] {
					t.Errorf("kpi %s: %d tickets, want %d", d.Date, d.Tickets, want[d.Date])
				}
			}
		})
	}
	check(t, s)

	t.Run("bad parameters", func(t *testing.T) {
		future := now.In(loc).AddDate(0, 0, 2).Format(time.DateOnly)
		old := now.In(loc).AddDate(0, 0, -40).Format(time.DateOnly)
		for _, c := range []struct{ path, param string }{
			{"/api/v1/analysis/counts?group=month", "group"},
			{"/api/v1/analysis/counts?by=colour", "by"},
			{"/api/v1/analysis/counts?by=district,district", "by"},
			{"/api/v1/analysis/counts?by=district,grid,category,channel", "by"},
			{"/api/v1/analysis/counts?from=yesterday", "from"},
			{"/api/v1/analysis/counts?to=" + future, "to"},
			{"/api/v1/analysis/counts?from=" + old, "from"},
			{"/api/v1/analysis/counts?from=" + today + "&to=" + from, "from"},
			{"/api/v1/analysis/counts?channel=fax", "channel"},
			{"/api/v1/analysis/counts?colour=red", "colour"},
			{"/api/v1/analysis/counts?group=day&group=week", "group"},
			{"/api/v1/analysis/counts?format=xml", "format"},
			{"/api/v1/analysis/rising?kind=word", "kind"},
			{"/api/v1/analysis/rising?days=99", "days"},
			{"/api/v1/analysis/rising?limit=0", "limit"},
			{"/api/v1/analysis/tickets?limit=x", "limit"},
			{"/api/v1/analysis/areas?group=day", "group"},
			{"/api/v1/analysis/kpi?from=" + now.In(loc).AddDate(0, 0, -20).Format(time.DateOnly), "from"},
		} {
			code, _, body := s.do("GET", c.path, cmd, "", nil)
			checkError(t, c.path, code, body, http.StatusBadRequest, "bad_request", c.param+":")
		}
	})
	t.Run("roles", func(t *testing.T) {
		for _, r := range []config.Role{config.RoleWall, config.RolePatrol, config.RoleTeam, config.RoleIngest} {
			for _, p := range []string{"/api/v1/analysis/counts", "/api/v1/analysis/areas", "/analysis"} {
				if code, _, _ := s.do("GET", p, tokens[r], "", nil); code != http.StatusForbidden {
					t.Errorf("%s %s: %d, want 403", r, p, code)
				}
			}
		}
		for _, r := range []config.Role{config.RoleCommander, config.RoleAdmin} {
			for _, p := range []string{"/api/v1/analysis/counts", "/api/v1/analysis/meta", "/analysis"} {
				if code, _, body := s.do("GET", p, tokens[r], "", nil); code != http.StatusOK {
					t.Errorf("%s %s: %d %s, want 200", r, p, code, body)
				}
			}
		}
		if code, _, _ := s.do("GET", "/api/v1/analysis/counts", "", "", nil); code != http.StatusUnauthorized {
			t.Errorf("no token: %d, want 401", code)
		}
	})

	// After a restart the history is the ingest log's: tickets weeks
	// older than the ticket store keeps (tickets.retention, 48 h) count.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startWith(t, cfg, tokens)
	t.Run("after restart", func(t *testing.T) { check(t, s2.with(t)) })
}
