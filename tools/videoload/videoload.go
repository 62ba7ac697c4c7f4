// Package videoload is `citywall bench video`: the camera relay under load
// on loopback. The relay (a whole citywall App, cameras always on) runs in
// this process; the cameras (an RTSP server looping a ~4 Mbit/s H.264 clip
// made with ffmpeg) and the viewers (WebSocket clients of /ws/video) run in
// a child process, so the CPU time and memory measured are the relay's.
package videoload

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
)

// Options of a run.
type Options struct {
	Cameras  int
	Viewers  int // per camera
	Duration time.Duration
	Idle     time.Duration // the cameras-only phase
	Probes   int           // time-to-first-frame probes
	Bitrate  string        // of the clip, for ffmpeg (e.g. 4M)
	Size     string        // of the clip
	Clip     string        // an Annex-B H.264 file to use instead of making one
	// Hop runs two instances on a Redis of their own and puts the
	// viewers on the camera's owner, then as many more on the other
	// instance, which reads the camera over /internal/video.
	Hop bool
	Log io.Writer
}

// Report is what a run measured.
type Report struct {
	Cameras        int     `json:"cameras"`
	ViewersPer     int     `json:"viewers_per_camera"`
	Viewers        int     `json:"viewers"`
	StreamMbps     float64 `json:"stream_mbps"`      // measured per camera, camera → relay
	OutMbps        float64 `json:"out_mbps"`         // relay → viewers, all of them
	IdleCPU        float64 `json:"idle_cpu_percent"` // % of one core: cameras only
	LoadCPU        float64 `json:"load_cpu_percent"` // % of one core: cameras and viewers
	PerViewerCPU   float64 `json:"per_viewer_cpu_percent"`
	PerCameraCPU   float64 `json:"per_camera_cpu_percent"`
	IdleRSS        uint64  `json:"idle_rss"`
	LoadRSS        uint64  `json:"load_rss"`
	PerViewerRSS   float64 `json:"per_viewer_rss"`
	Dropped        float64 `json:"frames_dropped"`
	Frames         int64   `json:"frames_received"` // by all viewers in the measured phase
	MuxMean        float64 `json:"mux_mean_ms"`     // packet from camera → fragment queued for every viewer
	MuxP99         float64 `json:"mux_p99_ms"`
	LatencyMean    float64 `json:"latency_mean_ms"` // packet from camera → fragment written
	LatencyP50     float64 `json:"latency_p50_ms"`
	LatencyP99     float64 `json:"latency_p99_ms"`
	FirstFrameP50  float64 `json:"first_frame_p50_ms"` // dial → first keyframe fragment, running camera
	FirstFrameP95  float64 `json:"first_frame_p95_ms"`
	FirstFrameMax  float64 `json:"first_frame_max_ms"`
	Duration       float64 `json:"duration_s"`
	CPUs           int     `json:"cpus"`
	LoadAvg        string  `json:"loadavg"`
	GoVersion      string  `json:"go"`
	ViewerMinFrags int64   `json:"viewer_min_frames"`

	Hop *HopReport `json:"hop,omitempty"` // with Options.Hop, the only part filled
}

// Main runs `citywall bench video`.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench video", flag.ContinueOnError)
	var o Options
	fs.IntVar(&o.Cameras, "cameras", 1, "cameras")
	fs.IntVar(&o.Viewers, "viewers", 100, "viewers of each camera")
	fs.DurationVar(&o.Duration, "duration", 20*time.Second, "measured phase with viewers")
	fs.DurationVar(&o.Idle, "idle", 10*time.Second, "measured phase with the cameras only")
	fs.IntVar(&o.Probes, "probes", 20, "time-to-first-frame probes of a running camera")
	fs.StringVar(&o.Bitrate, "bitrate", "4M", "bitrate of the generated clip")
	fs.StringVar(&o.Size, "size", "1280x720", "picture size of the generated clip")
	fs.StringVar(&o.Clip, "clip", "", "Annex-B H.264 clip (25 fps, access-unit delimiters) instead of generating one with ffmpeg")
	fs.BoolVar(&o.Hop, "hop", false, "two instances on a Redis of their own (redis-server): viewers on the camera's owner, then as many on the other instance, over the instance-to-instance hop")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("q", false, "no progress on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*quiet {
		o.Log = os.Stderr
	}
	rep, err := Run(context.Background(), o)
	if err != nil {
		return fmt.Errorf("bench video: %w", err)
	}
	if rep.Hop != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rep.Hop)
		}
		return rep.Hop.WriteText(stdout)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(stdout)
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, "bench video: "+format+"\n", args...)
	}
}

// makeClip encodes a noisy moving test pattern at the wanted bitrate,
// cached in the temporary directory.
func makeClip(o Options) (string, error) {
	if o.Clip != "" {
		return o.Clip, nil
	}
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		return "", fmt.Errorf("ffmpeg makes the load test's clip: %w (apt-get install ffmpeg, or pass -clip)", err)
	}
	path := filepath.Join(os.TempDir(), fmt.Sprintf("citywall-bench-%s-%s.h264", o.Size, o.Bitrate))
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return path, nil
	}
	o.logf("making a %s %s H.264 clip with ffmpeg", o.Size, o.Bitrate)
	tmp := path + ".tmp"
	cmd := exec.Command(ff, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size="+o.Size+":rate=25:duration=8,noise=alls=12:allf=t",
		"-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p",
		"-b:v", o.Bitrate, "-maxrate", o.Bitrate, "-bufsize", o.Bitrate, "-bf", "0",
		"-x264-params", "keyint=25:min-keyint=25:scenecut=0:aud=1:repeat-headers=1",
		"-f", "h264", tmp)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %w: %s", err, b)
	}
	return path, os.Rename(tmp, path)
}

// Run runs the load test.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Cameras <= 0 || o.Viewers < 0 {
		return nil, errors.New("want at least one camera")
	}
	clip, err := makeClip(o)
	if err != nil {
		return nil, err
	}
	raiseFileLimit()
	cl, err := startClients(ctx, clip)
	if err != nil {
		return nil, err
	}
	defer cl.close()
	next, send := cl.next, cl.send
	if o.Hop {
		return runHop(ctx, o, cl)
	}
	cfg, ids, token := relayConfig(o, cl.camAddr)
	reg := prometheus.NewRegistry()
	app, stopApp, err := startApp(ctx, cfg, reg)
	if err != nil {
		return nil, err
	}
	defer stopApp()
	camAddr := cl.camAddr
	var m map[string]json.RawMessage
	o.logf("relay on %s, %d cameras from %s", app.URL(), o.Cameras, camAddr)
	if err := waitLive(reg, o.Cameras); err != nil {
		return nil, err
	}

	rep := &Report{Cameras: o.Cameras, ViewersPer: o.Viewers, Viewers: o.Cameras * o.Viewers,
		CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	// Phase 1: cameras only.
	o.logf("cameras only for %s", o.Idle)
	in0 := counter(reg, "citywall_video_bytes_in_total")
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(o.Idle)
	idleCPU := cpuTime() - c0
	idleWall := time.Since(t0)
	in1 := counter(reg, "citywall_video_bytes_in_total")
	rep.IdleCPU = pct(idleCPU, idleWall)
	rep.StreamMbps = (in1 - in0) * 8 / idleWall.Seconds() / 1e6 / float64(o.Cameras)
	rep.IdleRSS = rss(true)

	// Phase 2: viewers.
	wsURL := "ws" + strings.TrimPrefix(app.URL(), "http") + "/ws/video/"
	o.logf("%d viewers of each camera", o.Viewers)
	if err := send(map[string]any{"cmd": "watch", "url": wsURL, "token": token, "cameras": ids, "viewers": o.Viewers}); err != nil {
		return nil, err
	}
	if _, err := next("watching"); err != nil {
		return nil, err
	}
	time.Sleep(3 * time.Second)
	if err := send(map[string]any{"cmd": "mark"}); err != nil {
		return nil, err
	}
	if _, err := next("marked"); err != nil {
		return nil, err
	}
	o.logf("measuring for %s", o.Duration)
	out0 := counter(reg, "citywall_video_bytes_out_total")
	drop0 := counter(reg, "citywall_video_frames_dropped_total")
	h0 := histogram(reg, "citywall_video_relay_latency_seconds")
	m0 := histogram(reg, "citywall_video_mux_seconds")
	c1, t1 := cpuTime(), time.Now()
	time.Sleep(o.Duration)
	loadCPU := cpuTime() - c1
	loadWall := time.Since(t1)
	h1 := histogram(reg, "citywall_video_relay_latency_seconds")
	m1 := histogram(reg, "citywall_video_mux_seconds")
	rep.OutMbps = (counter(reg, "citywall_video_bytes_out_total") - out0) * 8 / loadWall.Seconds() / 1e6
	rep.Dropped = counter(reg, "citywall_video_frames_dropped_total") - drop0
	rep.LoadCPU = pct(loadCPU, loadWall)
	rep.LoadRSS = rss(false)
	rep.Duration = loadWall.Seconds()
	if rep.Viewers > 0 {
		rep.PerViewerCPU = (rep.LoadCPU - rep.IdleCPU) / float64(rep.Viewers)
		rep.PerViewerRSS = (float64(rep.LoadRSS) - float64(rep.IdleRSS)) / float64(rep.Viewers)
	}
	rep.PerCameraCPU = rep.IdleCPU / float64(o.Cameras)
	if md := m1.sub(m0); md.count > 0 {
		rep.MuxMean = md.sum / float64(md.count) * 1000
		rep.MuxP99 = md.quantile(0.99) * 1000
	}
	d := h1.sub(h0)
	if d.count > 0 {
		rep.LatencyMean = d.sum / float64(d.count) * 1000
		rep.LatencyP50 = d.quantile(0.5) * 1000
		rep.LatencyP99 = d.quantile(0.99) * 1000
	}
	if err := send(map[string]any{"cmd": "report"}); err != nil {
		return nil, err
	}
	m, err = next("report")
	if err != nil {
		return nil, err
	}
	_ = json.Unmarshal(m["frames"], &rep.Frames)
	_ = json.Unmarshal(m["min_frames"], &rep.ViewerMinFrags)

	// Time to first frame of a running camera, under that load.
	if o.Probes > 0 {
		if err := send(map[string]any{"cmd": "probe", "url": wsURL + ids[0], "token": token, "n": o.Probes}); err != nil {
			return nil, err
		}
		m, err = next("probed")
		if err != nil {
			return nil, err
		}
		var ms []float64
		_ = json.Unmarshal(m["ms"], &ms)
		sort.Float64s(ms)
		if len(ms) > 0 {
			rep.FirstFrameP50 = ms[len(ms)/2]
			rep.FirstFrameP95 = ms[min(len(ms)-1, len(ms)*95/100)]
			rep.FirstFrameMax = ms[len(ms)-1]
		}
	}
	rep.LoadAvg = loadAvg()
	_ = send(map[string]any{"cmd": "stop"})
	return rep, nil
}

func loadAvg() string {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		return strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return ""
}

// waitLive waits for n cameras live in reg, and then two seconds more.
func waitLive(reg *prometheus.Registry, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for gauge(reg, "citywall_video_state", 2) < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d cameras live after 30s", gauge(reg, "citywall_video_state", 2), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	return nil
}

// clients is the child process with the cameras and the viewers, spoken
// to in JSON lines.
type clients struct {
	cmd     *exec.Cmd
	toChild io.WriteCloser
	lines   *bufio.Scanner
	camAddr string // the RTSP server's host:port
}

func startClients(ctx context.Context, clip string) (*clients, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "bench", "video-clients", "-clip", clip)
	cmd.Stderr = os.Stderr
	toChild, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	fromChild, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the clients: %w", err)
	}
	c := &clients{cmd: cmd, toChild: toChild, lines: bufio.NewScanner(fromChild)}
	c.lines.Buffer(make([]byte, 1<<20), 1<<20)
	m, err := c.next("camera")
	if err != nil {
		c.close()
		return nil, err
	}
	_ = json.Unmarshal(m["addr"], &c.camAddr)
	return c, nil
}

func (c *clients) close() {
	_ = c.toChild.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// next reads the child's events up to the one wanted.
func (c *clients) next(want string) (map[string]json.RawMessage, error) {
	for c.lines.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(c.lines.Bytes(), &m); err != nil {
			continue
		}
		var ev string
		_ = json.Unmarshal(m["event"], &ev)
		if ev == "error" {
			return nil, fmt.Errorf("clients: %s", m["error"])
		}
		if ev == want {
			return m, nil
		}
	}
	return nil, fmt.Errorf("clients ended before %q: %v", want, c.lines.Err())
}

func (c *clients) send(v any) error {
	b, _ := json.Marshal(v)
	_, err := c.toChild.Write(append(b, '\n'))
	return err
}

// relayConfig is the relay's configuration: the cameras always on, a
// token for the viewers.
func relayConfig(o Options, camAddr string) (cfg config.Config, ids []string, token string) {
	cfg = config.Default()
	cfg.Storage.Memory = true // nothing to keep
	cfg.Server.Listen = "127.0.0.1:0"
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	token = hex.EncodeToString(tok)
	cfg.Auth.Tokens = []config.Token{{Name: "bench", Token: token, Roles: []config.Role{config.RoleWall}}}
	// Every viewer is one token's: the bench is one client, not a wall.
	cfg.Video.MaxViewersPerToken = 100000
	for i := range o.Cameras {
		id := fmt.Sprintf("cam-%02d", i)
		ids = append(ids, id)
		cfg.Cameras = append(cfg.Cameras, config.Camera{ID: id, Name: id, Lat: 20, Lng: 110, Main: "rtsp://" + camAddr + "/" + id, AlwaysOn: true})
	}
	return cfg, ids, token
}

// startApp runs an App until stop.
func startApp(ctx context.Context, cfg config.Config, reg *prometheus.Registry) (a *app.App, stop func(), err error) {
	a, err = app.New(cfg, app.Options{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, nil, err
	}
	if _, err := a.Listen(); err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	actx, cancel := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(actx) }()
	return a, func() { cancel(); <-runDone }, nil
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(k, f string, a ...any) { fmt.Fprintf(tw, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	p("cameras × viewers", "%d × %d = %d viewers", r.Cameras, r.ViewersPer, r.Viewers)
	p("stream (camera → relay)", "%.2f Mbit/s a camera", r.StreamMbps)
	p("relay → viewers", "%.1f Mbit/s", r.OutMbps)
	p("CPU, cameras only", "%.2f%% of a core (%.2f%% a camera)", r.IdleCPU, r.PerCameraCPU)
	p("CPU, with viewers", "%.2f%% of a core", r.LoadCPU)
	p("CPU per viewer", "%.3f%% of a core", r.PerViewerCPU)
	p("RSS, cameras only", "%.1f MiB", float64(r.IdleRSS)/(1<<20))
	p("RSS, with viewers", "%.1f MiB (%.0f KiB a viewer)", float64(r.LoadRSS)/(1<<20), r.PerViewerRSS/1024)
	p("frames received / dropped", "%d / %.0f (slowest viewer %d)", r.Frames, r.Dropped, r.ViewerMinFrags)
	p("camera packet → fragment queued", "mean %.3f ms, p99 %.3f ms", r.MuxMean, r.MuxP99)
	p("camera packet → written to viewer", "mean %.3f ms, p50 %.2f ms, p99 %.2f ms", r.LatencyMean, r.LatencyP50, r.LatencyP99)
	p("first frame, running camera", "p50 %.1f ms, p95 %.1f ms, max %.1f ms", r.FirstFrameP50, r.FirstFrameP95, r.FirstFrameMax)
	p("machine", "%d CPUs, load %s, %s, measured for %.0f s", r.CPUs, r.LoadAvg, r.GoVersion, r.Duration)
	return tw.Flush()
}

func pct(cpu, wall time.Duration) float64 { return 100 * cpu.Seconds() / wall.Seconds() }

// cpuTime is the process's user and system CPU time (rusage): robust on a
// shared machine, unlike wall-clock throughput.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is VmRSS; settle collects garbage first.
func rss(settle bool) uint64 {
	if settle {
		runtime.GC()
	}
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func families(reg *prometheus.Registry, name string) []*dto.Metric {
	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

// gauge counts the samples of a gauge family equal to v.
func gauge(reg *prometheus.Registry, name string, v float64) int {
	n := 0
	for _, m := range families(reg, name) {
		if m.GetGauge().GetValue() == v {
			n++
		}
	}
	return n
}

func counter(reg *prometheus.Registry, name string) float64 {
	s := 0.0
	for _, m := range families(reg, name) {
		s += m.GetCounter().GetValue()
	}
	return s
}

type hist struct {
	count  uint64
	sum    float64
	bounds []float64
	cum    []uint64
}

func histogram(reg *prometheus.Registry, name string) hist {
	var h hist
	for _, m := range families(reg, name) {
		hh := m.GetHistogram()
		h.count, h.sum = hh.GetSampleCount(), hh.GetSampleSum()
		for _, b := range hh.GetBucket() {
			h.bounds = append(h.bounds, b.GetUpperBound())
			h.cum = append(h.cum, b.GetCumulativeCount())
		}
	}
	return h
}

func (h hist) sub(o hist) hist {
	d := hist{count: h.count - o.count, sum: h.sum - o.sum, bounds: h.bounds}
	for i := range h.cum {
		var prev uint64
		if i < len(o.cum) {
			prev = o.cum[i]
		}
		d.cum = append(d.cum, h.cum[i]-prev)
	}
	return d
}

// quantile interpolates linearly within the bucket holding q.
func (h hist) quantile(q float64) float64 {
	if h.count == 0 {
		return math.NaN()
	}
	rank := q * float64(h.count)
	lo, prev := 0.0, uint64(0)
	for i, b := range h.bounds {
		if float64(h.cum[i]) >= rank {
			n := h.cum[i] - prev
			if n == 0 {
				return b
			}
			return lo + (b-lo)*(rank-float64(prev))/float64(n)
		}
		lo, prev = b, h.cum[i]
	}
	return h.bounds[len(h.bounds)-1]
}
