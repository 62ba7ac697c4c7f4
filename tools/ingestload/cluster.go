package ingestload

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// ClusterOptions shape a run of several instances (or one) in this process.
type ClusterOptions struct {
	Redis     string // host:port; empty: one instance without Redis
	Instances int
	Duration  time.Duration
	Posters   int
	Batch     int
	Probes    int // single-ticket posts timed to a WebSocket client, at idle
}

// ClusterReport is what a cluster run measured.
type ClusterReport struct {
	Instances     int           `json:"instances"`
	Redis         bool          `json:"redis"`
	Tickets       int64         `json:"tickets"`
	PerSecond     float64       `json:"tickets_per_second"`
	PostP50       time.Duration `json:"post_p50_ns"`
	PostP99       time.Duration `json:"post_p99_ns"`
	CPUPerTicket  time.Duration `json:"cpu_per_ticket_ns"`       // this process: every instance and the posters
	RedisCPU      time.Duration `json:"redis_cpu_per_ticket_ns"` // redis-server, from INFO cpu
	E2EP50        time.Duration `json:"e2e_p50_ns"`
	E2EP99        time.Duration `json:"e2e_p99_ns"`
	E2ELoadP50    time.Duration `json:"e2e_under_load_p50_ns"`
	E2ELoadP99    time.Duration `json:"e2e_under_load_p99_ns"`
	E2EMax        time.Duration `json:"e2e_max_ns"`
	ProbesLost    int           `json:"probes_lost"`
	GoMaxProcs    int           `json:"gomaxprocs"`
	AllApplied    bool          `json:"all_applied_everywhere"`
	ApplyDuration time.Duration `json:"last_instance_done_after_ns"`
}

func (r ClusterReport) String() string {
	mode := "1 instance, no Redis"
	if r.Redis {
		mode = fmt.Sprintf("%d instances + Redis", r.Instances)
	}
	return fmt.Sprintf(`ingest across instances (%s), GOMAXPROCS=%d
  tickets accepted   %d → %.0f tickets/s; post p50 %s p99 %s
  CPU per ticket     %s in this process (all instances and posters), %s in redis-server
  every instance holds every ticket: %v (the last %s after the posting stopped)
  POST → "tickets" delta on a WebSocket client of the last instance:
    idle        p50 %s  p99 %s  max %s  (lost %d)
    under load  p50 %s  p99 %s
`, mode, r.GoMaxProcs, r.Tickets, r.PerSecond, r.PostP50, r.PostP99, r.CPUPerTicket, r.RedisCPU,
		r.AllApplied, r.ApplyDuration.Round(time.Millisecond), r.E2EP50, r.E2EP99, r.E2EMax, r.ProbesLost, r.E2ELoadP50, r.E2ELoadP99)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func redisCPU(ctx context.Context, c *redis.Client) time.Duration {
	if c == nil {
		return 0
	}
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_user" || k == "used_cpu_sys") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// RunCluster starts the instances on loopback, posts tickets to them round
// robin, and times single tickets from a POST on the first instance to the
// "tickets" delta on a WebSocket client of the last.
func RunCluster(ctx context.Context, o ClusterOptions) (ClusterReport, error) {
	if o.Instances <= 0 {
		o.Instances = 1
	}
	if o.Redis == "" {
		o.Instances = 1
	}
	if o.Posters <= 0 {
		o.Posters = 4
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.Probes <= 0 {
		o.Probes = 100
	}
	const token = "loadtest-ingest-token-0123456789"
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.MaxBodyBytes = 64 << 20
	cfg.Tickets.MaxTickets = 50_000_000
	cfg.Auth.Tokens = []config.Token{{Name: "loadtest", Token: token, Roles: []config.Role{config.RoleIngest, config.RoleAdmin}}}
	cfg.Storage.Memory = true // the baseline without Redis: memory, as before
	var rc *redis.Client
	if o.Redis != "" {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		cfg.Redis.Addrs = []string{o.Redis}
		cfg.Redis.Prefix = "bench-" + hex.EncodeToString(b)
		rc = redis.NewClient(&redis.Options{Addr: o.Redis})
		defer rc.Close()
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var regs []*prometheus.Registry // each instance's, for citywall_tickets_stored
	var urls []string
	var done []chan error
	defer func() {
		stop()
		for _, d := range done {
			<-d
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Posters + 2}}
	for range o.Instances {
		reg := prometheus.NewRegistry()
		srv, err := app.New(cfg, app.Options{Registry: reg})
		if err != nil {
			return ClusterReport{}, err
		}
		if _, err := srv.Listen(); err != nil {
			return ClusterReport{}, err
		}
		d := make(chan error, 1)
		go func() { d <- srv.Run(runCtx) }()
		regs, urls, done = append(regs, reg), append(urls, srv.URL()), append(done, d)
		for deadline := time.Now().Add(time.Minute); ; {
			resp, err := client.Get(srv.URL() + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				return ClusterReport{}, fmt.Errorf("instance %d not ready", len(urls))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	post := func(url string, body []byte) (ticket.PostResult, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/tickets", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return ticket.PostResult{}, err
		}
		defer resp.Body.Close()
		var res ticket.PostResult
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			return res, fmt.Errorf("post: %d %s", resp.StatusCode, b)
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		return res, err
	}

	// The probe: a wall on the last instance, tickets posted to the first.
	last := urls[len(urls)-1]
	h := http.Header{"Authorization": {"Bearer " + token}}
	conn, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(last, "http")+"/ws", h)
	if err != nil {
		return ClusterReport{}, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	_ = conn.WriteJSON(map[string]any{"op": "subscribe", "id": 1, "topic": "tickets"})
	var pmu sync.Mutex
	waiting := map[string]chan struct{}{}
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			for line := range strings.SplitSeq(string(data), "\n") {
				var m struct {
					Type string `json:"type"`
					Data struct {
						ID string `json:"id"`
					} `json:"data"`
				}
				if json.Unmarshal([]byte(line), &m) != nil || m.Type != "delta" {
					continue
				}
				pmu.Lock()
				if ch, ok := waiting[m.Data.ID]; ok {
					close(ch)
					delete(waiting, m.Data.ID)
				}
				pmu.Unlock()
			}
		}
	}()
	var probeN atomic.Int64
	probe := func() (time.Duration, bool) {
		id := fmt.Sprintf("PROBE-%d", probeN.Add(1))
		ch := make(chan struct{})
		pmu.Lock()
		waiting[id] = ch
		pmu.Unlock()
		body, _ := json.Marshal([]ticket.Ticket{{ID: id, Channel: ticket.ChannelPhone, Category: "城市管理",
			Lat: 20.02, Lng: 110.33, Created: time.Now().Add(-time.Second)}})
		t0 := time.Now()
		if _, err := post(urls[0], body); err != nil {
			return 0, false
		}
		select {
		case <-ch:
			return time.Since(t0), true
		case <-time.After(5 * time.Second):
			return 0, false
		}
	}
	time.Sleep(300 * time.Millisecond) // the subscription is in place
	rep := ClusterReport{Instances: o.Instances, Redis: o.Redis != "", GoMaxProcs: runtime.GOMAXPROCS(0)}
	var idle []time.Duration
	for range o.Probes {
		d, ok := probe()
		if !ok {
			rep.ProbesLost++
			continue
		}
		idle = append(idle, d)
		time.Sleep(20 * time.Millisecond)
	}
	rep.E2EP50, rep.E2EP99 = percentile(idle, 0.5), percentile(idle, 0.99)
	for _, d := range idle {
		rep.E2EMax = max(rep.E2EMax, d)
	}

	// Throughput, with probes going on.
	var seq atomic.Int64
	var accepted atomic.Int64
	var mu sync.Mutex
	var lat, loaded []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	cpu0, rcpu0 := cpuTime(), redisCPU(ctx, rc)
	deadline := time.Now().Add(o.Duration)
	start := time.Now()
	for p := range o.Posters {
		wg.Go(func() {
			r := mrand.New(mrand.NewPCG(uint64(p), 11))
			for i := p; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				body := makeBatch(r, &seq, o.Batch)
				t0 := time.Now()
				res, err := post(urls[i%len(urls)], body)
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
				accepted.Add(int64(res.Accepted))
			}
		})
	}
	wg.Go(func() {
		for time.Now().Before(deadline) {
			if d, ok := probe(); ok {
				mu.Lock()
				loaded = append(loaded, d)
				mu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return rep, firstErr
	}
	rep.Tickets = accepted.Load()
	rep.PerSecond = float64(rep.Tickets) / elapsed.Seconds()
	rep.PostP50, rep.PostP99 = percentile(lat, 0.5), percentile(lat, 0.99)
	rep.E2ELoadP50, rep.E2ELoadP99 = percentile(loaded, 0.5), percentile(loaded, 0.99)
	// Every instance applies every ticket; wait for the last one.
	want := int(rep.Tickets) + int(probeN.Load())
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		all := true
		for _, reg := range regs {
			if int(gaugeSum(reg, "citywall_tickets_stored")) < want {
				all = false
			}
		}
		if all {
			rep.AllApplied = true
			break
		}
	}
	rep.ApplyDuration = time.Since(start) - elapsed
	if rep.Tickets > 0 {
		rep.CPUPerTicket = (cpuTime() - cpu0) / time.Duration(rep.Tickets)
		rep.RedisCPU = (redisCPU(ctx, rc) - rcpu0) / time.Duration(rep.Tickets)
	}
	return rep, nil
}
