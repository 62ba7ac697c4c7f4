package app_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
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
	Widget    string   `json:"widget"`   // text of the alerts widget, mounted on the page
	LayerPx   int      `json:"layerPx"`  // pixels of the acknowledged blue around the alert on the map
	LayerCol  string   `json:"layerCol"` // the colour of the alert's marker on the map
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
    layerPx: window.__layer ? window.__layer().px : 0,
    layerCol: window.__layer ? window.__layer().col : '',
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
    // The alerts layer on a real MapLibre city map, centred on the alert.
    const { CityMap } = await import('/static/js/citymap.js');
    const box = document.createElement('div');
    box.style.width = '400px'; box.style.height = '400px';
    document.body.append(box);
    const cm = await CityMap.create(box, { lang: 'zh', center: [20.0325, 110.3235], zoom: 13 });
    await cm.ready;
    const l = await import('/static/js/layers/alerts.js');
    const layer = l.layer({ hub, lang: 'zh' });
    layer.add(cm);
    window.__layer = () => {
      const fs = cm.map.queryRenderedFeatures({ layers: ['alerts-core'] });
      const cv = cm.map.getCanvas(), k = cm.map.getPixelRatio();
      const c = document.createElement('canvas');
      c.width = cv.width; c.height = cv.height;
      const g = c.getContext('2d');
      g.drawImage(cv, 0, 0);
      const [x, y] = cm.project(20.0325, 110.3235);
      const r = Math.round(30 * k);
      const d = g.getImageData(Math.round(x * k) - r, Math.round(y * k) - r, 2 * r, 2 * r).data;
      let px = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i + 2] > 200 && d[i + 1] > 150 && d[i] < 140) px++; // #4fc3ff
      return { px, col: fs.length ? fs[0].properties.color : '' };
    };
    window.__modules = { tile, layer, cm };
  } catch (e) { window.__probeError = String(e && e.stack || e); }
})()`

// TestTeamPageInBrowser opens the team page on a phone-sized screen in
// headless Chromium: the alert routed to the team shows with its camera,
// Acknowledge takes it, and the wall's alerts widget and map layer, mounted
// on the same page, show who acknowledged it.
func TestTeamPageInBrowser(t *testing.T) {
	s := startServer(t, alertConfig(t, ""))
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "cluster", Kind: "burst", Fingerprint: "cluster/供水排水/x",
		Severity: "critical", Title: "龙华区供水排水聚集：30分钟内9件（预期0.3）", TitleEn: "Cluster of water reports in Longhua",
		District: "龙华区", Category: "供水排水", Lat: 20.0325, Lng: 110.3235, Cameras: []string{"road-binhai"},
		CameraInfo: []alerts.CameraRef{{ID: "road-binhai", Name: "滨海大道国贸路口", NameEn: "Binhai Ave at Guomao Rd"}},
		Cluster:    &alerts.Cluster{Count: 9, Expected: 0.3, Score: 21}}); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, 45*time.Second, 390, 844)
	bctx := b.ctx

	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+"/team?token="+url.QueryEscape(s.tokens[config.RoleTeam]))); err != nil {
		t.Fatalf("open the team page: %v", err)
	}
	probe := func(what string, ok func(teamStatus) bool) teamStatus {
		t.Helper()
		st, done := evalUntil(t, bctx, "read the page", teamProbe, 20*time.Second, 200*time.Millisecond, ok)
		if !done {
			t.Fatalf("waiting for %s: page %+v", what, st)
		}
		return st
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
		return strings.Contains(st.Acked, "team-1") && strings.Contains(st.Widget, "team-1") && st.LayerCol == "#4fc3ff" && st.LayerPx > 50
	})
	if st.AckButton || st.Error != "" {
		t.Errorf("after acknowledging: %+v", st)
	}
	if a := s.app.Manager().Open()[0]; a.State != alerts.StateAcknowledged || a.AckedBy != "team-1" {
		t.Errorf("alert after the tap: %s by %q", a.State, a.AckedBy)
	}
	screenshot(t, bctx, "team-390x844.png")
	b.checkConsole()
}

// TestAlertsWidgetFoldsAStorm: a rainstorm's six waterlogging points and a
// morning's four overdue tickets each make one row of the wall's alerts
// widget, with their districts, so the gas cluster raised before them and
// the offline camera still show in its eight rows (unfolded, the storm's
// rows pushed the cluster off the list).
func TestAlertsWidgetFoldsAStorm(t *testing.T) {
	s := startServer(t, alertConfig(t, ""))
	m := s.app.Manager()
	ctx := context.Background()
	fire := func(sig alerts.Signal) {
		t.Helper()
		if err := m.Fire(ctx, sig); err != nil {
			t.Fatal(err)
		}
	}
	fire(alerts.Signal{Source: "cluster", Kind: "burst", Fingerprint: "cluster/燃气/x", Title: "龙华区燃气异味聚集：30分钟内7件（预期0.4）",
		District: "龙华区", Category: "燃气"})
	fire(alerts.Signal{Source: "camera", Kind: "offline", Fingerprint: "camera/road-binhai/down", Title: "摄像头离线：滨海大道国贸路口"})
	for i, d := range []string{"龙华区", "美兰区", "龙华区", "秀英区", "龙华区", "美兰区"} {
		fire(alerts.Signal{Source: "feed", Kind: "waterlogging", Fingerprint: fmt.Sprintf("feeds/wl-%d/level", i),
			Title: fmt.Sprintf("积水点%d积水超警戒", i), District: d, Category: "flood"})
	}
	for i := range 4 {
		fire(alerts.Signal{Source: "sla", Kind: "response_overdue", Fingerprint: fmt.Sprintf("sla/T%d", i),
			Title: fmt.Sprintf("工单 T%d 超过30分钟未响应", i), District: "琼山区"})
	}
	b := startBrowser(t, 45*time.Second, 1280, 900)
	if err := chromedp.Do(b.ctx, chromedp.Navigate(s.url+"/team?token="+url.QueryEscape(s.tokens[config.RoleTeam]))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](`(async () => {
	  const { Hub } = await import('/static/js/hub.js');
	  const hub = new Hub().start();
	  const el = document.createElement('div');
	  el.style.cssText = 'position: fixed; left: 0; top: 0; width: 800px; height: 600px; z-index: 10; background: #03070d';
	  document.body.append(el);
	  const w = await import('/static/js/widgets/alerts.js');
	  window.__tile = w.mount(el, { hub, lang: 'zh', t: (k) => k, pub: {}, opts: {} });
	  window.__widget = el;
	})()`, chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name  string `json:"name"`
		Line2 string `json:"line2"`
		Count string `json:"count"`
	}
	const read = `[...window.__widget.querySelectorAll('.aw-row')].map((r) => ({
	  name: r.querySelector('.aw-name').textContent, line2: r.querySelector('.aw-line2').textContent, count: r.dataset.count || ''}))`
	rows, ok := evalUntil(t, b.ctx, "the widget's rows", read, 20*time.Second, 100*time.Millisecond, func(rs []row) bool { return len(rs) == 4 })
	if !ok {
		t.Fatalf("rows: %+v", rows)
	}
	var text []string
	for _, r := range rows {
		text = append(text, r.Name+" | "+r.Line2)
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"积水超警戒 ×6", "龙华区 3、美兰区 2、秀英区 1", "工单超时未响应 ×4", "琼山区 4", "龙华区燃气异味聚集", "摄像头离线：滨海大道国贸路口"} {
		if !strings.Contains(all, want) {
			t.Errorf("the widget lacks %q:\n%s", want, all)
		}
	}
	// Two points acknowledged: they are two rows of their own, the four
	// still firing stay one.
	for _, a := range m.Open() {
		if a.Kind == "waterlogging" && (strings.HasPrefix(a.Title, "积水点0") || strings.HasPrefix(a.Title, "积水点1")) {
			if _, err := m.Ack(ctx, a.ID, "team-1", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	rows, ok = evalUntil(t, b.ctx, "the widget after two acknowledgements", read, 20*time.Second, 100*time.Millisecond, func(rs []row) bool {
		return len(rs) == 6 && slices.ContainsFunc(rs, func(r row) bool { return r.Count == "4" && strings.Contains(r.Name, "积水超警戒 ×4") })
	})
	if !ok {
		t.Fatalf("rows: %+v", rows)
	}
	screenshot(t, b.ctx, "alerts-widget-storm-800x600.png")
	b.checkConsole()
}
