package eval

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/surge"
)

// TestHotAlertNamingEventTicketsMatches: an alert that names tickets of an
// injected outage is about that outage even when raised after its grace
// time (a 24-hour window still holding them), and is not a false alert.
func TestHotAlertNamingEventTicketsMatches(t *testing.T) {
	t0 := time.Date(2026, 11, 7, 10, 0, 0, 0, time.UTC)
	ev := hotEvent{start: t0, end: t0.Add(2 * time.Hour), category: "供水排水", districts: []string{"美兰区"}, ids: map[string]bool{"hot1-5": true}}
	late := hotAlert{kind: "surge", at: t0.Add(18 * time.Hour), category: "供水排水", tickets: []string{"bg-1", "hot1-5"}}
	if !ev.matches(late) {
		t.Error("a late alert naming the outage's tickets does not match it")
	}
	other := hotAlert{kind: "surge", at: t0.Add(18 * time.Hour), category: "供水排水", tickets: []string{"bg-1"}}
	if ev.matches(other) {
		t.Error("a late alert naming none of its tickets matches it")
	}
	before := late
	before.at = t0.Add(-time.Minute)
	if ev.matches(before) {
		t.Error("an alert before the event's start matches it")
	}
	ev.ideal = 13
	unseen := hotEvent{start: t0.Add(24 * time.Hour), end: t0.Add(26 * time.Hour), category: "城乡建设", districts: []string{"美兰区"}, ideal: 6, ids: map[string]bool{}}
	missed := hotEvent{start: t0.Add(48 * time.Hour), end: t0.Add(50 * time.Hour), category: "交通出行", districts: []string{"美兰区"}, ideal: 14, ids: map[string]bool{}}
	r := scoreHot("s", "m", []hotAlert{{kind: "surge", at: t0.Add(10 * time.Minute), category: "供水排水"}, late}, []hotEvent{ev, unseen, missed}, 1, 12, nil)
	if r.Detected != 1 || r.FalsePerWeek != 0 {
		t.Errorf("detected %d, false %.0f a week; want 1 and 0", r.Detected, r.FalsePerWeek)
	}
	// Visible: the events whose ideal score reaches the bar (13 and 14,
	// not 6); found: the one of them an alert matched.
	if r.Visible != 2 || r.VisibleFound != 1 {
		t.Errorf("visible %d, found %d of them; want 2 and 1", r.Visible, r.VisibleFound)
	}
	if r := scoreHot("s", "m", nil, []hotEvent{ev}, 1, 0, nil); r.Visible != 0 {
		t.Errorf("with no bar, %d events are visible; want 0", r.Visible)
	}
}

// TestHotAlertAboutSomethingElseDoesNotMatch: a slow rise of one grid's
// 违停挪车 is not found by a city-wide alert of 交通违法, another subcategory
// of the same category, nor by a cluster of the category in its district
// that names none of its tickets; an alert of the whole category, or of
// 违停挪车, is about it.
func TestHotAlertAboutSomethingElseDoesNotMatch(t *testing.T) {
	t0 := time.Date(2026, 11, 9, 0, 0, 0, 0, time.UTC)
	ev := hotEvent{start: t0, end: t0.Add(7 * 24 * time.Hour), week: true, category: "交通出行", sub: "违停挪车", districts: []string{"美兰区"}, ids: map[string]bool{}}
	at := t0.Add(6 * 24 * time.Hour)
	if ev.matches(hotAlert{kind: "week", at: at, category: "交通出行", sub: "交通违法"}) {
		t.Error("a city-wide alert of another subcategory matches the rise")
	}
	if !ev.matches(hotAlert{kind: "week", at: at, category: "交通出行", sub: "违停挪车", district: "美兰区"}) {
		t.Error("an alert of the rise's subcategory in its district does not match it")
	}
	if !ev.matches(hotAlert{kind: "surge", at: at, category: "交通出行"}) {
		t.Error("an alert of the whole category in the city does not match it")
	}
	// The cluster scan's alerts match by the tickets they name only.
	ev.ids["hot3-1"] = true
	if ev.matches(hotAlert{kind: "cluster", at: at, category: "交通出行", district: "美兰区", tickets: []string{"bg-9"}}) {
		t.Error("a cluster of the category in the district, naming none of the rise's tickets, matches it")
	}
	if !ev.matches(hotAlert{kind: "cluster", at: at, category: "交通出行", district: "美兰区", tickets: []string{"bg-9", "hot3-1"}}) {
		t.Error("a cluster naming one of the rise's tickets does not match it")
	}
}

// TestHotScenariosHaveVolume: the district surge is injected only into a
// district × subcategory expecting at least minSurgeExpected tickets in its
// span, and the slow rise only into a grid × subcategory with at least
// minRiseWeek tickets that week, so +50 % and +40 % are real numbers of
// tickets; the draws are seeded.
func TestHotScenariosHaveVolume(t *testing.T) {
	ctx := context.Background()
	loc := time.FixedZone("CST", 8*3600)
	from := time.Date(2026, 11, 2, 0, 0, 0, 0, loc)
	train, err := BackgroundTickets(ctx, 2700, 2*scan.Week, from, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	test, err := BackgroundTickets(ctx, 2700, 2*scan.Week, from.Add(2*scan.Week), 6, -1)
	if err != nil {
		t.Fatal(err)
	}
	base := scan.NewBaseline(scan.BaselineOptions{Res: 8, Location: loc})
	sd, _ := surge.NewDetector(surge.Options{}, base)
	for _, x := range train {
		if c := surge.CellOf(x.Lat, x.Lng, 8); c != 0 {
			_ = base.Observe(c, x.Category, x.Created)
		}
		sd.Learn(hotSurgeEvent(x))
	}
	if err := sd.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	to := from.Add(2 * scan.Week)
	draw := func(si int) ([]string, []hotEvent) {
		extra, evs := injectHot(si, rand.New(rand.NewPCG(1, 2)), test, sd, from, to, 3)
		var ids []string
		for _, x := range extra {
			ids = append(ids, x.ID+x.Created.String())
		}
		return ids, evs
	}
	ids, evs := draw(0)
	for _, e := range evs {
		t.Logf("surge %s/%s in %v over %s from %s: %d tickets", e.category, e.sub, e.districts, e.end.Sub(e.start).Round(time.Minute), e.start.Format("15:04"), len(e.ids))
	}
	if again, _ := draw(0); !slices.Equal(ids, again) {
		t.Fatal("the district surges differ between two runs of one seed")
	}
	if len(evs) != 6 {
		t.Fatalf("%d district surges, want 6", len(evs))
	}
	for _, e := range evs {
		exp := sd.Expected(surge.Region{Scale: surge.ScaleDistrict, Name: e.districts[0]}, e.category, e.sub, e.start, e.end)
		if exp < minSurgeExpected || len(e.ids) < minSurgeExpected/2 {
			t.Errorf("surge %s/%s in %v over %s: %d tickets on %.1f expected", e.category, e.sub, e.districts, e.end.Sub(e.start), len(e.ids), exp)
		}
	}
	_, evs = draw(3)
	if len(evs) == 0 {
		t.Fatal("no slow rise drawn")
	}
	for _, e := range evs {
		if len(e.ids) < minRiseWeek*2/5 {
			t.Errorf("slow rise in %v: %d tickets, want ≥ %d (40 %% of ≥ %d)", e.districts, len(e.ids), minRiseWeek*2/5, minRiseWeek)
		}
	}
}

// TestMostDistrict: a cluster's district is the one most of its tickets
// name, the first in order on a tie; tickets naming none do not count.
func TestMostDistrict(t *testing.T) {
	for _, c := range []struct {
		votes map[string]int
		want  string
	}{
		{map[string]int{"美兰区": 2, "龙华区": 3}, "龙华区"},
		{map[string]int{"龙华区": 2, "美兰区": 2}, "美兰区"},
		{map[string]int{"": 5, "秀英区": 1}, "秀英区"},
		{map[string]int{"": 5}, ""},
		{nil, ""},
	} {
		if got := most(c.votes); got != c.want {
			t.Errorf("most(%v) = %q, want %q", c.votes, got, c.want)
		}
	}
}

// TestRunHotSmall runs a small hot-issue evaluation end to end: training,
// the three calibrations (surge, phrase and the cluster scan run beside
// them), the flat weeks, every scenario with its baselines, and the report.
func TestRunHotSmall(t *testing.T) {
	var progress bytes.Buffer // written from every scenario's goroutine
	cfg := HotConfig{PerDay: 600, TrainWeeks: 3, CalibrateWeeks: 1, TestWeeks: 1, PerWeek: 2, Step: 10 * time.Minute,
		ClusterStep: 5 * time.Minute, Seed: 2, Progress: &lockedWriter{w: &progress}}
	rep, err := RunHot(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Cluster == nil || rep.Cluster.Threshold <= 0 {
		t.Fatalf("cluster calibration %+v: the cluster scan did not run beside the hot-issue detectors", rep.Cluster)
	}
	if len(rep.Results) != 3*len(HotScenarios) {
		t.Fatalf("%d results, want 3 methods × %d scenarios", len(rep.Results), len(HotScenarios))
	}
	for _, r := range rep.Results {
		if strings.HasPrefix(r.Scenario, "city-wide") && strings.HasPrefix(r.Method, "hot") && r.Detection < 1 {
			t.Errorf("outage: detection %.2f of %d; want every one of 100-300 reports at 600 a day", r.Detection, r.Injected)
		}
	}
	var buf bytes.Buffer
	rep.Write(&buf)
	if !strings.Contains(buf.String(), "The cluster scan runs beside them") || !strings.Contains(buf.String(), "| hot-issue detectors and cluster scan |") {
		t.Errorf("report:\n%s", buf.String())
	}
}

// TestReach: the threshold that 90 % of the events' ideal scores reach.
func TestReach(t *testing.T) {
	scores := []float64{9.2, 4.34, 17.3, 4.71, 6.2, 8.7, 10.0, 12.7, 5.6, 6.7}
	if got := reach(scores, 0.9); got != 4.71 {
		t.Errorf("reach of 10 scores at 90%% = %.2f, want 4.71 (9 of them reach it)", got)
	}
	if got := reach(append(scores, 3), 0.9); got != 4.34 {
		t.Errorf("reach of 11 scores at 90%% = %.2f, want 4.34 (10 of them, 91%%, reach it)", got)
	}
	if got := reach(nil, 0.9); got != 0 {
		t.Errorf("reach of none = %.2f, want 0", got)
	}
}
