package relay_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/stream/relay"
)

// wait bounds every wait, so a camera that never plays fails the test.
const wait = 15 * time.Second

type syncBuffer = testkit.SyncBuffer

// rig is a relay in front of one test camera.
type rig struct {
	t    testing.TB
	cam  *democam.Server
	r    *relay.Relay
	reg  *prometheus.Registry
	logs *syncBuffer
}

// startCamera starts an RTSP camera on loopback (on addr when it is set:
// a camera coming back where it was).
func startCamera(t testing.TB, o democam.Options) *democam.Server {
	t.Helper()
	var s *democam.Server
	var err error
	for range 50 { // the port of a camera just closed may take a moment
		s, err = democam.Start(o)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("start camera: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func newRig(t testing.TB, co democam.Options, edit func(*relay.Camera, *relay.Options)) *rig {
	t.Helper()
	cam := startCamera(t, co)
	rc := relay.Camera{ID: "cam-1", Main: cam.URL("main")}
	o := relay.Options{StallTimeout: time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 400 * time.Millisecond, IdleTimeout: 300 * time.Millisecond,
		CheckInterval: -1} // TestCheck turns checks on
	if edit != nil {
		edit(&rc, &o)
	}
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	r, err := relay.New([]relay.Camera{rc}, o, reg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("relay.New: %v", err)
	}
	r.Run()
	t.Cleanup(r.Close)
	return &rig{t: t, cam: cam, r: r, reg: reg, logs: logs}
}

// reader follows one viewer in its own goroutine, like a WebSocket writer.
type reader struct {
	v      *relay.Viewer
	mu     sync.Mutex
	items  []relay.Item
	frags  int
	keys   int
	audio  int
	states []relay.State
	first  time.Duration // join to first fragment
	start  time.Time
	done   chan struct{}
	cancel context.CancelFunc
}

func watch(t testing.TB, r *relay.Relay, id, stream string, audio bool) *reader {
	t.Helper()
	v, err := r.Watch(id, stream, audio)
	if err != nil {
		t.Fatalf("watch %s: %v", id, err)
	}
	return follow(t, v)
}

// follow reads a viewer in its own goroutine.
func follow(t testing.TB, v *relay.Viewer) *reader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rd := &reader{v: v, start: time.Now(), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(rd.done)
		for {
			it, err := v.Next(ctx)
			if err != nil {
				return
			}
			rd.mu.Lock()
			rd.items = append(rd.items, it)
			switch it.Kind {
			case relay.KindFragment:
				if rd.frags == 0 && rd.audio == 0 {
					rd.first = time.Since(rd.start)
				}
				if it.Fragment.Audio {
					rd.audio++
				} else {
					rd.frags++
				}
				if it.Fragment.Key {
					rd.keys++
				}
			case relay.KindState:
				rd.states = append(rd.states, it.Status.State)
			}
			rd.mu.Unlock()
			v.Sent(it, 1)
		}
	}()
	t.Cleanup(rd.stop)
	return rd
}

// firstState waits for the first state the viewer is told.
func (rd *reader) firstState(t testing.TB) relay.State {
	t.Helper()
	var st relay.State
	eventually(t, "a state", func() bool {
		rd.mu.Lock()
		defer rd.mu.Unlock()
		if len(rd.states) > 0 {
			st = rd.states[0]
		}
		return len(rd.states) > 0
	})
	return st
}

func (rd *reader) stop() {
	rd.cancel()
	rd.v.Close()
	<-rd.done
}

func (rd *reader) count() (frags, keys int) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.frags, rd.keys
}

func (rd *reader) snapshot() []relay.Item {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return append([]relay.Item(nil), rd.items...)
}

// eventually polls cond until it holds or wait passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, wait, 20*time.Millisecond, cond)
}

func (g *rig) state() relay.State {
	st, _ := g.r.CameraStatus("cam-1")
	return st.State
}

// family gathers the relay's metrics and returns the samples of one
// metric (none when it has none yet).
func (g *rig) family(name string) []*dto.Metric {
	g.t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		g.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

// metric reads one sample of the relay's metrics for cam-1.
func (g *rig) metric(name string) float64 {
	g.t.Helper()
	for _, m := range g.family(name) {
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// checks reads citywall_video_checks_total for result (ok or failed).
func (g *rig) checks(result string) float64 {
	g.t.Helper()
	for _, m := range g.family("citywall_video_checks_total") {
		for _, l := range m.GetLabel() {
			if l.GetName() == "result" && l.GetValue() == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// exposition is the whole metrics page as /metrics would serve it.
func (g *rig) exposition() string {
	mfs, err := g.reg.Gather()
	if err != nil {
		g.t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(&b, mf)
	}
	return b.String()
}

func statusJSON(t testing.TB, r *relay.Relay) string {
	b, err := json.Marshal(r.Status())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ffmpegClip encodes a short test pattern with ffmpeg: codec "h264" or
// "h265". ffmpeg is one of the tools the tests need.
func ffmpegClip(t testing.TB, codec string, size string) *democam.Clip {
	t.Helper()
	return ffmpegClipWith(t, codec, "testsrc2=size="+size+":rate=25:duration=2", "")
}

// ffmpegClipWith encodes source (a lavfi graph) with extra encoder
// parameters.
func ffmpegClipWith(t testing.TB, codec, source, extra string) *democam.Clip {
	t.Helper()
	dc := democam.H264
	if codec == "h265" {
		dc = democam.H265
	}
	clip, err := democam.ParseClip(testkit.EncodeClip(t, codec, source, extra), dc, 25)
	if err != nil {
		t.Fatalf("parse %s clip: %v", codec, err)
	}
	return clip
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

var (
	_ = errors.New
	_ = fmt.Sprint
	_ = strings.Contains
)

// histogram reads a histogram of the relay's metrics: how many samples it
// has and how many of them lie above le (which must be one of its bucket
// bounds).
func (g *rig) histogram(name string, le float64) (count, above uint64) {
	g.t.Helper()
	ms := g.family(name)
	if len(ms) == 0 {
		g.t.Fatalf("no metric %s", name)
	}
	h := ms[0].GetHistogram()
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == le {
			return h.GetSampleCount(), h.GetSampleCount() - b.GetCumulativeCount()
		}
	}
	g.t.Fatalf("%s has no bucket le=%v", name, le)
	return 0, 0
}
