package app_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// TestWallSwitchSpreadOverHub: eight WebSocket clients stand for the eight
// monitors of the command wall; for each of 50 set switches the spread is
// the time between the first and the last client reading the switch's
// delta. It is the hub's share of the display spread, without a browser.
func TestWallSwitchSpreadOverHub(t *testing.T) {
	cfg, tokens := demoWalls(t, t.TempDir())
	s := startWith(t, cfg, tokens)
	const monitors = 8
	switches := 50
	if n, err := strconv.Atoi(os.Getenv("CITYWALL_WALL_SWITCHES")); err == nil && n > 0 {
		switches = n
	}
	var mu sync.Mutex
	seen := map[int][]time.Time{} // version → when each client read it
	var wg sync.WaitGroup
	for range monitors {
		c := s.connect(s.tokens[config.RoleWall])
		c.subscribe("wall/main")
		wg.Go(func() {
			for {
				_, data, err := c.conn.ReadMessage()
				at := time.Now()
				if err != nil {
					return
				}
				for _, line := range strings.Split(string(data), "\n") {
					var m struct {
						Type string `json:"type"`
						Data struct {
							Set struct {
								Control *struct {
									Version int `json:"version"`
								} `json:"control"`
							} `json:"set"`
						} `json:"data"`
					}
					if json.Unmarshal([]byte(line), &m) == nil && m.Type == "delta" && m.Data.Set.Control != nil {
						mu.Lock()
						seen[m.Data.Set.Control.Version] = append(seen[m.Data.Set.Control.Version], at)
						mu.Unlock()
					}
				}
			}
		})
	}
	sets := []string{"roads", "reservoirs", "school-gates", "waterlogging", "kitchens"}
	var spreads []float64
	for i := range switches {
		code, body := s.wallDo("POST", "/api/v1/walls/main/set", "patrol", `{"set":"`+sets[i%len(sets)]+`"}`)
		if code != 200 {
			t.Fatalf("switch %d: %d %s", i, code, body)
		}
		var v wallView
		_ = json.Unmarshal(body, &v)
		deadline := time.Now().Add(wait)
		for {
			mu.Lock()
			got := slices.Clone(seen[int(v.Control.Version)])
			mu.Unlock()
			if len(got) == monitors {
				lo, hi := slices.MinFunc(got, time.Time.Compare), slices.MaxFunc(got, time.Time.Compare)
				spreads = append(spreads, float64(hi.Sub(lo).Microseconds())/1000)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("switch %d: %d of %d clients read version %d", i, len(got), monitors, v.Control.Version)
			}
			time.Sleep(time.Millisecond)
		}
	}
	slices.Sort(spreads)
	report := fmt.Sprintf("hub: spread between %d clients reading one wall switch, %d switches: p50 %.2f ms, p95 %.2f ms, max %.2f ms",
		monitors, len(spreads), spreads[len(spreads)/2], spreads[len(spreads)*95/100], spreads[len(spreads)-1])
	t.Log(report)
	artifact(t, "wall-hub-spread.txt", []byte(report+"\n"))
	if p95 := spreads[len(spreads)*95/100]; p95 > 100 {
		t.Errorf("clients read a switch %.1f ms apart (p95)", p95)
	}
	s.stop()
	wg.Wait()
}
