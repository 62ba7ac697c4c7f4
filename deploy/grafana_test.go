package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo"
	"github.com/citywall/citywall/internal/testkit"
)

// dashboard is the part of Grafana's JSON model the tests read.
type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID         int            `json:"id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Datasource *datasourceRef `json:"datasource"`
	Targets    []panelTarget  `json:"targets"`
	Panels     []panel        `json:"panels"` // a collapsed row's
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panelTarget struct {
	RefID      string         `json:"refId"`
	Expr       string         `json:"expr"`
	Datasource *datasourceRef `json:"datasource"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana/citywall.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/citywall.json: %v", err)
	}
	return d
}

// exprs lists every panel target's expression as "panel title/refId".
func (d dashboard) exprs() (names, exprs []string) {
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				names = append(names, fmt.Sprintf("panel %d %q target %s", p.ID, p.Title, tg.RefID))
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return names, exprs
}

// TestGrafanaDashboardModel checks the dashboard's shape without a server:
// a data source variable every panel uses, the instance variable in every
// expression, unique panel ids, and a panel for each thing an operator
// watches.
func TestGrafanaDashboardModel(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q title %q: both are needed for a stable import", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["instance"] != "query" {
		t.Errorf("template variables %v, want a datasource variable 'datasource' and a query variable 'instance'", vars)
	}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if prev, ok := ids[p.ID]; ok {
				t.Errorf("panel id %d used by %q and %q", p.ID, prev, p.Title)
			}
			ids[p.ID] = p.Title
			if p.Type != "row" && (p.Datasource == nil || p.Datasource.UID != "${datasource}") {
				t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
			}
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
					t.Errorf("panel %q target %s: datasource %+v, want uid ${datasource}", p.Title, tg.RefID, tg.Datasource)
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	names, exprs := d.exprs()
	all := strings.Join(exprs, "\n")
	for i, e := range exprs {
		if !strings.Contains(e, `instance=~"$instance"`) {
			t.Errorf("%s: %s does not select instance=~\"$instance\"", names[i], e)
		}
	}
	// What the operator's kit promises the dashboard shows.
	for _, m := range []string{
		"citywall_hub_connections", "citywall_hub_delivery_latency_seconds_bucket",
		"citywall_ingest_tickets_total", "citywall_ingest_events_rejected_total",
		"citywall_geo_window_cells", "citywall_alerts_open", "citywall_video_state",
		"citywall_video_viewers", "citywall_video_bytes_in_total", "citywall_video_bytes_out_total",
		"citywall_cluster_ingest_lag_seconds", "citywall_cluster_hub_lag_seconds", "citywall_leader_is_leader",
	} {
		if !strings.Contains(all, m) {
			t.Errorf("no panel uses %s", m)
		}
	}
	if !strings.Contains(all, "histogram_quantile(") {
		t.Error("no latency quantile in the dashboard")
	}
}

// citywall is one running App of the demo city.
type citywall struct {
	url    string
	tokens map[config.Role]string
}

// startCitywall runs the demo city in this process until the test ends.
func startCitywall(t *testing.T, edit func(*config.Config)) *citywall {
	t.Helper()
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	edit(&cfg)
	tokens := demo.Unconfigured(&cfg, "")
	a, err := app.New(cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("citywall %s: %v", a.URL(), err)
		}
	})
	c := &citywall{url: a.URL(), tokens: tokens}
	testkit.Eventually(t, "citywall ready at "+c.url, 60*time.Second, 100*time.Millisecond, func() bool {
		resp, err := http.Get(c.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c
}

func (c *citywall) do(t *testing.T, method, path string, role config.Role, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tokens[role])
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// traffic gives the panels something to show: a wall client subscribed to
// busy topics, a viewer of camera, a ticket and an event refused.
func (c *citywall) traffic(t *testing.T, camera string) {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + c.tokens[config.RoleWall]}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws := "ws" + strings.TrimPrefix(c.url, "http")
	hub, _, err := d.Dial(ws+"/ws", h)
	if err != nil {
		t.Fatalf("dial %s/ws: %v", ws, err)
	}
	t.Cleanup(func() { _ = hub.Close() })
	for i, topic := range []string{"tickets", "stats", "heat/8/15m/all", "hot/1h"} {
		b, _ := json.Marshal(map[string]any{"op": "subscribe", "id": i + 1, "topic": topic})
		if err := hub.WriteMessage(websocket.TextMessage, b); err != nil {
			t.Fatal(err)
		}
	}
	go drain(hub)
	video, _, err := d.Dial(ws+"/ws/video/"+camera, h)
	if err != nil {
		t.Fatalf("dial %s/ws/video/%s: %v", ws, camera, err)
	}
	t.Cleanup(func() { _ = video.Close() })
	frames := 0
	for frames < 3 {
		_ = video.SetReadDeadline(time.Now().Add(30 * time.Second))
		typ, _, err := video.ReadMessage()
		if err != nil {
			t.Fatalf("video of %s: %v after %d binary frames", camera, err, frames)
		}
		if typ == websocket.BinaryMessage {
			frames++
		}
	}
	go drain(video)

	created := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	tickets := fmt.Sprintf(`[{"id":"dash-1","channel":"phone","category":"城市管理","lat":20.02,"lng":110.33,"created":%q},`+
		`{"id":"dash-2","channel":"phone","category":"城市管理","lat":95,"lng":110.33,"created":%q}]`, created, created)
	if code, b := c.do(t, "POST", "/api/v1/tickets", config.RoleIngest, tickets); code >= 300 {
		t.Fatalf("post tickets: %d %s", code, b)
	}
	event := fmt.Sprintf(`[{"ticket":"someone-else","type":"dispatched","time":%q,"department":"城管"}]`, time.Now().UTC().Format(time.RFC3339))
	testkit.Eventually(t, "the ticket dash-1 known, its bad event refused", 30*time.Second, 100*time.Millisecond, func() bool {
		code, _ := c.do(t, "POST", "/api/v1/tickets/dash-1/events", config.RoleIngest, event)
		return code != http.StatusNotFound
	})
}

func drain(c *websocket.Conn) {
	for {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

var cameraLabel = regexp.MustCompile(`(?m)^citywall_video_state\{camera="([^"]+)"\}`)

// metricsText fetches /metrics as an admin, in the text format promtool
// reads.
func (c *citywall) metricsText(t *testing.T) []byte {
	t.Helper()
	code, b := c.do(t, "GET", "/metrics", config.RoleAdmin, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %s", c.url, code, b)
	}
	return b
}

// TestGrafanaDashboardQueries runs two demo cities, one alone on its data
// directory and one joined to a real redis-server, lets a real Prometheus
// scrape both every second, and runs every expression of the dashboard
// against it: each must parse and return data. promtool lints both
// instances' /metrics.
func TestGrafanaDashboardQueries(t *testing.T) {
	prom := tool(t, "prometheus", "prometheus")
	promtool := tool(t, "promtool", "prometheus")
	d := readDashboard(t)
	testStart := time.Now()

	// A scan every 2 s, with a fixed threshold (no calibration before the
	// first scan), so the scan panel has scans to show soon after the
	// demo has learnt its history.
	single := startCitywall(t, func(c *config.Config) {
		c.Storage.Dir = t.TempDir()
		c.Alerts.ScanInterval = 2 * time.Second
		c.Alerts.Threshold = 20
	})
	redisAddr := redistest.Addr(t)
	joined := startCitywall(t, func(c *config.Config) {
		c.Redis.Addrs = []string{redisAddr}
		c.Redis.Prefix = redistest.Prefix(t)
		c.Alerts.ScanInterval = 2 * time.Second
		c.Alerts.Threshold = 20
	})

	// Prometheus scrapes both as an operator's would (docs/operations.md),
	// with the admin token from a file.
	dir := t.TempDir()
	var scrape strings.Builder
	// A scrape may take its whole interval: a 1 s timeout failed both
	// targets' scrapes on a machine at load 25, and every gauge went
	// missing from the queries.
	scrape.WriteString("global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 2s\nscrape_configs:\n")
	for i, c := range []*citywall{single, joined} {
		tok := filepath.Join(dir, fmt.Sprintf("token-%d", i))
		if err := os.WriteFile(tok, []byte(c.tokens[config.RoleAdmin]), 0o600); err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(c.url)
		fmt.Fprintf(&scrape, "  - job_name: citywall-%d\n    authorization:\n      credentials_file: %s\n    static_configs:\n      - targets: [%q]\n", i, tok, u.Host)
	}
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(scrape.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testkit.FreePort(t)
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", port)
	var log testkit.SyncBuffer
	cmd := exec.Command(prom, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--web.enable-lifecycle")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})

	// Both targets up before the traffic starts, so the counters' rises
	// are seen.
	t.Logf("both citywalls ready after %v", time.Since(testStart).Round(time.Second))
	testkit.Eventually(t, "prometheus scraping both citywalls", 60*time.Second, 500*time.Millisecond, func() bool {
		v, err := query(api, `count(up == 1)`)
		return err == nil && len(v) == 1 && v[0].Value[1] == "2"
	})
	for _, c := range []*citywall{single, joined} {
		var m [][]byte
		testkit.Eventually(t, c.url+"/metrics showing the demo's cameras", 60*time.Second, 200*time.Millisecond, func() bool {
			m = cameraLabel.FindSubmatch(c.metricsText(t))
			return m != nil
		})
		c.traffic(t, string(m[1]))
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = bytes.NewReader(c.metricsText(t))
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics on %s/metrics: %v\n%s", c.url, err, out)
		}
	}
	// The instance variable's query finds both instances.
	for _, v := range d.Templating.List {
		if v.Name != "instance" {
			continue
		}
		q, _ := v.Query.(map[string]any)
		def, _ := q["query"].(string)
		m := regexp.MustCompile(`^label_values\((.+), instance\)$`).FindStringSubmatch(def)
		if m == nil {
			t.Fatalf("instance variable query %q, want label_values(SELECTOR, instance)", def)
		}
		sel := strings.ReplaceAll(m[1], "$job", ".*")
		res, err := query(api, fmt.Sprintf("count by (instance) (%s)", sel))
		if err != nil || len(res) != 2 {
			t.Errorf("instance variable %s: %d instances, %v; want both citywalls", def, len(res), err)
		}
	}

	names, exprs := d.exprs()
	// Grafana's "All" is the variables' allValue; $__rate_interval is
	// four scrape intervals (1m at Prometheus's default 15 s), and here
	// spans the whole run, so the traffic's single events stay in it.
	vars := strings.NewReplacer("$instance", ".*", "$job", ".*", "$__rate_interval", "5m")
	// Each expression must parse at once; data may take a few scrapes
	// (the first cluster scan waits for the demo to learn three weeks of
	// history: half a minute under -race on a busy machine), so the
	// queries repeat until all return data or four minutes have passed.
	problems := make([]string, len(exprs))
	began := time.Now()
	deadline := began.Add(4 * time.Minute)
	for {
		left := 0
		for i, e := range exprs {
			q := vars.Replace(e)
			res, err := query(api, q)
			switch {
			case err != nil:
				t.Fatalf("%s: %s: %v", names[i], q, err)
			case len(res) == 0:
				problems[i] = fmt.Sprintf("%s: %s returned no data", names[i], q)
			case !slices.ContainsFunc(res, func(s sample) bool { return s.Value[1] != "NaN" }):
				// A quantile of a histogram with nothing observed in the window.
				problems[i] = fmt.Sprintf("%s: %s returned only NaN (%d series)", names[i], q, len(res))
			default:
				problems[i] = ""
				continue
			}
			left++
		}
		if left == 0 || time.Now().After(deadline) {
			break
		}

		time.Sleep(time.Second)
	}
	for _, p := range problems {
		if p != "" {
			t.Error(p)
		}
	}
	t.Logf("%d expressions queried against %s; data in all after %v", len(exprs), api, time.Since(began).Round(time.Second))
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant query and returns its vector; a parse error or a
// failed evaluation is an error with Prometheus's own words.
func query(api, q string) ([]sample, error) {
	resp, err := http.PostForm(api+"query", url.Values{"query": {q}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want a vector", r.Data.ResultType)
	}
	var out []sample
	if err := json.Unmarshal(r.Data.Result, &out); err != nil {
		return nil, err
	}
	return out, nil
}
