package app_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// analysisView is what the analysis page shows, read from its ECharts
// instances (getOption) and its tables.
type analysisView struct {
	Ready       int        `json:"ready"`
	Status      string     `json:"status"`
	Err         bool       `json:"err"`
	Periods     []string   `json:"periods"`
	SeriesNames []string   `json:"seriesNames"`
	SeriesData  [][]int    `json:"seriesData"`
	AreaNames   []string   `json:"areaNames"`
	AreaData    []int      `json:"areaData"`
	AreasShown  bool       `json:"areasShown"`
	TicketIDs   []string   `json:"ticketIDs"`
	RisingNames []string   `json:"risingNames"`
	RisingData  []int      `json:"risingData"`
	Phrases     []string   `json:"phrases"`
	KPIDates    []string   `json:"kpiDates"`
	KPITickets  []int      `json:"kpiTickets"`
	CSV         [][]string `json:"csv"`    // the links: id, href, download attribute present
	Scroll      []int      `json:"scroll"` // scrollWidth, scrollHeight, innerWidth, innerHeight
}

const analysisProbe = `(() => {
  const opt = (id) => { const e = document.getElementById(id); const c = e && window.echarts && echarts.getInstanceByDom(e); return c ? c.getOption() : null; };
  const counts = opt('an-counts-chart'), areas = opt('an-areas-chart'), rising = opt('an-rising-chart'), kpi = opt('an-kpi-chart');
  const q = (s) => [...document.querySelectorAll(s)];
  const st = document.getElementById('an-status');
  return {
    ready: (window.citywallAnalysis || {}).ready || 0,
    status: st.textContent, err: st.classList.contains('an-err'),
    periods: counts ? counts.xAxis[0].data : [],
    seriesNames: counts ? counts.series.map((s) => s.name) : [],
    seriesData: counts ? counts.series.map((s) => s.data) : [],
    areaNames: areas ? areas.yAxis[0].data : [],
    areaData: areas ? areas.series[0].data : [],
    areasShown: !document.getElementById('an-areas-chart').hidden,
    ticketIDs: q('#an-tickets tr[data-id]').map((r) => r.dataset.id),
    risingNames: rising ? rising.yAxis[0].data : [],
    risingData: rising ? rising.series[0].data : [],
    phrases: q('#an-phrases tr[data-phrase]').map((r) => r.dataset.phrase),
    kpiDates: kpi ? kpi.xAxis[0].data : [],
    kpiTickets: kpi ? kpi.series[0].data : [],
    csv: q('a.an-csv').map((a) => [a.id, a.getAttribute('href') || '', a.hasAttribute('download') ? 'download' : '']),
    scroll: [document.documentElement.scrollWidth, document.documentElement.scrollHeight, innerWidth, innerHeight],
  };
})()`

// TestAnalysisPageInBrowser opens /analysis as a commander on a 1920×1080
// wall monitor over three weeks of posted tickets: the counts, areas,
// rising and KPI charts hold the API's numbers; a drill-down to 龙华区
// and its grid LH-02 lists that grid's tickets; the grid's CSV export is
// the API's CSV of those tickets; no console error and no content
// security policy violation; the page fits the monitor without scrolling.
func TestAnalysisPageInBrowser(t *testing.T) {
	cfg, tokens := testConfig(t)
	s := startWith(t, cfg, tokens)
	loc, _ := time.LoadLocation(cfg.City.Timezone)
	all := analysisFixture(time.Now(), loc)
	postAnalysisFixture(t, s, all)
	cmd := tokens[config.RoleCommander]

	b := startBrowser(t, 90*time.Second, 1920, 1080)
	defer b.checkConsole()
	tab, closeTab := b.cspTab(s.url+"/analysis?token="+url.QueryEscape(cmd), 1920, 1080)
	defer closeTab()
	read := func(what string, ok func(analysisView) bool) analysisView {
		t.Helper()
		v, good := evalUntil(t, tab, what, analysisProbe, 20*time.Second, 200*time.Millisecond, ok)
		if !good {
			t.Fatalf("%s: page shows %+v", what, v)
		}
		return v
	}
	v := read("first load", func(v analysisView) bool { return v.Ready >= 1 && len(v.KPIDates) > 0 || v.Err })
	if v.Err {
		t.Fatalf("page error: %s", v.Status)
	}
	screenshot(t, tab, "analysis-1920x1080.png")

	// Counts: by day and district over the days held, as the API counts.
	var c countsJSON
	s.getJSON("/api/v1/analysis/counts?group=day&by=district", cmd, &c)
	if !slices.Equal(v.Periods, c.Periods) {
		t.Errorf("counts chart periods %v, API %v", v.Periods, c.Periods)
	}
	if len(v.SeriesNames) != len(c.Series) {
		t.Fatalf("counts chart has %d series, API %d", len(v.SeriesNames), len(c.Series))
	}
	for i, sr := range c.Series {
		if v.SeriesNames[i] != sr.Key[0] || !slices.Equal(v.SeriesData[i], sr.Counts) {
			t.Errorf("counts series %d: %s %v, API %s %v", i, v.SeriesNames[i], v.SeriesData[i], sr.Key[0], sr.Counts)
		}
	}

	// The drill-down's first level, the rising subcategories and the KPIs.
	areas := func(q string) (names []string, n []int) {
		var a struct {
			Areas []struct {
				Name    string `json:"name"`
				Tickets int    `json:"tickets"`
			} `json:"areas"`
		}
		s.getJSON("/api/v1/analysis/areas"+q, cmd, &a)
		for _, x := range a.Areas {
			names, n = append(names, x.Name), append(n, x.Tickets)
		}
		return names, n
	}
	if names, n := areas(""); !slices.Equal(v.AreaNames, names) || !slices.Equal(v.AreaData, n) {
		t.Errorf("districts chart %v %v, API %v %v", v.AreaNames, v.AreaData, names, n)
	}
	var r struct {
		Items []struct {
			Name     string `json:"name"`
			Category string `json:"category"`
			Recent   int    `json:"recent"`
		} `json:"items"`
	}
	s.getJSON("/api/v1/analysis/rising?kind=subcategory&days=1&limit=10", cmd, &r)
	var rn []string
	var rd []int
	for _, it := range r.Items {
		rn, rd = append(rn, it.Name+" · "+it.Category), append(rd, it.Recent)
	}
	if len(rn) == 0 || !slices.Equal(v.RisingNames, rn) || !slices.Equal(v.RisingData, rd) {
		t.Errorf("rising chart %v %v, API %v %v", v.RisingNames, v.RisingData, rn, rd)
	}
	if !slices.ContainsFunc(v.Phrases, func(p string) bool { return strings.Contains(p, "燃气异味") }) {
		t.Errorf("rising phrases %v lack 燃气异味", v.Phrases)
	}
	var k struct {
		Days []struct {
			Date    string `json:"date"`
			Tickets int    `json:"tickets"`
		} `json:"days"`
	}
	s.getJSON("/api/v1/analysis/kpi", cmd, &k)
	var kd []string
	var kt []int
	for _, d := range k.Days {
		kd, kt = append(kd, d.Date[5:]), append(kt, d.Tickets)
	}
	if !slices.Equal(v.KPIDates, kd) || !slices.Equal(v.KPITickets, kt) {
		t.Errorf("KPI chart %v %v, API %v %v", v.KPIDates, v.KPITickets, kd, kt)
	}
	if len(v.CSV) != 5 {
		t.Errorf("CSV links %v, want one per chart and the phrases'", v.CSV)
	}
	for _, l := range v.CSV {
		if !strings.Contains(l[1], "format=csv") || l[2] != "download" {
			t.Errorf("CSV link %v", l)
		}
	}
	if v.Scroll[0] > v.Scroll[2] || v.Scroll[1] > v.Scroll[3] {
		t.Errorf("the page scrolls on a 1920×1080 monitor: content %d×%d in %d×%d", v.Scroll[0], v.Scroll[1], v.Scroll[2], v.Scroll[3])
	}

	// Drill down: 龙华区, then its grid LH-02 and that grid's tickets.
	click := func(sel string) {
		t.Helper()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	click(`#an-areas-list button[data-area="龙华区"]`)
	gn, gc := areas("?district=" + url.QueryEscape("龙华区"))
	v = read("grids of 龙华区", func(v analysisView) bool { return slices.Equal(v.AreaNames, gn) })
	if !slices.Equal(v.AreaData, gc) {
		t.Errorf("grids chart %v %v, API %v %v", v.AreaNames, v.AreaData, gn, gc)
	}
	click(`#an-areas-list button[data-area="LH-02"]`)
	var tl struct {
		Total   int `json:"total"`
		Tickets []struct {
			ID string `json:"id"`
		} `json:"tickets"`
	}
	s.getJSON("/api/v1/analysis/tickets?district="+url.QueryEscape("龙华区")+"&grid=LH-02&limit=500", cmd, &tl)
	var ids []string
	for _, x := range tl.Tickets {
		ids = append(ids, x.ID)
	}
	v = read("tickets of LH-02", func(v analysisView) bool { return len(v.TicketIDs) > 0 && !v.AreasShown })
	if len(ids) == 0 || !slices.Equal(v.TicketIDs, ids) {
		t.Errorf("grid LH-02's tickets %v, API %v", v.TicketIDs, ids)
	}
	screenshot(t, tab, "analysis-drill-LH-02.png")

	// Export the grid's tickets: the link the page offers is downloaded by
	// the page itself and holds exactly the grid's tickets.
	var href string
	for _, l := range v.CSV {
		if l[0] == "an-areas-csv" {
			href = l[1]
		}
	}
	got, err := chromedp.Run(tab, chromedp.Evaluate[string](`fetch(`+jsString(href)+`, {credentials: 'same-origin'}).then((r) => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("download %s: %v", href, err)
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(got, "\ufeff"))).ReadAll()
	if err != nil || len(rows) == 0 || rows[0][0] != "id" {
		t.Fatalf("CSV from %s: %v\n%s", href, err, got)
	}
	var csvIDs []string
	for _, row := range rows[1:] {
		if row[3] != "LH-02" {
			t.Errorf("CSV row of another grid: %v", row)
		}
		csvIDs = append(csvIDs, row[0])
	}
	if !slices.Equal(csvIDs, ids) {
		t.Errorf("CSV ids %v, want %v", csvIDs, ids)
	}
	code, h, body := s.do("GET", href, cmd, "", nil)
	if code != http.StatusOK || !strings.Contains(h.Get("Content-Disposition"), "attachment") || !bytes.Equal(bytes.TrimPrefix(body, []byte("\ufeff")), []byte(got)) {
		t.Errorf("the export is not the API's answer: %d %v", code, h)
	}

	cspViolations(t, tab, "/analysis")

	// Patrol and wall tokens may not open it.
	for _, role := range []config.Role{config.RolePatrol, config.RoleWall} {
		code, _, body := s.do("GET", "/analysis", tokens[role], "", nil)
		if code != http.StatusForbidden {
			t.Errorf("%s opens /analysis: %d %s", role, code, body)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
