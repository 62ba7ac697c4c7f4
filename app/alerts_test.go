package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
)

// alertConfig turns alerting on for a test: a fixed threshold (no
// calibration), no history needed, a fast scan, a Longhua team of token
// team-1, a duty level of commander-1, one camera at Guomao, and a state
// file.
func alertConfig(t *testing.T, hook string) func(*config.Config) {
	dir := t.TempDir()
	return func(c *config.Config) {
		c.Alerts.Threshold = 6
		c.Alerts.MinHistory = 0
		c.Alerts.ScanInterval = time.Second
		c.Alerts.StateFile = filepath.Join(dir, "alerts.json")
		c.Alerts.Teams = []config.AlertTeam{
			{ID: "longhua", Name: "龙华区应急队", NameEn: "Longhua team", Members: []config.TeamMember{{Name: "team-1"}}, Districts: []string{"龙华区"}},
			{ID: "duty", Name: "值班长", Members: []config.TeamMember{{Name: "commander-1"}}},
		}
		c.Alerts.EscalateTo = []string{"duty"}
		if hook != "" {
			c.Alerts.Webhooks = []config.Webhook{{URL: hook}}
			c.Alerts.WebhookBackoff = 10 * time.Millisecond
		}
		c.Cameras = []config.Camera{
			{ID: "road-binhai", Name: "滨海大道国贸路口", NameEn: "Binhai Ave at Guomao Rd", Lat: 20.0330, Lng: 110.3230, Main: "rtsp://127.0.0.1:8554/road-binhai"},
			{ID: "reservoir-shahe", Name: "沙河水库", Lat: 19.9400, Lng: 110.3900, Main: "rtsp://127.0.0.1:8554/shahe"},
		}
	}
}

// alertView is what the tests read of an alert.
type alertView struct {
	ID         string             `json:"id"`
	State      string             `json:"state"`
	Source     string             `json:"source"`
	Category   string             `json:"category"`
	District   string             `json:"district"`
	Teams      []string           `json:"teams"`
	Cameras    []string           `json:"cameras"`
	CameraInfo []alerts.CameraRef `json:"camera_info"`
	StartsAt   time.Time          `json:"starts_at"`
	AckedBy    string             `json:"acked_by"`
	AckedAt    time.Time          `json:"acked_at"`
	Reason     string             `json:"reason"`
	Cluster    *alerts.Cluster    `json:"cluster"`
}

// burstBody is n burst-pipe reports around Guomao, created a moment ago.
func burstBody(prefix string, n int) string {
	var items []tk
	for i := range n {
		items = append(items, newTicket(fmt.Sprintf("%s-%d", prefix, i), 20.0325+float64(i%3)*0.0008, 110.3235+float64(i%2)*0.0008).
			with("category", "供水排水", "subcategory", "爆管", "summary", "水管爆裂，水漫到路面"))
	}
	return array(items...)
}

// TestAlertEndToEnd: a burst of tickets posted over HTTP reaches a team
// member's WebSocket client as an alert with its nearest camera, within a
// second of being raised; acknowledging it from the API shows who and
// when; resolving it takes it off the team's topic.
func TestAlertEndToEnd(t *testing.T) {
	var hookMu sync.Mutex
	var hooked []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p struct {
			Event string `json:"event"`
		}
		_ = json.NewDecoder(r.Body).Decode(&p)
		hookMu.Lock()
		hooked = append(hooked, p.Event)
		hookMu.Unlock()
	}))
	defer hook.Close()
	s := startServer(t, alertConfig(t, hook.URL))
	team := s.connect(s.tokens[config.RoleTeam])
	team.subscribe("alerts/team/longhua")
	wall := s.connect(s.tokens[config.RoleWall])
	wall.subscribe("alerts")

	code, res := s.postTickets(burstBody("B", 8))
	if code != http.StatusOK || res.Accepted != 8 {
		t.Fatalf("post burst: %d %+v", code, res)
	}
	var got alertView
	var receivedAt time.Time
	team.until("the burst's alert on the team topic", func() bool {
		for _, v := range team.state["alerts/team/longhua"] {
			if err := json.Unmarshal(v, &got); err != nil {
				t.Fatal(err)
			}
			receivedAt = time.Now()
			return true
		}
		return false
	})
	latency := receivedAt.Sub(got.StartsAt)
	t.Logf("alert raised → on the team's WebSocket client: %v", latency)
	if latency > time.Second {
		t.Errorf("alert reached the team %v after it was raised, want ≤ 1s", latency)
	}
	if got.Source != "cluster" || got.Category != "供水排水" || got.State != "firing" || got.District != "龙华区" {
		t.Errorf("alert %+v", got)
	}
	if !slices.Contains(got.Cameras, "road-binhai") || slices.Contains(got.Cameras, "reservoir-shahe") {
		t.Errorf("cameras %v: want the Guomao camera and not the far reservoir", got.Cameras)
	}
	if got.Cluster == nil || got.Cluster.Count != 8 || len(got.Cluster.Tickets) != 8 {
		t.Errorf("cluster %+v", got.Cluster)
	}
	if !slices.Equal(got.Teams, []string{"longhua"}) {
		t.Errorf("teams %v", got.Teams)
	}

	// Acknowledge as the team member; the wall sees who and when.
	status, _, body := s.do("POST", "/api/v1/alerts/"+got.ID+"/ack", s.tokens[config.RoleTeam], "application/json", strings.NewReader(`{"note":"on our way"}`))
	if status != http.StatusOK {
		t.Fatalf("ack: %d %s", status, body)
	}
	wall.until("the acknowledgement on the wall", func() bool {
		var a alertView
		if v, ok := wall.state["alerts"][got.ID]; ok && json.Unmarshal(v, &a) == nil {
			return a.State == "acknowledged" && a.AckedBy == "team-1" && !a.AckedAt.IsZero()
		}
		return false
	})
	status, _, body = s.do("POST", "/api/v1/alerts/"+got.ID+"/ack", s.tokens[config.RoleTeam], "", nil)
	checkError(t, "second ack", status, body, http.StatusConflict, "conflict", "acknowledged")

	// Resolve: a reason is required.
	status, _, body = s.do("POST", "/api/v1/alerts/"+got.ID+"/resolve", s.tokens[config.RoleCommander], "application/json", strings.NewReader(`{"reason":" "}`))
	checkError(t, "resolve without reason", status, body, http.StatusBadRequest, "reason_required", "reason")
	status, _, body = s.do("POST", "/api/v1/alerts/"+got.ID+"/resolve", s.tokens[config.RoleCommander], "application/json", strings.NewReader(`{"reason":"pipe closed by the water company"}`))
	if status != http.StatusOK {
		t.Fatalf("resolve: %d %s", status, body)
	}
	team.until("the alert off the team topic", func() bool { return len(team.state["alerts/team/longhua"]) == 0 })

	// History keeps it, with the reason.
	var one alertView
	s.getJSON("/api/v1/alerts/"+got.ID, s.tokens[config.RoleWall], &one)
	if one.State != "resolved" || one.Reason != "pipe closed by the water company" {
		t.Errorf("history: %+v", one)
	}
	// The webhook was told of the alert, its acknowledgement and its end.
	eventually(t, "webhook deliveries", func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		sort.Strings(hooked)
		return slices.Equal(hooked, []string{"acknowledged", "firing", "resolved"})
	})
	if v, _ := metric(t, s.reg, "citywall_alerts_raised_total", map[string]string{"source": "cluster"}); v != 1 {
		t.Errorf("raised_total{source=cluster} = %v", v)
	}
	if _, found := metric(t, s.reg, "citywall_alerts_scan_duration_seconds", nil); !found {
		t.Error("no scan duration metric")
	}
}

// TestAlertLatency fires alerts through the App's manager, as other
// sources do, and measures raise → team WebSocket client.
func TestAlertLatency(t *testing.T) {
	s := startServer(t, alertConfig(t, ""))
	team := s.connect(s.tokens[config.RoleTeam])
	team.subscribe("alerts/team/longhua")
	m := s.app.Manager()
	var lat []time.Duration
	for i := range 20 {
		fp := fmt.Sprintf("camera/cam-%d", i)
		t0 := time.Now()
		if err := m.Fire(context.Background(), alerts.Signal{Source: "camera", Kind: "offline", Fingerprint: fp,
			Title: "摄像头离线", TitleEn: "Camera offline", District: "龙华区"}); err != nil {
			t.Fatal(err)
		}
		team.waitFor("alert "+fp, func(m wsMsg) bool { return m.Type == "delta" && strings.Contains(string(m.Data), fp) })
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	t.Logf("alert raised → team WebSocket client over %d alerts: median %v, max %v", len(lat), lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)-1] > time.Second {
		t.Errorf("slowest alert took %v, want ≤ 1s", lat[len(lat)-1])
	}
}

func TestAlertAPI(t *testing.T) {
	s := startServer(t, alertConfig(t, ""))
	m := s.app.Manager()
	ctx := context.Background()
	for i, d := range []string{"龙华区", "美兰区"} {
		if err := m.Fire(ctx, alerts.Signal{Source: "sla", Kind: "response_overdue", Fingerprint: fmt.Sprint("sla/T", i),
			Title: "超时", TitleEn: "Overdue", District: d, Category: "城市管理"}); err != nil {
			t.Fatal(err)
		}
	}
	var list struct {
		Alerts []alertView `json:"alerts"`
		Count  int         `json:"count"`
	}
	s.getJSON("/api/v1/alerts?state=open&source=sla&district="+url.QueryEscape("龙华区"), s.tokens[config.RoleWall], &list)
	if list.Count != 1 || list.Alerts[0].District != "龙华区" {
		t.Fatalf("filtered list %+v", list)
	}
	meilan := ""
	s.getJSON("/api/v1/alerts?from="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), s.tokens[config.RoleWall], &list)
	for _, a := range list.Alerts {
		if a.District == "美兰区" {
			meilan = a.ID
		}
	}
	if list.Count != 2 || meilan == "" {
		t.Fatalf("time-range list %+v", list)
	}

	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		code                            string
		mention                         []string
	}{
		{"bad state", "GET", "/api/v1/alerts?state=burning", "wall", "", 400, "bad_request", []string{"state"}},
		{"bad time", "GET", "/api/v1/alerts?from=yesterday", "wall", "", 400, "bad_request", []string{"from"}},
		{"bad limit", "GET", "/api/v1/alerts?limit=0", "wall", "", 400, "bad_request", []string{"limit"}},
		{"unknown alert", "GET", "/api/v1/alerts/nope", "wall", "", 404, "not_found", []string{"nope"}},
		{"wall may not ack", "POST", "/api/v1/alerts/" + meilan + "/ack", "wall", "", 403, "forbidden", nil},
		{"ingest may not resolve", "POST", "/api/v1/alerts/" + meilan + "/resolve", "ingest", `{"reason":"x"}`, 403, "forbidden", nil},
		{"team outside its area", "POST", "/api/v1/alerts/" + meilan + "/ack", "team", "", 403, "forbidden", []string{"team"}},
		{"ack body not JSON", "POST", "/api/v1/alerts/" + meilan + "/ack", "commander", "{", 400, "bad_request", []string{"malformed"}},
		{"ack unknown field", "POST", "/api/v1/alerts/" + meilan + "/ack", "commander", `{"nope":1}`, 400, "bad_request", []string{"nope"}},
		{"resolve no body", "POST", "/api/v1/alerts/" + meilan + "/resolve", "commander", "", 400, "bad_request", []string{"empty"}},
		{"silence without end", "POST", "/api/v1/silences", "commander", `{"category":"噪音","comment":"x"}`, 400, "bad_request", []string{"ends_at"}},
		{"silence too long", "POST", "/api/v1/silences", "commander", `{"category":"噪音","comment":"x","duration":"200h"}`, 400, "bad_request", []string{"duration"}},
		{"silence bad duration", "POST", "/api/v1/silences", "commander", `{"category":"噪音","comment":"x","duration":"soon"}`, 400, "bad_request", []string{"duration"}},
		{"silence by a team", "POST", "/api/v1/silences", "team", `{"category":"噪音","comment":"x","duration":"1h"}`, 403, "forbidden", nil},
		{"expire unknown silence", "DELETE", "/api/v1/silences/nope", "commander", "", 404, "not_found", nil},
		{"dead letters need a commander", "GET", "/api/v1/alerts/dead-letters", "team", "", 403, "forbidden", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			} else {
				body = strings.NewReader("")
			}
			status, _, b := s.with(t).do(tc.method, tc.path, s.tokens[config.Role(tc.token)], "application/json", body)
			checkError(t, tc.name, status, b, tc.status, tc.code, tc.mention...)
		})
	}

	// A commander acknowledges anywhere.
	status, _, b := s.do("POST", "/api/v1/alerts/"+meilan+"/ack", s.tokens[config.RoleCommander], "", nil)
	if status != http.StatusOK {
		t.Fatalf("commander ack: %d %s", status, b)
	}
	// Silences: create, list, mute, expire.
	status, _, b = s.do("POST", "/api/v1/silences", s.tokens[config.RoleCommander], "application/json",
		strings.NewReader(`{"district":"龙华区","category":"供水排水","duration":"2h","comment":"mains work on Jinmao Rd"}`))
	if status != http.StatusCreated {
		t.Fatalf("silence: %d %s", status, b)
	}
	var sil alerts.Silence
	_ = json.Unmarshal(b, &sil)
	if sil.ID == "" || sil.CreatedBy != "commander-1" || sil.EndsAt.Sub(sil.StartsAt) != 2*time.Hour {
		t.Errorf("silence %+v", sil)
	}
	_ = m.Fire(ctx, alerts.Signal{Source: "cluster", Fingerprint: "cluster/x", District: "龙华区", Category: "供水排水", Title: "x"})
	var muted alerts.Alert
	for _, a := range m.Open() {
		if a.Fingerprint == "cluster/x" {
			muted = a
		}
	}
	if muted.Silenced != sil.ID {
		t.Errorf("alert in the silenced area and category is not silenced: %+v", muted)
	}
	var sils struct {
		Silences []alerts.Silence `json:"silences"`
	}
	s.getJSON("/api/v1/silences", s.tokens[config.RoleWall], &sils)
	if len(sils.Silences) != 1 {
		t.Errorf("silences %+v", sils)
	}
	status, _, b = s.do("DELETE", "/api/v1/silences/"+sil.ID, s.tokens[config.RoleAdmin], "", nil)
	if status != http.StatusOK {
		t.Errorf("expire: %d %s", status, b)
	}
	var teams struct {
		Mine      []string `json:"mine"`
		MayHandle bool     `json:"may_handle"`
	}
	s.getJSON("/api/v1/alerts/teams", s.tokens[config.RoleTeam], &teams)
	if !slices.Equal(teams.Mine, []string{"longhua"}) || !teams.MayHandle {
		t.Errorf("teams of team-1: %+v", teams)
	}
	var dl struct {
		DeadLetters []any `json:"dead_letters"`
	}
	s.getJSON("/api/v1/alerts/dead-letters", s.tokens[config.RoleCommander], &dl)
	if dl.DeadLetters == nil {
		t.Error("dead letters: want an empty list, not null")
	}
	// Unknown team topic.
	c := s.connect(s.tokens[config.RoleTeam])
	c.send(map[string]any{"op": "subscribe", "id": 99, "topic": "alerts/team/nobody"})
	e := c.waitFor("error", func(m wsMsg) bool { return m.Type == "error" && m.ID == 99 })
	if e.Code != "unknown_topic" {
		t.Errorf("subscribe to an unknown team: %s", e.Raw)
	}
}

// TestAlertsSurviveRestart stops an App with an open alert and starts
// another on the same state file: the alert is back on the hub.
func TestAlertsSurviveRestart(t *testing.T) {
	edit := alertConfig(t, "")
	s := startServer(t, edit)
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "feed", Kind: "water_level", Fingerprint: "feed/shahe",
		Title: "沙河水库超警戒水位", TitleEn: "Shahe Reservoir above warning level", District: "龙华区"}); err != nil {
		t.Fatal(err)
	}
	id := s.app.Manager().Open()[0].ID
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	cfg, tokens := testConfig(t)
	edit(&cfg)
	s2 := startWith(t, cfg, tokens)
	c := s2.connect(s2.tokens[config.RoleWall])
	c.subscribe("alerts")
	if _, ok := c.state["alerts"][id]; !ok {
		t.Fatalf("alert %s not on the hub after a restart: %v", id, c.state["alerts"])
	}
}
