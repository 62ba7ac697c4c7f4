package videoload

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/cluster/members"
)

// HopReport compares viewers on a camera's owner with viewers on another
// instance, which reads the camera's frames from the owner over
// /internal/video (one hop per camera stream, shared by its viewers).
type HopReport struct {
	ViewersPer int     `json:"viewers_per_instance"`
	StreamMbps float64 `json:"stream_mbps"`
	IdleCPU    float64 `json:"idle_cpu_percent"`  // both instances, camera only
	OwnerCPU   float64 `json:"owner_cpu_percent"` // with the viewers on the owner
	BothCPU    float64 `json:"both_cpu_percent"`  // and as many on the other instance
	// CPU per viewer, % of a core: on the owner; on the other instance,
	// the hop's share included (owner writing it, the other reading it).
	PerOwnerViewerCPU float64 `json:"per_owner_viewer_cpu_percent"`
	PerHopViewerCPU   float64 `json:"per_hop_viewer_cpu_percent"`
	// Camera packet → fragment written to a viewer, both sets of viewers
	// at once (the hop's viewers' frames carry the owner's time in).
	OwnerLatencyMean float64 `json:"owner_latency_mean_ms"`
	OwnerLatencyP50  float64 `json:"owner_latency_p50_ms"`
	OwnerLatencyP99  float64 `json:"owner_latency_p99_ms"`
	HopLatencyMean   float64 `json:"hop_latency_mean_ms"`
	HopLatencyP50    float64 `json:"hop_latency_p50_ms"`
	HopLatencyP99    float64 `json:"hop_latency_p99_ms"`
	Dropped          float64 `json:"frames_dropped"`
	Duration         float64 `json:"duration_s"`
	CPUs             int     `json:"cpus"`
	LoadAvg          string  `json:"loadavg"`
	GoVersion        string  `json:"go"`
}

// WriteText prints the report for people.
func (r *HopReport) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(k, f string, a ...any) { fmt.Fprintf(tw, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	p("viewers", "%d on the owner, then %d more on the other instance", r.ViewersPer, r.ViewersPer)
	p("stream (camera → owner)", "%.2f Mbit/s", r.StreamMbps)
	p("CPU, camera only", "%.2f%% of a core (both instances)", r.IdleCPU)
	p("CPU, viewers on the owner", "%.2f%% of a core (%.3f%% a viewer)", r.OwnerCPU, r.PerOwnerViewerCPU)
	p("CPU, and on the other", "%.2f%% of a core (%.3f%% a viewer, the hop included)", r.BothCPU, r.PerHopViewerCPU)
	p("camera → viewer, on the owner", "mean %.3f ms, p50 %.2f ms, p99 %.2f ms", r.OwnerLatencyMean, r.OwnerLatencyP50, r.OwnerLatencyP99)
	p("camera → viewer, over the hop", "mean %.3f ms, p50 %.2f ms, p99 %.2f ms", r.HopLatencyMean, r.HopLatencyP50, r.HopLatencyP99)
	p("added by the hop", "mean %.3f ms", r.HopLatencyMean-r.OwnerLatencyMean)
	p("frames dropped", "%.0f", r.Dropped)
	p("machine", "%d CPUs, load %s, %s, measured for %.0f s a phase", r.CPUs, r.LoadAvg, r.GoVersion, r.Duration)
	return tw.Flush()
}

// runHop is Run with Options.Hop.
func runHop(ctx context.Context, o Options, cl *clients) (*Report, error) {
	if o.Cameras != 1 {
		return nil, errors.New("-hop measures one camera: -cameras 1")
	}
	raddr, stopRedis, err := startRedis()
	if err != nil {
		return nil, err
	}
	defer stopRedis()
	cfg, ids, token := relayConfig(o, cl.camAddr)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg.Redis.Addrs = []string{raddr}
	cfg.Redis.Prefix = "bench-" + hex.EncodeToString(b)
	var urls [2]string
	var regs [2]*prometheus.Registry
	for i := range 2 {
		regs[i] = prometheus.NewRegistry()
		a, stop, err := startApp(ctx, cfg, regs[i])
		if err != nil {
			return nil, err
		}
		defer stop()
		urls[i] = a.URL()
	}
	owner, err := ownerOf(ctx, raddr, cfg.Redis.Prefix, ids[0], urls[:])
	if err != nil {
		return nil, err
	}
	other := 1 - owner
	o.logf("instances on %s (owner of %s) and %s, Redis on %s", urls[owner], ids[0], urls[other], raddr)
	if err := waitLive(regs[owner], 1); err != nil {
		return nil, err
	}
	both := func(name string) float64 { return counter(regs[0], name) + counter(regs[1], name) }

	rep := &HopReport{ViewersPer: o.Viewers, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	o.logf("camera only for %s", o.Idle)
	in0 := counter(regs[owner], "citywall_video_bytes_in_total")
	c0, t0 := cpuTime(), time.Now()
	time.Sleep(o.Idle)
	idle := pct(cpuTime()-c0, time.Since(t0))
	rep.StreamMbps = (counter(regs[owner], "citywall_video_bytes_in_total") - in0) * 8 / time.Since(t0).Seconds() / 1e6
	rep.IdleCPU = idle

	watch := func(i int) error {
		o.logf("%d viewers on %s", o.Viewers, urls[i])
		wsURL := "ws" + urls[i][len("http"):] + "/ws/video/"
		if err := cl.send(map[string]any{"cmd": "watch", "url": wsURL, "token": token, "cameras": ids, "viewers": o.Viewers}); err != nil {
			return err
		}
		if _, err := cl.next("watching"); err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		return nil
	}
	measure := func() float64 {
		o.logf("measuring for %s", o.Duration)
		c, t := cpuTime(), time.Now()
		time.Sleep(o.Duration)
		return pct(cpuTime()-c, time.Since(t))
	}
	if err := watch(owner); err != nil {
		return nil, err
	}
	rep.OwnerCPU = measure()
	if err := watch(other); err != nil {
		return nil, err
	}
	drop0 := both("citywall_video_frames_dropped_total")
	const lat = "citywall_video_relay_latency_seconds"
	ho0, hh0 := histogram(regs[owner], lat), histogram(regs[other], lat)
	t1 := time.Now()
	rep.BothCPU = measure()
	rep.Duration = time.Since(t1).Seconds()
	ho, hh := histogram(regs[owner], lat).sub(ho0), histogram(regs[other], lat).sub(hh0)
	rep.Dropped = both("citywall_video_frames_dropped_total") - drop0
	if o.Viewers > 0 {
		rep.PerOwnerViewerCPU = (rep.OwnerCPU - rep.IdleCPU) / float64(o.Viewers)
		rep.PerHopViewerCPU = (rep.BothCPU - rep.OwnerCPU) / float64(o.Viewers)
	}
	if ho.count > 0 {
		rep.OwnerLatencyMean, rep.OwnerLatencyP50, rep.OwnerLatencyP99 = ho.sum/float64(ho.count)*1000, ho.quantile(0.5)*1000, ho.quantile(0.99)*1000
	}
	if hh.count > 0 {
		rep.HopLatencyMean, rep.HopLatencyP50, rep.HopLatencyP99 = hh.sum/float64(hh.count)*1000, hh.quantile(0.5)*1000, hh.quantile(0.99)*1000
	}
	rep.LoadAvg = loadAvg()
	_ = cl.send(map[string]any{"cmd": "stop"})
	return &Report{Hop: rep}, nil
}

// ownerOf says which of the instances at urls owns camera, by the view in
// Redis, once both are registered.
func ownerOf(ctx context.Context, addr, prefix, camera string, urls []string) (int, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		byID, err := rdb.HGetAll(ctx, "{"+prefix+"}:instances:url").Result()
		if err == nil && len(byID) == len(urls) {
			var ms []members.Member
			for id, u := range byID {
				ms = append(ms, members.Member{ID: id, URL: u})
			}
			own := members.Owner(camera, ms)
			for i, u := range urls {
				if u == own.URL {
					// Let every instance read the same view.
					time.Sleep(time.Second)
					return i, nil
				}
			}
			return 0, fmt.Errorf("owner %s at %s is none of %v", own.ID, own.URL, urls)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the instances never both registered in Redis (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startRedis runs a redis-server of the bench's own, without persistence,
// on a free loopback port.
func startRedis() (addr string, stop func(), err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", nil, fmt.Errorf("-hop needs redis-server: %w (apt-get install redis-server)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr = ln.Addr().String()
	_ = ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp("", "citywall-bench-redis")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("start redis-server: %w", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); c.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			return "", nil, errors.New("redis-server on " + addr + " never answered (port " + strconv.Quote(port) + ")")
		}
	}
	return addr, stop, nil
}
