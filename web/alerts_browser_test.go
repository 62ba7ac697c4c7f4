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

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
)

// teamStatus is what the team page and the wall's alert modules show.
type teamStatus struct {
	Conn      string   `json:"conn"`
	Cards     int      `json:"cards"`
	Titles    []string `json:"titles"`
	Acked     string   `json:"acked"`  // text of the first card's acknowledgement line
	AckButton bool     `json:"ackBtn"` // the first card has an acknowledge button
	Cams      string   `json:"cams"`
	Widget    string   `json:"widget"` // text of the alerts widget, mounted on the page
	LayerPx   int      `json:"layerPx"`
	Error     string   `json:"error"`
}

const teamProbe = `(() => {
  const $ = (s) => document.querySelector(s);
  const cards = [...document.querySelectorAll('#list .card')];
  const first = cards[0];
  const b = first && first.querySelector('.card-meta b');
  return {
    conn: ($('#conn') || {}).className || '',
    cards: cards.length,
    titles: cards.map((c) => c.querySelector('.card-title').textContent),
    acked: b ? b.textContent : '',
    ackBtn: !!(first && first.querySelector('.btn-ack')),
    cams: first && first.querySelector('.cams') ? first.querySelector('.cams').textContent : '',
    widget: window.__widget ? window.__widget.textContent : '',
    layerPx: window.__layerPx || 0,
    error: window.__probeError || '',
  };
})()`

// mountModules mounts the wall's alerts widget and map layer on the team
// page, as the wall's layout engine does, with a hub of their own.
const mountModules = `(async () => {
  try {
    const { Hub } = await import('/static/js/hub.js');
    const hub = new Hub().start();
    const el = document.createElement('div');
    el.style.width = '800px'; el.style.height = '400px';
    document.body.append(el);
    const w = await import('/static/js/widgets/alerts.js');
    const tile = w.mount(el, { hub, lang: 'zh', t: (k) => k, pub: {}, opts: {} });
    window.__widget = el;
    const l = await import('/static/js/layers/alerts.js');
    const layer = l.layer({ hub, lang: 'zh' });
    const cv = document.createElement('canvas');
    cv.width = 400; cv.height = 400;
    const draw = () => {
      const g = cv.getContext('2d');
      g.clearRect(0, 0, 400, 400);
      layer.draw(g, (lat, lng) => [200 + (lng - 110.3235) * 20000, 200 - (lat - 20.0325) * 20000]);
      const d = g.getImageData(0, 0, 400, 400).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 3] > 0) n++;
      window.__layerPx = n;
    };
    setInterval(draw, 200);
    window.__modules = { tile, layer };
  } catch (e) { window.__probeError = String(e && e.stack || e); }
})()`

// TestTeamPageInBrowser opens the team page on a phone-sized screen in
// headless Chromium: the alert routed to the team shows with its camera,
// Acknowledge takes it, and the wall's alerts widget and map layer, mounted
// on the same page, show who acknowledged it.
func TestTeamPageInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): this test needs Debian's chromium package: apt-get install chromium", err)
	}
	s := startServer(t, alertConfig(t, ""))
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "cluster", Kind: "burst", Fingerprint: "cluster/供水排水/x",
		Severity: "critical", Title: "龙华区供水排水聚集：30分钟内9件（预期0.3）", TitleEn: "Cluster of water reports in Longhua",
		District: "龙华区", Category: "供水排水", Lat: 20.0325, Lng: 110.3235, Cameras: []string{"road-binhai"},
		CameraInfo: []alerts.CameraRef{{ID: "road-binhai", Name: "滨海大道国贸路口", NameEn: "Binhai Ave at Guomao Rd"}},
		Cluster:    &alerts.Cluster{Count: 9, Expected: 0.3, Score: 21}}); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844),
	)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(390, 844)); err != nil {
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

	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/team?token="+url.QueryEscape(s.tokens[config.RoleTeam]))); err != nil {
		t.Fatalf("open the team page: %v", err)
	}
	probe := func(what string, ok func(teamStatus) bool) teamStatus {
		t.Helper()
		var st teamStatus
		for deadline := time.Now().Add(20 * time.Second); ; {
			st, err = chromedp.Run(bctx, chromedp.Evaluate[teamStatus](teamProbe))
			if err != nil {
				t.Fatalf("read the page: %v", err)
			}
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: page %+v", what, st)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	st := probe("the alert card", func(st teamStatus) bool { return st.Cards == 1 && strings.Contains(st.Conn, "conn-open") })
	if !strings.Contains(st.Titles[0], "龙华区供水排水聚集") || !st.AckButton || !strings.Contains(st.Cams, "滨海大道国贸路口") {
		t.Errorf("card: %+v", st)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](mountModules)); err != nil {
		t.Fatalf("mount the wall modules: %v", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { document.querySelector('#list .btn-ack').click(); return true; })()`)); err != nil {
		t.Fatalf("tap Acknowledge: %v", err)
	}
	st = probe("the acknowledgement", func(st teamStatus) bool {
		return strings.Contains(st.Acked, "team-1") && strings.Contains(st.Widget, "team-1") && st.LayerPx > 50
	})
	if st.AckButton || st.Error != "" {
		t.Errorf("after acknowledging: %+v", st)
	}
	if a := s.app.Manager().Open()[0]; a.State != alerts.StateAcknowledged || a.AckedBy != "team-1" {
		t.Errorf("alert after the tap: %s by %q", a.State, a.AckedBy)
	}
	if shot, err := chromedp.Run(bctx, chromedp.CaptureScreenshot()); err == nil {
		dir := os.Getenv("CITYWALL_ARTIFACTS")
		if dir == "" {
			dir = t.TempDir()
		}
		_ = os.MkdirAll(dir, 0o755)
		path := filepath.Join(dir, "team-390x844.png")
		if err := os.WriteFile(path, shot, 0o644); err == nil {
			t.Logf("screenshot: %s", path)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		if m.IsException() || m.Type == chromedp.ConsoleError {
			t.Errorf("page console: %s (%s:%d)", m, m.URL, m.Line+1)
		}
	}
}
