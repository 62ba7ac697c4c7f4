package app_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// TestRestartRebuildsFromDisk: a clean stop and a start on the same data
// directory give back the tickets, their deduplication, the heat maps,
// the KPIs and the events; the log says where the data lives and how much
// was replayed.
func TestRestartRebuildsFromDisk(t *testing.T) {
	cfg, tokens := testConfig(t)
	s := startWith(t, cfg, tokens)
	var items []tk
	for i := range 300 {
		lat, lng := spot(t, i%7)
		items = append(items, newTicket(fmt.Sprintf("RS-%03d", i), lat, lng))
	}
	for i := 0; i < len(items); i += 100 {
		if code, res := s.postTickets(array(items[i : i+100]...)); code != http.StatusOK || res.Accepted != 100 {
			t.Fatalf("post: %d %+v", code, res)
		}
	}
	ev := fmt.Sprintf(`[{"type":"dispatched","department":"城管","time":%q}]`, time.Now().UTC().Format(time.RFC3339))
	if code, res := s.postEvents("RS-007", ev); code != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("event: %d %+v", code, res)
	}
	type view struct {
		heat15, heat1h, heat24h map[string]int
		kpi                     []int
	}
	look := func(s *server) view {
		var k struct {
			Volume []int `json:"volume_15m"`
		}
		s.getJSON("/api/v1/kpi", s.tokens[config.RoleWall], &k)
		return view{s.heat(8, "15m", ""), s.heat(8, "1h", ""), s.heat(9, "24h", ""), k.Volume}
	}
	before := look(s)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s2 := startWith(t, cfg, tokens)
	if after := look(s2); !reflect.DeepEqual(before, after) {
		t.Fatalf("after restart:\n%+v\nbefore:\n%+v", after, before)
	}
	for _, it := range items {
		if _, ok := s2.state(it["id"].(string)); !ok {
			t.Fatalf("%s lost", it["id"])
		}
	}
	if st, _ := s2.state("RS-007"); len(st.Events) != 1 {
		t.Fatalf("RS-007's events: %+v", st.Events)
	}
	if code, res := s2.postTickets(items[5].json()); code != http.StatusOK || res.Duplicates != 1 {
		t.Fatalf("retry of an old id: %d %+v", code, res)
	}
	code, res := s2.postTickets(items[6].with("summary", "other").json())
	if code != http.StatusUnprocessableEntity || res.Items[0].Status != ticket.StatusRejected || !strings.Contains(res.Items[0].Reason, "already used") {
		t.Fatalf("old id with other content: %d %+v", code, res)
	}
	logs := s2.logs.String()
	for _, want := range []string{"msg=\"data directory\" dir=" + cfg.Storage.Dir, "msg=\"stored ingest log replayed\"", "records=4"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if n, _ := metric(t, s2.reg, "citywall_storage_replayed_records", nil); n != 4 {
		t.Errorf("citywall_storage_replayed_records = %v", n)
	}
	if n, _ := metric(t, s2.reg, "citywall_storage_bytes", nil); n < 300*100 {
		t.Errorf("citywall_storage_bytes = %v", n)
	}
}

// TestSecondInstanceOnOneDirIsRefused: the data directory is locked.
func TestSecondInstanceOnOneDirIsRefused(t *testing.T) {
	cfg, tokens := testConfig(t)
	startWith(t, cfg, tokens)
	_, err := app.New(cfg, app.Options{Registry: prometheus.NewRegistry()})
	if err == nil || !strings.Contains(err.Error(), "in use by another citywall instance") {
		t.Fatalf("second instance: %v", err)
	}
}

// TestOneDataDir: with no state files configured the walls' state and the
// alerts' live in the data directory, and a wall slot bound to an alert
// that is not open is released at the next start.
func TestOneDataDir(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Demo.PerDay = 1
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)
	if err := s.app.WallPusher().PushAlert(t.Context(), "ghost-1", []string{"underpass-haifu"}); err != nil {
		t.Fatal(err)
	}
	c := s.connect(s.tokens[config.RoleWall])
	if snap := c.subscribe("wall/main"); !strings.Contains(string(snap.Data), `"alert":"ghost-1"`) {
		t.Fatalf("the alert's camera is not on the wall: %s", snap.Data)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"walls.json", "alerts.json", "VERSION", "log"} {
		if _, err := os.Stat(filepath.Join(cfg.Storage.Dir, f)); err != nil {
			t.Errorf("%s not in the data directory: %v", f, err)
		}
	}
	s2 := startWith(t, cfg, tokens)
	c2 := s2.connect(s2.tokens[config.RoleWall])
	if snap := c2.subscribe("wall/main"); strings.Contains(string(snap.Data), "ghost-1") {
		t.Fatalf("a slot still holds an alert nobody knows: %s", snap.Data)
	}
	if !strings.Contains(s2.logs.String(), "wall alert slots released") {
		t.Errorf("release not logged:\n%s", s2.logs.String())
	}
}
