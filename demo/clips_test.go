package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/wall"
)

// TestDemoWallIsFull: the demo city has at least 32 cameras, and every
// camera set it makes fills every video slot of every layout of every
// wall (any set may be shown on any wall: the tour runs on all of them).
func TestDemoWallIsFull(t *testing.T) {
	cams := city.Cameras()
	if len(cams) < 32 {
		t.Errorf("%d demo cameras, want at least 32", len(cams))
	}
	ids := map[string]bool{}
	for _, c := range cams {
		if ids[c.ID] {
			t.Errorf("camera %s twice", c.ID)
		}
		ids[c.ID] = true
	}
	cfg := config.Default()
	cfg.Demo.Enabled = true
	cfg.Cameras, cfg.Walls.Sets, cfg.Walls.Tours, cfg.Walls.Schedules = nil, nil, nil, nil
	d, err := Apply(&cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(cfg.Walls.Sets) < 5 {
		t.Errorf("%d camera sets, want the demo's five", len(cfg.Walls.Sets))
	}
	for _, w := range cfg.Walls.Walls {
		for _, l := range w.Layouts {
			slots := 0
			for _, tl := range l.Tiles {
				if tl.Kind == wall.KindVideo {
					slots++
				}
			}
			for _, s := range cfg.Walls.Sets {
				if len(s.Cameras) < slots {
					t.Errorf("set %s has %d cameras for the %d video slots of wall %s, layout %s", s.ID, len(s.Cameras), slots, w.ID, l.ID)
				}
			}
		}
	}
}

// TestCameraClips: every demo camera has a clip of its own — 4 s at 15 fps
// that starts on a keyframe and has one a second — no two alike, and all
// of them together small.
func TestCameraClips(t *testing.T) {
	total := 0
	seen := map[[32]byte]string{}
	for _, c := range city.Cameras() {
		clip, err := cameraClip(c.ID)
		if err != nil {
			t.Error(err)
			continue
		}
		b, _ := clipFiles.ReadFile("clips/" + c.ID + ".h264")
		total += len(b)
		if len(clip.Units) != 4*clipFPS {
			t.Errorf("%s: %d access units, want %d", c.ID, len(clip.Units), 4*clipFPS)
		}
		for i, au := range clip.Units {
			key := false
			for _, nal := range au {
				key = key || nal[0]&0x1f == 5
			}
			if key != (i%clipFPS == 0) {
				t.Errorf("%s: access unit %d is a keyframe: %v", c.ID, i, key)
				break
			}
		}
		// The first picture (its keyframe) tells the clips apart.
		var idr []byte
		for _, nal := range clip.Units[0] {
			if nal[0]&0x1f == 5 {
				idr = nal
			}
		}
		sum := sha256.Sum256(idr)
		if other, ok := seen[sum]; ok {
			t.Errorf("cameras %s and %s start on the same picture", other, c.ID)
		}
		seen[sum] = c.ID
	}
	entries, err := clipFiles.ReadDir("clips")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(city.Cameras()) {
		t.Errorf("%d clips for %d cameras: a clip of a camera that is gone?", len(entries), len(city.Cameras()))
	}
	t.Logf("%d clips, %d bytes", len(entries), total)
	if total > 3<<20 {
		t.Errorf("the clips take %d bytes, want under 3 MiB", total)
	}
}

// TestDemoCamerasDifferOverRTSP decodes pictures of demo cameras from the
// demo's RTSP server with ffmpeg: two cameras show different pictures, and
// one camera's picture moves from one frame to a later one (a live tile
// is told from a frozen one).
func TestDemoCamerasDifferOverRTSP(t *testing.T) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatal("needs ffmpeg (apt-get install ffmpeg)")
	}
	cfg := config.Default()
	cfg.Demo.Enabled = true
	cfg.Cameras = nil
	d, err := Apply(&cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	url := map[string]string{}
	for _, c := range cfg.Cameras {
		url[c.ID] = c.Main
	}
	// frames decodes frame 0 and frame 10 of a camera's stream, scaled to
	// 32×18 grey.
	const w, h = 32, 18
	frames := func(id string) ([]byte, []byte) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error",
			"-rtsp_transport", "tcp", "-i", url[id],
			"-vf", fmt.Sprintf("select='eq(n,0)+eq(n,10)',scale=%d:%d", w, h), "-fps_mode", "passthrough",
			"-frames:v", "2", "-f", "rawvideo", "-pix_fmt", "gray", "-")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || len(out) != 2*w*h {
			t.Fatalf("decode %s (%s): %v, %d bytes: %s", id, url[id], err, len(out), stderr.Bytes())
		}
		return out[:w*h], out[w*h:]
	}
	diff := func(a, b []byte) float64 {
		s := 0.0
		for i := range a {
			s += math.Abs(float64(a[i]) - float64(b[i]))
		}
		return s / float64(len(a))
	}
	gate, gateLater := frames("school-longhua-1")
	road, _ := frames("road-binhai")
	if dd := diff(gate, road); dd < 4 {
		t.Errorf("two cameras' pictures differ by %.1f grey levels a pixel, want them told apart", dd)
	}
	if dd := diff(gate, gateLater); dd < 0.5 {
		t.Errorf("a camera's picture changed by %.2f grey levels a pixel over 10 frames: it does not move", dd)
	}
	t.Logf("school-longhua-1 vs road-binhai: %.1f; school-longhua-1 frame 0 vs 10: %.2f", diff(gate, road), diff(gate, gateLater))
}
