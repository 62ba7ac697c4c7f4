package eval

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSmall runs a small evaluation end to end: background from the
// demo city, injection, calibration of all three methods, scoring and the
// report.
func TestRunSmall(t *testing.T) {
	var progress bytes.Buffer // written from every scenario's goroutine
	cfg := Config{PerDay: 400, TrainWeeks: 1, CalibrateWeeks: 1, TestWeeks: 0.5, Step: 5 * time.Minute, Seed: 3, NoMatched: true, Progress: &progress,
		// Two scenarios, so that their goroutines run side by side.
		Scenarios: []Scenario{{Name: "big", MinSize: 12, MaxSize: 15, MaxCells: 2, MinSpan: 10 * time.Minute, MaxSpan: 20 * time.Minute, PerDay: 4},
			{Name: "small", MinSize: 5, MaxSize: 7, MaxCells: 3, MinSpan: 10 * time.Minute, MaxSpan: 30 * time.Minute, PerDay: 4}}}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TrainTicket < 300 || rep.TestTickets < 100 {
		t.Fatalf("train %d test %d tickets", rep.TrainTicket, rep.TestTickets)
	}
	// The scan, the two baselines and the scan at the baselines' calibrated
	// false-alarm rate.
	if len(rep.Scenarios) != 2 || len(rep.Scenarios[0].Results) != 4 || rep.Scenarios[1].Scenario.Name != "small" {
		t.Fatalf("report %+v", rep.Scenarios)
	}
	if m := rep.Scenarios[0].Results[3]; !m.Matched || m.CalibrationFAPW > rep.Scenarios[0].Results[0].CalibrationFAPW+1e-9 {
		t.Errorf("matched scan %+v: want a rate no higher than the scan's own calibration", m)
	}
	scan := rep.Scenarios[0].Results[0]
	if scan.Injected != 14 || scan.Detection < 0.9 {
		t.Errorf("scan: %d injected, detection %.2f; want 14 and ≥ 0.9 for bursts of 12-15", scan.Injected, scan.Detection)
	}
	var buf bytes.Buffer
	rep.Write(&buf)
	for _, want := range []string{"space-time scan (EBP)", "fixed count per cell", "EARS C2 per cell", "matched to the baselines' calibrated rate", "| method |"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestInjectPlacesBurstsInAdjacentCells(t *testing.T) {
	from := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	bg, err := Background(context.Background(), 300, 48*time.Hour, from.Add(48*time.Hour), 1, -1, 8)
	if err != nil {
		t.Fatal(err)
	}
	sc := Scenario{MinSize: 8, MaxSize: 8, MaxCells: 3, MinSpan: 30 * time.Minute, MaxSpan: 30 * time.Minute, PerDay: 5}
	out, injs := Inject(bg, sc, from, from.Add(48*time.Hour), 9)
	if len(injs) != 10 || len(out) != len(bg)+80 {
		t.Fatalf("%d injections, %d events (background %d)", len(injs), len(out), len(bg))
	}
	for _, in := range injs {
		if len(in.Cells) < 1 || len(in.Cells) > 3 || len(in.Times) != 8 || in.End().Sub(in.Start()) > 30*time.Minute {
			t.Errorf("injection %+v", in)
		}
		for _, c := range in.Cells[1:] {
			d, err := c.GridDistance(in.Cells[0])
			if err != nil || d > 2 {
				t.Errorf("cells %v not adjacent", in.Cells)
			}
		}
	}
	for i := 1; i < len(out); i++ {
		if out[i].Time.Before(out[i-1].Time) {
			t.Fatal("events not in time order")
		}
	}
}
