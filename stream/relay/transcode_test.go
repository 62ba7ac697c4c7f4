package relay_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/stream/relay"
)

// ffmpegChildren lists the ffmpeg processes this test process started.
func ffmpegChildren(t testing.TB) []int {
	t.Helper()
	me := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		open, shut := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || shut < open || s[open+1:shut] != "ffmpeg" {
			continue
		}
		fields := strings.Fields(s[shut+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == me {
			pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			pids = append(pids, pid)
		}
	}
	return pids
}

// txRig is a relay in front of H.265 cameras, with transcodes.
type txRig struct {
	rig
	cams map[string]*democam.Server
}

// newTxRig starts one H.265 camera per id (and, for ids in withSub, an
// H.264 sub stream on a camera of its own) and a relay over them.
func newTxRig(t *testing.T, ids []string, withSub map[string]bool, edit func(*relay.Options)) *txRig {
	t.Helper()
	hevc := ffmpegClip(t, "h265", "320x180")
	g := &txRig{cams: map[string]*democam.Server{}}
	var rcs []relay.Camera
	for _, id := range ids {
		cam := startCamera(t, democam.Options{Clip: hevc})
		g.cams[id] = cam
		rc := relay.Camera{ID: id, Main: cam.URL("main")}
		if withSub[id] {
			sub := startCamera(t, democam.Options{})
			g.cams[id+"/sub"] = sub
			rc.Sub = sub.URL("sub")
		}
		rcs = append(rcs, rc)
	}
	o := relay.Options{StallTimeout: time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 400 * time.Millisecond,
		IdleTimeout: 300 * time.Millisecond, CheckInterval: -1}
	if edit != nil {
		edit(&o)
	}
	g.logs = &syncBuffer{}
	g.reg = prometheus.NewRegistry()
	r, err := relay.New(rcs, o, g.reg, slog.New(slog.NewTextHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	r.Run()
	t.Cleanup(r.Close)
	g.t, g.r = t, r
	return g
}

// watchWith is watch for a player that says what it plays.
func watchWith(t testing.TB, r *relay.Relay, id string, decodes ...string) *reader {
	t.Helper()
	v, err := r.WatchWith(id, relay.WatchOptions{Decodes: decodes})
	if err != nil {
		t.Fatal(err)
	}
	return follow(t, v)
}

// header is the viewer's first header.
func (rd *reader) header() *relay.Header {
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindHeader {
			return it.Header
		}
	}
	return nil
}

// TestTranscode: a player without H.265 gets the H.265 camera as H.264
// made by one ffmpeg, starting at a keyframe, its frames on the camera's
// timeline; a player with H.265 gets the camera's own bytes; ten players
// without share the one ffmpeg, which stops with the last of them.
func TestTranscode(t *testing.T) {
	g := newTxRig(t, []string{"cam-1"}, nil, nil)
	plain := watchWith(t, g.r, "cam-1", "H.264")
	eventually(t, "transcoded frames", func() bool { f, _ := plain.count(); return f >= 50 })
	h := plain.header()
	if h.Video != "H.264" || h.From != "H.265" || !strings.HasPrefix(h.Codec, "avc1.") || !bytes.Contains(h.Init, []byte("avcC")) {
		t.Fatalf("header %s %s from %q", h.Video, h.Codec, h.From)
	}
	var next uint64
	n := 0
	var mp4 []byte // what the viewer got, as one file
	for _, it := range plain.snapshot() {
		switch it.Kind {
		case relay.KindHeader:
			mp4 = append(mp4, it.Header.Init...)
		case relay.KindFragment:
			mp4 = append(mp4, it.Fragment.Data...)
		}
		if it.Kind != relay.KindFragment {
			continue
		}
		f := it.Fragment
		if n == 0 && !f.Key {
			t.Error("the first transcoded frame is not a keyframe")
		}
		if n > 0 && f.DTS != next {
			t.Fatalf("transcoded frame %d starts at %d, previous ended at %d", n, f.DTS, next)
		}
		next = f.DTS + uint64(f.Dur)
		n++
	}
	// ffmpeg decodes every frame of it, without a complaint.
	file := filepath.Join(t.TempDir(), "transcoded.mp4")
	if err := os.WriteFile(file, mp4, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,nb_read_frames", "-of", "csv=p=0", file).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("h264,%d", n) {
		t.Errorf("ffprobe of the transcoded stream: %q (%v), want h264,%d", out, err, n)
	}

	hevc := watchWith(t, g.r, "cam-1", "H.264", "H.265")
	direct := watch(t, g.r, "cam-1", "main", false) // an older player that does not say
	eventually(t, "original frames", func() bool {
		a, _ := hevc.count()
		b, _ := direct.count()
		return a >= 10 && b >= 10
	})
	for _, rd := range []*reader{hevc, direct} {
		if h := rd.header(); h.Video != "H.265" || h.From != "" {
			t.Errorf("a player with H.265 got %s from %q", h.Video, h.From)
		}
	}
	// The same fragments, byte for byte: the camera's own.
	same := map[*relay.Fragment]bool{}
	for _, it := range direct.snapshot() {
		if it.Kind == relay.KindFragment {
			same[it.Fragment] = true
		}
	}
	shared := 0
	for _, it := range hevc.snapshot() {
		if it.Kind == relay.KindFragment && same[it.Fragment] {
			shared++
		}
	}
	if shared < 5 {
		t.Errorf("the H.265 player shares %d fragments with a plain one, want the camera's own", shared)
	}

	var many []*reader
	for range 10 {
		many = append(many, watchWith(t, g.r, "cam-1", "H.264"))
	}
	eventually(t, "ten more transcoded viewers playing", func() bool {
		for _, rd := range many {
			if f, _ := rd.count(); f < 10 {
				return false
			}
		}
		return true
	})
	if pids := ffmpegChildren(t); len(pids) != 1 || g.metric("citywall_video_transcodes") != 1 {
		t.Errorf("%d ffmpeg running (gauge %v), want one for eleven viewers", len(pids), g.metric("citywall_video_transcodes"))
	}
	st, _ := g.r.CameraStatus("cam-1")
	if st.Main.Transcoded != 11 || g.cams["cam-1"].Readers() != 1 {
		t.Errorf("status: %d transcoded viewers, %d camera sessions; want 11 and 1", st.Main.Transcoded, g.cams["cam-1"].Readers())
	}
	plain.stop()
	for _, rd := range many {
		rd.stop()
	}
	eventually(t, "ffmpeg gone with the last viewer", func() bool {
		return len(ffmpegChildren(t)) == 0 && g.metric("citywall_video_transcodes") == 0
	})
	if f, _ := hevc.count(); f == 0 {
		t.Error("the H.265 player stopped")
	}
}

// TestTranscodeCap: past video.max_transcodes a viewer of a camera with a
// sub stream moves to it; one of a camera without is told why it has no
// picture, and is served once a transcode is free.
func TestTranscodeCap(t *testing.T) {
	g := newTxRig(t, []string{"a", "b", "c"}, map[string]bool{"b": true}, func(o *relay.Options) { o.MaxTranscodes = 1 })
	a := watchWith(t, g.r, "a", "H.264")
	eventually(t, "a transcoded", func() bool { f, _ := a.count(); return f >= 5 })

	b := watchWith(t, g.r, "b", "H.264")
	eventually(t, "b on its sub stream", func() bool { f, _ := b.count(); return f >= 5 })
	if h := b.header(); h.Video != "H.264" || h.From != "" {
		t.Errorf("b: header %s from %q, want the sub stream's own H.264", h.Video, h.From)
	}
	st, _ := g.r.CameraStatus("b")
	if st.Main.Viewers != 0 || st.Sub.Viewers != 1 {
		t.Errorf("b: %d viewers on main, %d on sub; want 0 and 1", st.Main.Viewers, st.Sub.Viewers)
	}

	c := watchWith(t, g.r, "c", "H.264")
	var why string
	eventually(t, "c told why", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, it := range c.items {
			if it.Kind == relay.KindState && it.Status.State == relay.Unsupported {
				why = it.Status.Reason
				return true
			}
		}
		return false
	})
	if !strings.Contains(why, "video.max_transcodes") {
		t.Errorf("c: reason %q does not name video.max_transcodes", why)
	}
	if f, _ := c.count(); f != 0 || len(ffmpegChildren(t)) != 1 {
		t.Errorf("c: %d frames with %d ffmpeg running; want none past the cap", f, len(ffmpegChildren(t)))
	}
	refused := 0.0
	for _, m := range g.family("citywall_video_transcode_refused_total") {
		refused += m.GetCounter().GetValue()
	}
	if refused != 2 {
		t.Errorf("%v refusals counted, want 2 (b moved, c told)", refused)
	}
	a.stop()
	eventually(t, "c transcoded once a's transcode stopped", func() bool { f, _ := c.count(); return f >= 5 })
	if h := c.header(); h.From != "H.265" {
		t.Errorf("c: header from %q", h.From)
	}
}

// TestTranscodeRestarts: an ffmpeg that dies is started again and
// counted; its viewer plays on without reconnecting.
func TestTranscodeRestarts(t *testing.T) {
	g := newTxRig(t, []string{"cam-1"}, nil, nil)
	rd := watchWith(t, g.r, "cam-1", "H.264")
	eventually(t, "transcoded frames", func() bool { f, _ := rd.count(); return f >= 10 })
	pids := ffmpegChildren(t)
	if len(pids) != 1 {
		t.Fatalf("%d ffmpeg", len(pids))
	}
	if err := syscall.Kill(pids[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "restart counted", func() bool { return g.metric("citywall_video_transcode_restarts_total") == 1 })
	f0, _ := rd.count()
	eventually(t, "frames again", func() bool { f, _ := rd.count(); return f >= f0+25 })
	if now := ffmpegChildren(t); len(now) != 1 || now[0] == pids[0] {
		t.Errorf("ffmpeg after the crash: %v (was %v)", now, pids)
	}
}
