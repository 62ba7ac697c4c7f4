package app_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo"
)

// markTiles is a tile server of dark 256 px raster tiles in GCJ-02, like
// Amap's: a green dot marks where the GCJ-02 position of the WGS84 point
// mark falls. It counts the tiles it serves, and allows CORS as a tile
// server on another origin must.
type markTiles struct {
	mark  [2]float64 // lat, lng (WGS84)
	mu    sync.Mutex
	paths []string
	bad   []string
}

// tilePixel is the global pixel of a GCJ-02 point at zoom z (256 px tiles).
func tilePixel(lat, lng float64, z int) (float64, float64) {
	n := math.Exp2(float64(z)) * 256
	s := math.Sin(lat * math.Pi / 180)
	return (lng + 180) / 360 * n, (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * n
}

func (m *markTiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var z, x, y int
	if _, err := fmt.Sscanf(r.URL.Path, "/tiles/%d/%d/%d.png", &z, &x, &y); err != nil || z < 0 || z > 20 {
		m.mu.Lock()
		m.bad = append(m.bad, r.URL.Path)
		m.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	m.mu.Lock()
	m.paths = append(m.paths, r.URL.Path)
	m.mu.Unlock()
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	for i := range img.Pix {
		if i%4 == 3 {
			img.Pix[i] = 255
		} else {
			img.Pix[i] = 40
		}
	}
	gLat, gLng := geo.WGS84ToGCJ02(m.mark[0], m.mark[1])
	px, py := tilePixel(gLat, gLng, z)
	px, py = px-float64(x*256), py-float64(y*256)
	const rad = 5
	for dy := -rad; dy <= rad; dy++ {
		for dx := -rad; dx <= rad; dx++ {
			if dx*dx+dy*dy <= rad*rad {
				img.Set(int(math.Floor(px))+dx, int(math.Floor(py))+dy, color.RGBA{0, 255, 0, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	// MapLibre fetches tiles: another origin's must allow it (README).
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Write(buf.Bytes())
}

// TestWallXYZGCJ02InBrowser: with map.basemap xyz and tile_crs gcj02 the
// wall's map reads its tiles from the template only, and a WGS84 point
// drawn by citywall lands on the spot the GCJ-02 tiles show it at (about
// 550 m off its WGS84 position in Haikou, 7 CSS px at the fitted view,
// where the unshifted point shows no dot).
func TestWallXYZGCJ02InBrowser(t *testing.T) {
	// A point in the strait north of Haikou: no heat cell covers it.
	tiles := &markTiles{mark: [2]float64{20.075, 110.33}}
	ts := httptest.NewServer(tiles)
	defer ts.Close()

	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Walls.StateFile = ""
	cfg.Map.Basemap, cfg.Map.TileURL, cfg.Map.TileCRS = config.BasemapXYZ, ts.URL+"/tiles/{z}/{x}/{y}.png", "gcj02"
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)

	b := startBrowser(t, 120*time.Second, 3840, 2160, chromedp.Flag("disable-quic", true))
	if err := chromedp.Do(b.ctx, chromedp.Navigate(s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatalf("open the wall: %v", err)
	}
	type spot struct {
		At      []int   `json:"at"`      // the pixel where the map projects the WGS84 point
		Raw     []int   `json:"raw"`     // the pixel of the same numbers taken as GCJ-02 (no shift)
		ShiftPx float64 `json:"shiftPx"` // CSS px between the two
		Err     string  `json:"err"`
	}
	probe := fmt.Sprintf(`(async () => {
	  %s
	  const body = document.querySelector('.tile-map .panel-body');
	  const cm = body && body.citymap;
	  const img = await settledImage(cm, 8000);
	  if (!img || !cm.map.areTilesLoaded()) return { err: 'map not loaded' };
	  const [x, y] = cm.project(%f, %f);
	  const p = cm.map.project([%f, %f]);
	  // The middle of the dot: the greenest pixel within 3 CSS px.
	  let at = null, best = -1;
	  for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) {
	    const c = img.at(x + dx, y + dy), g = c[1] - Math.max(c[0], c[2]);
	    if (g > best) { best = g; at = c; }
	  }
	  return { at, raw: img.at(p.x, p.y), shiftPx: Math.hypot(x - p.x, y - p.y) };
	})()`, mapImageJS, tiles.mark[0], tiles.mark[1], tiles.mark[1], tiles.mark[0])
	green := func(c []int) bool { return len(c) == 3 && c[1] > c[0]+25 && c[1] > c[2]+25 }
	sp, _ := evalUntil(t, b.ctx, "read the marked point", probe, 60*time.Second, time.Second, func(p spot) bool {
		return p.Err == "" && green(p.At)
	})
	t.Logf("marked point: %+v", sp)
	screenshot(t, b.ctx, "wall-xyz-gcj02-3840x2160.png")
	if sp.Err != "" {
		t.Fatalf("map: %s", sp.Err)
	}
	if !green(sp.At) {
		t.Errorf("the WGS84 point projects onto %v, not the tiles' green dot at its GCJ-02 position", sp.At)
	}
	if sp.ShiftPx < 5 || green(sp.Raw) {
		t.Errorf("without the shift the point would be %.1f px away (colour %v): the test shows nothing", sp.ShiftPx, sp.Raw)
	}
	b.checkConsole()

	tiles.mu.Lock()
	defer tiles.mu.Unlock()
	if len(tiles.paths) == 0 || len(tiles.bad) > 0 {
		t.Errorf("tile server: %d tiles served, requests off the template: %v", len(tiles.paths), tiles.bad)
	}
	for _, p := range tiles.paths {
		if !strings.HasPrefix(p, "/tiles/") {
			t.Errorf("tile request %s", p)
		}
	}
}
