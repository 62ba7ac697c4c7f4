package relay_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/stream/relay"
)

// TestPlay watches the demo clip: the viewer is told the state, gets the
// header (H.264 codec string and an init segment), then one fragment per
// frame starting at a keyframe, at the camera's 25 fps.
func TestPlay(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "50 frames", func() bool { f, _ := rd.count(); return f >= 50 })
	items := rd.snapshot()
	var h *relay.Header
	var firstFrag *relay.Fragment
	for _, it := range items {
		if it.Kind == relay.KindHeader && h == nil {
			h = it.Header
		}
		if it.Kind == relay.KindFragment && firstFrag == nil {
			if h == nil {
				t.Fatal("a fragment came before the header")
			}
			firstFrag = it.Fragment
		}
	}
	if h.Codec != "avc1.42C01E" || h.Video != "H.264" || h.Width != 640 || h.Height != 360 {
		t.Errorf("header %+v", *h)
	}
	if !bytes.HasPrefix(h.Init[4:], []byte("ftyp")) || !bytes.Contains(h.Init, []byte("avcC")) {
		t.Errorf("init segment does not look like ftyp+moov with avcC")
	}
	if !firstFrag.Key {
		t.Error("the first fragment is not a keyframe")
	}
	if !bytes.Equal(firstFrag.Data[4:8], []byte("moof")) {
		t.Error("a fragment does not start with moof")
	}
	// Decode times follow each other without a gap: each fragment
	// starts where the previous ended.
	var next uint64
	n := 0
	for _, it := range items {
		if it.Kind != relay.KindFragment {
			continue
		}
		d := it.Fragment.Data
		dts := binary.BigEndian.Uint64(d[60:])
		dur := binary.BigEndian.Uint32(d[88:])
		if n > 0 && dts != next {
			t.Fatalf("fragment %d starts at %d, previous ended at %d", n, dts, next)
		}
		if dur < 1800 || dur > 5400 {
			t.Errorf("fragment %d lasts %d ticks, want about 3600 (25 fps)", n, dur)
		}
		next = dts + uint64(dur)
		n++
	}
	if g.state() != relay.Live {
		t.Errorf("state %v, want live", g.state())
	}
	if g.cam.Readers() != 1 {
		t.Errorf("camera has %d sessions, want 1", g.cam.Readers())
	}
	if g.metric("citywall_video_bytes_in_total") == 0 || g.metric("citywall_video_viewers") != 1 {
		t.Errorf("metrics: bytes in %v, viewers %v", g.metric("citywall_video_bytes_in_total"), g.metric("citywall_video_viewers"))
	}
	t.Logf("first fragment after %s (cold start: dial + first keyframe)", rd.first)
}

// TestInstantStart: a viewer joining a running camera gets the current
// group of pictures at once, starting at its keyframe, without waiting
// for the camera's next keyframe.
func TestInstantStart(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	first := watch(t, g.r, "cam-1", "", false)
	eventually(t, "live", func() bool { f, _ := first.count(); return f >= 40 })
	for i := range 5 {
		time.Sleep(130 * time.Millisecond) // land in the middle of a group
		rd := watch(t, g.r, "cam-1", "main", false)
		eventually(t, "first frame", func() bool { f, _ := rd.count(); return f >= 1 })
		items := rd.snapshot()
		// At once: well before the camera's next keyframe (a second).
		if rd.first > 500*time.Millisecond {
			t.Errorf("viewer %d: first fragment after %s, want at once", i, rd.first)
		}
		for _, it := range items {
			if it.Kind == relay.KindFragment {
				if !it.Fragment.Key {
					t.Errorf("viewer %d starts on a non-keyframe", i)
				}
				break
			}
		}
		t.Logf("viewer %d: first fragment after %s", i, rd.first)
		rd.stop()
	}
}

// TestLatencyMeansLiveFrames: citywall_video_relay_latency_seconds is
// "frame in from the camera → written to a viewer" for live frames only.
// A viewer joining a camera whose session ended a while ago is handed the
// cached group of pictures at once; those frames are seconds old, and
// their age goes to citywall_video_replay_age_seconds instead (before,
// they made the latency's samples above 1 s).
func TestLatencyMeansLiveFrames(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	first := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "live", func() bool { f, _ := first.count(); return f >= 30 })
	first.stop()
	eventually(t, "idle", func() bool { return g.state() == relay.Idle })
	time.Sleep(1200 * time.Millisecond) // the cached frames grow older than 1 s

	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "live frames after the replay", func() bool { f, _ := rd.count(); return f >= 40 })
	rd.stop()
	replayed := 0
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindFragment && it.Replay {
			replayed++
		}
	}
	if replayed == 0 {
		t.Fatal("the joining viewer got no cached frame: the test proves nothing")
	}
	n, slow := g.histogram("citywall_video_relay_latency_seconds", 1)
	if n == 0 || slow != 0 {
		t.Errorf("relay latency: %d samples, %d above 1 s; want live frames only, none that old", n, slow)
	}
	rn, old := g.histogram("citywall_video_replay_age_seconds", 1)
	if rn != uint64(replayed) || old != uint64(replayed) {
		t.Errorf("replay age: %d samples (%d above 1 s), want the %d replayed frames, all above 1 s", rn, old, replayed)
	}
	t.Logf("%d live frames in the latency, %d replayed frames in the replay age", n, replayed)
}

// TestReconnect: the camera goes away (its server closes) and comes back
// on the same address; the relay reports it offline, retries with backoff,
// and the viewer plays on without reconnecting itself.
func TestReconnect(t *testing.T) {
	addr := freeAddr(t)
	g := newRig(t, democam.Options{Addr: addr}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "live", func() bool { return g.state() == relay.Live })
	g.cam.Close()
	eventually(t, "offline", func() bool { return g.state() == relay.Offline })
	st, _ := g.r.CameraStatus("cam-1")
	if st.Reason == "" {
		t.Error("offline without a reason")
	}
	t.Logf("offline: %s", st.Reason)
	time.Sleep(time.Second) // a few failed attempts
	before, _ := rd.count()
	startCamera(t, democam.Options{Addr: addr})
	eventually(t, "live again", func() bool { return g.state() == relay.Live })
	eventually(t, "frames again", func() bool { f, _ := rd.count(); return f >= before+25 })
	if n := g.metric("citywall_video_reconnects_total"); n < 2 {
		t.Errorf("reconnects %v, want several", n)
	}
	headers := 0
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindHeader {
			headers++
		}
	}
	if headers != 1 {
		t.Errorf("%d headers: the same stream after a reconnect must not restart the player", headers)
	}
}

// TestStall: the camera keeps its session open but sends nothing: after
// the stall timeout the camera is stalled, the relay reconnects, and it is
// live again when media flows.
func TestStall(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "live", func() bool { return g.state() == relay.Live })
	g.cam.Pause()
	paused := time.Now()
	eventually(t, "stalled", func() bool {
		rd.mu.Lock()
		defer rd.mu.Unlock()
		for _, s := range rd.states {
			if s == relay.Stalled {
				return true
			}
		}
		return false
	})
	took := time.Since(paused)
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("stalled after %s, want about the 1s stall timeout", took)
	}
	g.cam.Resume()
	eventually(t, "live again", func() bool { return g.state() == relay.Live })
	if g.metric("citywall_video_reconnects_total") < 1 {
		t.Error("a stall must reconnect")
	}
}

// TestFiftyViewers: fifty viewers of one camera share one upstream
// session and each gets every frame.
func TestFiftyViewers(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	var rds []*reader
	for range 50 {
		rds = append(rds, watch(t, g.r, "cam-1", "main", false))
	}
	eventually(t, "every viewer 50 frames", func() bool {
		for _, rd := range rds {
			if f, _ := rd.count(); f < 50 {
				return false
			}
		}
		return true
	})
	if n := g.cam.Readers(); n != 1 {
		t.Errorf("%d upstream sessions for 50 viewers, want 1", n)
	}
	if n := g.metric("citywall_video_frames_dropped_total"); n != 0 {
		t.Errorf("%v frames dropped with every viewer reading", n)
	}
	st, _ := g.r.CameraStatus("cam-1")
	if st.Viewers != 50 {
		t.Errorf("status says %d viewers", st.Viewers)
	}
}

// TestViewerThatNeverReads: a viewer that takes nothing fills its queue
// and skips frames; the camera and another viewer are not slowed.
func TestViewerThatNeverReads(t *testing.T) {
	g := newRig(t, democam.Options{}, func(_ *relay.Camera, o *relay.Options) { o.ViewerBytes = 64 << 10 })
	stuck, err := g.r.Watch("cam-1", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	rd := watch(t, g.r, "cam-1", "main", false)
	start := time.Now()
	eventually(t, "100 frames for the reading viewer", func() bool { f, _ := rd.count(); return f >= 100 })
	took := time.Since(start)
	// 100 frames at 25 fps is 4 s of video; a camera held up by the stuck
	// viewer would stop after its first few frames.
	if took > 10*time.Second {
		t.Errorf("the reading viewer needed %s for 100 frames", took)
	}
	if stuck.Dropped() == 0 {
		t.Error("the stuck viewer dropped nothing")
	}
	if g.metric("citywall_video_frames_dropped_total") == 0 {
		t.Error("dropped frames are not counted")
	}
	if g.state() != relay.Live {
		t.Errorf("camera %v", g.state())
	}
	t.Logf("stuck viewer dropped %d frames; the other got 100 in %s", stuck.Dropped(), took)
}

// TestH265 relays an H.265 camera and says so: the header's codec is
// hvc1 and the video family H.265 (the browser decides whether it plays).
func TestH265(t *testing.T) {
	clip := ffmpegClip(t, "h265", "320x180")
	g := newRig(t, democam.Options{Clip: clip}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "frames", func() bool { f, k := rd.count(); return f >= 10 && k >= 1 })
	var h *relay.Header
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindHeader {
			h = it.Header
			break
		}
	}
	if h.Video != "H.265" || !strings.HasPrefix(h.Codec, "hvc1.") || !bytes.Contains(h.Init, []byte("hvcC")) {
		t.Errorf("header %s %s", h.Video, h.Codec)
	}
	st, _ := g.r.CameraStatus("cam-1")
	if !strings.HasPrefix(st.Codec, "hvc1.") {
		t.Errorf("status codec %q", st.Codec)
	}
	// x265 writes a large SEI (its settings) in front of the first
	// keyframe, which comes fragmented and so reaches the relay; it is
	// not a slice and must not make the relay wait for whole pictures
	// (a frame of delay on every frame after it).
	eventually(t, "a loop of the clip", func() bool { f, _ := rd.count(); return f >= 60 })
	if strings.Contains(g.logs.String(), "several slices a picture") {
		t.Error("an SEI put the relay into whole-picture mode (every frame held back one frame)")
	}
	t.Logf("H.265 codec %s, %dx%d", h.Codec, h.Width, h.Height)
}

// TestUnsupported: a camera with no H.264 or H.265 video is reported
// unsupported, with the codecs it has.
func TestUnsupported(t *testing.T) {
	g := newRig(t, democam.Options{NoVideo: true, G711: true}, nil)
	watch(t, g.r, "cam-1", "main", false)
	eventually(t, "unsupported", func() bool { return g.state() == relay.Unsupported })
	st, _ := g.r.CameraStatus("cam-1")
	if !strings.Contains(st.Reason, "PCM") {
		t.Errorf("reason %q does not name the codec", st.Reason)
	}
	t.Logf("reason: %s", st.Reason)
}

// TestAudio: AAC passes through to viewers that ask for audio; G.711 is
// dropped and the video plays on.
func TestAudio(t *testing.T) {
	g := newRig(t, democam.Options{AAC: true}, nil)
	withAudio := watch(t, g.r, "cam-1", "main", true)
	videoOnly := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "audio and video", func() bool {
		withAudio.mu.Lock()
		defer withAudio.mu.Unlock()
		return withAudio.audio >= 20 && withAudio.frags >= 20
	})
	var h *relay.Header
	for _, it := range withAudio.snapshot() {
		if it.Kind == relay.KindHeader {
			h = it.Header
			break
		}
	}
	if !strings.Contains(h.Codec, "mp4a.40.2") || !bytes.Contains(h.Init, []byte("esds")) {
		t.Errorf("audio viewer's header %q has no AAC", h.Codec)
	}
	videoOnly.mu.Lock()
	if videoOnly.audio != 0 {
		t.Errorf("the video-only viewer got %d audio fragments", videoOnly.audio)
	}
	videoOnly.mu.Unlock()

	g711 := newRig(t, democam.Options{G711: true}, nil)
	rd := watch(t, g711.r, "cam-1", "main", true)
	eventually(t, "video with G.711 alongside", func() bool { f, _ := rd.count(); return f >= 25 })
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindHeader && strings.Contains(it.Header.Codec, ",") {
			t.Errorf("G.711 made it into the header: %s", it.Header.Codec)
		}
	}
}

// TestOnDemand: nothing is dialled until someone watches; the upstream
// closes the idle timeout after the last viewer leaves; an always-on
// camera is dialled at once and stays open.
func TestOnDemand(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	time.Sleep(300 * time.Millisecond)
	if g.cam.Readers() != 0 || g.state() != relay.Idle {
		t.Fatalf("dialled without a viewer: %d sessions, %v", g.cam.Readers(), g.state())
	}
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "live", func() bool { return g.state() == relay.Live })
	rd.stop()
	eventually(t, "idle", func() bool { return g.state() == relay.Idle && g.cam.Readers() == 0 })

	on := newRig(t, democam.Options{}, func(c *relay.Camera, _ *relay.Options) { c.AlwaysOn = true })
	eventually(t, "always-on camera live", func() bool { return on.state() == relay.Live })
	time.Sleep(600 * time.Millisecond) // past the idle timeout
	if on.state() != relay.Live || on.cam.Readers() != 1 {
		t.Errorf("always-on camera %v with %d sessions", on.state(), on.cam.Readers())
	}
	// A viewer of a running always-on camera starts at once.
	rd2 := watch(t, on.r, "cam-1", "main", false)
	eventually(t, "frame", func() bool { f, _ := rd2.count(); return f >= 1 })
	t.Logf("first fragment from a running camera after %s", rd2.first)
}

// TestCheck: a camera nobody watches is checked now and then: one that
// answers and sends video stays idle; one that went away shows offline,
// with the reason, before anyone watches it, and idle again once it is
// back. A viewer of a camera known to be down sees it down until it plays.
func TestCheck(t *testing.T) {
	addr := freeAddr(t)
	g := newRig(t, democam.Options{Addr: addr}, func(_ *relay.Camera, o *relay.Options) { o.CheckInterval = 300 * time.Millisecond })
	eventually(t, "a check", func() bool { return g.checks("ok") >= 1 })
	st, _ := g.r.CameraStatus("cam-1")
	if st.State != relay.Idle || st.Checked == nil {
		t.Fatalf("after a good check: %v %q, checked %v", st.State, st.Reason, st.Checked)
	}
	eventually(t, "the check hung up", func() bool { return g.cam.Readers() == 0 })

	g.cam.Close()
	eventually(t, "offline without a viewer", func() bool { return g.state() == relay.Offline })
	st, _ = g.r.CameraStatus("cam-1")
	if !strings.HasPrefix(st.Reason, "check: dial ") || st.Viewers != 0 {
		t.Errorf("offline by a check: %q, %d viewers", st.Reason, st.Viewers)
	}
	// Checks of a camera that is down come every minute at most (here
	// every 300ms): several failed by now.
	eventually(t, "checks failed", func() bool { return g.checks("failed") >= 2 })

	// A viewer of a camera known to be down sees it down, then live.
	rd := watch(t, g.r, "cam-1", "main", false)
	if s := rd.firstState(t); s != relay.Offline {
		t.Errorf("a viewer of a camera known down is first told %v", s)
	}
	back := startCamera(t, democam.Options{Addr: addr})
	eventually(t, "live", func() bool { return g.state() == relay.Live })
	rd.stop()
	eventually(t, "idle after the last viewer", func() bool { return g.state() == relay.Idle && back.Readers() == 0 })

	// Down and back while nobody watches: a check finds it back.
	back.Close()
	eventually(t, "offline again", func() bool { return g.state() == relay.Offline })
	again := startCamera(t, democam.Options{Addr: addr})
	eventually(t, "idle once it answers", func() bool { return g.state() == relay.Idle })
	eventually(t, "the check hung up", func() bool { return again.Readers() == 0 })
}

// TestWatchErrors: unknown cameras and streams are errors that say so.
func TestWatchErrors(t *testing.T) {
	g := newRig(t, democam.Options{}, nil)
	if _, err := g.r.Watch("nope", "main", false); !errors.Is(err, relay.ErrUnknownCamera) {
		t.Errorf("unknown camera: %v", err)
	}
	if _, err := g.r.Watch("cam-1", "side", false); !errors.Is(err, relay.ErrUnknownStream) {
		t.Errorf("unknown stream: %v", err)
	}
	// No sub stream configured: sub serves main.
	rd := watch(t, g.r, "cam-1", "sub", false)
	eventually(t, "frames", func() bool { f, _ := rd.count(); return f >= 5 })
}

// TestCredentialsNeverShown: a camera that needs a password is dialled
// with it; a wrong one makes the camera offline. The password is in no
// log line, no reason, no status and no metric.
func TestCredentialsNeverShown(t *testing.T) {
	const user, pass = "operator", "S3cret-Pa55word"
	g := newRig(t, democam.Options{User: user, Pass: pass}, func(c *relay.Camera, _ *relay.Options) {
		c.Main = strings.Replace(c.Main, "rtsp://", "rtsp://"+user+":"+pass+"@", 1)
		c.Sub = strings.Replace(c.Main, "/main", "/sub", 1)
	})
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "live with credentials in the URL", func() bool { f, _ := rd.count(); return f >= 5 })

	// Separate username and password, and a wrong password.
	bad := newRig(t, democam.Options{User: user, Pass: pass}, func(c *relay.Camera, _ *relay.Options) {
		c.Username, c.Password = user, "Wr0ng-"+pass
	})
	watch(t, bad.r, "cam-1", "main", false)
	eventually(t, "offline", func() bool { return bad.state() == relay.Offline })
	// And a URL that does not even parse the same way.
	_, err := newRelayErr("rtsp://" + user + ":" + pass + "@[::1")
	if err == nil {
		t.Error("a broken URL is accepted")
	}

	var outputs []string
	for _, x := range []*rig{g, bad} {
		outputs = append(outputs, x.logs.String(), x.exposition(), statusJSON(t, x.r))
	}
	outputs = append(outputs, err.Error())
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindState {
			outputs = append(outputs, it.Status.Reason)
		}
	}
	for i, out := range outputs {
		for _, secret := range []string{pass, "Wr0ng-" + pass, user + ":" + pass} {
			if strings.Contains(out, secret) {
				t.Errorf("output %d shows a credential:\n%s", i, out)
			}
		}
	}
	st, _ := bad.r.CameraStatus("cam-1")
	t.Logf("wrong password: %s", st.Reason)
	if !strings.Contains(st.Reason, "password") {
		t.Errorf("the reason does not point at the credentials: %s", st.Reason)
	}
	if !strings.Contains(bad.logs.String(), "xxxxx") && !strings.Contains(bad.logs.String(), "rtsp://127.0.0.1") {
		t.Log("logs:", bad.logs.String())
	}
}

func newRelayErr(url string) (*relay.Relay, error) {
	return relay.New([]relay.Camera{{ID: "x", Main: url}}, relay.Options{}, nil, nil)
}

// TestCloseStopsEverything: Close returns with viewers and an open
// upstream, and a viewer's Next ends.
func TestCloseStopsEverything(t *testing.T) {
	base := runtime.NumGoroutine()
	g := newRig(t, democam.Options{}, nil)
	v, err := g.r.Watch("cam-1", "main", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "live", func() bool { return g.state() == relay.Live })
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if _, err := v.Next(t.Context()); err != nil {
				return
			}
		}
	})
	done := make(chan struct{})
	go func() { g.r.Close(); g.r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("Close hangs")
	}
	wg.Wait()
	if _, err := g.r.Watch("cam-1", "main", false); !errors.Is(err, relay.ErrClosed) {
		t.Errorf("watch after close: %v", err)
	}
	// No goroutine of the relay (vdk's reader included) outlives it.
	g.cam.Close()
	deadline := time.Now().Add(wait)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fragmentNALs counts the NAL units in a video fragment's sample.
func fragmentNALs(t testing.TB, f *relay.Fragment) int {
	moof := binary.BigEndian.Uint32(f.Data)
	s := f.Data[moof+8:]
	n := 0
	for len(s) >= 4 {
		l := int(binary.BigEndian.Uint32(s))
		if l+4 > len(s) {
			t.Fatalf("NAL of %d bytes in a sample of %d", l, len(s))
		}
		s = s[4+l:]
		n++
	}
	return n
}

// TestKeyframeInSTAPA: a camera whose keyframes are small enough to be
// aggregated with the parameter sets into one STAP-A packet (vdk never
// flags those as keyframes) still plays from its keyframes.
func TestKeyframeInSTAPA(t *testing.T) {
	clip := ffmpegClipWith(t, "h264", "color=c=0x3050a0:size=64x64:rate=25:duration=2", "")
	if len(clip.Units[0]) < 3 || len(clip.Units[0][2]) > 1000 {
		t.Fatalf("the test clip's keyframe is not small: %d NALs, %d bytes", len(clip.Units[0]), len(clip.Units[0][len(clip.Units[0])-1]))
	}
	g := newRig(t, democam.Options{Clip: clip}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "frames from two keyframes", func() bool { f, k := rd.count(); return f >= 30 && k >= 2 })
}

// TestSeveralSlicesAPicture: a camera that cuts each picture into four
// slices gets one fragment per picture holding all four.
func TestSeveralSlicesAPicture(t *testing.T) {
	clip := ffmpegClipWith(t, "h264", "testsrc2=size=640x360:rate=25:duration=2", ":slices=4")
	if n := len(clip.Units[1]); n != 4 {
		t.Fatalf("the test clip has %d slices a picture, want 4", n)
	}
	g := newRig(t, democam.Options{Clip: clip}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "50 frames", func() bool { f, _ := rd.count(); return f >= 50 })
	n := 0
	for _, it := range rd.snapshot() {
		if it.Kind != relay.KindFragment {
			continue
		}
		if got := fragmentNALs(t, it.Fragment); got != 4 {
			t.Fatalf("fragment %d holds %d slices, want 4", n, got)
		}
		// One picture: 40 ms at 25 fps, not a quarter of it.
		if dur := binary.BigEndian.Uint32(it.Fragment.Data[88:]); dur < 2700 || dur > 4500 {
			t.Errorf("fragment %d lasts %d ticks, want 3600", n, dur)
		}
		n++
	}
}

// TestParameterSetsInBand: a camera whose SDP has no parameter sets (vdk
// then holds empty codec data) plays once they come in the stream.
func TestParameterSetsInBand(t *testing.T) {
	g := newRig(t, democam.Options{InBand: true}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "frames", func() bool { f, k := rd.count(); return f >= 30 && k >= 1 })
	st, _ := g.r.CameraStatus("cam-1")
	if st.Codec != "avc1.42C01E" {
		t.Errorf("codec %q", st.Codec)
	}
	t.Logf("first fragment after %s", rd.first)
}

// TestRTPClockWraps: a camera whose 32-bit RTP clock wraps a second after
// it is dialled plays on without a jump.
func TestRTPClockWraps(t *testing.T) {
	g := newRig(t, democam.Options{RTPBase: 1<<32 - 90000}, nil)
	rd := watch(t, g.r, "cam-1", "main", false)
	eventually(t, "two seconds of frames", func() bool { f, _ := rd.count(); return f >= 50 })
	if n := g.metric("citywall_video_timestamp_jumps_total"); n != 0 {
		t.Errorf("%v timestamp jumps at the wrap", n)
	}
	var next uint64
	n := 0
	for _, it := range rd.snapshot() {
		if it.Kind != relay.KindFragment {
			continue
		}
		d := it.Fragment.Data
		dts, dur := binary.BigEndian.Uint64(d[60:]), binary.BigEndian.Uint32(d[88:])
		if n > 0 && (dts != next || dur != 3600) {
			t.Fatalf("fragment %d: dts %d (want %d), duration %d", n, dts, next, dur)
		}
		next = dts + uint64(dur)
		n++
	}
}
