package app_test

import (
	"fmt"
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
// are any opaque pixel; on the map (MapLibre, its traffic layer loaded),
// road colours are saturated greens, yellows, oranges and reds over the
// dark blue basemap.
const feedsProbe = `(async () => {
  ` + mapImageJS + `
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
  const cm = window.citywallFeeds && window.citywallFeeds.map;
  const img = cm && cm.map.getLayer('traffic-road') ? await settledImage(cm, 2000) : null;
  if (img) {
    const d = img.d;
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
// four stations and checks what the widgets show: the reservoir above its
// flood limit, the jammed road, and the waterlogging point that stopped
// reporting marked stale. On the map (MapLibre) each is drawn where the
// map's own projection puts its coordinates, in its state's colour: the
// flooded point and the reservoir red, the stale point grey, the jam in
// its dark red.
func TestFeedsStatesInBrowser(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		feedStations(c)
		c.Feeds.Stations[1].Interval = time.Second // wl-a: stale 3 s after its reading
		c.Feeds.Stations = append(c.Feeds.Stations, config.FeedStation{ID: "wl-b", Kind: "waterlogging", Name: "乙下穿",
			Lat: 20.00, Lng: 110.335, Interval: time.Hour, Warn: 15, Limit: 30})
	})
	br := startBrowser(t, 60*time.Second, 3840, 2160)
	defer br.checkConsole()
	bctx := br.ctx
	ts := time.Now().UTC().Format(time.RFC3339Nano)
	code, b := s.post("/api/v1/readings", `[{"station":"res-a","time":"`+ts+`","level":19.2,"unit":"m"},
{"station":"wl-a","time":"`+ts+`","depth":35,"unit":"cm"},{"station":"wl-b","time":"`+ts+`","depth":40,"unit":"cm"},
{"station":"road-a","time":"`+ts+`","speed":6,"unit":"km/h"}]`)
	if code != 200 {
		t.Fatalf("post: %d %s", code, b)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/feeds?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatal(err)
	}
	// Each place is read where the map projects it: the pixel there and
	// the features MapLibre rendered there.
	const probe = `(async () => {
  ` + mapImageJS + `
  const row = (id) => { const r = document.querySelector('[data-id="' + id + '"]'); return r ? [...r.querySelectorAll('.fd-badge')].map((b) => b.textContent) : []; };
  const cm = window.citywallFeeds && window.citywallFeeds.map;
  const img = cm && cm.map.getLayer('flood-station') && cm.map.getLayer('traffic-road') ? await settledImage(cm, 2000) : null;
  let red = 0;
  const place = (lat, lng) => {
    if (!img) return { px: [], layers: [] };
    const [x, y] = cm.project(lat, lng);
    return { px: img.at(x, y), layers: cm.map.queryRenderedFeatures([x, y]).map((f) => f.layer.id + ':' + (f.properties.id || '')) };
  };
  if (img) for (let i = 0; i < img.d.length; i += 8) if (img.d[i] > 180 && img.d[i + 1] < 60 && img.d[i + 2] < 90) red++;
  return {res: row('res-a'), wl: row('wl-a'), road: row('road-a'), red,
    resAt: place(19.98, 110.30), wlaAt: place(20.01, 110.31), wlbAt: place(20.00, 110.335), roadAt: place(20.03, 110.31)};
})()`
	type place struct {
		Px     []int
		Layers []string
	}
	type seen struct {
		Res, Wl, Road               []string
		Red                         int
		ResAt, WlaAt, WlbAt, RoadAt place
	}
	has := func(l []string, s string) bool {
		for _, x := range l {
			if x == s {
				return true
			}
		}
		return false
	}
	// near: the pixel is the colour hex, give or take the blending of a
	// picture's texture.
	near := func(px []int, hex string) bool {
		var r, g, b int
		fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b)
		return len(px) == 3 && abs(px[0]-r) <= 12 && abs(px[1]-g) <= 12 && abs(px[2]-b) <= 12
	}
	const danger, stale, jammed = "#ff3b3b", "#7d90ab", "#d0213a"
	st, _ := evalUntil(t, bctx, "read the page", probe, 20*time.Second, 250*time.Millisecond, func(st seen) bool {
		return has(st.Res, "超汛限") && has(st.Wl, "数据中断") && has(st.Road, "严重拥堵") && st.Red > 50 &&
			near(st.WlaAt.Px, stale) && near(st.WlbAt.Px, danger) && near(st.ResAt.Px, danger) && near(st.RoadAt.Px, jammed)
	})
	t.Logf("badges and map: %+v", st)
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
	for _, c := range []struct {
		what, id, layer, color string
		at                     place
	}{
		{"the waterlogging point at 40 cm (limit 30)", "wl-b", "flood-station", danger, st.WlbAt},
		{"the stale waterlogging point", "wl-a", "flood-station", stale, st.WlaAt},
		{"the reservoir above its flood limit", "res-a", "flood-station", danger, st.ResAt},
		{"the jammed road's middle", "road-a", "traffic-road", jammed, st.RoadAt},
	} {
		if !near(c.at.Px, c.color) {
			t.Errorf("%s is %v where the map projects it, want %s", c.what, c.at.Px, c.color)
		}
		if !has(c.at.Layers, c.layer+":"+c.id) {
			t.Errorf("%s: rendered there %q, want %s of %s", c.what, c.at.Layers, c.layer, c.id)
		}
	}
	screenshot(t, bctx, "feeds-states-3840x2160.png")
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
