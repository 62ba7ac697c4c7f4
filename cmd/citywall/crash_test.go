package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/citywall/citywall/internal/testkit"
)

const crashToken = "crash-test-ingest-token-0123456789"

// crashServer is a real citywall process on a data directory.
type crashServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
}

func buildCitywall(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "citywall")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startCitywall runs bin on dataDir and waits for /readyz.
func startCitywall(t *testing.T, bin, dataDir string) *crashServer {
	t.Helper()
	return startCitywallWith(t, bin, dataDir, "")
}

// startCitywallWith is startCitywall with more configuration (YAML).
func startCitywallWith(t *testing.T, bin, dataDir, extra string) *crashServer {
	t.Helper()
	port := testkit.FreePort(t)
	cfgPath := filepath.Join(t.TempDir(), "city.yaml")
	cfg := fmt.Sprintf(`server: {listen: "127.0.0.1:%d"}
auth:
  tokens:
    - {name: poster, token: %q, roles: [ingest, admin]}
storage: {dir: %q}
log: {level: info}
`, port, crashToken, dataDir) + extra
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{t: t, url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &bytes.Buffer{}}
	s.cmd = exec.Command(bin, "-config", cfgPath)
	s.cmd.Stderr = s.logs
	s.cmd.Stdout = io.Discard
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if waitReady(s.url, 60*time.Second) {
		return s
	}
	s.kill()
	t.Fatalf("citywall never ready:\n%s", s.logs)
	return nil
}

// waitReady polls url's /readyz until it answers 200 (true) or within
// passes.
func waitReady(url string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func (s *crashServer) kill() {
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	_ = s.cmd.Wait()
}

// post sends one batch; ok only when the answer is 200 and every item was
// accepted or a duplicate.
func (s *crashServer) post(c *http.Client, body []byte) (bool, error) {
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/tickets", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+crashToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	var res struct {
		Items []struct {
			Status string `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return false, err
	}
	for _, it := range res.Items {
		if it.Status != "accepted" && it.Status != "duplicate" {
			return false, fmt.Errorf("item %s: %s", it.Status, b)
		}
	}
	return true, nil
}

func (s *crashServer) getJSON(path string, v any) int {
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+crashToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			s.t.Fatal(err)
		}
	}
	return resp.StatusCode
}

type crashBatch struct {
	ids  []string
	body []byte
}

func crashTickets(round, worker, n int, seq *int) crashBatch {
	var b crashBatch
	var items []map[string]any
	now := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	for range n {
		*seq++
		id := fmt.Sprintf("K%d-%d-%d", round, worker, *seq)
		b.ids = append(b.ids, id)
		items = append(items, map[string]any{"id": id, "channel": "phone", "category": "城市管理",
			"summary": "crash test", "lat": 20.02 + float64(*seq%50)*0.001, "lng": 110.33, "created": now})
	}
	b.body, _ = json.Marshal(items)
	return b
}

// TestCrashKeepsEveryAcknowledgedTicket SIGKILLs a real citywall at
// random moments while posters send batches, many rounds over one data
// directory. A batch that got no answer is retried with the same ids in
// the next round. At the end every id ever answered 200 is stored, none
// twice: the heat map's and the KPI's sums equal the acknowledged set.
// CITYWALL_CRASH_ROUNDS=N runs more rounds (BENCHMARKS.md's figure).
func TestCrashKeepsEveryAcknowledgedTicket(t *testing.T) {
	rounds := 4
	if v := os.Getenv("CITYWALL_CRASH_ROUNDS"); v != "" {
		rounds, _ = strconv.Atoi(v)
	}
	bin := buildCitywall(t)
	data := t.TempDir()
	acked := map[string]bool{}
	var pending []crashBatch
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	for round := range rounds {
		s := startCitywall(t, bin, data)
		client := &http.Client{Timeout: 10 * time.Second}
		retry := pending
		pending = nil
		for _, b := range retry { // a retry after the crash: accepted or duplicate
			ok, err := s.post(client, b.body)
			if !ok {
				s.kill()
				t.Fatalf("round %d: retry of an unanswered batch: %v", round, err)
			}
			for _, id := range b.ids {
				acked[id] = true
			}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				seq := 0
				for {
					select {
					case <-stop:
						return
					default:
					}
					b := crashTickets(round, w, 25, &seq)
					ok, _ := s.post(client, b.body)
					mu.Lock()
					if ok {
						for _, id := range b.ids {
							acked[id] = true
						}
					} else {
						pending = append(pending, b)
					}
					mu.Unlock()
					if !ok {
						return // the process is gone
					}
				}
			})
		}
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		s.kill()
		close(stop)
		wg.Wait()
		if round == 0 && len(acked) == 0 {
			t.Fatalf("nothing acknowledged before the first kill:\n%s", s.logs)
		}
	}
	s := startCitywall(t, bin, data)
	defer s.kill()
	for _, b := range pending {
		if ok, err := s.post(http.DefaultClient, b.body); !ok {
			t.Fatalf("final retry: %v", err)
		}
		for _, id := range b.ids {
			acked[id] = true
		}
	}
	missing := 0
	for id := range acked {
		if s.getJSON("/api/v1/tickets/"+id, nil) != http.StatusOK {
			missing++
		}
	}
	var heat struct {
		Cells map[string]int `json:"cells"`
	}
	s.getJSON("/api/v1/heat?res=7&window=24h", &heat)
	sum := 0
	for _, n := range heat.Cells {
		sum += n
	}
	var kpi struct {
		Volume []int `json:"volume_15m"`
	}
	s.getJSON("/api/v1/kpi", &kpi)
	vol := 0
	for _, n := range kpi.Volume {
		vol += n
	}
	t.Logf("%d rounds: %d tickets acknowledged, %d missing after restart; heat sum %d, KPI volume %d", rounds, len(acked), missing, sum, vol)
	if missing != 0 || sum != len(acked) {
		t.Fatalf("lost %d acknowledged tickets; heat counts %d for %d acknowledged", missing, sum, len(acked))
	}
	// The KPI counts by the city's day: a run across its midnight splits.
	if vol != len(acked) && time.Now().In(time.FixedZone("CST", 8*3600)).Hour() != 0 {
		t.Fatalf("KPI volume %d for %d acknowledged", vol, len(acked))
	}
}
