package app_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// Modules served in place of ones this build does not have, to check the
// contract every widget and map layer is written to.
const (
	probeWidget = `export function mount(el, ctx) {
  window.__probe = window.__probe || {};
  window.__probe.mounted = (window.__probe.mounted || 0) + 1;
  window.__probe.ctx = {hub: !!ctx.hub, lang: ctx.lang, t: typeof ctx.t, pub: !!(ctx.pub && ctx.pub.city), opts: ctx.opts};
  el.textContent = 'KPI PROBE';
  return { update() {}, destroy() { window.__probe.destroyed = (window.__probe.destroyed || 0) + 1; } };
}`
	probeLayer = `export function layer(ctx) {
  const destroyed = window.__layer ? window.__layer.destroyed : 0;
  window.__layer = {mounts: ((window.__layer || {}).mounts || 0) + 1, adds: 0, hub: !!ctx.hub, destroyed};
  return {
    add(cm) {
      cm.map.addSource('probe', {type: 'geojson', data: {type: 'Feature', properties: {},
        geometry: {type: 'Point', coordinates: cm.toLngLat(20.03, 110.33)}}});
      cm.map.addLayer({id: 'probe', type: 'circle', source: 'probe',
        paint: {'circle-radius': 20, 'circle-color': 'rgb(0, 255, 0)'}});
      window.__layer.adds++;
      window.__layer.cm = () => cm;
    },
    destroy() { window.__layer.destroyed++; },
  };
}`
)

// serveProbeModules answers the page's requests for layers/alerts.js and
// widgets/kpi.js with the probes, and adds them to the module list the
// server gives the page.
func serveProbeModules(t *testing.T, tab context.Context) {
	t.Helper()
	paused := make(chan *fetch.EventRequestPaused, 16)
	if err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			paused <- e
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
		{URLPattern: "*/static/js/layers/alerts.js", RequestStage: fetch.RequestStageRequest},
		{URLPattern: "*/static/js/widgets/kpi.js", RequestStage: fetch.RequestStageRequest},
		{URLPattern: "*/api/v1/walls", RequestStage: fetch.RequestStageResponse},
	}}); err != nil {
		t.Fatal(err)
	}
	js := []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/javascript"}}
	go func() {
		for {
			var e *fetch.EventRequestPaused
			select {
			case e = <-paused:
			case <-tab.Done():
				return
			}
			u := e.Request.URL
			p := fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200, ResponseHeaders: js}
			switch {
			case strings.HasSuffix(u, "/layers/alerts.js"):
				p.Body = []byte(probeLayer)
			case strings.HasSuffix(u, "/widgets/kpi.js"):
				p.Body = []byte(probeWidget)
			default:
				body, err := chromedp.Call(tab, fetch.GetResponseBody, fetch.GetResponseBodyParams{RequestID: e.RequestID})
				if err != nil {
					return
				}
				var info map[string]any
				if json.Unmarshal(body.Body, &info) != nil {
					return
				}
				m := info["modules"].(map[string]any)
				m["widgets"] = append(m["widgets"].([]any), "kpi")
				m["layers"] = append(m["layers"].([]any), "alerts")
				p.Body, _ = json.Marshal(info)
				p.ResponseHeaders = []*fetch.HeaderEntry{{Name: "Content-Type", Value: "application/json"}}
			}
			_, _ = chromedp.Call(tab, fetch.FulfillRequest, p)
		}
	}()
}

// TestWidgetAndLayerContract: a widget module of another kind is mounted
// with the contract's ctx and destroyed when its layout goes; a map layer
// module listed in the tile's opts adds its MapLibre layer to the map,
// drawn where the map projects its point, and is destroyed with the map.
func TestWidgetAndLayerContract(t *testing.T) {
	cfg, tokens := demoWalls(t, t.TempDir())
	s := startWith(t, cfg, tokens)
	// The duty screen with a KPI tile next to the map (whose layers include
	// alerts).
	code, b := s.wallDo("PUT", "/api/v1/walls/overview/layouts/probe", "commander", `{"name":"Probe","grid":[24,12],"tiles":[
		{"id":"map","kind":"map","x":0,"y":0,"w":16,"h":12,"opts":{"layers":["cameras","alerts"]}},
		{"id":"kpi","kind":"kpi","x":16,"y":0,"w":8,"h":12,"opts":{"metric":"answer-rate"}}]}`)
	if code != 204 {
		t.Fatalf("put layout: %d %s", code, b)
	}
	if code, b := s.wallDo("POST", "/api/v1/walls/overview/layout", "commander", `{"layout":"probe"}`); code != 200 {
		t.Fatalf("layout: %d %s", code, b)
	}

	br := newWallBrowser(t, 60*time.Second)
	tctx, _ := chromedp.NewContext(br.ctx)
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatal(err)
	}
	serveProbeModules(t, tctx)
	if err := chromedp.Do(tctx, chromedp.Navigate(s.url+"/wall/overview?token="+url.QueryEscape(s.tokens[config.RoleWall]))); err != nil {
		t.Fatal(err)
	}
	type probe struct {
		Widget map[string]any `json:"widget"`
		Layer  map[string]any `json:"layer"`
		Green  bool           `json:"green"`
		KPI    string         `json:"kpi"`
	}
	// The probe layer's marker, read on the map's own picture where the
	// map projects its point.
	const read = `(() => {
	  ` + mapImageJS + `
	  const l = window.__layer || null;
	  let green = false;
	  const cm = l && l.cm && l.cm();
	  const img = cm && mapImage(cm);
	  if (img) {
	    const [x, y] = cm.project(20.03, 110.33);
	    const [r, g] = img.at(x, y);
	    green = g > 200 && r < 50;
	  }
	  const k = document.querySelector('.tile[data-tile="kpi"]');
	  const layer = l && {mounts: l.mounts, adds: l.adds, hub: l.hub, destroyed: l.destroyed};
	  return {widget: window.__probe || null, layer, green, kpi: k ? k.className + ' ' + k.innerText : ''};
	})()`
	p := wallPoll(t, tctx, "the probe widget and layer", read, 20*time.Second, func(p probe) bool {
		return p.Widget != nil && p.Layer != nil && p.Green
	})
	if !strings.Contains(p.KPI, "tile-mounted") || !strings.Contains(p.KPI, "KPI PROBE") {
		t.Errorf("kpi tile: %q", p.KPI)
	}
	ctx := p.Widget["ctx"].(map[string]any)
	if ctx["hub"] != true || ctx["lang"] != "zh" || ctx["t"] != "function" || ctx["pub"] != true {
		t.Errorf("widget ctx: %v", ctx)
	}
	if opts, _ := ctx["opts"].(map[string]any); opts["metric"] != "answer-rate" {
		t.Errorf("widget opts: %v", ctx["opts"])
	}
	if p.Layer["hub"] != true {
		t.Errorf("layer ctx: %v", p.Layer)
	}

	// Back to the configured layout: the widget and the layer are destroyed
	// (the map there has other options, so it is mounted anew with its own
	// layer).
	if code, b := s.wallDo("POST", "/api/v1/walls/overview/release", "commander", ""); code != 200 {
		t.Fatalf("release: %d %s", code, b)
	}
	wallPoll(t, tctx, "destroy", read, 10*time.Second, func(p probe) bool {
		return p.Widget != nil && p.Widget["destroyed"] == float64(1) && p.Layer != nil && p.Layer["destroyed"] == float64(1) && p.Layer["mounts"] == float64(2) && p.KPI == ""
	})
}
