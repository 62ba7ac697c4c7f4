package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// backupCity raises cluster alerts quickly, so the test has one to keep.
const backupCity = `alerts: {threshold: 6, min_history: 0s, scan_interval: 1s}
`

func (s *crashServer) send(method, path, body string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(method, s.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+crashToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// burst is n burst-pipe reports around Guomao: a cluster alert.
func burst(n int) []byte {
	var items []map[string]any
	now := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	for i := range n {
		items = append(items, map[string]any{"id": fmt.Sprint("B-", i), "channel": "phone", "category": "供水排水",
			"subcategory": "爆管", "summary": "水管爆裂，水漫到路面", "created": now,
			"lat": 20.0325 + float64(i%3)*0.0008, "lng": 110.3235 + float64(i%2)*0.0008})
	}
	b, _ := json.Marshal(items)
	return b
}

type backupView struct {
	heat   map[string]int
	alerts string
	wall   string
	audit  int
}

func (s *crashServer) view() backupView {
	var v backupView
	var heat struct {
		Cells map[string]int `json:"cells"`
	}
	s.getJSON("/api/v1/heat?res=7&window=24h", &heat)
	v.heat = heat.Cells
	var al struct {
		Alerts []struct {
			ID, State, AckedBy string
		} `json:"alerts"`
	}
	s.getJSON("/api/v1/alerts", &al)
	b, _ := json.Marshal(al.Alerts)
	v.alerts = string(b)
	var w struct {
		Layouts []struct{ ID string } `json:"layouts"`
	}
	s.getJSON("/api/v1/walls/main", &w)
	b, _ = json.Marshal(w.Layouts)
	v.wall = string(b)
	var audit struct {
		Entries []json.RawMessage `json:"entries"`
	}
	s.getJSON("/api/v1/audit", &audit)
	v.audit = len(audit.Entries)
	return v
}

// TestBackupOfARunningInstance: a real citywall with tickets, heat, an
// acknowledged alert and a changed wall is backed up over its API while
// posters keep sending; the backup, restored into a new directory, starts
// a new citywall that holds every ticket acknowledged before the backup
// began (and only acknowledged ones), the same alerts and walls, and heat
// that counts exactly the tickets it holds.
func TestBackupOfARunningInstance(t *testing.T) {
	bin := buildCitywall(t)
	s := startCitywallWith(t, bin, t.TempDir(), backupCity)
	defer s.kill()
	client := &http.Client{Timeout: 10 * time.Second}
	acked := map[string]bool{}
	var mu sync.Mutex
	post := func(b crashBatch) {
		if ok, err := s.post(client, b.body); !ok {
			t.Errorf("post: %v", err)
			return
		}
		mu.Lock()
		for _, id := range b.ids {
			acked[id] = true
		}
		mu.Unlock()
	}
	seq := 0
	for range 20 {
		post(crashTickets(0, 0, 50, &seq))
	}
	if ok, err := s.post(client, burst(15)); !ok {
		t.Fatal(err)
	}
	var alertID string
	deadline := time.Now().Add(30 * time.Second)
	for alertID == "" && time.Now().Before(deadline) {
		var al struct {
			Alerts []struct{ ID string } `json:"alerts"`
		}
		s.getJSON("/api/v1/alerts", &al)
		if len(al.Alerts) > 0 {
			alertID = al.Alerts[0].ID
		}
		time.Sleep(100 * time.Millisecond)
	}
	if alertID == "" {
		t.Fatalf("no alert raised:\n%s", s.logs)
	}
	if code, b := s.send("POST", "/api/v1/alerts/"+alertID+"/ack", `{"note":"on it"}`); code != 200 {
		t.Fatalf("ack: %d %s", code, b)
	}
	if code, b := s.send("PUT", "/api/v1/walls/main/layouts/two",
		`{"name":"双画面","grid":[2,1],"tiles":[{"id":"v1","kind":"video","x":0,"y":0,"w":1,"h":1},{"id":"v2","kind":"video","x":1,"y":0,"w":1,"h":1}]}`); code != 204 {
		t.Fatalf("put layout: %d %s", code, b)
	}

	// Back up while four posters keep going.
	mu.Lock()
	before := make([]string, 0, len(acked))
	for id := range acked {
		before = append(before, id)
	}
	mu.Unlock()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			seq := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				post(crashTickets(1, w, 25, &seq))
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	file := filepath.Join(t.TempDir(), "city.backup")
	var out bytes.Buffer
	t.Setenv("CITYWALL_TOKEN", crashToken)
	if err := backupCmd(context.Background(), []string{"-server", s.url, "-out", file}, &out); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	want := s.view()
	t.Log(strings.TrimSpace(out.String()))

	restored := filepath.Join(t.TempDir(), "restored")
	out.Reset()
	if err := restoreCmd([]string{"-in", file, "-data", restored}, &out); err != nil {
		t.Fatal(err)
	}
	s2 := startCitywallWith(t, bin, restored, backupCity)
	defer s2.kill()
	for _, id := range before {
		if s2.getJSON("/api/v1/tickets/"+id, nil) != http.StatusOK {
			t.Fatalf("ticket %s, acknowledged before the backup, is not in the restored instance", id)
		}
	}
	got := s2.view()
	held := 0
	mu.Lock()
	for id := range acked {
		if s2.getJSON("/api/v1/tickets/"+id, nil) == http.StatusOK {
			held++
		}
	}
	mu.Unlock()
	held += 15 // the burst
	sum := 0
	for _, n := range got.heat {
		sum += n
	}
	t.Logf("%d tickets acknowledged before the backup, %d in all; %d restored, heat sum %d", len(before), len(acked), held, sum)
	if sum != held {
		t.Errorf("restored heat counts %d tickets, the instance holds %d", sum, held)
	}
	if got.alerts != want.alerts || !strings.Contains(got.alerts, alertID) {
		t.Errorf("alerts after restore %s, before %s", got.alerts, want.alerts)
	}
	if got.wall != want.wall || !strings.Contains(got.wall, `"two"`) || got.audit != want.audit {
		t.Errorf("wall after restore %s (audit %d), before %s (audit %d)", got.wall, got.audit, want.wall, want.audit)
	}

	// Bad input: a non-empty target, a cut file, a flipped byte, not a backup.
	if err := restoreCmd([]string{"-in", file, "-data", restored}, io.Discard); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("restore into a used directory: %v", err)
	}
	whole, _ := os.ReadFile(file)
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"cut", whole[:len(whole)*2/3], "truncated"},
		{"flipped", flip(whole, len(whole)/2), "corrupt"},
		{"not a backup", []byte("hello"), "not a citywall backup"},
	} {
		bad := filepath.Join(t.TempDir(), "bad")
		_ = os.WriteFile(bad, tc.data, 0o600)
		dir := filepath.Join(t.TempDir(), "x")
		err := restoreCmd([]string{"-in", bad, "-data", dir}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
		if _, serr := os.Stat(dir); serr == nil {
			t.Errorf("%s: a failed restore left %s behind", tc.name, dir)
		}
	}
}

func flip(b []byte, at int) []byte {
	c := bytes.Clone(b)
	c[at] ^= 0xff
	return c
}
