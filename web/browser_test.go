package web_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): this test needs Debian's chromium package: apt-get install chromium", err)
	}
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Walls.StateFile = "" // the default wall as configured, whatever other runs left
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(3840, 2160),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()

	// Start the browser, then listen to the page's console before it loads.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(3840, 2160)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var (
		mu      sync.Mutex
		console []chromedp.ConsoleMessage
	)
	consoleCtx, stopConsole := context.WithCancel(bctx)
	messages := chromedp.Console(consoleCtx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m)
			mu.Unlock()
		}
	})
	defer func() {
		stopConsole()
		wg.Wait()
	}()

	start := time.Now()
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatalf("open the wall: %v", err)
	}

	var st wallStatus
	ready := func() bool {
		return strings.Contains(st.Conn, "conn-open") && st.HotRows >= 3 && st.HeatPx >= 20
	}
	for deadline := time.Now().Add(25 * time.Second); ; {
		st, err = chromedp.Run(bctx, chromedp.Evaluate[wallStatus](wallProbe))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if ready() || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("page after %s: %+v", time.Since(start).Round(time.Millisecond), st)

	shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		dir := os.Getenv("CITYWALL_ARTIFACTS")
		if dir == "" {
			dir = t.TempDir()
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "wall-3840x2160.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Errorf("write screenshot: %v", err)
		} else {
			t.Logf("screenshot: %s (%d bytes)", path, len(shot))
		}
	}

	mu.Lock()
	for _, m := range console {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			t.Errorf("page console: %s (%s:%d)", m, m.URL, m.Line+1)
		}
	}
	mu.Unlock()

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
