package app_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

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

// wallProbe reads the page. Heat cells are drawn in a ramp from a
// translucent deep red to white over a dark blue background, so pixels with
// clearly more red than blue and green are cells (the background, graticule
// and vignette are blue-grey). Every third pixel is sampled; one res-8 cell
// at the default zoom is a few dozen samples.
const wallProbe = `(() => {
  const $ = (s) => document.querySelector(s);
  const rows = [...document.querySelectorAll('.tile-hot .hot-row')];
  const cv = $('.tile-map canvas.heatmap-base');
  let heat = 0;
  if (cv && cv.width > 1 && cv.height > 1) {
    const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    for (let i = 0; i < d.length; i += 4 * 3) {
      const r = d[i], g = d[i + 1], b = d[i + 2];
      if (r > 30 && r >= b + 20 && r >= g + 15) heat++;
    }
  }
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

// TestWallInBrowser opens the wall page of a demo city in headless
// Chromium at the wall's resolution, waits until it has drawn the heat map
// and the hot topics, and keeps a screenshot.
func TestWallInBrowser(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Walls.StateFile = "" // the default wall as configured, whatever other runs left
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)

	b := startBrowser(t, 45*time.Second, 3840, 2160, chromedp.Flag("disable-quic", true))
	bctx := b.ctx

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatalf("open the wall: %v", err)
	}

	st, _ := evalUntil(t, bctx, "read the page", wallProbe, 25*time.Second, 250*time.Millisecond, func(st wallStatus) bool {
		return strings.Contains(st.Conn, "conn-open") && st.HotRows >= 3 && st.HeatPx >= 20
	})
	t.Logf("page after %s: %+v", time.Since(start).Round(time.Millisecond), st)

	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		artifact(t, "wall-3840x2160.png", shot)
	}

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
