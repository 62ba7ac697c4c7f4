package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
)

// newWallBrowser starts headless Chromium at 3840×2160 for the wall
// tests: every tab is a wall display, and none may be throttled as a
// background tab would be. A widget or layer module this build does not
// have is not an error.
func newWallBrowser(t *testing.T, timeout time.Duration, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	}
	b := startBrowser(t, timeout, 3840, 2160, append(opts, extra...)...)
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.expectBecause(wallAbsentModule, "module not in this build")
	return b
}

// wallAbsentModule is the browser's note of a widget or layer module this
// build does not have: the page shows a placeholder or leaves the layer out.
var wallAbsentModule = regexp.MustCompile(`status of 404 .*/static/js/(widgets|layers)/[a-z0-9_-]+\.js:1\)$`)

// wallPoll evaluates js in tab until ok accepts the result or the time is up.
func wallPoll[T any](t *testing.T, tab context.Context, what, js string, within time.Duration, ok func(T) bool) T {
	t.Helper()
	v, done := evalUntil(t, tab, what, js, within, 20*time.Millisecond, ok)
	if !done {
		t.Fatalf("%s: not within %s; last %+v", what, within, v)
	}
	return v
}

// wallClick clicks the element sel finds, looked up and clicked in one
// turn of the page: the console re-renders its camera list and miniature
// whenever a camera's state or the wall changes, so a node found by one
// DevTools call may be gone by the next.
func wallClick(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	js := `(() => { const e = document.querySelector(` + strconv.Quote(sel) + `); if (!e) return false; e.click(); return true; })()`
	wallPoll(t, tab, "click "+sel, js, 5*time.Second, func(ok bool) bool { return ok })
}

type wallTileStatus struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	Mounted     bool   `json:"mounted"`
	Placeholder bool   `json:"placeholder"`
	Camera      string `json:"camera"`
	CamState    string `json:"camState"`
	Text        string `json:"text"`
	StandIn     bool   `json:"standin"` // the video slot is the stand-in that shows names
}

type stageStatus struct {
	Tiles    []wallTileStatus `json:"tiles"`
	HeatPx   int              `json:"heatPx"`
	CanvasW  int              `json:"canvasW"`
	HotRows  int              `json:"hotRows"`
	Tickets  int              `json:"tickets"`
	Clock    string           `json:"clock"`
	Conn     string           `json:"conn"`
	Version  string           `json:"version"`
	Monitor  string           `json:"monitor"`
	Title    string           `json:"title"`
	Applied  []wallApplied    `json:"applied"`
	Markers  int              `json:"markers"`
	ClockSet string           `json:"clockSet"`
}

type wallApplied struct {
	Version int     `json:"version"`
	At      float64 `json:"at"`      // ms since the epoch, sub-millisecond: the state applied to the tiles
	Painted float64 `json:"painted"` // the next animation frame after it
}

const stageProbe = `(() => {
  const tiles = [...document.querySelectorAll('.tile[data-kind]')].map((e) => ({
    id: e.dataset.tile, kind: e.dataset.kind, mounted: e.classList.contains('tile-mounted'),
    placeholder: e.classList.contains('tile-placeholder'), camera: e.dataset.camera || '',
    camState: e.dataset.camState || '', text: e.innerText.replace(/\s+/g, ' ').slice(0, 400),
    standin: !!e.querySelector('.video-standin'),
  }));
  ` + mapHeatPixelsJS + `
  const cv = document.querySelector('.tile-map canvas.maplibregl-canvas');
  const heat = mapHeatPixels(cv), w = cv ? cv.width : 0;
  const cw = window.citywall || {};
  return {
    tiles, heatPx: heat, canvasW: w,
    hotRows: document.querySelectorAll('.tile-hot .hot-row').length,
    tickets: document.querySelectorAll('.tile-ticker .ticker-row').length,
    clock: (document.querySelector('.tile-clock .clock-time') || {}).textContent || '',
    clockSet: (document.querySelector('.tile-clock .clock-mode') || {}).textContent || '',
    conn: document.getElementById('conn').className,
    version: document.body.dataset.version || '',
    monitor: document.body.dataset.monitor || '',
    title: document.title,
    applied: (cw.applied || []).slice(),
  };
})()`

func (st stageStatus) tile(id string) wallTileStatus {
	for _, t := range st.Tiles {
		if t.ID == id {
			return t
		}
	}
	return wallTileStatus{}
}

// demoWallServer is the demo city with its wall state in a fresh directory.
func demoWallServer(t *testing.T) *server {
	cfg, tokens := demoWalls(t, t.TempDir())
	cfg.Demo.PerDay = 2700
	return startWith(t, cfg, tokens)
}

// demoWallServerQuiet is demoWallServer with the demo's cameras pointing
// at a port nothing answers on: the tiles show the cameras and their state
// but decode no video. Tests that drive several displays for minutes use
// it, so they measure the wall's switching and not two cores decoding a
// dozen streams; playback has its own tests (video_browser_test.go).
func demoWallServerQuiet(t testing.TB) *server {
	cfg, tokens := demoWalls(t, t.TempDir())
	cfg.Demo.PerDay = 2700
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, c := range city.Cameras() {
		cfg.Cameras = append(cfg.Cameras, config.Camera{ID: c.ID, Name: c.Name, NameEn: c.NameEn,
			Lat: c.Lat, Lng: c.Lng, Tags: c.Tags, Main: "rtsp://" + dead + "/" + c.ID})
	}
	return startWith(t, cfg, tokens)
}

// TestWallRendersEveryKind opens the 4 × 2 command wall whole, scaled into
// one 3840×2160 screen, and waits for every tile: the wall's own widgets
// (map with heat and camera markers, hot topics, ticker, clock, video
// slots) must mount and show data; a kind whose module is not in this build
// shows its placeholder. The camera set fills the eight video slots and each
// tile plays its own camera's picture. Then a camera goes offline on the
// cameras topic and its tile says so. The screenshot is kept as an artifact.
func TestWallRendersEveryKind(t *testing.T) {
	s := demoWallServer(t)
	// The demo's schedules pick the set by the time of day (kitchens at
	// dinner time, underpasses at night): the test picks its own.
	if code, body := s.wallDo("POST", "/api/v1/walls/main/set", "patrol", `{"set":"school-gates"}`); code != http.StatusOK {
		t.Fatalf("show school gates: %d %s", code, body)
	}
	b := newWallBrowser(t, 90*time.Second)
	tab := b.tab(s.url+"/wall/main?token="+url.QueryEscape(s.tokens[config.RoleWall]), 3840, 2160)

	own := []string{"map", "hot", "ticker", "clock", "video"}
	st := wallPoll(t, tab, "the command wall", stageProbe, 40*time.Second, func(st stageStatus) bool {
		if len(st.Tiles) != 16 || !strings.Contains(st.Conn, "conn-open") || st.HotRows < 3 || st.HeatPx < 20 || st.Tickets < 1 {
			return false
		}
		for _, tl := range st.Tiles {
			if !tl.Mounted && !tl.Placeholder {
				return false
			}
		}
		return true
	})
	kinds := map[string]bool{}
	for _, tl := range st.Tiles {
		kinds[tl.Kind] = true
		if slices.Contains(own, tl.Kind) && !tl.Mounted {
			t.Errorf("tile %s (%s) did not mount: %q", tl.ID, tl.Kind, tl.Text)
		}
		if tl.Placeholder {
			t.Logf("tile %s (%s): placeholder, its module is not in this build", tl.ID, tl.Kind)
		}
	}
	for _, k := range []string{"map", "kpi", "hot", "alerts", "flood", "traffic", "clock", "ticker", "video"} {
		if !kinds[k] {
			t.Errorf("no %s tile on the command wall", k)
		}
	}
	if !wallClockText(st.Clock) {
		t.Errorf("clock shows %q", st.Clock)
	}
	if !strings.Contains(st.ClockSet, "校园周边") {
		t.Errorf("the clock tile's wall line %q does not name the set (school gates)", st.ClockSet)
	}
	v1 := st.tile("v1")
	if v1.Camera != "school-longhua-1" || (v1.StandIn && !strings.Contains(v1.Text, "海口市第一中学校门")) {
		t.Fatalf("slot v1: %+v, want the first school gate camera (by name on the stand-in)", v1)
	}
	// The set fills all eight video slots, and every tile plays its
	// camera's own picture: the clocks run, and no two tiles look alike.
	tiles := wallPoll(t, tab, "eight live video tiles", videoTilesProbe, 40*time.Second, func(vs []videoTileStatus) bool {
		live := 0
		for _, v := range vs {
			if v.State == "live" && v.Time > 1 && len(v.Px) > 0 {
				live++
			}
		}
		return live == 8
	})
	for i, a := range tiles {
		for _, b := range tiles[i+1:] {
			if d := pxDiff(a.Px, b.Px); d < 4 {
				t.Errorf("tiles %s (%s) and %s (%s) show pictures %.1f levels apart: not told apart", a.ID, a.Camera, b.ID, b.Camera, d)
			}
		}
	}
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot: %v", err)
	} else {
		artifact(t, "wall-main-3840x2160.png", shot)
	}

	// A camera goes offline: its tile shows it.
	if err := s.app.PublishCamera("school-longhua-1", map[string]any{
		"id": "school-longhua-1", "name": "海口市第一中学校门", "state": "offline", "reason": "no answer from the camera",
	}); err != nil {
		t.Fatal(err)
	}
	// The tile's own text says so (any video widget must); the stand-in
	// also gives the reason and marks the tile.
	st = wallPoll(t, tab, "the offline camera on its tile", stageProbe, 10*time.Second, func(st stageStatus) bool {
		return strings.Contains(st.tile("v1").Text, "离线")
	})
	if v1 := st.tile("v1"); v1.StandIn && (v1.CamState != "offline" || !strings.Contains(v1.Text, "no answer")) {
		t.Errorf("offline stand-in tile: state %q, text %q; want offline and the reason", v1.CamState, v1.Text)
	}
	if strings.Contains(st.tile("v2").Text, "离线") {
		t.Error("another tile went offline too")
	}
	// Alert camera linkage: the alert's camera takes the first slot marked
	// alert, labelled, and goes when the alert is reverted.
	if err := s.app.WallPusher().PushAlert(t.Context(), "al-1", []string{"underpass-nanhai"}); err != nil {
		t.Fatal(err)
	}
	wallPoll(t, tab, "the alert camera", stageProbe, 10*time.Second, func(st stageStatus) bool {
		v7 := st.tile("v7")
		return v7.Camera == "underpass-nanhai" && strings.Contains(v7.Text, "预警联动") && (!v7.StandIn || strings.Contains(v7.Text, "南海大道下穿隧道"))
	})
	shot, err = chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err == nil {
		artifact(t, "wall-main-camera-offline-and-alert.png", shot)
	}
	if err := s.app.WallPusher().Revert(t.Context(), "al-1"); err != nil {
		t.Fatal(err)
	}
	// The slot shows the set's seventh camera again.
	var gates []string
	for _, c := range city.Cameras() {
		if slices.Contains(c.Tags, city.TagSchoolGate) {
			gates = append(gates, c.ID)
		}
	}
	wallPoll(t, tab, "the alert camera gone", stageProbe, 10*time.Second, func(st stageStatus) bool {
		v7 := st.tile("v7")
		return v7.Camera == gates[6] && !strings.Contains(v7.Text, "预警联动")
	})
	b.checkConsole()

	// The server goes away: the reconnecting banner comes up and each tile
	// says its connection is lost.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	lost := wallPoll(t, tab, "the reconnecting banner", `({banner: !document.getElementById('banner').hidden,
		text: document.getElementById('banner-text').textContent,
		badges: [...document.querySelectorAll('.tile .tile-state-offline')].length})`, 10*time.Second,
		func(v struct {
			Banner bool   `json:"banner"`
			Text   string `json:"text"`
			Badges int    `json:"badges"`
		}) bool {
			return v.Banner && v.Badges >= 3
		})
	if !strings.Contains(lost.Text, "重新连接") {
		t.Errorf("banner reads %q", lost.Text)
	}
}

// videoTileStatus is a video slot of the wall: its camera, its state, the
// video's clock and its picture shrunk to 16×9 RGB.
type videoTileStatus struct {
	ID     string  `json:"id"`
	Camera string  `json:"camera"`
	State  string  `json:"state"`
	Time   float64 `json:"time"`
	Px     []int   `json:"px"`
}

const videoTilesProbe = `[...document.querySelectorAll('.tile[data-kind="video"]')].map((t) => {
  const v = t.querySelector('video'), box = t.querySelector('.video-tile');
  const out = {id: t.dataset.tile, camera: t.dataset.camera || '', state: box ? box.dataset.state || '' : '', time: v ? v.currentTime : 0, px: []};
  if (v && v.videoWidth > 0) {
    const c = document.createElement('canvas');
    c.width = 16; c.height = 9;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0, 16, 9);
    const d = g.getImageData(0, 0, 16, 9).data;
    for (let i = 0; i < d.length; i += 4) out.px.push(d[i], d[i + 1], d[i + 2]);
  }
  return out;
})`

// pxDiff is the mean absolute difference of two pictures' channels.
func pxDiff(a, b []int) float64 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	s := 0
	for i := range a {
		s += max(a[i]-b[i], b[i]-a[i])
	}
	return float64(s) / float64(len(a))
}

func wallClockText(s string) bool {
	return len(s) == 8 && s[2] == ':' && s[5] == ':'
}

// TestWallDisplaysSwitchTogether opens two displays of the command wall
// (monitors 2 and 3, the video monitors) and the console. The console
// switches the camera set; then the API switches it 20 more times. Each
// display records when it applied each version of the wall; the spread
// between the two for one switch is the figure in BENCHMARKS.md. The
// console also searches a camera by area, previews it and pushes it into a
// slot, which shows on the display.
func TestWallDisplaysSwitchTogether(t *testing.T) {
	s := demoWallServerQuiet(t)
	b := newWallBrowser(t, 150*time.Second)
	wallTok := url.QueryEscape(s.tokens[config.RoleWall])
	d2 := b.tab(s.url+"/wall/main?monitor=2&token="+wallTok, 1920, 1080)
	ready := func(st stageStatus) bool {
		return st.Version != "" && len(st.Tiles) == 4 && strings.Contains(st.Conn, "conn-open") && st.Tiles[0].Mounted
	}
	st2 := wallPoll(t, d2, "display 2", stageProbe, 30*time.Second, ready)
	d3 := b.tab(s.url+"/wall/main?monitor=3&token="+wallTok, 1920, 1080)
	st3 := wallPoll(t, d3, "display 3", stageProbe, 30*time.Second, ready)
	if st2.Monitor != "2" || st3.Monitor != "3" || st2.tile("v1").ID == "" || st3.tile("v5").ID == "" {
		t.Fatalf("monitors: %s has %+v; %s has %+v", st2.Monitor, st2.Tiles, st3.Monitor, st3.Tiles)
	}
	console, closeConsole := b.tabClosable(s.url+"/console?token="+url.QueryEscape(s.tokens[config.RolePatrol]), 2560, 1440)
	wallPoll(t, console, "the console", `document.querySelectorAll('#mini .mini-tile').length`, 20*time.Second, func(n int) bool { return n == 16 })

	var spreads, paints []float64
	switchTo := func(i int, set string, viaConsole bool) {
		t.Helper()
		// The version before the switch: the displays are up to date with it.
		cur := wallPoll(t, d2, "display 2 version", `document.body.dataset.version || ''`, 5*time.Second, func(string) bool { return true })
		var want int
		fmt.Sscan(cur, &want)
		want++
		if viaConsole {
			if err := chromedp.Do(console,
				chromedp.SetValue(chromedp.ID("set-select"), set),
				chromedp.Click(chromedp.ID("set-go"))); err != nil {
				t.Fatalf("console: %v", err)
			}
		} else {
			code, body := s.wallDo("POST", "/api/v1/walls/main/set", "patrol", `{"set":"`+set+`"}`)
			if code != 200 {
				t.Fatalf("switch %d: %d %s", i, code, body)
			}
		}
		// A light probe: the displays keep running while the test waits.
		probe := fmt.Sprintf(`((window.citywall && window.citywall.applied) || []).find((a) => a.version === %d) || {version: 0, at: 0, painted: 0}`, want)
		seen := func(a wallApplied) bool { return a.Version == want && a.Painted > 0 }
		ta := wallPoll(t, d2, fmt.Sprintf("display 2, switch %d to version %d", i, want), probe, 10*time.Second, seen)
		tc := wallPoll(t, d3, fmt.Sprintf("display 3, switch %d to version %d", i, want), probe, 10*time.Second, seen)
		spreads = append(spreads, math.Abs(ta.At-tc.At))
		paints = append(paints, math.Abs(ta.Painted-tc.Painted))
	}
	switchTo(0, "kitchens", true)
	st2 = wallPoll(t, d2, "kitchens on display 2", stageProbe, 5*time.Second, func(st stageStatus) bool { return st.tile("v1").Camera == "kitchen-guomao-1" })
	st3 = wallPoll(t, d3, "kitchens on display 3", stageProbe, 5*time.Second, func(st stageStatus) bool { return st.tile("v5").Camera == "kitchen-qilou-1" })
	// Search by name and by tag (in the page's language).
	byText := func(q string) []string {
		return wallPoll(t, console, "search "+q, `(() => { const i = document.getElementById('cam-search'); i.value = `+strconv.Quote(q)+`;
			i.dispatchEvent(new Event('input')); return [...document.querySelectorAll('#cam-list .cam-row')].map((e) => e.dataset.camera); })()`,
			5*time.Second, func([]string) bool { return true })
	}
	gates := 0
	for _, c := range city.Cameras() {
		if slices.Contains(c.Tags, city.TagSchoolGate) || strings.Contains(c.Name, "校门") {
			gates++
		}
	}
	if got := byText("校门"); len(got) != gates || !slices.Contains(got, "kitchen-xiuying-1") {
		t.Errorf("search 校门 (the school-gate tag): %v", got)
	}
	var binhai []string
	for _, c := range city.Cameras() {
		if strings.Contains(c.Name, "滨海") {
			binhai = append(binhai, c.ID)
		}
	}
	if got := byText("滨海"); !slices.Equal(got, binhai) || !slices.Contains(got, "road-binhai") {
		t.Errorf("search 滨海 (a name): %v", got)
	}
	byText("")

	// Find a camera by area on the console's map, preview it, push it.
	n := wallPoll(t, console, "area search", `(window.citywallConsole.setArea({lat0: 20.02, lat1: 20.04, lng0: 110.32, lng1: 110.33}),
		[...document.querySelectorAll('#cam-list .cam-row')].map((e) => e.dataset.camera))`, 5*time.Second,
		func(ids []string) bool { return len(ids) > 0 })
	if !slices.Contains(n, "road-binhai") || slices.Contains(n, "reservoir-shahe") {
		t.Fatalf("cameras in the area: %v", n)
	}
	wallClick(t, console, `#cam-list .cam-row[data-camera="road-binhai"]`)
	wallClick(t, console, `#mini .mini-tile[data-tile="v2"]`)
	// The preview pane mounts the video widget on the camera.
	wallPoll(t, console, "the preview", `document.querySelector('#preview').dataset.camera + ' ' + document.getElementById('preview-name').textContent +
		' ' + (document.querySelector('#preview .tile-body').children.length > 0)`, 5*time.Second,
		func(s string) bool { return s == "road-binhai 滨海大道国贸路口 true" })
	if err := chromedp.Do(console, chromedp.Click(chromedp.ID("push-go"))); err != nil {
		t.Fatal(err)
	}
	wallPoll(t, d2, "the pushed camera on display 2", stageProbe, 5*time.Second, func(st stageStatus) bool {
		v2 := st.tile("v2")
		return v2.Camera == "road-binhai" && (!v2.StandIn || strings.Contains(v2.Text, "滨海大道国贸路口")) && strings.Contains(v2.Text, "手动推送 · patrol-1")
	})
	wallPoll(t, console, "the miniature", `document.querySelector('#mini [data-tile="v2"]').dataset.camera`, 5*time.Second,
		func(s string) bool { return s == "road-binhai" })
	// Configuration from the console: a new set from a search, saved
	// through the API; a set with an unknown camera is refused with the
	// server's reason.
	if _, err := chromedp.Run(console, chromedp.Evaluate[bool](`(window.citywallConsole.setArea(null), true)`)); err != nil {
		t.Fatal(err)
	}
	byText("校门")
	edit := func(js string) string {
		if err := chromedp.Do(console, chromedp.Click(chromedp.ID("edit-from-search"))); err != nil {
			t.Fatal(err)
		}
		before := wallPoll(t, console, "edit", `document.getElementById('edit-msg').textContent`, time.Second, func(string) bool { return true })
		if _, err := chromedp.Run(console, chromedp.Evaluate[bool](`(() => { const e = document.getElementById('edit-json');
			const v = JSON.parse(e.value); `+js+`; e.value = JSON.stringify(v); return true; })()`)); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(console, chromedp.Click(chromedp.ID("edit-save"))); err != nil {
			t.Fatal(err)
		}
		return wallPoll(t, console, "the save", `document.getElementById('edit-msg').textContent`, 5*time.Second, func(s string) bool { return s != before && s != "" })
	}
	if msg := edit(`v.id = 'gates-all'; v.name = '全部校门'`); !strings.Contains(msg, "已保存") {
		t.Errorf("saving a set from the console: %q", msg)
	}
	wallPoll(t, console, "the new set", `[...document.querySelectorAll('#set-select option')].map((o) => o.value)`, 5*time.Second,
		func(ids []string) bool { return slices.Contains(ids, "gates-all") })
	b.expect(`status of 422 .*/api/v1/camera-sets/bad-set:1\)$`)
	if msg := edit(`v.id = 'bad-set'; v.name = 'B'; v.cameras = ['nope-cam']`); !strings.Contains(msg, "unknown camera") || !strings.Contains(msg, "nope-cam") {
		t.Errorf("a set with an unknown camera from the console: %q", msg)
	}
	byText("")
	shot, err := chromedp.Run(console, chromedp.CaptureScreenshot())
	if err == nil {
		artifact(t, "console-2560x1440.png", shot)
	}

	// The console is on its own machine in a control room; here it would
	// share the renderer with the displays being timed.
	closeConsole()

	sets := []string{"roads", "reservoirs", "school-gates", "waterlogging", "kitchens"}
	switches := 20
	if n, err := strconv.Atoi(os.Getenv("CITYWALL_WALL_SWITCHES")); err == nil && n > 0 {
		switches = n
	}
	for i := 1; i <= switches; i++ {
		switchTo(i, sets[i%len(sets)], false)
	}

	// A layout switch rebuilds the tiles: in the video layout each monitor
	// holds one tile, and monitor 2 shows slot v2.
	if code, body := s.wallDo("POST", "/api/v1/walls/main/layout", "commander", `{"layout":"video"}`); code != 200 {
		t.Fatalf("layout: %d %s", code, body)
	}
	for _, d := range []struct {
		tab  context.Context
		tile string
	}{{d2, "v2"}, {d3, "v3"}} {
		wallPoll(t, d.tab, "the video layout", stageProbe, 10*time.Second, func(st stageStatus) bool {
			return len(st.Tiles) == 1 && st.Tiles[0].ID == d.tile && st.Tiles[0].Mounted
		})
	}
	stats := func(v []float64) (p50, p95, worst float64) {
		s := slices.Clone(v)
		slices.Sort(s)
		return s[len(s)/2], s[len(s)*95/100], s[len(s)-1]
	}
	a50, a95, amax := stats(spreads)
	p50, p95, pmax := stats(paints)
	report := fmt.Sprintf("display switch spread over %d switches (2 displays, monitors 2 and 3 of wall main, one browser):\n"+
		"  applied: p50 %.1f ms, p95 %.1f ms, max %.1f ms\n  painted: p50 %.1f ms, p95 %.1f ms, max %.1f ms\n"+
		"applied (ms): %.1f\npainted (ms): %.1f\n", len(spreads), a50, a95, amax, p50, p95, pmax, spreads, paints)
	t.Log(report)
	artifact(t, "wall-switch-spread.txt", []byte(report))
	// The target is 100 ms between displays. What the wall controls is when
	// each display applies the switch; the frame after it depends on the
	// renderer, here one software-rendered browser for all tabs on a shared
	// machine, so it is reported and not held to the target.
	if a95 > 100 {
		t.Errorf("displays applied a switch %.1f ms apart (p95), over the 100 ms target", a95)
	}

	// Ten minutes without news: a display of camera tiles alone
	// (its topics: the wall's state and the cameras, which change when
	// something happens) is not stale; the whole wall (the map's heat, the
	// KPIs, the ticker: steady topics) says its data is old. The soak of the
	// demo wall saw "数据已 8 分钟未更新" on its camera display.
	whole := b.tab(s.url+"/wall/main?token="+wallTok, 1920, 1080)
	wallPoll(t, whole, "the whole wall", stageProbe, 30*time.Second, func(st stageStatus) bool {
		if len(st.Tiles) == 0 || !strings.Contains(st.Conn, "conn-open") {
			return false
		}
		for _, tl := range st.Tiles {
			if !tl.Mounted {
				return false
			}
		}
		return true
	})
	// Each call of Date.now is ten minutes after the one before: whatever
	// the page last received is at least ten minutes old when it looks.
	const later = `(() => { if (!window.__later) { const now = Date.now; let k = 0; Date.now = () => now.call(Date) + (++k) * 10 * 60 * 1000; window.__later = true; }
		const e = document.getElementById('stale'); return e.hidden ? '' : e.textContent; })()`
	if _, ok := evalUntil(t, whole, "the whole wall after ten quiet minutes", later, 10*time.Second, 20*time.Millisecond,
		func(s string) bool { return s != "" }); !ok {
		topics, _ := chromedp.Run(whole, chromedp.Evaluate[[]string](`[...window.citywall.hub.topics.keys()]`))
		t.Fatalf("the whole wall (topics %q) is not stale after ten quiet minutes", topics)
	}
	if st, _ := evalUntil(t, d2, "display 2 (cameras) after ten quiet minutes", later, 3*time.Second, 500*time.Millisecond,
		func(s string) bool { return s != "" }); st != "" {
		t.Errorf("display 2 shows only cameras and says %q", st)
	}

	b.checkConsole()
}

func wallAppliedAt(list []wallApplied, version int) wallApplied {
	for _, a := range list {
		if a.Version == version {
			return a
		}
	}
	return wallApplied{}
}

// TestWallLayoutSwitchesLeakNothing switches the command wall between its
// two layouts 60 times with two displays open (monitor 0: the map, mounted
// anew each time; monitor 6: clock, hot topics and ticker against a video
// slot) and checks that every widget gave back what it took: hub topics,
// DOM nodes and, after a garbage collection, the JavaScript heap.
func TestWallLayoutSwitchesLeakNothing(t *testing.T) {
	s := demoWallServerQuiet(t)
	b := newWallBrowser(t, 150*time.Second, chromedp.Flag("js-flags", "--expose-gc"))
	tok := url.QueryEscape(s.tokens[config.RoleWall])
	type mem struct {
		Topics  int      `json:"topics"`
		Names   []string `json:"names"`
		Nodes   int      `json:"nodes"`
		Heap    float64  `json:"heap"`
		Version string   `json:"version"`
		Tiles   int      `json:"tiles"`
	}
	// Until the page's script has run there is no window.citywall: not
	// ready yet (an empty version), not an exception.
	const measure = `(() => { if (!window.citywall || !window.citywall.hub) return {version: ''};
	  if (window.gc) window.gc(); return {
	  topics: window.citywall.hub.topics.size, names: [...window.citywall.hub.topics.keys()].sort(), nodes: document.getElementsByTagName('*').length,
	  heap: performance.memory ? performance.memory.usedJSHeapSize : 0,
	  version: document.body.dataset.version || '', tiles: document.querySelectorAll('.tile').length}; })()`
	displays := []context.Context{
		b.tab(s.url+"/wall/main?monitor=0&token="+tok, 1280, 720),
		b.tab(s.url+"/wall/main?monitor=6&token="+tok, 1280, 720),
	}
	for _, d := range displays {
		wallPoll(t, d, "display", measure, 30*time.Second, func(m mem) bool { return m.Version != "" && m.Tiles > 0 })
	}
	// settled measures d once its topics have not changed for 3 s: the
	// map's layers subscribe when their modules have loaded, seconds after
	// a switch on a busy machine.
	settled := func(d context.Context, what string) mem {
		var last string
		var since time.Time
		return wallPoll(t, d, what, measure, 20*time.Second, func(m mem) bool {
			names := strings.Join(m.Names, " ")
			if names != last {
				last, since = names, time.Now()
			}
			return time.Since(since) >= 3*time.Second
		})
	}
	layouts := []string{"video", "command"}
	var base [2]mem
	for i := range 60 {
		code, body := s.wallDo("POST", "/api/v1/walls/main/layout", "commander", `{"layout":"`+layouts[i%2]+`"}`)
		if code != 200 {
			t.Fatalf("switch %d: %d %s", i, code, body)
		}
		var v wallView
		_ = json.Unmarshal(body, &v)
		want := fmt.Sprint(v.Control.Version)
		for _, d := range displays {
			// This switch or a later change (a camera-down alert takes an
			// alert slot, a schedule ends) is shown.
			wallPoll(t, d, "the switch to version "+want, measure, 10*time.Second, func(m mem) bool {
				got, err := strconv.ParseUint(m.Version, 10, 64)
				return err == nil && got >= v.Control.Version
			})
		}
		if i == 3 {
			// The baseline: the command layout after two cycles, its widgets
			// and the map's layers loaded (the first time, their modules
			// come over the network and may take longer than a second)
			// and filled from their topics, as at the end.
			for k, d := range displays {
				base[k] = settled(d, "baseline")
			}
		}
		// Let the map fetch its outlines and draw, as a wall would between
		// switches.
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	for k, d := range displays {
		m := settled(d, "settled")
		t.Logf("display %d after 60 layout switches: %d topics (%d after the first cycle), %d DOM nodes (%d), heap %.1f MB (%.1f MB)",
			k, m.Topics, base[k].Topics, m.Nodes, base[k].Nodes, m.Heap/1e6, base[k].Heap/1e6)
		if m.Topics != base[k].Topics {
			t.Errorf("display %d holds %d hub topics after the switches %v, %d before %v", k, m.Topics, m.Names, base[k].Topics, base[k].Names)
		}
		if m.Nodes > base[k].Nodes+150 { // hot-topic and ticker rows come and go; a leak grows with every switch
			t.Errorf("display %d has %d DOM nodes after the switches, %d before", k, m.Nodes, base[k].Nodes)
		}
		if m.Heap > base[k].Heap+4e6 {
			t.Errorf("display %d heap grew from %.1f MB to %.1f MB over 56 layout switches", k, base[k].Heap/1e6, m.Heap/1e6)
		}
	}
	b.checkConsole()
}
