package app_test

import (
	"context"
	"math"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// wallStatus is what the wall page shows, read from its DOM and canvas.
type wallStatus struct {
	URL       string   `json:"url"`
	Conn      string   `json:"conn"`      // class of #conn: conn-open once the hub is connected
	HotRows   int      `json:"hotRows"`   // rows in the hot-topics list
	HotNames  []string `json:"hotNames"`  // their primary names
	HeatPx    int      `json:"heatPx"`    // sampled canvas pixels in the heat ramp's reds and yellows
	CanvasW   int      `json:"canvasW"`   // size of the map's base canvas
	CanvasH   int      `json:"canvasH"`   //
	MapMeta   string   `json:"mapMeta"`   // the map panel's caption
	Title     string   `json:"title"`     // document.title
	Cookie    string   `json:"cookie"`    // document.cookie: the session must not be readable
	Banner    bool     `json:"banner"`    // the offline banner is showing
	BodyClass string   `json:"bodyClass"` //
}

// mapHeatPixelsJS defines mapHeatPixels(canvas): the number of sampled
// pixels of a map's WebGL canvas in the heat ramp's reds and yellows. Heat
// cells are drawn in a ramp from a translucent deep red to white over a
// dark blue basemap, so pixels with clearly more red than blue and green
// are cells (sea, land, borders and roads are blue-grey). The map keeps its
// drawing buffer, so it can be copied to a 2D canvas and read. Every third
// pixel is sampled; nothing is read before the map has loaded.
const mapHeatPixelsJS = `function mapHeatPixels(cv) {
  const body = cv && cv.closest('.panel-body');
  const cm = body && body.citymap;
  if (!cm || cv.width < 2 || cv.height < 2) return 0;
  // Read once the map has loaded (its 'load' event): map.loaded() itself
  // is false while a heat delta is being tiled, which under load in
  // software WebGL can be most of the time.
  if (!cm.__probeLoaded) { cm.__probeLoaded = 'wait'; cm.ready.then(() => { cm.__probeLoaded = 'yes'; }); }
  if (cm.__probeLoaded !== 'yes') return 0;
  const c = document.createElement('canvas');
  c.width = cv.width; c.height = cv.height;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(cv, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let heat = 0;
  for (let i = 0; i < d.length; i += 4 * 3) {
    const r = d[i], gg = d[i + 1], b = d[i + 2];
    if (r > 30 && r >= b + 20 && r >= gg + 15) heat++;
  }
  return heat;
}`

// wallProbe reads the page.
const wallProbe = `(() => {
  ` + mapHeatPixelsJS + `
  const $ = (s) => document.querySelector(s);
  const rows = [...document.querySelectorAll('.tile-hot .hot-row')];
  const cv = $('.tile-map canvas.maplibregl-canvas');
  const heat = mapHeatPixels(cv);
  const conn = $('#conn');
  const meta = $('.tile-map .panel-meta');
  const banner = $('#banner');
  return {
    url: location.href,
    conn: conn ? conn.className : '',
    hotRows: rows.length,
    hotNames: rows.map((r) => (r.querySelector('.hot-primary') || r).textContent.trim()),
    heatPx: heat,
    canvasW: cv ? cv.width : 0,
    canvasH: cv ? cv.height : 0,
    mapMeta: meta ? meta.textContent : '',
    title: document.title,
    cookie: document.cookie,
    banner: banner ? !banner.hidden : false,
    bodyClass: document.body ? document.body.className : '',
  };
})()`

// mapImageJS defines mapImage(cm): the picture of a CityMap's WebGL canvas
// (its drawing buffer is kept, so it can be copied to a 2D canvas) with
// at(x, y), the RGB of the pixel at a CSS position of the map's box; null
// until the map has loaded.
const mapImageJS = `function mapImage(cm) {
  if (!cm || !cm.map.loaded()) return null;
  const cv = cm.map.getCanvas(), k = cm.map.getPixelRatio();
  if (cv.width < 2 || cv.height < 2) return null;
  const c = document.createElement('canvas');
  c.width = cv.width; c.height = cv.height;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(cv, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const at = (x, y) => { const i = (Math.round(y * k) * c.width + Math.round(x * k)) * 4; return [d[i], d[i + 1], d[i + 2]]; };
  return { d, w: c.width, h: c.height, at };
}
// settled(cm, ms) resolves true at the first frame drawn with every source
// loaded, or false after ms. A wall map takes heat deltas every second and
// software WebGL may take longer than that to draw one, so a probe polling
// once a second can miss every such frame; this listens for the frames.
// settledImage(cm, ms) is mapImage at that frame (null when none came).
function settled(cm, ms) {
  return new Promise((resolve) => {
    if (!cm) { resolve(false); return; }
    const m = cm.map;
    let timer = null;
    const stop = (v) => { m.off('render', check); m.off('idle', check); clearTimeout(timer); resolve(v); };
    const check = () => { if (m.loaded()) stop(true); };
    timer = setTimeout(() => stop(false), ms);
    m.on('render', check); m.on('idle', check);
    check();
  });
}
async function settledImage(cm, ms) {
  return (await settled(cm, ms)) ? mapImage(cm) : null;
}
// unsettled(cm) says what keeps a map from having loaded: its sources
// whose tiles are not loaded, and whether its style is.
function unsettled(cm) {
  if (!cm) return 'no map';
  const m = cm.map, style = m.getStyle();
  const ids = style ? Object.keys(style.sources).filter((id) => !m.isSourceLoaded(id)) : [];
  return 'style loaded ' + m.isStyleLoaded() + ', sources loading: ' + (ids.join(' ') || 'none');
}`

// mapPixelsProbe reads the wall map's canvas at points placed with the
// map's projection (map.project) and its rendered features: a point whose
// neighbourhood shows only the sea, the districts' outline vertices on
// land with nothing drawn over them, and the hottest heat cell.
const mapPixelsProbe = `(async () => {
  ` + mapImageJS + `
  const body = document.querySelector('.tile-map .panel-body');
  const cm = body && body.citymap;
  const img = await settledImage(cm, 8000);
  if (!img) return { err: 'map not loaded (' + unsettled(cm) + ')' };
  const m = cm.map, cv = m.getCanvas(), k = m.getPixelRatio(), at = img.at;
  const only = (x, y, r, ok) => m.queryRenderedFeatures([[x - r, y - r], [x + r, y + r]]).every((f) => ok(f.layer.id));
  const W = cv.clientWidth, H = cv.clientHeight;
  let sea = null;
  for (let y = 40; y < H - 40 && !sea; y += 37) for (let x = 40; x < W - 40 && !sea; x += 37) {
    if (m.queryRenderedFeatures([x, y], { layers: ['sea'] }).length && only(x, y, 8, (id) => id === 'sea')) sea = at(x, y);
  }
  let borders = 0, hit = 0;
  for (const dist of cm.districts) for (const [lat, lng] of dist.polygon || []) {
    const [x, y] = cm.project(lat, lng);
    if (x < 10 || y < 10 || x > W - 10 || y > H - 10) continue;
    if (!only(x, y, 6, (id) => id === 'district-border' || id === 'district-fill' || id === 'land' || id === 'boundaries')) continue;
    borders++;
    let ok = false;
    for (let dy = -2; dy <= 2 && !ok; dy++) for (let dx = -2; dx <= 2 && !ok; dx++) {
      const [r, gg, b] = at(x + dx / k, y + dy / k);
      if (b > 140 && b > r + 50 && gg > 90) ok = true;
    }
    if (ok) hit++;
  }
  // The hottest cell's own pixels: every pixel inside one of the cells
  // with the top count where nothing but the cell and the land under it is
  // rendered (its count's label, roads, borders, cameras and alerts drawn
  // over a small cell are left out); the median of them. An alert sits
  // where tickets pile up, so its ring and count can cover every pixel of
  // the hottest cells: then the next count down is read, and so on.
  let hot = null, hotV = 0;
  const fs = m.querySourceFeatures('heat');
  const counts = [...new Set(fs.map((f) => f.properties.v))].filter((v) => v > 0).sort((a, b) => b - a);
  const base = (id) => id === 'heat' || id === 'land' || id === 'district-fill';
  const inside = (px, py, pts) => {
    let in_ = false;
    for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      const [xi, yi] = pts[i], [xj, yj] = pts[j];
      if ((yi > py) !== (yj > py) && px < (xj - xi) * (py - yi) / (yj - yi) + xi) in_ = !in_;
    }
    return in_;
  };
  const seen = {};
  for (const v of counts.slice(0, 5)) {
    const clean = [];
    for (const f of fs) {
      if (f.properties.v !== v) continue;
      const pts = f.geometry.coordinates[0].map((p) => { const q = m.project(p); return [q.x, q.y]; });
      const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
      for (let y = Math.ceil(Math.min(...ys)); y <= Math.max(...ys); y++) {
        for (let x = Math.ceil(Math.min(...xs)); x <= Math.max(...xs); x++) {
          if (x < 2 || y < 2 || x > W - 2 || y > H - 2 || !inside(x, y, pts)) continue;
          const ids = m.queryRenderedFeatures([x, y]).map((q) => q.layer.id);
          for (const id of ids) seen[v + ':' + id] = (seen[v + ':' + id] || 0) + 1;
          if (only(x, y, 1, base)) clean.push(at(x, y));
        }
      }
    }
    if (!clean.length) continue;
    clean.sort((a, b) => a[0] + a[1] - b[0] - b[1]);
    hot = clean[clean.length >> 1];
    hotV = v;
    break;
  }
  const best = counts.length > 0;
  if (!sea) return { err: 'no point of the sea on the map' };
  if (!best) return { err: 'no heat cell rendered' };
  if (!hot) return { err: 'no pixel of the five hottest counts\' cells is free of labels and markers (count:layer pixels): ' + JSON.stringify(seen) };
  const hl = body.heat;
  return { sea, borders, borderHit: hit, hot, hotV, scale: hl ? hl.scale : 0 };
})()`

// TestWallInBrowser opens the wall page of a demo city in headless
// Chromium at the wall's resolution, waits until it has drawn the heat map
// and the hot topics, and keeps a screenshot.
func TestWallInBrowser(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Walls.StateFile = "" // the default wall as configured, whatever other runs left
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)

	b := startBrowser(t, 120*time.Second, 3840, 2160, chromedp.Flag("disable-quic", true))
	bctx := b.ctx

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatalf("open the wall: %v", err)
	}

	st, _ := evalUntil(t, bctx, "read the page", wallProbe, 80*time.Second, time.Second, func(st wallStatus) bool {
		return strings.Contains(st.Conn, "conn-open") && st.HotRows >= 3 && st.HeatPx >= 20
	})
	t.Logf("page after %s: %+v", time.Since(start).Round(time.Millisecond), st)

	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		artifact(t, "wall-3840x2160.png", shot)
	}

	// Pixels at places the map's own projection gives: the sea, the
	// districts' borders, the hottest cell.
	checkMapPixels(t, bctx)

	b.checkConsole()

	if !strings.Contains(st.Conn, "conn-open") {
		t.Errorf("the page's hub is not connected: #conn class %q, banner %v", st.Conn, st.Banner)
	}
	if st.HotRows < 3 {
		t.Errorf("the hot-topics list has %d rows, want at least 3", st.HotRows)
	}
	for i, name := range st.HotNames {
		if name == "" {
			t.Errorf("hot-topics row %d has no name", i+1)
		}
	}
	if st.HeatPx < 20 {
		t.Errorf("the heat map drew nothing: %d sampled heat pixels on a %dx%d canvas (caption %q)", st.HeatPx, st.CanvasW, st.CanvasH, st.MapMeta)
	}
	if st.CanvasW < 2000 {
		t.Errorf("map canvas is %dx%d on a 3840x2160 screen", st.CanvasW, st.CanvasH)
	}
	if strings.Contains(st.URL, "token") || strings.Contains(st.URL, s.tokens[config.RoleWall]) {
		t.Errorf("the token stayed in the address: %s", st.URL)
	}
	if strings.Contains(st.Cookie, "citywall_session") {
		t.Errorf("the session cookie is readable from the page: %q", st.Cookie)
	}
}

// heatRamp is web/static/js/heatlayer.js' RAMP: [t, r, g, b] stops.
var heatRamp = [][4]float64{{0, 118, 20, 32}, {0.22, 168, 26, 34}, {0.45, 226, 66, 28}, {0.68, 255, 146, 30}, {0.86, 255, 222, 90}, {1, 255, 255, 240}}

// rampColour is the heat layer's colour for count v on a scale topping at
// scale (a square-root scale from 1), before blending.
func rampColour(v, scale int) []int {
	t := 1.0
	if scale > 1 {
		t = min(1, max(0, (math.Sqrt(float64(max(v, 1)))-1)/(math.Sqrt(float64(scale))-1)))
	}
	for i := 1; i < len(heatRamp); i++ {
		a, b := heatRamp[i-1], heatRamp[i]
		if t <= b[0] {
			f := (t - a[0]) / (b[0] - a[0])
			return []int{int(a[1] + f*(b[1]-a[1])), int(a[2] + f*(b[2]-a[2])), int(a[3] + f*(b[3]-a[3]))}
		}
	}
	return []int{255, 255, 240}
}

func near(got, want []int, tol int) bool {
	for i := range want {
		if d := got[i] - want[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

// checkMapPixels reads the wall map's pixels at places its own projection
// gives: a point of the sea has the sea colour, the districts' borders are
// drawn at their vertices, and the hottest cell has the heat ramp's colour
// for its count.
func checkMapPixels(t *testing.T, bctx context.Context) {
	t.Helper()
	type pixels struct {
		Sea       []int  `json:"sea"`
		Borders   int    `json:"borders"`
		BorderHit int    `json:"borderHit"`
		Hot       []int  `json:"hot"`
		HotV      int    `json:"hotV"`
		Scale     int    `json:"scale"`
		Err       string `json:"err"`
	}
	px, _ := evalUntil(t, bctx, "read the map's pixels", mapPixelsProbe, 60*time.Second, time.Second, func(p pixels) bool { return p.Err == "" })
	t.Logf("map pixels: %+v", px)
	if px.Err != "" {
		t.Errorf("map pixels: %s", px.Err)
		return
	}
	if len(px.Sea) != 3 || px.Sea[0] != 0x04 || px.Sea[1] != 0x10 || px.Sea[2] != 0x1f {
		t.Errorf("a point in the sea is %v, want the sea colour #04101f", px.Sea)
	}
	if px.Borders < 20 || px.BorderHit*10 < px.Borders*7 {
		t.Errorf("district borders drawn at %d of %d vertices the map projects", px.BorderHit, px.Borders)
	}
	if want := rampColour(px.HotV, px.Scale); len(px.Hot) != 3 || !near(px.Hot, want, 40) {
		t.Errorf("the hottest cell free of markers (%d tickets, colour scale to %d) is %v, want the ramp's %v", px.HotV, px.Scale, px.Hot, want)
	}
}

// TestWallPMTilesInBrowser is TestWallInBrowser over the pmtiles basemap:
// the demo city's archive (built by pmtilestest) served by citywall and
// read by the page with range requests. The sea comes from the archive's
// water layer, the land from its earth; nothing is fetched from anywhere
// but citywall.
func TestWallPMTilesInBrowser(t *testing.T) {
	path, _ := haikouArchive(t)
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Walls.StateFile = ""
	cfg.Map.Basemap, cfg.Map.PMTiles = config.BasemapPMTiles, path
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)

	b := startBrowser(t, 120*time.Second, 3840, 2160, chromedp.Flag("disable-quic", true))
	bctx := b.ctx
	// Every request the page makes: only citywall's own address.
	var mu sync.Mutex
	var elsewhere []string
	archiveReads := 0
	if _, err := chromedp.Call(bctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("network events: %v", err)
	}
	err := chromedp.Listen(bctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			defer mu.Unlock()
			u := e.Request.URL
			if strings.Contains(u, "/api/v1/basemap.pmtiles") {
				archiveReads++
			}
			if !strings.HasPrefix(u, s.url) && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
				elsewhere = append(elsewhere, u)
			}
		}
	})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatalf("open the wall: %v", err)
	}
	st, _ := evalUntil(t, bctx, "read the page", wallProbe, 80*time.Second, time.Second, func(st wallStatus) bool {
		return strings.Contains(st.Conn, "conn-open") && st.HeatPx >= 20
	})
	t.Logf("page: %+v", st)
	layers, _ := evalUntil(t, bctx, "the basemap's rendered layers", `(async () => {
	  `+mapImageJS+`
	  const cm = document.querySelector('.tile-map .panel-body').citymap;
	  if (!(await settled(cm, 8000))) return [];
	  const src = cm.map.getStyle().sources.basemap;
	  return [...new Set(cm.map.queryRenderedFeatures().filter((f) => f.source === 'basemap').map((f) => f.sourceLayer))].sort()
	    .concat(src ? ['url=' + src.url] : []);
	})()`, 60*time.Second, time.Second, func(l []string) bool { return len(l) >= 4 })
	t.Logf("basemap layers drawn: %v", layers)
	for _, want := range []string{"earth", "water", "places"} {
		if !slices.Contains(layers, want) {
			t.Errorf("the archive's %s layer is not drawn: %v", want, layers)
		}
	}
	screenshot(t, bctx, "wall-pmtiles-3840x2160.png")
	checkMapPixels(t, bctx)
	b.checkConsole()

	mu.Lock()
	defer mu.Unlock()
	if archiveReads == 0 {
		t.Error("the page never read the archive")
	}
	if len(elsewhere) > 0 {
		t.Errorf("the page fetched from elsewhere than citywall: %v", elsewhere)
	}
	if st.HeatPx < 20 {
		t.Errorf("the heat map drew nothing over the pmtiles basemap: %d sampled heat pixels", st.HeatPx)
	}
}
