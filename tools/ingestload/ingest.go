// Package ingestload measures citywall's ingest path end to end: tickets
// posted over HTTP to a real App, through validation, the idempotent store,
// H3 indexing at every resolution, the sliding windows and the hub.
package ingestload

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// IngestOptions shape one run.
type IngestOptions struct {
	Duration time.Duration // how long to post
	Posters  int           // concurrent HTTP clients
	Batch    int           // tickets per post
	// Storage is the data directory: tickets are stored durably (fsync
	// group commit) before each answer; empty: kept in memory.
	Storage string
}

// IngestReport is what a run measured.
type IngestReport struct {
	Tickets      int64         `json:"tickets"`
	Duration     time.Duration `json:"duration_ns"`
	PerSecond    float64       `json:"tickets_per_second"`
	Posts        int64         `json:"posts"`
	PostP50      time.Duration `json:"post_p50_ns"`
	PostP99      time.Duration `json:"post_p99_ns"`
	Rejected     int64         `json:"rejected"`
	H3PerSecond  float64       `json:"h3_latlng_to_cell_per_second"`
	Storage      string        `json:"storage"`
	Resolutions  []int         `json:"resolutions"`
	Windows      int           `json:"windows"`
	GoMaxProcs   int           `json:"gomaxprocs"`
	CellsCounted int           `json:"cells_counted"`
}

func (r IngestReport) String() string {
	storage := "in memory"
	if r.Storage != "" {
		storage = "stored durably in " + r.Storage
	}
	return fmt.Sprintf(`ingest over HTTP (POST /api/v1/tickets, JSON arrays), %s, GOMAXPROCS=%d
  tickets accepted   %d in %s  →  %.0f tickets/s   (rejected %d)
  posts              %d, latency p50 %s  p99 %s
  indexing           %d resolutions %v × %d windows; live cells at the end %d
  raw h3 LatLngToCell %.0f cells/s on one goroutine (the limit to compare: each ticket costs one per resolution)
`, storage, r.GoMaxProcs, r.Tickets, r.Duration.Round(time.Millisecond), r.PerSecond, r.Rejected,
		r.Posts, r.PostP50, r.PostP99, len(r.Resolutions), r.Resolutions, r.Windows, r.CellsCounted, r.H3PerSecond)
}

// RunIngest starts an App on loopback and posts generated tickets to it.
func RunIngest(ctx context.Context, o IngestOptions) (IngestReport, error) {
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Posters <= 0 {
		o.Posters = 4
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	const token = "loadtest-ingest-token-0123456789"
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.MaxBodyBytes = 64 << 20
	cfg.Tickets.MaxTickets = 50_000_000
	cfg.Auth.Tokens = []config.Token{{Name: "loadtest", Token: token, Roles: []config.Role{config.RoleIngest, config.RoleAdmin}}}
	cfg.Storage.Dir, cfg.Storage.Memory = o.Storage, o.Storage == ""
	cfg.Storage.MaxBytes = 1 << 40
	reg := prometheus.NewRegistry()
	srv, err := app.New(cfg, app.Options{Registry: reg})
	if err != nil {
		return IngestReport{}, err
	}
	if _, err := srv.Listen(); err != nil {
		return IngestReport{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	defer func() { stop(); <-done }()

	var seq atomic.Int64

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Posters}}
	url := srv.URL() + "/api/v1/tickets"
	var (
		accepted, rejected, posts atomic.Int64
		mu                        sync.Mutex
		lat                       []time.Duration
		wg                        sync.WaitGroup
		firstErr                  error
	)
	deadline := time.Now().Add(o.Duration)
	start := time.Now()
	for p := range o.Posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(p), 7))
			var local []time.Duration
			for time.Now().Before(deadline) && ctx.Err() == nil {
				body := makeBatch(r, &seq, o.Batch)
				t0 := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				var res ticket.PostResult
				_ = json.NewDecoder(resp.Body).Decode(&res)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
				posts.Add(1)
				accepted.Add(int64(res.Accepted))
				rejected.Add(int64(res.Rejected))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return IngestReport{}, fmt.Errorf("post: %w", firstErr)
	}
	rep := IngestReport{
		Storage:     o.Storage,
		Tickets:     accepted.Load(),
		Duration:    elapsed,
		PerSecond:   float64(accepted.Load()) / elapsed.Seconds(),
		Posts:       posts.Load(),
		Rejected:    rejected.Load(),
		Resolutions: cfg.Geo.Resolutions,
		Windows:     len(cfg.Geo.Windows),
		GoMaxProcs:  runtime.GOMAXPROCS(0),
		H3PerSecond: h3Rate(),
	}
	rep.PostP50, rep.PostP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	rep.CellsCounted = int(gaugeSum(reg, "citywall_geo_window_cells"))
	return rep, nil
}

// makeBatch encodes n tickets spread over Haikou's four districts, created
// within the last ten minutes, over a realistic category mix.
func makeBatch(r *rand.Rand, seq *atomic.Int64, n int) []byte {
	cats := []string{"城市管理", "交通出行", "供水排水", "环境保护", "市场监管", "住房物业", "劳动保障", "教育", "营商环境", "文明行为"}
	chans := ticket.Channels
	now := time.Now()
	ts := make([]ticket.Ticket, n)
	for i := range ts {
		id := seq.Add(1)
		ts[i] = ticket.Ticket{
			ID:       fmt.Sprintf("LT-%09d", id),
			Channel:  chans[r.IntN(len(chans))],
			Category: cats[r.IntN(len(cats))],
			Summary:  "load test",
			Lat:      19.95 + r.Float64()*0.15,
			Lng:      110.15 + r.Float64()*0.45,
			Created:  now.Add(-time.Duration(r.IntN(600)) * time.Second),
		}
	}
	b, _ := json.Marshal(ts)
	return b
}

func h3Rate() float64 {
	r := rand.New(rand.NewPCG(3, 4))
	const n = 200_000
	pts := make([]h3.LatLng, 1024)
	for i := range pts {
		pts[i] = h3.NewLatLng(19.95+r.Float64()*0.15, 110.15+r.Float64()*0.45)
	}
	t0 := time.Now()
	for i := range n {
		_, _ = h3.LatLngToCell(pts[i%len(pts)], 9)
	}
	return n / time.Since(t0).Seconds()
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// Main runs `citywall bench ingest`.
func Main(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("citywall bench ingest", flag.ContinueOnError)
	d := fs.Duration("duration", 10*time.Second, "how long to post")
	posters := fs.Int("posters", 4, "concurrent HTTP clients")
	batch := fs.Int("batch", 1000, "tickets per post")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	redisAddr := fs.String("redis", "", "host:port of a Redis: run -instances instances joined through it, timing POST → delta on another instance")
	instances := fs.Int("instances", 0, "instances in this process (with -redis; 1 without Redis gives the baseline of the same measure)")
	probes := fs.Int("probes", 100, "single tickets timed end to end at idle (with -instances)")
	dir := fs.String("storage", "", "data directory: store every ticket durably (fsync group commit) before answering; empty: in memory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *redisAddr != "" || *instances > 0 {
		rep, err := RunCluster(ctx, ClusterOptions{Redis: *redisAddr, Instances: *instances, Duration: *d,
			Posters: *posters, Batch: *batch, Probes: *probes})
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(out).Encode(rep)
		}
		_, err = fmt.Fprint(out, rep.String())
		return err
	}
	rep, err := RunIngest(ctx, IngestOptions{Duration: *d, Posters: *posters, Batch: *batch, Storage: *dir})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(out).Encode(rep)
	}
	_, err = fmt.Fprint(out, rep.String())
	return err
}

// gaugeSum is the sum of the samples of the gauge name in reg (0 when
// absent): what the server reports of itself on /metrics.
func gaugeSum(reg prometheus.Gatherer, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue()
		}
	}
	return sum
}
