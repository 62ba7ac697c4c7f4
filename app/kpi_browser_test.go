package app_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/config"
)

// TestPanelsFitTheirSlots: the KPI widget shows its eight figures and its
// sparkline whole in the slots a wall gives it: a strip along a monitor
// (the command wall's is 1920×270, where the cards were cut at the
// bottom), a large box and a small one; and the command wall's monitor 7
// shows every KPI and every flood station.
func TestPanelsFitTheirSlots(t *testing.T) {
	s := demoWallServerQuiet(t)
	// The duty screen (24 × 12 cells of 80 × 90 px) with the command
	// wall's strip across the top, and two boxes below.
	code, b := s.wallDo("PUT", "/api/v1/walls/overview/layouts/kpis", "commander", `{"name":"KPIs","grid":[24,12],"tiles":[
		{"id":"strip","kind":"kpi","x":0,"y":0,"w":24,"h":3},
		{"id":"box","kind":"kpi","x":0,"y":3,"w":12,"h":9},
		{"id":"small","kind":"kpi","x":12,"y":3,"w":6,"h":5}]}`)
	if code != 204 {
		t.Fatalf("put layout: %d %s", code, b)
	}
	if code, b := s.wallDo("POST", "/api/v1/walls/overview/layout", "commander", `{"layout":"kpis"}`); code != 200 {
		t.Fatalf("layout: %d %s", code, b)
	}
	br := newWallBrowser(t, 60*time.Second)
	tab := br.tab(s.url+"/wall/overview?token="+url.QueryEscape(s.tokens[config.RoleWall]), 1920, 1080)
	type slot struct {
		Tile    string   `json:"tile"`
		W       float64  `json:"w"`
		H       float64  `json:"h"`
		Cards   int      `json:"cards"`
		Values  int      `json:"values"` // cards showing a figure
		Cut     []string `json:"cut"`    // cards or sparkline outside the panel
		SparkH  float64  `json:"spark_h"`
		LabelPx float64  `json:"label_px"`
	}
	const read = `[...document.querySelectorAll('.tile[data-tile]')].map((tile) => {
	  const p = tile.querySelector('.fd-kpi');
	  if (!p) return {tile: tile.dataset.tile, cut: ['no panel']};
	  const box = p.getBoundingClientRect(), cut = [];
	  const inside = (el, name) => {
	    const r = el.getBoundingClientRect();
	    if (r.top < box.top - 1 || r.bottom > box.bottom + 1 || r.left < box.left - 1 || r.right > box.right + 1) cut.push(name);
	  };
	  const cards = [...p.querySelectorAll('.fd-tile')];
	  cards.forEach((c) => inside(c, c.dataset.kpi));
	  const spark = p.querySelector('canvas');
	  inside(spark, 'sparkline');
	  const label = p.querySelector('.fd-tile-label');
	  return {tile: tile.dataset.tile, w: box.width, h: box.height, cards: cards.length,
	    values: cards.filter((c) => c.querySelector('.fd-tile-value').textContent !== '—').length,
	    cut, spark_h: spark.getBoundingClientRect().height,
	    label_px: label ? parseFloat(getComputedStyle(label).fontSize) : 0};
	})`
	slots := wallPoll(t, tab, "the KPI figures", read, 60*time.Second, func(ss []slot) bool {
		if len(ss) != 3 {
			return false
		}
		for _, x := range ss {
			if x.Values < 6 { // average wait and calls may be — on a fresh demo
				return false
			}
		}
		return true
	})
	for _, x := range slots {
		t.Logf("%s %.0f×%.0f: %d cards, sparkline %.0f px, labels %.1f px", x.Tile, x.W, x.H, x.Cards, x.SparkH, x.LabelPx)
		if x.Cards != 8 || len(x.Cut) > 0 {
			t.Errorf("%s (%.0f×%.0f): %d cards, cut: %v", x.Tile, x.W, x.H, x.Cards, x.Cut)
		}
		if x.SparkH < 20 {
			t.Errorf("%s: the sparkline is %.0f px high", x.Tile, x.SparkH)
		}
		if x.LabelPx < 10 {
			t.Errorf("%s: labels of %.1f px do not read from the room", x.Tile, x.LabelPx)
		}
	}
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, fmt.Sprintf("kpi-slots-%dx%d.png", 1920, 1080), shot)

	// The command wall's monitor 7: the KPI strip, the flood panel (960 ×
	// 405: it showed its three reservoirs only) and the traffic panel.
	m7 := br.tab(s.url+"/wall/main?monitor=7&token="+url.QueryEscape(s.tokens[config.RoleWall]), 1920, 1080)
	type panel struct {
		Kind string   `json:"kind"`
		Rows int      `json:"rows"`
		Cut  []string `json:"cut"`
	}
	const panels = `[...document.querySelectorAll('.fd-panel')].map((p) => {
	  const box = p.getBoundingClientRect();
	  const rows = [...p.querySelectorAll('.fd-tile, .fd-row')];
	  const cut = rows.filter((r) => r.getBoundingClientRect().bottom > box.bottom + 1)
	    .map((r) => r.dataset.kpi || r.dataset.id || r.textContent.slice(0, 12));
	  return {kind: p.classList.contains('fd-kpi') ? 'kpi' : p.classList.contains('fd-flood') ? 'flood' : 'traffic', rows: rows.length, cut};
	})`
	got := wallPoll(t, m7, "monitor 7's panels", panels, 60*time.Second, func(ps []panel) bool {
		return len(ps) == 3 && ps[0].Rows > 0 && ps[1].Rows >= 13 && ps[2].Rows > 0
	})
	for _, p := range got {
		t.Logf("monitor 7 %s: %d rows, cut %v", p.Kind, p.Rows, p.Cut)
		if p.Kind != "traffic" && len(p.Cut) > 0 { // the traffic panel lists the worst roads first: the freest may fall off
			t.Errorf("monitor 7's %s panel cuts %v", p.Kind, p.Cut)
		}
	}
	br.checkConsole()
}
