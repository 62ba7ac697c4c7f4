package app_test

import (
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/internal/testkit"
)

// tileStatus is what a video tile of the camera page shows.
type tileStatus struct {
	State       string             `json:"state"`       // the tile's data-state
	Text        string             `json:"text"`        // every word in the tile
	Frames      int                `json:"frames"`      // frames presented (requestVideoFrameCallback)
	Decoded     int                `json:"decoded"`     // getVideoPlaybackQuality().totalVideoFrames
	CurrentTime float64            `json:"currentTime"` // video.currentTime
	FirstFrame  float64            `json:"firstFrame"`  // ms from connecting to the first frame presented
	ReadyState  int                `json:"readyState"`
	Marks       map[string]float64 `json:"marks"` // ms from connecting to each step of the start
}

const tilesProbe = `(() => (window.citywallTiles || []).map((tile) => {
  const v = tile.player.video;
  const box = v.parentElement;
  const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {totalVideoFrames: 0};
  return {
    state: box.dataset.state || '',
    text: box.innerText,
    frames: tile.player.frames,
    decoded: q.totalVideoFrames,
    currentTime: v.currentTime,
    firstFrame: tile.player.firstFrameAt,
    readyState: v.readyState,
    marks: tile.player.marks,
  };
}))()`

// h265Camera starts an RTSP camera that sends H.265 (made with ffmpeg).
func h265Camera(t *testing.T) *democam.Server {
	t.Helper()
	clip, err := democam.ParseClip(testkit.EncodeClip(t, "h265", "testsrc2=size=320x180:rate=25:duration=2", ""), democam.H265, 25)
	if err != nil {
		t.Fatal(err)
	}
	cam, err := democam.Start(democam.Options{Clip: clip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	return cam
}

// waitLive waits until a camera is live, as /metrics says.
func (s *server) waitLive(camera string) {
	s.t.Helper()
	eventually(s.t, camera+" live", func() bool {
		_, _, b := s.do("GET", "/metrics", s.tokens[config.RoleAdmin], "", nil)
		return strings.Contains(string(b), `citywall_video_state{camera="`+camera+`"} 2`)
	})
}

// TestVideoInBrowser opens the camera page in headless Chromium: an H.264
// tile plays (currentTime advances, frames are decoded and presented), a
// second viewer of the running camera shows its first frame at once,
// update() switches camera in place, destroy() lets the server see the
// viewer go, and an H.265 camera that is never transcoded has a tile that
// says this browser cannot play it and suggests the sub stream.
func TestVideoInBrowser(t *testing.T) {
	h264, err := democam.Start(democam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h264.Close)
	h265 := h265Camera(t)
	s := startServer(t, func(c *config.Config) {
		c.Cameras = []config.Camera{
			{ID: "gate", Name: "校门", NameEn: "School gate", Lat: 20.02, Lng: 110.34, Main: h264.URL("gate"), AlwaysOn: true},
			{ID: "road", Name: "路口", NameEn: "Junction", Lat: 20.03, Lng: 110.33, Main: h264.URL("road")},
			{ID: "hevc", Name: "水库", NameEn: "Reservoir", Lat: 20.01, Lng: 110.30, Main: h265.URL("hevc"), Sub: h264.URL("hevc-sub"),
				Transcode: "never"}, // TestTranscodeInBrowser plays it through ffmpeg
		}
		// Long enough for a player to see its picture freeze before the
		// relay calls the camera stalled.
		c.Video.StallTimeout = 20 * time.Second
	})

	b := startBrowser(t, 60*time.Second, 1600, 900, chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	bctx := b.ctx

	mse, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`MediaSource.isTypeSupported('video/mp4; codecs="avc1.42E01E"')`))
	if err != nil || !mse {
		t.Fatalf("this Chromium cannot play H.264 in MSE (%v): the video wall needs it", err)
	}
	// The camera "gate" is always on: by the time the page opens it is
	// running, and its tile must start from the cached keyframe at once.
	s.waitLive("gate")
	page := s.url + "/camera?token=" + url.QueryEscape(s.tokens[config.RoleWall]) + "&camera=gate,hevc&lang=en"
	if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open the camera page: %v", err)
	}
	probe := func() []tileStatus {
		st, err := chromedp.Run(bctx, chromedp.Evaluate[[]tileStatus](tilesProbe))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st
	}
	st, _ := evalUntil(t, bctx, "read the page", tilesProbe, 20*time.Second, 200*time.Millisecond, func(st []tileStatus) bool {
		return len(st) == 2 && st[0].Frames >= 50 && st[0].CurrentTime > 1.5 && st[1].State == "nosupport"
	})
	t.Logf("tiles: %+v", st)
	if len(st) != 2 {
		t.Fatalf("%d tiles, want 2", len(st))
	}
	gate := st[0]
	if gate.State != "live" || gate.Frames < 50 || gate.Decoded < 50 || gate.CurrentTime < 1.5 {
		t.Errorf("the H.264 tile does not play: %+v", gate)
	}
	// currentTime keeps moving.
	time.Sleep(time.Second)
	later := probe()[0]
	if later.CurrentTime-gate.CurrentTime < 0.5 || later.Frames <= gate.Frames {
		t.Errorf("currentTime %.2f → %.2f, frames %d → %d over a second", gate.CurrentTime, later.CurrentTime, gate.Frames, later.Frames)
	}
	if gate.FirstFrame <= 0 || gate.FirstFrame > 3000 { // the ≤ 500 ms target is measured in BENCHMARKS.md; under -race and a loaded machine this only catches a tile that waits for the next keyframe or worse
		t.Errorf("first frame of a running camera after %.0f ms", gate.FirstFrame)
	}
	t.Logf("time to first frame of a running camera in Chromium: %.0f ms (steps: %v)", gate.FirstFrame, gate.Marks)
	hevc := st[1]
	if hevc.State != "nosupport" || !strings.Contains(hevc.Text, "H.265") || !strings.Contains(hevc.Text, "sub stream") {
		t.Errorf("the H.265 tile does not say why it cannot play: %+v", hevc)
	}

	// update() switches the first tile to another camera in place, and the
	// H.265 camera's tile to its sub stream (H.264), which plays.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](`(window.citywallTiles[0].update({camera: 'road'}), window.citywallTiles[1].update({stream: 'sub'}), true)`)); err != nil {
		t.Fatal(err)
	}
	st, _ = evalUntil(t, bctx, "read the page", tilesProbe, 20*time.Second, 200*time.Millisecond, func(st []tileStatus) bool {
		return strings.Contains(st[0].Text, "Junction") && st[0].State == "live" && st[1].State == "live" && st[1].Frames > 10
	})
	if !strings.Contains(st[0].Text, "Junction") || st[0].State != "live" {
		t.Errorf("update({camera}) did not switch: %+v", st[0])
	}
	if st[1].State != "live" {
		t.Errorf("the sub stream of the H.265 camera does not play: %+v", st[1])
	}
	viewers := func(camera string) float64 {
		n, _ := metric(t, s.reg, "citywall_video_viewers", map[string]string{"camera": camera})
		return n
	}
	eventually(t, "viewers moved to road", func() bool { return viewers("road") == 1 && viewers("gate") == 0 })

	screenshot(t, bctx, "video-tiles.png")

	// A tile mounted on a page that is already up (as a wall swapping a
	// slot) on a running camera: the time to its first frame.
	const mountProbe = `(async () => {
  const m = await import('/js/widgets/video.js');
  const div = document.createElement('div');
  div.style.width = '480px'; div.style.height = '270px';
  div.style.position = 'fixed'; div.style.left = '0'; div.style.bottom = '0';
  document.body.append(div);
  const tile = m.mount(div, {lang: 'en', opts: {camera: 'gate'}});
  const t0 = performance.now();
  while (!tile.player.firstFrameAt && performance.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 20));
  const out = {ms: tile.player.firstFrameAt, marks: tile.player.marks};
  tile.destroy();
  div.remove();
  return out;
})()`
	var firsts []float64
	for range 5 {
		type probeResult struct {
			MS    float64            `json:"ms"`
			Marks map[string]float64 `json:"marks"`
		}
		res, err := chromedp.Run(bctx, chromedp.Evaluate[probeResult](mountProbe, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("mount a tile: %v", err)
		}
		if res.MS <= 0 {
			t.Errorf("a tile mounted on a running camera showed no frame in 10 s")
		}
		firsts = append(firsts, res.MS)
		t.Logf("mounted tile: first frame after %.0f ms (steps %v)", res.MS, res.Marks)
		time.Sleep(300 * time.Millisecond)
	}
	sort.Float64s(firsts)
	t.Logf("time to first frame of a tile mounted on a running camera: median %.0f ms, max %.0f ms", firsts[len(firsts)/2], firsts[len(firsts)-1])

	// The camera stops sending but keeps its session: the players' pictures
	// stop moving while the stream is connected and live, and they report
	// a frozen tile, which the server counts; when it moves again they say
	// so.
	h264.Pause()
	frozen := func(camera string) float64 {
		n, _ := metric(t, s.reg, "citywall_video_frozen_reports_total", map[string]string{"camera": camera})
		return n
	}
	eventually(t, "frozen reported", func() bool { return frozen("road") >= 1 })
	if st = probe(); st[0].State != "frozen" || !strings.Contains(st[0].Text, "frozen") {
		t.Errorf("the tile does not show it is frozen: %+v", st[0])
	}
	h264.Resume()
	st, _ = evalUntil(t, bctx, "read the page", tilesProbe, 20*time.Second, 200*time.Millisecond, func(st []tileStatus) bool {
		return st[0].State == "live"
	})
	if st[0].State != "live" {
		t.Errorf("the tile did not recover: %+v", st[0])
	}

	// destroy() closes the socket: the server sees the viewers go.
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[any](`(window.citywallTiles.forEach((t) => t.destroy()), true)`)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "no viewer left", func() bool { return viewers("road") == 0 && viewers("hevc") == 0 })

	b.checkConsole()
}

// TestTranscodeInBrowser: Debian's Chromium has no H.265 in Media Source
// Extensions; its tile of an H.265 camera plays H.264 made from it by
// ffmpeg (frames presented, currentTime advancing), a second tile shares
// the running transcode, and the camera has one session.
func TestTranscodeInBrowser(t *testing.T) {
	h265 := h265Camera(t)
	s := startServer(t, func(c *config.Config) {
		c.Cameras = []config.Camera{{ID: "hevc", Name: "水库", NameEn: "Reservoir", Lat: 20.01, Lng: 110.30, Main: h265.URL("hevc"), AlwaysOn: true}}
	})
	b := startBrowser(t, 60*time.Second, 1280, 720, chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	bctx := b.ctx
	hevc, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`MediaSource.isTypeSupported('video/mp4; codecs="hvc1.1.6.L93.B0"')`))
	if err != nil || hevc {
		t.Fatalf("this Chromium plays H.265 in MSE (%v, %v): the test needs one that does not", hevc, err)
	}
	s.waitLive("hevc")
	page := s.url + "/camera?token=" + url.QueryEscape(s.tokens[config.RoleWall]) + "&camera=hevc,hevc&lang=en"
	if err := chromedp.Do(bctx, chromedp.Navigate(page)); err != nil {
		t.Fatalf("open the camera page: %v", err)
	}
	st, _ := evalUntil(t, bctx, "read the page", tilesProbe, 30*time.Second, 200*time.Millisecond, func(st []tileStatus) bool {
		return len(st) == 2 && st[0].Frames >= 50 && st[0].CurrentTime > 1.5 && st[1].Frames >= 50
	})
	if len(st) != 2 {
		t.Fatalf("%d tiles, want 2", len(st))
	}
	for i, tile := range st {
		if tile.State != "live" || tile.Frames < 50 || tile.Decoded < 50 || tile.CurrentTime < 1.5 {
			t.Errorf("tile %d does not play the transcoded camera: %+v", i, tile)
		}
	}
	time.Sleep(time.Second)
	later, _ := chromedp.Run(bctx, chromedp.Evaluate[[]tileStatus](tilesProbe))
	if len(later) != 2 || later[0].CurrentTime <= st[0].CurrentTime || later[0].Frames <= st[0].Frames {
		t.Errorf("currentTime does not advance: %+v → %+v", st, later)
	}
	from, err := chromedp.Run(bctx, chromedp.Evaluate[string](`window.citywallTiles[0].player.codec.transcoded_from || ''`))
	if err != nil || from != "H.265" {
		t.Errorf("the codec message says transcoded from %q (%v)", from, err)
	}
	n, _ := metric(t, s.reg, "citywall_video_transcodes", nil)
	if n != 1 || h265.Readers() != 1 {
		t.Errorf("%v transcodes and %d camera sessions for two tiles, want 1 and 1", n, h265.Readers())
	}
	t.Logf("first frame of a transcoded tile in Chromium: %.0f ms and %.0f ms from socket open (steps %v)", st[0].FirstFrame, st[1].FirstFrame, st[0].Marks)
	screenshot(t, bctx, "video-transcoded.png")
}
