package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/config"
)

// leaderClock is the instances' shared clock, which a test moves on to
// reach the escalation deadline without waiting half an hour.
type leaderClock struct{ off atomic.Int64 }

func (c *leaderClock) now() time.Time       { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *leaderClock) skip(d time.Duration) { c.off.Add(int64(d)) }

// hookCounter is a webhook receiver counting each notification by
// target path, event, alert and notification number.
type hookCounter struct {
	mu   sync.Mutex
	seen map[string]int
}

func (h *hookCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Event string `json:"event"`
		Alert struct {
			ID            string `json:"id"`
			Notifications int    `json:"notifications"`
		} `json:"alert"`
	}
	_ = json.NewDecoder(r.Body).Decode(&p)
	h.mu.Lock()
	h.seen[fmt.Sprintf("%s %s %s/%d", r.URL.Path, p.Event, p.Alert.ID, p.Alert.Notifications)]++
	h.mu.Unlock()
}

// events lists, per path and event, how many deliveries; and whether any
// one notification came twice.
func (h *hookCounter) events() (map[string]int, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]int{}
	var twice []string
	for k, n := range h.seen {
		f := strings.Fields(k)
		out[f[0]+" "+f[1]] += n
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s ×%d", k, n))
		}
	}
	return out, twice
}

// startInstance starts one App of a group sharing Redis.
func startInstance(t testing.TB, cfg config.Config, tokens map[config.Role]string, now func() time.Time) *server {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	cw, err := app.New(cfg, app.Options{Registry: reg, Build: "test-build", Now: now,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if _, err := cw.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, app: cw, url: cw.URL(), reg: reg, logs: logs, tokens: tokens, cancel: cancel,
		done:   make(chan error, 1),
		client: &http.Client{Timeout: wait, Transport: &http.Transport{}}}
	go func() { s.done <- cw.Run(ctx) }()
	t.Cleanup(func() { _ = s.stop() })
	s.waitReady()
	return s
}

// leaderGroup starts n instances on one Redis prefix with a webhook for
// everything and one for the Longhua team.
func leaderGroup(t testing.TB, n int, hook string, clock *leaderClock, ttl time.Duration) []*server {
	return leaderGroupOn(t, redistest.Addr(t), n, hook, clock, ttl)
}

func leaderGroupOn(t testing.TB, addr string, n int, hook string, clock *leaderClock, ttl time.Duration) []*server {
	cfg, tokens := testConfig(t)
	cfg.Redis.Addrs = []string{addr}
	cfg.Redis.Prefix = redistest.Prefix(t)
	if ttl > 0 {
		cfg.Redis.LeaseTTL = ttl
	}
	cfg.Alerts.Threshold = 6
	cfg.Alerts.MinHistory = 0
	cfg.Alerts.ScanInterval = time.Second
	cfg.Alerts.Quiet = 2 * time.Hour
	cfg.Alerts.EscalateAfter = 30 * time.Minute
	cfg.Alerts.Renotify = 3 * time.Hour
	cfg.Alerts.WebhookBackoff = 10 * time.Millisecond
	cfg.Alerts.Webhooks = []config.Webhook{{URL: hook + "/all"}}
	cfg.Alerts.Teams = []config.AlertTeam{
		{ID: "longhua", Name: "龙华区应急队", Members: []config.TeamMember{{Name: "team-1"}}, Districts: []string{"龙华区"}, Webhooks: []config.Webhook{{URL: hook + "/longhua"}}},
		{ID: "duty", Name: "值班长", Members: []config.TeamMember{{Name: "commander-1"}}},
	}
	cfg.Alerts.EscalateTo = []string{"duty"}
	var out []*server
	for range n {
		out = append(out, startInstance(t, cfg, tokens, clock.now))
	}
	return out
}

func leaders(ss []*server) []*server {
	var out []*server
	for _, s := range ss {
		if s.app.IsLeader() {
			out = append(out, s)
		}
	}
	return out
}

type openAlerts struct {
	Alerts []alertJSON `json:"alerts"`
}

type alertJSON struct {
	ID      string   `json:"id"`
	State   string   `json:"state"`
	Source  string   `json:"source"`
	Level   int      `json:"level"`
	AckedBy string   `json:"acked_by"`
	Teams   []string `json:"teams"`
}

func (s *server) alerts() []alertJSON {
	var l openAlerts
	s.getJSON("/api/v1/alerts", s.tokens[config.RoleWall], &l)
	return l.Alerts
}

// TestLeaderFailover: three instances share one Redis. The leader is
// killed while a burst of tickets builds a cluster; another instance takes
// over within 10 s and there is exactly one alert. The escalation timer
// survives the failover; an acknowledgement on a follower shows on every
// instance's hub; each webhook gets each notification exactly once, across
// two failovers.
func TestLeaderFailover(t *testing.T) {
	for _, how := range []string{"closed", "stalled"} {
		t.Run(how, func(t *testing.T) { leaderFailover(t, how == "stalled") })
	}
}

// leaderFailover runs the scenario; stalled stops the leader's lease
// renewals (a frozen or cut-off process, which keeps running and must
// step down by itself) instead of closing it.
func leaderFailover(t *testing.T, stalled bool) {
	hooks := &hookCounter{seen: map[string]int{}}
	hook := httptest.NewServer(hooks)
	defer hook.Close()
	clock := &leaderClock{}
	group := leaderGroup(t, 3, hook.URL, clock, 2*time.Second)

	var first *server
	eventually(t, "one leader", func() bool {
		ls := leaders(group)
		if len(ls) > 1 {
			t.Fatalf("%d leaders", len(ls))
		}
		if len(ls) == 1 {
			first = ls[0]
		}
		return first != nil
	})
	var rest []*server
	for _, s := range group {
		if s != first {
			rest = append(rest, s)
		}
	}
	walls := map[*server]*wsClient{}
	for _, s := range rest {
		c := s.connect(s.tokens[config.RoleWall])
		c.subscribe("alerts")
		walls[s] = c
	}

	// A burst of eight burst-pipe reports around Guomao, posted to every
	// instance as the shared ingest delivers them; the leader dies after
	// the fourth.
	var killedAt time.Time
	for i := range 8 {
		body := array(newTicket(fmt.Sprintf("F-%d", i), 20.0325+float64(i%3)*0.0008, 110.3235+float64(i%2)*0.0008).
			with("category", "供水排水", "subcategory", "爆管"))
		for _, s := range group {
			if s == first && !killedAt.IsZero() && !stalled {
				continue
			}
			if code, _ := s.postTickets(body); code != http.StatusOK {
				t.Fatalf("post to %s: %d", s.url, code)
			}
		}
		if i == 3 {
			killedAt = time.Now()
			if stalled {
				first.app.Lease().Pause(true)
			} else {
				_ = first.stop()
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	var second *server
	eventually(t, "a new leader", func() bool {
		ls := leaders(group)
		if len(ls) > 1 {
			t.Fatalf("%d leaders at once", len(ls))
		}
		if len(ls) == 1 && ls[0] != first {
			second = ls[0]
		}
		return second != nil
	})
	took := time.Since(killedAt)
	t.Logf("leader stopped → another leads in %s", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Fatalf("failover took %s", took)
	}
	var alert alertJSON
	eventually(t, "the cluster alert", func() bool {
		l := second.alerts()
		if len(l) > 1 {
			t.Fatalf("%d alerts for one burst: %+v", len(l), l)
		}
		if len(l) == 1 {
			alert = l[0]
		}
		return alert.ID != ""
	})
	t.Logf("leader stopped → cluster alert %s on the new leader in %s", alert.ID, time.Since(killedAt).Round(time.Millisecond))
	for s, c := range walls {
		c.until("the alert on every instance's hub", func() bool { return c.state["alerts"][alert.ID] != nil })
		// The hub's copy can come straight from the shared hub stream; the
		// instance's own manager reloads the shared state a moment later.
		eventually(t, "the alert in every instance's API", func() bool {
			l := s.alerts()
			if len(l) > 1 {
				t.Fatalf("instance %s lists %d alerts", s.url, len(l))
			}
			return len(l) == 1
		})
	}

	// The escalation deadline passes: the new leader escalates, once.
	clock.skip(31 * time.Minute)
	for _, s := range rest {
		s.app.Manager().Wake()
	}
	eventually(t, "the escalation", func() bool {
		l := second.alerts()
		return len(l) == 1 && l[0].Level == 1
	})

	// Acknowledge on the follower; the leader and every hub see it.
	var follower *server
	for _, s := range rest {
		if s != second {
			follower = s
		}
	}
	status, _, body := follower.do("POST", "/api/v1/alerts/"+alert.ID+"/ack", follower.tokens[config.RoleCommander], "application/json", strings.NewReader(`{"note":"on our way"}`))
	if status != http.StatusOK {
		t.Fatalf("ack on the follower: %d %s", status, body)
	}
	for _, c := range walls {
		c.until("the acknowledgement on every hub", func() bool {
			var a alertJSON
			_ = json.Unmarshal(c.state["alerts"][alert.ID], &a)
			return a.State == "acknowledged" && a.AckedBy == "commander-1"
		})
	}
	eventually(t, "the acknowledgement on the leader", func() bool {
		a, _ := findAlert(second.alerts(), alert.ID)
		return a.State == "acknowledged"
	})

	want := map[string]int{
		"/all firing": 1, "/all escalated": 1, "/all acknowledged": 1,
		"/longhua firing": 1, "/longhua escalated": 1, "/longhua acknowledged": 1,
	}
	deadline := time.Now().Add(wait)
	for {
		got, _ := hooks.events()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhooks got %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A second failover: the last instance takes over and sends nothing
	// again.
	_ = second.stop()
	eventually(t, "the third leader", follower.app.IsLeader)
	time.Sleep(time.Second)
	got, twice := hooks.events()
	if len(twice) > 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries %v, twice %v; want each once: %v", got, twice, want)
	}
	if l := follower.alerts(); len(l) != 1 || l[0].State != "acknowledged" {
		t.Fatalf("after the second failover: %+v", l)
	}
}

func findAlert(l []alertJSON, id string) (alertJSON, bool) {
	for _, a := range l {
		if a.ID == id {
			return a, true
		}
	}
	return alertJSON{}, false
}

// BenchmarkLeaderFailover measures failover with the default lease
// (redis.lease_ttl 6s): two instances, the leader closed (it releases the
// lease) or stalled (it stops renewing, as a crashed or cut-off process
// does), and at once an alert raised on the other instance. takeover-s is
// until the other instance holds the lease; failover-s until its webhook
// notification, which only a leader sends, has arrived.
func BenchmarkLeaderFailover(b *testing.B) {
	for _, how := range []string{"closed", "stalled"} {
		b.Run(how, func(b *testing.B) {
			hooks := &hookCounter{seen: map[string]int{}}
			hook := httptest.NewServer(hooks)
			defer hook.Close()
			var takeover, failover time.Duration
			for i := range b.N {
				group := leaderGroup(b, 2, hook.URL, &leaderClock{}, 0)
				var first, other *server
				eventually(b, "one leader", func() bool {
					ls := leaders(group)
					if len(ls) == 1 {
						first = ls[0]
					}
					return first != nil
				})
				other = group[0]
				if other == first {
					other = group[1]
				}
				killed := time.Now()
				if how == "stalled" {
					first.app.Lease().Pause(true)
				} else {
					_ = first.stop()
				}
				fp := fmt.Sprintf("bench/%d", i)
				err := other.app.Manager().Fire(context.Background(), alerts.Signal{Source: "camera", Kind: "offline",
					Fingerprint: fp, Severity: "warning", Title: "摄像机离线", TitleEn: "Camera offline", District: "龙华区"})
				if err != nil {
					b.Fatal(err)
				}
				eventually(b, "the new leader", other.app.IsLeader)
				takeover += time.Since(killed)
				eventually(b, "the notification", func() bool {
					got, _ := hooks.events()
					return got["/all firing"] == i+1
				})
				failover += time.Since(killed)
				for _, s := range group {
					_ = s.stop()
				}
			}
			b.ReportMetric(takeover.Seconds()/float64(b.N), "takeover-s")
			b.ReportMetric(failover.Seconds()/float64(b.N), "failover-s")
		})
	}
}

// TestLeaderRedisRestart: Redis restarts empty (no persistence) under two
// instances; they keep their alerts, a leader is elected again and saves
// them back, and an acknowledgement afterwards reaches both.
func TestLeaderRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	hooks := &hookCounter{seen: map[string]int{}}
	hook := httptest.NewServer(hooks)
	defer hook.Close()
	group := leaderGroupOn(t, srv.Addr(), 2, hook.URL, &leaderClock{}, 2*time.Second)
	eventually(t, "a leader", func() bool { return len(leaders(group)) == 1 })
	err := group[0].app.Manager().Fire(context.Background(), alerts.Signal{Source: "camera", Kind: "offline",
		Fingerprint: "camera/x", Title: "摄像机离线", District: "龙华区"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the alert on both", func() bool { return len(group[0].alerts()) == 1 && len(group[1].alerts()) == 1 })
	id := group[0].alerts()[0].ID

	srv.Stop()
	time.Sleep(500 * time.Millisecond)
	// Without Redis: reads go on, a change answers 503.
	if l := group[1].alerts(); len(l) != 1 {
		t.Fatalf("reads without Redis: %d alerts", len(l))
	}
	status, _, body := group[1].do("POST", "/api/v1/alerts/"+id+"/ack", group[1].tokens[config.RoleCommander], "application/json", strings.NewReader(`{}`))
	if status != http.StatusServiceUnavailable {
		t.Fatalf("ack without Redis: %d %s", status, body)
	}
	srv.Restart()
	eventually(t, "a leader again", func() bool { return len(leaders(group)) == 1 })
	rdb := redistest.Client(t, srv.Addr())
	eventually(t, "the alerts saved back to Redis", func() bool {
		return rdb.Exists(context.Background(), "{"+group[0].app.RedisPrefix()+"}:alerts:state").Val() == 1
	})
	for _, s := range group {
		if l := s.alerts(); len(l) != 1 || l[0].ID != id {
			t.Fatalf("%s after the restart: %+v", s.url, l)
		}
	}
	// The client dials again within a second of Redis answering (go-redis
	// keeps its last dial error until a retry succeeds): 503 until then.
	eventually(t, "an ack after the restart", func() bool {
		status, _, body = group[1].do("POST", "/api/v1/alerts/"+id+"/ack", group[1].tokens[config.RoleCommander], "application/json", strings.NewReader(`{}`))
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Fatalf("ack after the restart: %d %s", status, body)
		}
		return status == http.StatusOK
	})
	eventually(t, "the ack on the other instance", func() bool {
		l := group[0].alerts()
		return len(l) == 1 && l[0].State == "acknowledged"
	})
}
