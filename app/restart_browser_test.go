package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// wallNumbers is what a duty commander reads off the wall: today's count,
// the heat map's cells and their sum, the hot topics with their counts.
type wallNumbers struct {
	Today   string   `json:"today"`
	Cells   int      `json:"cells"`
	HeatSum int      `json:"heatSum"`
	Hot     []string `json:"hot"`
	Conn    string   `json:"conn"`
	Meta    string   `json:"meta"`
}

const wallNumbersProbe = `(() => {
  const $ = (s) => document.querySelector(s);
  const today = $('.today-count');
  const body = $('.tile-map .panel-body');
  const cm = body && body.citymap;
  let cells = 0, sum = 0;
  const heat = body && body.heat;
  if (heat) {
    // The cells the layer has put on the map, with their counts.
    for (const [id, v] of heat.data) {
      if (!heat.present.has(id)) continue;
      cells++;
      sum += typeof v === 'number' ? v : (v && v.count) || 0;
    }
  }
  return {
    today: today ? today.textContent.trim() : '',
    cells, heatSum: sum,
    hot: [...document.querySelectorAll('.hot-row')].map((r) => r.textContent.replace(/\s+/g, ' ').trim()),
    conn: ($('#conn') || {}).className || '',
    meta: (cm ? 'map ' : 'no map ') + (($('.tile-map .panel-meta') || {}).textContent || ''),
  };
})()`

// TestRestartInBrowser: the wall shows the same day before and after the
// server restarts on its data directory — today's count, the heat map's
// cells and sum, the hot topics — read in Chromium as the wall draws them.
func TestRestartInBrowser(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Demo.Enabled = false // only the tickets the test posts
	cfg.Cameras = nil
	cfg.Walls.StateFile = ""
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)
	var items []tk
	for i := range 240 {
		lat, lng := spot(t, i%7)
		it := newTicket(fmt.Sprintf("RB-%03d", i), lat, lng)
		it["category"] = []string{"城市管理", "交通出行", "供水排水", "环境保护"}[i%4]
		items = append(items, it)
	}
	for i := 0; i < len(items); i += 80 {
		if code, res := s.postTickets(array(items[i : i+80]...)); code != http.StatusOK || res.Accepted != 80 {
			t.Fatalf("post: %d %+v", code, res)
		}
	}

	read := func(s *server, what string) wallNumbers {
		t.Helper()
		b := startBrowser(t, 90*time.Second, 1920, 1080)
		if err := chromedp.Do(b.ctx, chromedp.Navigate(s.url+"/wall?token="+url.QueryEscape(tokens[config.RoleWall]))); err != nil {
			t.Fatalf("open the wall: %v", err)
		}
		n, ok := evalUntil(t, b.ctx, "read the wall", wallNumbersProbe, 60*time.Second, 500*time.Millisecond, func(n wallNumbers) bool {
			return strings.Contains(n.Conn, "conn-open") && n.Today == "240" && n.HeatSum == 240 && len(n.Hot) >= 4
		})
		if !ok {
			t.Fatalf("%s: the wall shows %+v, want today 240, heat summing to 240 and 4 hot topics", what, n)
		}
		b.checkConsole()
		return n
	}
	before := read(s, "before the restart")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startWith(t, cfg, tokens)
	after := read(s2, "after the restart")
	t.Logf("before %+v\nafter  %+v", before, after)
	if before.Today != after.Today || before.Cells != after.Cells || before.HeatSum != after.HeatSum ||
		strings.Join(before.Hot, "|") != strings.Join(after.Hot, "|") {
		t.Errorf("the wall differs after a restart:\nbefore %+v\nafter  %+v", before, after)
	}
}
