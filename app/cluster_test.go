package app_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/internal/testkit"
)

// redisProc is a redis-server a test starts on a free port, with an
// append-only file so that a restart keeps what it had taken.
type redisProc struct {
	t    testing.TB
	addr string
	dir  string
	cmd  *exec.Cmd
}

func redisServerPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/bin/redis-server", "/usr/local/bin/redis-server"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("redis-server not found: install it (scripts/test.sh does)")
	return ""
}

func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startRedis(t testing.TB) *redisProc {
	t.Helper()
	r := &redisProc{t: t, addr: freePort(t), dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisProc) start() {
	r.t.Helper()
	_, port, _ := net.SplitHostPort(r.addr)
	r.cmd = exec.Command(redisServerPath(r.t), "--port", port, "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no")
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: r.addr})
	defer c.Close()
	deadline := time.Now().Add(wait)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s never answered", r.addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisProc) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		_ = r.cmd.Process.Kill()
		<-done
	}
	r.cmd = nil
}

// sharedRedis is the redis-server scripts/test.sh started, or one of the
// test's own.
func sharedRedis(t testing.TB) string {
	if a := os.Getenv("CITYWALL_TEST_REDIS"); a != "" {
		return a
	}
	return startRedis(t).addr
}

// clusterConfig is the test configuration joined to Redis at addr under a
// prefix of the test's own. Fewer resolutions and windows keep 100,000
// tickets on three instances quick on a small machine.
func clusterConfig(t testing.TB, addr string) (config.Config, map[config.Role]string) {
	t.Helper()
	cfg, tokens := testConfig(t)
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	cfg.Redis.Addrs = []string{addr}
	cfg.Redis.Prefix = "test-" + hex.EncodeToString(b)
	cfg.Redis.DialTimeout = 500 * time.Millisecond
	cfg.Geo.Resolutions = []int{8}
	cfg.Geo.Windows = []time.Duration{time.Hour}
	cfg.Alerts.Enabled = false // detection is the leader's, not this test's
	return cfg, tokens
}

// batchOf is n valid tickets with ids prefix-from … spread over Haikou.
func batchOf(prefix string, from, n int) string {
	var sb strings.Builder
	sb.WriteByte('[')
	created := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	for i := from; i < from+n; i++ {
		if i > from {
			sb.WriteByte(',')
		}
		lat := 19.95 + float64(i%97)*0.001
		lng := 110.25 + float64(i%89)*0.0015
		fmt.Fprintf(&sb, `{"id":"%s-%d","channel":"phone","category":"城市管理","lat":%.5f,"lng":%.5f,"created":"%s"}`,
			prefix, i, lat, lng, created)
	}
	sb.WriteByte(']')
	return sb.String()
}

// heatTotal sums the 1 h heat map at resolution 8 as the API serves it.
func heatTotal(s *server) int {
	var h struct {
		Cells map[string]int `json:"cells"`
	}
	s.getJSON("/api/v1/heat?res=8&window=1h&category=all", s.tokens[config.RoleWall], &h)
	n := 0
	for _, c := range h.Cells {
		n += c
	}
	return n
}

func stored(s *server) int {
	v, _ := metric(s.t, s.reg, "citywall_tickets_stored", nil)
	return int(v)
}

// TestClusterIngestAcrossInstances posts 100,000 tickets round robin over
// three instances and finds every one counted once on each: in the store,
// in the heat map and in the hub topic, which has the same sequence and
// state on all three.
func TestClusterIngestAcrossInstances(t *testing.T) {
	addr := sharedRedis(t)
	cfg, tokens := clusterConfig(t, addr)
	insts := []*server{startWith(t, cfg, tokens), startWith(t, cfg, tokens), startWith(t, cfg, tokens)}

	// 100,000 by default; CITYWALL_CLUSTER_TICKETS lowers it on a machine
	// too busy to apply 300,000 tickets under the race detector in time.
	total, batch := 100_000, 1000
	if v, err := strconv.Atoi(os.Getenv("CITYWALL_CLUSTER_TICKETS")); err == nil && v >= 10*batch {
		total = v / (10 * batch) * (10 * batch)
	}
	var wg sync.WaitGroup
	errs := make(chan string, total/batch)
	for w := range insts {
		wg.Go(func() {
			for b := w; b < total/batch; b += len(insts) {
				// Each batch goes to the next instance round robin; a
				// tenth of the batches is posted again to the one after.
				s := insts[b%len(insts)]
				body := batchOf("T", b*batch, batch)
				code, res := postRetrying(s, body)
				if code != http.StatusOK || res.Accepted+res.Duplicates != batch {
					errs <- fmt.Sprintf("batch %d on %s: %d, %d accepted, %d dup, %d rejected", b, s.url, code, res.Accepted, res.Duplicates, res.Rejected)
					continue
				}
				if b%10 == 0 {
					code, res = postRetrying(insts[(b+1)%len(insts)], body)
					if code != http.StatusOK || res.Duplicates != batch {
						errs <- fmt.Sprintf("batch %d again: %d, %d duplicates", b, code, res.Duplicates)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i, s := range insts {
		eventuallyWithin(t, 2*time.Minute, fmt.Sprintf("instance %d to hold every ticket", i), func() bool {
			return stored(s) == total && heatTotal(s) == total
		})
		if v, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "accepted"}); int(v) != total {
			t.Errorf("instance %d accepted %v tickets, want %d", i, v, total)
		}
		// At least the tenth posted twice; batches retried after a 503
		// come back as duplicates too.
		if v, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "duplicate"}); int(v) < total/10 {
			t.Errorf("instance %d counted %v duplicates, want at least %d", i, v, total/10)
		}
	}
	// The hub topic agrees everywhere: epoch, sequence and every cell.
	const topic = "heat/8/1h/all"
	var first wsMsg
	for i, s := range insts {
		c := s.connect(tokens[config.RoleWall])
		snap := c.subscribe(topic)
		c.until("the heat map to sum to every ticket", func() bool {
			n := 0
			for _, v := range c.state[topic] {
				n += count(t, v)
			}
			return n == total
		})
		if i == 0 {
			first = snap
			continue
		}
		if snap.Epoch != first.Epoch {
			t.Errorf("instance %d epoch %q, instance 0 %q", i, snap.Epoch, first.Epoch)
		}
	}
	eventuallyWithin(t, time.Minute, "the same heat topic on every instance", func() bool {
		var ref string
		var refSeq uint64
		for i, s := range insts {
			c := s.connect(tokens[config.RoleWall])
			m := c.subscribe(topic)
			_ = c.conn.Close()
			if i == 0 {
				ref, refSeq = string(m.Data), m.Seq
				continue
			}
			if string(m.Data) != ref || m.Seq != refSeq {
				return false
			}
		}
		return refSeq > 0
	})
}

// postRetrying posts a batch and, as a client should, posts it again
// after a 503 (the race detector on a small machine can make an instance
// apply slower than the answer waits); ids make the retry safe, and a
// retried batch comes back as duplicates.
func postRetrying(s *server, body string) (int, ticket.PostResult) {
	for range 20 {
		code, b := s.post("/api/v1/tickets", body)
		if code == http.StatusServiceUnavailable {
			time.Sleep(time.Second)
			continue
		}
		return code, decodeResult(s.t, code, b)
	}
	return http.StatusServiceUnavailable, ticket.PostResult{}
}

func eventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, d, 50*time.Millisecond, cond)
}

// TestClusterResumeOnAnotherInstance moves a client from one instance to
// another: it resubscribes with its epoch and sequence and is resumed with
// exactly the deltas it missed.
func TestClusterResumeOnAnotherInstance(t *testing.T) {
	addr := sharedRedis(t)
	cfg, tokens := clusterConfig(t, addr)
	a, b := startWith(t, cfg, tokens), startWith(t, cfg, tokens)
	const topic = "heat/8/1h/all"

	ca := a.connect(tokens[config.RoleWall])
	ca.subscribe(topic)
	ca.subscribe("tickets")
	if code, _ := a.postTickets(batchOf("R", 0, 50)); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	ca.until("the first 50 on A", func() bool { return len(ca.events["tickets"]) == 50 })
	ca.until("the first 50 on A's map", func() bool { return sum(t, ca.state[topic]) == 50 })
	epoch, seq := ca.seqEpoch(topic)
	evEpoch, evSeq := ca.seqEpoch("tickets")
	_ = ca.conn.Close()

	// Missed while away: several coalesced deltas, posted to both.
	for i := range 6 {
		s := []*server{a, b}[i%2]
		if code, _ := s.postTickets(batchOf("R", 50+i*10, 10)); code != http.StatusOK {
			t.Fatalf("post: %d", code)
		}
		time.Sleep(300 * time.Millisecond)
	}
	eventually(t, "B's topic to hold every ticket", func() bool {
		c := b.connect(tokens[config.RoleWall])
		defer c.conn.Close()
		c.subscribe(topic)
		return sum(t, c.state[topic]) == 110
	})

	cb := b.connect(tokens[config.RoleWall])
	cb.seq[topic] = seq
	cb.state[topic] = ca.state[topic]
	cb.send(map[string]any{"op": "subscribe", "id": 7, "topic": topic, "epoch": epoch, "seq": seq})
	m := cb.waitFor("resumed", func(m wsMsg) bool { return m.Topic == topic && m.Type != "delta" })
	if m.Type != "resumed" || m.Seq != seq {
		t.Fatalf("on B after seq %d of epoch %s: %s", seq, epoch, m.Raw)
	}
	cb.until("the missed deltas", func() bool { return sum(t, cb.state[topic]) == 110 })
	fresh := b.connect(tokens[config.RoleWall])
	snap := fresh.subscribe(topic)
	if _, got := cb.seqEpoch(topic); got != snap.Seq {
		t.Errorf("resumed client at seq %d, a fresh snapshot at %d", got, snap.Seq)
	}
	if got, want := mustJSON(t, cb.state[topic]), mustJSON(t, fresh.state[topic]); got != want {
		t.Errorf("resumed state differs from a snapshot:\n%s\n%s", got, want)
	}

	// The ticket feed too: exactly the 60 missed events, in order.
	var got []string
	cb.events["tickets"] = []json.RawMessage{}
	cb.seq["tickets"] = evSeq
	cb.send(map[string]any{"op": "subscribe", "id": 8, "topic": "tickets", "epoch": evEpoch, "seq": evSeq})
	m = cb.waitFor("resumed tickets", func(m wsMsg) bool { return m.Topic == "tickets" && m.Type != "delta" })
	if m.Type != "resumed" {
		t.Fatalf("tickets on B: %s", m.Raw)
	}
	cb.until("60 missed tickets", func() bool { return len(cb.events["tickets"]) == 60 })
	for _, e := range cb.events["tickets"] {
		var v struct{ ID string }
		_ = json.Unmarshal(e, &v)
		got = append(got, v.ID)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Errorf("ticket %s twice", id)
		}
		seen[id] = true
	}
}

func sum(t testing.TB, st map[string]json.RawMessage) int {
	n := 0
	for _, v := range st {
		n += count(t, v)
	}
	return n
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func readyz(s *server) (int, string) {
	resp, err := s.client.Get(s.url + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var e apiError
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Reason
}

// TestClusterRedisDownAndBack stops Redis under two instances: ingest
// answers 503 redis_unavailable, /readyz and citywall_redis_up say so,
// what the instances hold is still served; when Redis returns everything
// recovers and nothing accepted is lost.
func TestClusterRedisDownAndBack(t *testing.T) {
	rp := startRedis(t)
	cfg, tokens := clusterConfig(t, rp.addr)
	a, b := startWith(t, cfg, tokens), startWith(t, cfg, tokens)
	accepted := 0
	for i := range 4 {
		code, res := []*server{a, b}[i%2].postTickets(batchOf("D", i*100, 100))
		if code != http.StatusOK {
			t.Fatalf("post: %d", code)
		}
		accepted += res.Accepted
	}
	wc := b.connect(tokens[config.RoleWall])
	wc.subscribe("heat/8/1h/all")

	rp.stop()
	for _, s := range []*server{a, b} {
		eventually(t, "ingest to answer 503", func() bool {
			code, body := s.post("/api/v1/tickets", batchOf("D", 9000, 5))
			if code == http.StatusOK {
				t.Errorf("accepted while Redis is down: %s", body)
			}
			if code != http.StatusServiceUnavailable {
				return false
			}
			// While the instance still thinks Redis is up, an append that
			// fails is "outcome unknown"; once it knows, "nothing was accepted".
			e := checkError(t, "ingest while down", code, body, http.StatusServiceUnavailable, "redis_unavailable", "retry")
			return strings.Contains(e.Reason, "nothing was accepted")
		})
		eventually(t, "/readyz to say not ready", func() bool {
			code, reason := readyz(s)
			return code == http.StatusServiceUnavailable && strings.Contains(reason, "redis")
		})
		if v, _ := metric(t, s.reg, "citywall_redis_up", nil); v != 0 {
			t.Errorf("citywall_redis_up = %v while down", v)
		}
		// Still serving what it has.
		if n := heatTotal(s); n != accepted {
			t.Errorf("heat map while down: %d, want %d", n, accepted)
		}
	}
	// The connected wall stays connected.
	wc.send(map[string]any{"op": "ping", "id": 99})
	wc.waitFor("pong while Redis is down", func(m wsMsg) bool { return m.Type == "pong" })

	rp.start()
	for _, s := range []*server{a, b} {
		eventually(t, "/readyz after Redis returned", func() bool { code, _ := readyz(s); return code == http.StatusOK })
		if v, _ := metric(t, s.reg, "citywall_redis_up", nil); v != 1 {
			t.Errorf("citywall_redis_up = %v after recovery", v)
		}
	}
	for i := range 4 {
		code, res := []*server{a, b}[i%2].postTickets(batchOf("D", 1000+i*100, 100))
		if code != http.StatusOK {
			t.Fatalf("post after recovery: %d", code)
		}
		accepted += res.Accepted
	}
	if accepted != 800 {
		t.Fatalf("accepted %d, want 800", accepted)
	}
	for _, s := range []*server{a, b} {
		eventually(t, "every accepted ticket on every instance", func() bool {
			return stored(s) == accepted && heatTotal(s) == accepted
		})
	}
	wc.until("the wall's map to show every ticket", func() bool { return sum(t, wc.state["heat/8/1h/all"]) == accepted })

	// A new instance rebuilds all of it from the stream.
	c := startLate(t, cfg, tokens)
	if n, h := stored(c), heatTotal(c); n != accepted || h != accepted {
		t.Errorf("new instance after the outage: %d stored, %d on the map, want %d", n, h, accepted)
	}
}

// TestClusterLateInstanceCatchesUp starts an instance after 20,000 tickets
// were taken: it says ready only once it holds all of them, and its hub
// topics match the first instance's.
func TestClusterLateInstanceCatchesUp(t *testing.T) {
	addr := sharedRedis(t)
	cfg, tokens := clusterConfig(t, addr)
	a := startWith(t, cfg, tokens)
	const total = 20_000
	for i := 0; i < total; i += 2000 {
		if code, res := a.postTickets(batchOf("L", i, 2000)); code != http.StatusOK || res.Accepted != 2000 {
			t.Fatalf("post: %d, %+v", code, res.Accepted)
		}
	}
	eventually(t, "A's heat topic to hold every ticket", func() bool {
		c := a.connect(tokens[config.RoleWall])
		defer c.conn.Close()
		c.subscribe("heat/8/1h/all")
		return sum(t, c.state["heat/8/1h/all"]) == total
	})

	b := startLate(t, cfg, tokens)
	if n, h := stored(b), heatTotal(b); n != total || h != total {
		t.Fatalf("ready with %d stored and %d on the map, want %d", n, h, total)
	}
	ma := a.connect(tokens[config.RoleWall]).subscribe("heat/8/1h/all")
	mb := b.connect(tokens[config.RoleWall]).subscribe("heat/8/1h/all")
	if ma.Epoch != mb.Epoch || ma.Seq != mb.Seq || string(ma.Data) != string(mb.Data) {
		t.Errorf("snapshots differ: A %s/%d (%d bytes), B %s/%d (%d bytes)", ma.Epoch, ma.Seq, len(ma.Data), mb.Epoch, mb.Seq, len(mb.Data))
	}
}

// startLate starts an instance that has a stream to replay, and returns
// once its /readyz is 200, within a minute (the race detector slows the
// replay tenfold).
func startLate(t testing.TB, cfg config.Config, tokens map[config.Role]string) *server {
	t.Helper()
	reg := prometheus.NewRegistry()
	cw, err := app.New(cfg, app.Options{Registry: reg, Build: "test-build", Now: testClock(t)})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if _, err := cw.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, app: cw, url: cw.URL(), reg: reg, logs: &syncBuffer{}, tokens: tokens, cancel: cancel,
		done: make(chan error, 1), client: &http.Client{Timeout: wait, Transport: &http.Transport{}}}
	go func() { s.done <- cw.Run(ctx) }()
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(time.Minute)
	for {
		code, reason := readyz(s)
		if code == http.StatusOK {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready within a minute: %d %s", code, reason)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// quietRedis keeps go-redis's own pool messages out of the test output
// while a test has stopped Redis on purpose.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietRedis{}) }

// TestClusterProducerHandOver stops the instance that produces the derived
// topics: another takes over within the lock's few seconds, and walls on
// it see tickets posted after the hand-over, with no gap in sequence.
func TestClusterProducerHandOver(t *testing.T) {
	addr := sharedRedis(t)
	cfg, tokens := clusterConfig(t, addr)
	a := startWith(t, cfg, tokens) // first up: takes the producer lock
	time.Sleep(100 * time.Millisecond)
	b := startWith(t, cfg, tokens)
	const topic = "heat/8/1h/all"
	cb := b.connect(tokens[config.RoleWall])
	cb.subscribe(topic)
	if code, _ := b.postTickets(batchOf("H", 0, 30)); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	cb.until("30 on B's wall", func() bool { return sum(t, cb.state[topic]) == 30 })
	if !strings.Contains(a.logs.String(), "produces the derived topics") {
		t.Fatalf("A did not produce:\n%s", a.logs.String())
	}

	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if code, _ := b.postTickets(batchOf("H", 30, 20)); code != http.StatusOK {
		t.Fatalf("post: %d", code)
	}
	// The delta harness fails on any seq gap while B takes over.
	cb.until("50 on B's wall after the hand-over", func() bool { return sum(t, cb.state[topic]) == 50 })
}

// TestClusterOnRedisCluster: two instances on a three-node Redis Cluster
// (each prefix's keys share one hash slot, so every script and stream
// works there): tickets posted to both are counted once on each, the hub
// topic agrees, one instance leads, and a wall change or a silence made
// through one is what the other shows.
func TestClusterOnRedisCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	cfg, tokens := clusterConfig(t, addrs[0])
	cfg.Redis.Addrs = addrs
	twoInstancesAgree(t, cfg, tokens)
}

// TestClusterOnSentinel: the same through a Sentinel, which names the
// master the instances use.
func TestClusterOnSentinel(t *testing.T) {
	master := redistest.Start(t)
	addr, name := redistest.StartSentinel(t, master.Addr())
	cfg, tokens := clusterConfig(t, addr)
	cfg.Redis.MasterName = name
	twoInstancesAgree(t, cfg, tokens)
}

// twoInstancesAgree starts two instances on cfg's Redis and checks that
// they share ingest, the hub, the lease, the walls and the alerts.
func twoInstancesAgree(t *testing.T, cfg config.Config, tokens map[config.Role]string) {
	cfg.Alerts.Enabled = true // the alert state and its outbox live in Redis too
	a, b := startWith(t, cfg, tokens), startWith(t, cfg, tokens)

	const total, batch = 4000, 500
	for i := range total / batch {
		s := []*server{a, b}[i%2]
		if code, res := postRetrying(s, batchOf("C", i*batch, batch)); code != http.StatusOK || res.Accepted != batch {
			t.Fatalf("batch %d: %d, %+v", i, code, res)
		}
	}
	for i, s := range []*server{a, b} {
		eventuallyWithin(t, time.Minute, fmt.Sprintf("instance %d to hold every ticket", i), func() bool {
			return stored(s) == total && heatTotal(s) == total
		})
	}
	const topic = "heat/8/1h/all"
	eventuallyWithin(t, time.Minute, "the same heat topic on both", func() bool {
		var ms []wsMsg
		for _, s := range []*server{a, b} {
			c := s.connect(tokens[config.RoleWall])
			ms = append(ms, c.subscribe(topic))
			_ = c.conn.Close()
		}
		return ms[0].Epoch == ms[1].Epoch && ms[0].Seq == ms[1].Seq && string(ms[0].Data) == string(ms[1].Data) && ms[0].Seq > 0
	})
	eventuallyWithin(t, 30*time.Second, "one leader", func() bool {
		la, _ := metric(t, a.reg, "citywall_leader_is_leader", nil)
		lb, _ := metric(t, b.reg, "citywall_leader_is_leader", nil)
		return la+lb == 1
	})

	if code, body := a.wallDo("POST", "/api/v1/walls/main/layout", "commander", `{"layout":"video"}`); code != http.StatusOK {
		t.Fatalf("layout on A: %d %s", code, body)
	}
	eventuallyWithin(t, 30*time.Second, "B to show A's layout", func() bool {
		var w struct {
			Layout struct{ ID string } `json:"layout"`
		}
		b.getJSON("/api/v1/walls/main", tokens[config.RoleWall], &w)
		return w.Layout.ID == "video"
	})
	if code, body := b.wallDo("POST", "/api/v1/silences", "commander", `{"category":"噪音","comment":"cluster","duration":"1h"}`); code != http.StatusCreated {
		t.Fatalf("silence on B: %d %s", code, body)
	}
	eventuallyWithin(t, 30*time.Second, "A to hold B's silence", func() bool {
		var l struct {
			Silences []struct{ Comment string } `json:"silences"`
		}
		a.getJSON("/api/v1/silences", tokens[config.RoleWall], &l)
		return len(l.Silences) == 1 && l.Silences[0].Comment == "cluster"
	})
}
