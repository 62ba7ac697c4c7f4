package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
)

// consoleMarker is one camera of the console's map, read where the map's
// own projection puts the camera's configured coordinates.
type consoleMarker struct {
	ID      string   `json:"id"`
	X       float64  `json:"x"` // CSS px in the map's box
	Y       float64  `json:"y"`
	PageX   float64  `json:"pageX"` // CSS px in the page, for the mouse
	PageY   float64  `json:"pageY"`
	Px      []int    `json:"px"`      // the pixel there
	Color   string   `json:"color"`   // the marker's colour, from its feature
	Layers  []string `json:"layers"`  // layer:id of what MapLibre rendered there
	Gap     float64  `json:"gap"`     // CSS px to the nearest other marker
	Zoom    float64  `json:"zoom"`    // the map's zoom
	Preview string   `json:"preview"` // the camera in the preview pane
	Err     string   `json:"err"`
}

// consoleMapJS defines marker(id): the consoleMarker of camera id, and
// loneMarker(): the one of the camera farthest from any other on screen.
// cams is the demo's cameras, id -> [lat, lng].
func consoleMapJS(cams map[string][2]float64) string {
	b, _ := json.Marshal(cams)
	return mapImageJS + `
const cams = ` + string(b) + `;
function marker(id) {
  const cm = window.citywallConsole && window.citywallConsole.map;
  if (!cm || !cm.map.getLayer('cameras')) return { err: 'map not loaded' };
  const img = mapImage(cm);
  if (!img) return { err: 'map not loaded' };
  const box = cm.map.getContainer().getBoundingClientRect();
  const [x, y] = cm.project(cams[id][0], cams[id][1]);
  let gap = Infinity;
  for (const [o, [la, ln]] of Object.entries(cams)) {
    if (o === id) continue;
    const [ox, oy] = cm.project(la, ln);
    gap = Math.min(gap, Math.hypot(ox - x, oy - y));
  }
  const fs = cm.map.queryRenderedFeatures([x, y]);
  const own = fs.find((f) => f.layer.id === 'cameras' && f.properties.id === id);
  return { id, x, y, pageX: box.left + x, pageY: box.top + y, px: img.at(x, y), color: own ? own.properties.color : '',
    layers: fs.map((f) => f.layer.id + ':' + (f.properties.id || '')), gap, zoom: cm.map.getZoom(),
    preview: document.getElementById('preview').dataset.camera || '' };
}
function loneMarker() {
  const cm = window.citywallConsole && window.citywallConsole.map;
  if (!cm || !cm.map.getLayer('cameras') || !cm.map.loaded()) return { err: 'map not loaded' };
  const c = cm.map.getContainer();
  let best = null;
  for (const id of Object.keys(cams)) {
    const m = marker(id);
    if (m.err || m.x < 40 || m.y < 40 || m.x > c.clientWidth - 40 || m.y > c.clientHeight - 40) continue;
    if (!best || m.gap > best.gap) best = m;
  }
  return best || { err: 'no camera on the map' };
}
function denseSpot(r) {
  const cm = window.citywallConsole && window.citywallConsole.map;
  if (!cm || !cm.map.getLayer('cameras') || !cm.map.loaded()) return { err: 'map not loaded' };
  const c = cm.map.getContainer(), box = c.getBoundingClientRect();
  const pts = Object.values(cams).map(([la, ln]) => cm.project(la, ln));
  let best = null, most = 0;
  for (const [x, y] of pts) {
    if (x < r + 5 || y < r + 5 || x > c.clientWidth - r - 5 || y > c.clientHeight - r - 5) continue;
    const n = pts.filter(([ox, oy]) => Math.abs(ox - x) < r - 3 && Math.abs(oy - y) < r - 3).length;
    if (n > most) { most = n; best = { x, y, pageX: box.left + x, pageY: box.top + y }; }
  }
  return best || { err: 'no camera on the map' };
}`
}

// TestConsoleMapInBrowser opens the console of the demo wall: the camera
// map is the city map (MapLibre) with the cameras' layer. A camera's
// marker is drawn where the map's projection puts its coordinates, in its
// state's colour; Shift and a drag pick an area, which narrows the camera
// list to the cameras inside it; clicking a marker previews the camera and
// turns it white; staff pan by dragging and zoom with the wheel, and the
// marker moves with the map. No console error and no CSP refusal on the
// way.
func TestConsoleMapInBrowser(t *testing.T) {
	s := demoWallServerQuiet(t)
	b := startBrowser(t, 120*time.Second, 2560, 1440, chromedp.Flag("disable-quic", true))
	tab := b.ctx
	if err := chromedp.Do(tab, chromedp.Navigate(s.url+"/console?token="+url.QueryEscape(s.tokens[config.RolePatrol]))); err != nil {
		t.Fatal(err)
	}
	cams := map[string][2]float64{}
	for _, c := range city.Cameras() {
		cams[c.ID] = [2]float64{c.Lat, c.Lng}
	}
	js := consoleMapJS(cams)
	eval := func(what, call string, ok func(consoleMarker) bool) consoleMarker {
		t.Helper()
		m, done := evalUntil(t, tab, what, "(() => { "+js+"\nreturn "+call+"; })()", 30*time.Second, 200*time.Millisecond, ok)
		if !done {
			t.Fatalf("%s: %+v", what, m)
		}
		return m
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(document.getElementById('cam-map').scrollIntoView({block: 'center'}), true)`)); err != nil {
		t.Fatal(err)
	}
	near := func(px []int, hex string) bool {
		var r, g, bl int
		if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &bl); err != nil {
			return false
		}
		return len(px) == 3 && abs(px[0]-r) <= 10 && abs(px[1]-g) <= 10 && abs(px[2]-bl) <= 10
	}

	// A marker where its camera's coordinates project, in its colour.
	lone := eval("a camera on the map", "loneMarker()", func(m consoleMarker) bool { return m.Err == "" && m.Color != "" && near(m.Px, m.Color) })
	t.Logf("camera %s at (%.0f, %.0f), %.0f px from the next, zoom %.2f: pixel %v, marker %s, rendered %q", lone.ID, lone.X, lone.Y, lone.Gap, lone.Zoom, lone.Px, lone.Color, lone.Layers)
	if !slices.Contains(lone.Layers, "cameras:"+lone.ID) {
		t.Errorf("rendered at camera %s's position: %q", lone.ID, lone.Layers)
	}
	if lone.Gap < 12 {
		t.Fatalf("no camera stands apart enough to click: %+v", lone)
	}
	// Shift and a drag around the densest cluster of cameras: the list
	// holds the cameras inside the box and no other; the map neither pans
	// nor zooms.
	r := 90.0
	spot := eval("a cluster of cameras", fmt.Sprintf("denseSpot(%f)", r), func(m consoleMarker) bool { return m.Err == "" })
	mouseDrag(t, tab, [2]float64{spot.PageX - r, spot.PageY - r}, [2]float64{spot.PageX + r, spot.PageY + r}, chromedp.ModifierShift)
	type area struct {
		Rows   []string `json:"rows"`
		Inside []string `json:"inside"` // cameras whose projection is in the box, 2 px in
		Near   []string `json:"near"`   // ... within 2 px out
		Zoom   float64  `json:"zoom"`
	}
	probe := fmt.Sprintf(`(() => { %s
  const cm = window.citywallConsole.map, box = cm.map.getContainer().getBoundingClientRect();
  const x0 = %f - box.left, y0 = %f - box.top, x1 = %f - box.left, y1 = %f - box.top;
  const inside = [], near = [];
  for (const [id, [la, ln]] of Object.entries(cams)) {
    const [x, y] = cm.project(la, ln);
    if (x > x0 + 2 && x < x1 - 2 && y > y0 + 2 && y < y1 - 2) inside.push(id);
    if (x > x0 - 2 && x < x1 + 2 && y > y0 - 2 && y < y1 + 2) near.push(id);
  }
  return { rows: [...document.querySelectorAll('#cam-list .cam-row')].map((e) => e.dataset.camera), inside, near, zoom: cm.map.getZoom() };
})()`, js, spot.PageX-r, spot.PageY-r, spot.PageX+r, spot.PageY+r)
	a, _ := evalUntil(t, tab, "the area", probe, 10*time.Second, 200*time.Millisecond, func(a area) bool {
		return len(a.Rows) > 0 && len(a.Rows) < len(cams)
	})
	t.Logf("the area holds %v (inside %v, near %v)", a.Rows, a.Inside, a.Near)
	if len(a.Inside) < 2 || len(a.Rows) >= len(cams) {
		t.Errorf("after Shift and a drag over %d cameras the list shows %v", len(a.Inside), a.Rows)
	}
	for _, x := range a.Inside {
		if !slices.Contains(a.Rows, x) {
			t.Errorf("camera %s is inside the box but not listed", x)
		}
	}
	for _, x := range a.Rows {
		if !slices.Contains(a.Near, x) {
			t.Errorf("camera %s is listed but outside the box", x)
		}
	}
	if abs(int((a.Zoom-lone.Zoom)*100)) > 1 {
		t.Errorf("Shift and a drag zoomed the map from %.2f to %.2f", lone.Zoom, a.Zoom)
	}
	if st := eval("the map after the area", fmt.Sprintf("marker(%q)", lone.ID), func(m consoleMarker) bool { return m.Err == "" }); abs(int(st.X-lone.X)) > 1 || abs(int(st.Y-lone.Y)) > 1 {
		t.Errorf("Shift and a drag moved the map: camera %s from (%.0f, %.0f) to (%.0f, %.0f)", lone.ID, lone.X, lone.Y, st.X, st.Y)
	}
	wallClick(t, tab, "#area-clear")
	wallPoll(t, tab, "the whole list", `document.querySelectorAll('#cam-list .cam-row').length`, 5*time.Second, func(n int) bool { return n == len(cams) })

	id := lone.ID
	mark := func(what string, ok func(consoleMarker) bool) consoleMarker {
		t.Helper()
		return eval(what, fmt.Sprintf("marker(%q)", id), ok)
	}

	// Click it: the preview shows the camera, its marker turns white.
	if err := chromedp.Do(tab, chromedp.MouseClickXY(lone.PageX, lone.PageY)); err != nil {
		t.Fatal(err)
	}
	m := mark("the clicked camera in the preview", func(m consoleMarker) bool { return m.Preview == id && near(m.Px, "#ffffff") })
	t.Logf("after the click: preview %s, pixel %v", m.Preview, m.Px)

	// Pan: a drag on the map (from a point away from markers) moves the
	// marker by the drag.
	from := [2]float64{lone.PageX + lone.Gap/2 + 3, lone.PageY}
	dx, dy := -90.0, 60.0
	mouseDrag(t, tab, from, [2]float64{from[0] + dx, from[1] + dy}, 0)
	m = mark("the marker after the pan", func(m consoleMarker) bool {
		return abs(int(m.X-lone.X-dx)) <= 2 && abs(int(m.Y-lone.Y-dy)) <= 2 && near(m.Px, "#ffffff")
	})
	t.Logf("after a drag of (%.0f, %.0f): marker from (%.0f, %.0f) to (%.0f, %.0f)", dx, dy, lone.X, lone.Y, m.X, m.Y)
	if m.Preview != id {
		t.Errorf("the drag changed the preview to %q", m.Preview)
	}

	// Zoom in with the wheel at the marker: it stays under the pointer and
	// the map zooms in.
	// (The protocol wants deltaX as well and leaves a zero out.)
	wheel := chromedp.MouseEvent(input.DispatchMouseEventTypeMouseWheel, m.PageX, m.PageY, func(p *input.DispatchMouseEventParams) {
		p.DeltaX, p.DeltaY = 1e-6, -400
	})
	if err := chromedp.Do(tab, wheel, chromedp.Sleep(100*time.Millisecond), wheel, chromedp.Sleep(100*time.Millisecond), wheel); err != nil {
		t.Fatal(err)
	}
	z := mark("the zoomed map", func(z consoleMarker) bool { return z.Zoom > m.Zoom+0.5 && near(z.Px, "#ffffff") })
	t.Logf("after the wheel: zoom %.2f (was %.2f), marker at (%.0f, %.0f)", z.Zoom, m.Zoom, z.X, z.Y)

	screenshot(t, tab, "console-map-2560x1440.png")
	b.checkConsole()
}

// mouseDrag presses the left button at from, moves to to in steps and
// releases it there, with the modifiers held.
func mouseDrag(t *testing.T, tab context.Context, from, to [2]float64, mods chromedp.Modifier) {
	t.Helper()
	opts := func(p *input.DispatchMouseEventParams) {
		p.Button = input.MouseButtonLeft
		p.Buttons = 1
		p.Modifiers = int64(mods)
	}
	acts := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, from[0], from[1], func(p *input.DispatchMouseEventParams) { p.Modifiers = int64(mods) }),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, from[0], from[1], opts, chromedp.ClickCount(1))}
	const steps = 8
	for i := 1; i <= steps; i++ {
		f := float64(i) / steps
		acts = append(acts, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, from[0]+(to[0]-from[0])*f, from[1]+(to[1]-from[1])*f, opts),
			chromedp.Sleep(20*time.Millisecond))
	}
	// Still for a moment before the release: no inertia carries the map on.
	acts = append(acts, chromedp.Sleep(300*time.Millisecond), chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, to[0], to[1], opts, chromedp.ClickCount(1)))
	if err := chromedp.Do(tab, acts...); err != nil {
		t.Fatalf("drag: %v", err)
	}
}

// BenchmarkConsolePan drags the console's camera map (MapLibre, the demo
// city's basemap and 40 camera markers) round a circle of 150 CSS px for
// 5 s per op with real mouse input, a move every 16 ms, in headless
// Chromium at the width CITYWALL_PAN_SIZE gives (3840x2160 by default,
// "2560x1440" for a desk screen; software WebGL here, as on the CI
// machine). It reports the frames the map rendered per second while it
// panned, the page's animation frames per second, and the 95th percentile
// of the gaps between the map's frames.
func BenchmarkConsolePan(b *testing.B) {
	w, h := int64(3840), int64(2160)
	if v := os.Getenv("CITYWALL_PAN_SIZE"); v != "" {
		if _, err := fmt.Sscanf(v, "%dx%d", &w, &h); err != nil {
			b.Fatalf("CITYWALL_PAN_SIZE=%q: want WxH", v)
		}
	}
	s := demoWallServerQuiet(b)
	br := startBrowser(b, 10*time.Minute, w, h, chromedp.Flag("disable-quic", true))
	tab := br.ctx
	if err := chromedp.Do(tab, chromedp.Navigate(s.url+"/console?token="+url.QueryEscape(s.tokens[config.RolePatrol]))); err != nil {
		b.Fatal(err)
	}
	type panBox struct {
		X, Y, W, H float64
		CanvasW    int `json:"canvasW"`
	}
	box, ok := evalUntil(b, tab, "the console's map", `(() => {
  const cm = window.citywallConsole && window.citywallConsole.map;
  if (!cm || !cm.map.loaded() || !cm.map.getLayer('cameras')) return {};
  document.getElementById('cam-map').scrollIntoView({block: 'center'});
  const r = cm.map.getContainer().getBoundingClientRect();
  if (window.__pan === undefined) {
    const p = window.__pan = { renders: 0, raf: 0, gaps: [], last: 0, on: false };
    cm.map.on('render', () => {
      if (!p.on) return;
      const now = performance.now();
      if (p.last) p.gaps.push(now - p.last);
      p.last = now;
      p.renders++;
    });
    const tick = () => { if (p.on) p.raf++; requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  }
  return { x: r.left, y: r.top, w: r.width, h: r.height, canvasW: cm.map.getCanvas().width };
})()`, 30*time.Second, 200*time.Millisecond, func(p panBox) bool { return p.W > 0 })
	if !ok {
		b.Fatalf("the console's map did not load")
	}
	type panStats struct {
		Renders int       `json:"renders"`
		Raf     int       `json:"raf"`
		Ms      float64   `json:"ms"`
		Gaps    []float64 `json:"gaps"`
		Moved   float64   `json:"moved"` // CSS px the map's centre moved
	}
	cx, cy, r := box.X+box.W/2, box.Y+box.H/2, 150.0
	press := func(p *input.DispatchMouseEventParams) { p.Button = input.MouseButtonLeft; p.Buttons = 1 }
	var fps, rafs, p95s []float64
	for b.Loop() {
		if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(Object.assign(window.__pan, { renders: 0, raf: 0, gaps: [], last: 0, on: true, t0: performance.now(),
  c0: window.citywallConsole.map.map.getCenter() }), true)`)); err != nil {
			b.Fatal(err)
		}
		if err := chromedp.Do(tab, chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, cx+r, cy, press, chromedp.ClickCount(1))); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for i := 1; time.Since(start) < 5*time.Second; i++ {
			a := 2 * math.Pi * float64(i) / 90 // a turn every 1.5 s
			if err := chromedp.Do(tab, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, cx+r*math.Cos(a), cy+r*math.Sin(a), press)); err != nil {
				b.Fatal(err)
			}
			time.Sleep(time.Until(start.Add(time.Duration(i) * 16 * time.Millisecond)))
		}
		if err := chromedp.Do(tab, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, cx+r, cy, press, chromedp.ClickCount(1))); err != nil {
			b.Fatal(err)
		}
		st, err := chromedp.Run(tab, chromedp.Evaluate[panStats](`(() => { const p = window.__pan; p.on = false;
  const m = window.citywallConsole.map.map, a = m.project(p.c0);
  return { renders: p.renders, raf: p.raf, ms: performance.now() - p.t0, gaps: p.gaps, moved: Math.hypot(a.x - m.getCanvas().clientWidth / 2, a.y - m.getCanvas().clientHeight / 2) }; })()`))
		if err != nil {
			b.Fatal(err)
		}
		if st.Renders < 2 || st.Moved < 1 {
			b.Fatalf("the map did not pan: %+v", st)
		}
		gaps := slices.Sorted(slices.Values(st.Gaps))
		fps = append(fps, float64(st.Renders)/(st.Ms/1000))
		rafs = append(rafs, float64(st.Raf)/(st.Ms/1000))
		p95s = append(p95s, gaps[len(gaps)*95/100])
		// The machine is shared: say how busy it was.
		b.Logf("%dx%d (map canvas %d px wide): %d map frames, %d animation frames in %.0f ms; frame gap p95 %.1f ms; load average %s",
			w, h, box.CanvasW, st.Renders, st.Raf, st.Ms, gaps[len(gaps)*95/100], loadAvg())
	}
	mean := func(v []float64) float64 {
		s := 0.0
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	b.ReportMetric(mean(fps), "map-frames/s")
	b.ReportMetric(mean(rafs), "page-frames/s")
	b.ReportMetric(mean(p95s), "gap-p95-ms")
	br.checkConsole()
}
