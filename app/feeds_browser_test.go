package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// feedsStatus is what the feeds page shows, read from its DOM and canvases.
type feedsStatus struct {
	Title        string   `json:"title"`
	FloodRows    int      `json:"floodRows"`
	FloodValues  int      `json:"floodValues"` // rows showing a number
	RoadRows     int      `json:"roadRows"`
	KPI          []string `json:"kpi"` // tile values
	SparkPx      int      `json:"sparkPx"`
	RoadSparkPx  int      `json:"roadSparkPx"` // of the traffic widget's sparklines alone
	MapRoadPx    int      `json:"mapRoadPx"`
	Badges       []string `json:"badges"`
	ConnBadges   int      `json:"connBadges"`
	FloodSection []string `json:"floodSection"`
}

// feedsProbe counts rows with values and samples the canvases: sparklines
// are any opaque pixel; on the map, road colours are saturated greens,
// yellows, oranges and reds over the dark blue background.
const feedsProbe = `(() => {
  const q = (s) => [...document.querySelectorAll(s)];
  const flood = q('#w-flood .fd-row');
  const opaque = (sel, pick) => {
    let n = 0;
    for (const c of q(sel)) {
      if (c.width < 2 || c.height < 2) continue;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      for (let i = 0; i < d.length; i += 16) if (d[i + 3] > 0 && pick(d[i], d[i + 1], d[i + 2])) n++;
    }
    return n;
  };
  const spark = opaque('canvas.fd-spark', () => true);
  let road = 0;
  const m = document.getElementById('fd-map');
  if (m && m.width > 1) {
    const d = m.getContext('2d').getImageData(0, 0, m.width, m.height).data;
    for (let i = 0; i < d.length; i += 4 * 3) {
      const r = d[i], g = d[i + 1], b = d[i + 2];
      if ((g > 150 && r < 120 && b < 160) || (r > 180 && g > 100 && b < 90)) road++;
    }
  }
  return {
    title: (document.querySelector('#w-flood .fd-title') || {}).textContent || '',
    floodRows: flood.length,
    floodValues: flood.filter((r) => /\d/.test((r.querySelector('.fd-num') || {}).textContent || '')).length,
    roadRows: q('#w-traffic .fd-road').length,
    kpi: q('#w-kpi .fd-tile-value').map((e) => e.textContent),
    sparkPx: spark,
    // the speed lines, not the red dashed jam line: any level's colour but red
    roadSparkPx: opaque('#w-traffic canvas.fd-spark', (r, g) => g > 120),
    mapRoadPx: road,
    badges: q('.fd-badges .fd-badge').map((e) => e.textContent),
    connBadges: q('.fd-status .fd-badge').length,
    floodSection: q('#w-flood .fd-section-title').map((e) => e.textContent),
  };
})()`

// TestFeedsPageInBrowser opens /feeds on the demo city in headless Chromium
// at the wall's resolution: the flood, traffic and KPI widgets fill with
// data, their sparklines and the map layers draw, in Chinese and English.
func TestFeedsPageInBrowser(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)
	b := startBrowser(t, 60*time.Second, 3840, 2160)
	defer b.checkConsole()
	bctx := b.ctx

	open := func(path string) feedsStatus {
		t.Helper()
		if err := chromedp.Do(bctx, chromedp.Navigate(s.url+path)); err != nil {
			t.Fatalf("open %s: %v", path, err)
		}
		st, _ := evalUntil(t, bctx, "read the page", feedsProbe, 25*time.Second, 250*time.Millisecond, func(st feedsStatus) bool {
			return st.FloodValues >= 13 && st.RoadRows >= 8 && len(st.KPI) == 8 && st.KPI[0] != "—" && st.SparkPx > 200 && st.RoadSparkPx > 500 && st.MapRoadPx > 200
		})
		return st
	}

	st := open("/feeds?token=" + url.QueryEscape(s.tokens[config.RoleWall]))
	t.Logf("zh page: %+v", st)
	if st.Title != "防汛监测" || len(st.FloodSection) != 3 || st.FloodSection[0] != "水库" {
		t.Errorf("flood widget headings %q %q", st.Title, st.FloodSection)
	}
	if st.FloodRows != 13 || st.FloodValues != 13 {
		t.Errorf("flood rows %d, with values %d; want 13 (3 reservoirs, 6 waterlogging points, 4 gauges)", st.FloodRows, st.FloodValues)
	}
	if st.RoadRows < 8 {
		t.Errorf("%d road rows", st.RoadRows)
	}
	if len(st.KPI) != 8 || st.KPI[0] == "—" || st.KPI[2] == "0" {
		t.Errorf("KPI tiles %q", st.KPI)
	}
	if st.SparkPx <= 200 || st.RoadSparkPx <= 500 {
		t.Errorf("sparklines drew %d sampled pixels, %d of them for the roads", st.SparkPx, st.RoadSparkPx)
	}
	if st.MapRoadPx <= 200 {
		t.Errorf("the roads layer drew %d sampled pixels", st.MapRoadPx)
	}
	if st.ConnBadges != 0 {
		t.Errorf("%d connection or source badges on a live page", st.ConnBadges)
	}
	screenshot(t, bctx, "feeds-3840x2160.png")

	en := open("/feeds?lang=en")
	if en.Title != "Flood watch" || len(en.FloodSection) == 0 || en.FloodSection[0] != "Reservoirs" {
		t.Errorf("English page headings %q %q", en.Title, en.FloodSection)
	}
	for _, b := range en.Badges {
		if strings.ContainsAny(b, "正常畅通") {
			t.Errorf("Chinese badge %q on the English page", b)
		}
	}
}

// TestFeedsStatesInBrowser posts readings past the thresholds to a city of
// three stations and checks what the widgets show: the reservoir above its
// flood limit, the jammed road, and the waterlogging point that stopped
// reporting marked stale; the map draws the jam in its red.
func TestFeedsStatesInBrowser(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		feedStations(c)
		c.Feeds.Stations[1].Interval = time.Second // wl-a: stale 3 s after its reading
	})
	br := startBrowser(t, 60*time.Second, 3840, 2160)
	defer br.checkConsole()
	bctx := br.ctx
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	code, b := s.post("/api/v1/readings", `[{"station":"res-a","time":"`+ts+`","level":19.2,"unit":"m"},
{"station":"wl-a","time":"`+ts+`","depth":35,"unit":"cm"},{"station":"road-a","time":"`+ts+`","speed":6,"unit":"km/h"}]`)
	if code != 200 {
		t.Fatalf("post: %d %s", code, b)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/feeds?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatal(err)
	}
	const probe = `(() => {
  const row = (id) => { const r = document.querySelector('[data-id="' + id + '"]'); return r ? [...r.querySelectorAll('.fd-badge')].map((b) => b.textContent) : []; };
  let red = 0;
  const m = document.getElementById('fd-map');
  if (m && m.width > 1) {
    const d = m.getContext('2d').getImageData(0, 0, m.width, m.height).data;
    for (let i = 0; i < d.length; i += 8) if (d[i] > 180 && d[i + 1] < 60 && d[i + 2] < 90) red++;
  }
  return {res: row('res-a'), wl: row('wl-a'), road: row('road-a'), red};
})()`
	type seen struct {
		Res, Wl, Road []string
		Red           int
	}
	has := func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	st, _ := evalUntil(t, bctx, "read the page", probe, 20*time.Second, 250*time.Millisecond, func(st seen) bool {
		return has(st.Res, "超汛限") && has(st.Wl, "数据中断") && has(st.Road, "严重拥堵") && st.Red > 50
	})
	t.Logf("badges: %+v", st)
	if !has(st.Res, "超汛限") {
		t.Errorf("reservoir at 19.2 m (flood limit 19): badges %q", st.Res)
	}
	if !has(st.Wl, "危险") || !has(st.Wl, "数据中断") {
		t.Errorf("waterlogging at 35 cm, silent since: badges %q, want 危险 and 数据中断", st.Wl)
	}
	if !has(st.Road, "严重拥堵") {
		t.Errorf("road at 6 of 60 km/h: badges %q", st.Road)
	}
	if st.Red <= 50 {
		t.Errorf("the jammed road drew %d sampled red pixels on the map", st.Red)
	}
}
