package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"
)

var haikou = h3.LatLng{Lat: 20.03, Lng: 110.33}

func cellAt(t testing.TB, ll h3.LatLng) h3.Cell {
	t.Helper()
	c, err := h3.LatLngToCell(ll, 8)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		c    int
		b    float64
		want float64
	}{
		{0, 1, 0},
		{1, 1, 0},
		{2, 3, 0},
		{5, 1, 5*math.Log(5) + 1 - 5},
		{8, 0.3, 8*math.Log(8/0.3) + 0.3 - 8},
		{3, 0, 3*math.Log(3/minExpected) + minExpected - 3},
	} {
		if got := Score(tc.c, tc.b); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Score(%d, %v) = %v, want %v", tc.c, tc.b, got, tc.want)
		}
	}
	// More tickets against the same expectation always score higher.
	for c := 2; c < 30; c++ {
		if Score(c+1, 1.5) <= Score(c, 1.5) {
			t.Fatalf("score not increasing at c=%d", c)
		}
	}
}

func TestParentMatchesH3(t *testing.T) {
	c := cellAt(t, haikou)
	fine, _ := h3.LatLngToCell(haikou, 11)
	for res := 0; res <= 11; res++ {
		want, err := fine.Parent(res)
		if err != nil {
			t.Fatal(err)
		}
		if got := Parent(fine, res); got != want {
			t.Errorf("Parent(%s, %d) = %s, want %s", fine, res, got, want)
		}
	}
	if Parent(c, 8) != c {
		t.Error("a cell is its own parent at its resolution")
	}
}

// uniformHistory observes weeks of a constant rate per cell.
func uniformHistory(t testing.TB, b *Baseline, cells []h3.Cell, perHour float64, start time.Time, weeks int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	cats := []string{"城市管理", "交通出行", "供水排水", "环境保护"}
	for h := 0; h < weeks*hoursPerWeek; h++ {
		at := start.Add(time.Duration(h) * time.Hour)
		for _, c := range cells {
			for range poisson(rng, perHour) {
				if err := b.Observe(c, cats[rng.IntN(len(cats))], at.Add(time.Duration(rng.IntN(3600))*time.Second)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestBaselineShrinksTowardsDistrict(t *testing.T) {
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC) // a Monday
	b := NewBaseline(BaselineOptions{})
	centre := cellAt(t, haikou)
	disk, _ := centre.GridDisk(2)
	uniformHistory(t, b, disk, 0.5, start, 3, 1)
	end := start.Add(3 * Week)
	// A cell with three weeks of history expects about its own rate.
	got := b.Expected(centre, end, end.Add(24*time.Hour)) / 24
	own := b.cells[centre].n / (b.Weeks() * 168)
	if got < 0.8*own || got > 1.2*own {
		t.Errorf("expected count an hour of a cell with history = %.3f, want about its own rate %.3f", got, own)
	}
	// A neighbour never seen, in the same district, takes the district's
	// average per cell (most of the district's 49 cells are empty), times
	// little: far less than a busy cell, far more than nothing.
	far, _ := centre.GridDisk(4)
	var unseen h3.Cell
	for _, c := range far {
		if !slices.Contains(disk, c) && Parent(c, 6) == Parent(centre, 6) {
			unseen = c
			break
		}
	}
	if unseen == 0 {
		t.Skip("no unseen cell in the same district near the centre")
	}
	u := b.Expected(unseen, end, end.Add(24*time.Hour)) / 24
	if !(u > 0 && u < got/2) {
		t.Errorf("unseen cell expects %.4f, want between 0 and half of %.3f", u, got)
	}
	// Category shares sum to about one.
	var sum float64
	for _, cat := range b.Categories() {
		sum += b.CategoryShare(centre, cat, end)
	}
	if sum < 0.8 || sum > 1.2 {
		t.Errorf("category shares sum to %.3f", sum)
	}
}

func TestBaselineFollowsTheWeek(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	c := cellAt(t, haikou)
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	// Busy at 09:00 on weekdays, quiet otherwise.
	for w := range 4 {
		for d := range 7 {
			day := start.Add(time.Duration(w)*Week + time.Duration(d)*24*time.Hour)
			n := 1
			if d < 5 {
				n = 20
			}
			for i := range n {
				_ = b.Observe(c, "x", day.Add(9*time.Hour+time.Duration(i)*time.Minute))
			}
			_ = b.Observe(c, "x", day.Add(3*time.Hour))
		}
	}
	mon9 := start.Add(4*Week + 9*time.Hour)
	sun9 := mon9.Add(6 * 24 * time.Hour)
	mon3 := start.Add(4*Week + 3*time.Hour)
	e9, s9, e3 := b.Expected(c, mon9, mon9.Add(time.Hour)), b.Expected(c, sun9, sun9.Add(time.Hour)), b.Expected(c, mon3, mon3.Add(time.Hour))
	if !(e9 > 10*s9 && e9 > 10*e3) {
		t.Errorf("Monday 09:00 expects %.2f, Sunday 09:00 %.2f, Monday 03:00 %.2f: want the weekday morning far above", e9, s9, e3)
	}
}

func TestBaselineJSONRoundTrip(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	centre := cellAt(t, haikou)
	disk, _ := centre.GridDisk(1)
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	uniformHistory(t, b, disk, 0.3, start, 2, 2)
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	b2 := NewBaseline(BaselineOptions{})
	if err := json.Unmarshal(data, b2); err != nil {
		t.Fatal(err)
	}
	at := start.Add(2*Week + 5*time.Hour)
	for _, c := range disk {
		x, y := b.Expected(c, at, at.Add(30*time.Minute)), b2.Expected(c, at, at.Add(30*time.Minute))
		if math.Abs(x-y) > 1e-9 {
			t.Fatalf("cell %s: %v before saving, %v after", c, x, y)
		}
	}
	if err := json.Unmarshal([]byte(`{"res":7,"area_res":5}`), NewBaseline(BaselineOptions{})); err == nil {
		t.Error("a baseline saved at another resolution was accepted")
	}
}

// burstSetup is a baseline of three weeks of quiet background and a
// detector over it.
func burstSetup(t testing.TB, threshold float64) (*Detector, []h3.Cell, time.Time) {
	t.Helper()
	b := NewBaseline(BaselineOptions{})
	centre := cellAt(t, haikou)
	disk, _ := centre.GridDisk(3)
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	uniformHistory(t, b, disk, 0.2, start, 3, 3)
	d, err := NewDetector(Options{Threshold: threshold}, b)
	if err != nil {
		t.Fatal(err)
	}
	return d, disk, start.Add(3 * Week)
}

func TestDetectorFindsBurstInAdjacentCells(t *testing.T) {
	d, disk, now := burstSetup(t, 10)
	centre := disk[0]
	nbrs, _ := centre.GridDisk(1)
	second := nbrs[1]
	// Background: one ticket in a few cells, of various categories,
	// over the hour.
	cats := []string{"城市管理", "交通出行", "环境保护"}
	for i, c := range disk[:9] {
		_ = d.Add(Event{ID: fmt.Sprintf("bg-%d", i), Cell: c, Category: cats[i%3], Time: now.Add(-time.Duration(i*6+1) * time.Minute)})
	}
	// The burst: 9 burst-pipe reports over 20 minutes in two adjacent cells.
	for i := range 9 {
		c := centre
		if i%3 == 0 {
			c = second
		}
		ll, _ := c.LatLng()
		_ = d.Add(Event{ID: fmt.Sprintf("b-%d", i), Cell: c, Category: "供水排水", Time: now.Add(-20*time.Minute + time.Duration(i)*2*time.Minute), Lat: ll.Lat, Lng: ll.Lng})
	}
	got := d.Scan(now)
	if len(got) != 1 {
		t.Fatalf("got %d clusters, want 1: %+v", len(got), got)
	}
	cl := got[0]
	if cl.Category != "供水排水" || cl.Count != 9 || len(cl.Tickets) != 9 {
		t.Errorf("cluster = %s %d tickets (%d ids), want 供水排水 9", cl.Category, cl.Count, len(cl.Tickets))
	}
	if !slices.Contains(cl.Cells, centre) || !slices.Contains(cl.Cells, second) {
		t.Errorf("cluster cells %v miss %s or %s", cl.Cells, centre, second)
	}
	if cl.Score < 10 || cl.Expected <= 0 || cl.Expected > 1 {
		t.Errorf("score %.2f expected %.3f", cl.Score, cl.Expected)
	}
	if cl.Categories[0].Category != "供水排水" || cl.Categories[0].Count != 9 {
		t.Errorf("top categories %+v", cl.Categories)
	}
	if cl.Tickets[0] != "b-0" {
		t.Errorf("tickets not oldest first: %v", cl.Tickets)
	}
	// An hour later the window is empty and so is the scan.
	if got := d.Scan(now.Add(2 * time.Hour)); len(got) != 0 {
		t.Errorf("after the windows: %d clusters", len(got))
	}
	if d.Active() != 0 {
		t.Errorf("%d cells still held after the windows passed", d.Active())
	}
}

func TestDetectorMinCount(t *testing.T) {
	d, disk, now := burstSetup(t, 1)
	// Four reports score high against a tiny expectation, but a cluster
	// needs five.
	for i := range 4 {
		_ = d.Add(Event{ID: fmt.Sprint(i), Cell: disk[0], Category: "供水排水", Time: now.Add(-time.Minute)})
	}
	if got := d.Scan(now); len(got) != 0 {
		t.Errorf("4 tickets made %d clusters, want none (min count 5)", len(got))
	}
}

func TestTrackerFollowsAndEnds(t *testing.T) {
	c := cellAt(t, haikou)
	nb, _ := c.GridDisk(1)
	ll, _ := c.LatLng()
	now := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	tr := &Tracker{Quiet: 30 * time.Minute}
	s, u, e := tr.Update(now, []Cluster{{Category: "a", Cells: []h3.Cell{c}, Score: 12, Lat: ll.Lat, Lng: ll.Lng}})
	if len(s) != 1 || len(u) != 0 || len(e) != 0 {
		t.Fatalf("first: %d started %d updated %d ended", len(s), len(u), len(e))
	}
	fp := s[0].Fingerprint
	if fp != "cluster/a/"+c.String() {
		t.Errorf("fingerprint %q", fp)
	}
	// The same place (a neighbouring cell), same category: an update.
	s, u, _ = tr.Update(now.Add(time.Minute), []Cluster{{Category: "a", Cells: []h3.Cell{nb[2]}, Score: 20}})
	if len(s) != 0 || len(u) != 1 || u[0].Fingerprint != fp || u[0].Peak != 20 {
		t.Fatalf("second: started %v updated %+v", s, u)
	}
	// Another category at the same place is another track.
	s, _, _ = tr.Update(now.Add(2*time.Minute), []Cluster{{Category: "b", Cells: []h3.Cell{c}, Score: 12}})
	if len(s) != 1 {
		t.Fatalf("another category: %d started", len(s))
	}
	// Quiet for 30 minutes: both end.
	_, _, e = tr.Update(now.Add(32*time.Minute), nil)
	if len(e) != 2 || len(tr.Open()) != 0 {
		t.Fatalf("ended %d, open %d", len(e), len(tr.Open()))
	}
	// A resumed track ends the same way, or matches.
	tr.Resume("cluster/a/x", "a", []h3.Cell{c}, now)
	_, u, _ = tr.Update(now.Add(time.Minute), []Cluster{{Category: "a", Cells: []h3.Cell{c}, Score: 15}})
	if len(u) != 1 || u[0].Fingerprint != "cluster/a/x" {
		t.Fatalf("resumed track not matched: %+v", u)
	}
}

func TestCalibrateStricterForFewerFalseAlarms(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	centre := cellAt(t, haikou)
	disk, _ := centre.GridDisk(6)
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	uniformHistory(t, b, disk, 0.05, start, 2, 4)
	ctx := context.Background()
	loose, err := Calibrate(ctx, b, Options{MinCount: 3}, CalibrateOptions{Weeks: 2, FalseAlarmsPerWeek: 5, Step: 5 * time.Minute, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := Calibrate(ctx, b, Options{MinCount: 3}, CalibrateOptions{Weeks: 2, FalseAlarmsPerWeek: 0.5, Step: 5 * time.Minute, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !(strict.Threshold > loose.Threshold) {
		t.Errorf("threshold for 0.5/week %.2f, for 5/week %.2f: want the first higher", strict.Threshold, loose.Threshold)
	}
	if strict.Tickets == 0 || strict.Tracks == 0 {
		t.Errorf("calibration simulated %d tickets, %d tracks", strict.Tickets, strict.Tracks)
	}
	if _, err := Calibrate(ctx, NewBaseline(BaselineOptions{}), Options{}, CalibrateOptions{}); err == nil {
		t.Error("calibrated an empty baseline")
	}
}

// BenchmarkScan50k is a full scan of 50,000 active res-8 cells (two
// windows, twenty categories, every cell with recent tickets).
func BenchmarkScan50k(b *testing.B) {
	centre := cellAt(b, haikou)
	cells, _ := centre.GridDisk(129) // 50,311 cells
	cells = cells[:50_000]
	base := NewBaseline(BaselineOptions{})
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(5, 5))
	cats := make([]string, 20)
	for i := range cats {
		cats[i] = fmt.Sprintf("cat-%02d", i)
	}
	// Four weeks of history at about the rate of the recent tickets,
	// written straight into the histograms (observing 27M tickets one by
	// one would take longer than the benchmark).
	for _, c := range cells {
		for range 3 {
			_ = base.Observe(c, cats[rng.IntN(20)], start.Add(time.Duration(rng.Int64N(int64(4*Week)))))
		}
		h := base.cells[c]
		for how := range h.hours {
			h.hours[how] = uint16(4 + rng.IntN(3))
			h.n += float64(h.hours[how])
			h.area.n += float64(h.hours[how])
		}
	}
	base.total = 0
	for _, h := range base.cells {
		base.total += h.n
	}
	for how := range base.hours {
		base.hours[how] = base.total / hoursPerWeek
	}
	base.estimateLocked()
	now := start.Add(4*Week + 9*time.Hour)
	d, err := NewDetector(Options{Threshold: 30}, base)
	if err != nil {
		b.Fatal(err)
	}
	for i, c := range cells {
		for k := range 1 + rng.IntN(2) {
			_ = d.Add(Event{ID: fmt.Sprintf("%d-%d", i, k), Cell: c, Category: cats[rng.IntN(20)], Time: now.Add(-time.Duration(rng.IntN(3600)) * time.Second)})
		}
	}
	d.Scan(now) // neighbours are looked up once per active cell
	if d.Active() != 50_000 {
		b.Fatalf("%d active cells", d.Active())
	}
	b.ReportAllocs()
	// CPU time of the process per scan, besides wall time: the machine it
	// is measured on may be shared, and CPU time is what one core spends.
	cpu0 := cpuTime()
	n := 0
	b.ResetTimer()
	for b.Loop() {
		d.Scan(now)
		n++
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(n), "cpu-ms/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestBaselinePrunes: cells and categories not observed since the cut
// are forgotten (the history no longer grows with every cell and name
// ever seen); the cells kept expect what they did, a forgotten cell its
// district's rate, and a save and load keeps the last-seen times and the
// district's counts.
func TestBaselinePrunes(t *testing.T) {
	b := NewBaseline(BaselineOptions{})
	centre := cellAt(t, haikou)
	disk, _ := centre.GridDisk(1)
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	old := start.Add(-60 * Week)
	// A year and more ago: a far cell and a category that no longer occur.
	far := cellAt(t, h3.LatLng{Lat: 20.2, Lng: 110.6})
	for i := range 30 {
		_ = b.Observe(far, "旧类别", old.Add(time.Duration(i)*time.Hour))
		_ = b.Observe(centre, "旧类别", old.Add(time.Duration(i)*time.Hour))
	}
	uniformHistory(t, b, disk, 0.3, start, 2, 2)
	cells0, cats0 := len(b.Cells()), len(b.Categories())
	at := start.Add(2*Week + 5*time.Hour)
	before := map[h3.Cell]float64{}
	for _, c := range disk {
		before[c] = b.Expected(c, at, at.Add(time.Hour))
	}
	gen := b.gen

	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	nc, nk := b.Prune(start.Add(-53 * Week))
	if nc != 1 || nk != 1 {
		t.Fatalf("Prune forgot %d cells and %d categories, want 1 and 1 (of %d, %d)", nc, nk, cells0, cats0)
	}
	if slices.Contains(b.Cells(), far) || slices.Contains(b.Categories(), "旧类别") || len(b.Cells()) != cells0-1 {
		t.Errorf("after pruning: cells %d, categories %v", len(b.Cells()), b.Categories())
	}
	if b.gen == gen {
		t.Error("pruning left the detector's cached lookups valid")
	}
	for _, c := range disk {
		if got := b.Expected(c, at, at.Add(time.Hour)); math.Abs(got-before[c]) > 0.05*before[c] {
			t.Errorf("cell %s expects %.4f after pruning, %.4f before", c, got, before[c])
		}
	}
	if e := b.Expected(far, at, at.Add(time.Hour)); !(e > 0) {
		t.Errorf("a forgotten cell expects %v, want its district's rate", e)
	}
	if s := b.CategoryShare(centre, "旧类别", at); s > 0.01 {
		t.Errorf("a forgotten category keeps a share of %.3f", s)
	}
	if nc, nk := b.Prune(start.Add(-53 * Week)); nc != 0 || nk != 0 {
		t.Errorf("a second prune forgot %d cells and %d categories", nc, nk)
	}

	// Saved before pruning: the last-seen times come back, so the loaded
	// copy forgets the same.
	b2 := NewBaseline(BaselineOptions{})
	if err := json.Unmarshal(data, b2); err != nil {
		t.Fatal(err)
	}
	if nc, nk := b2.Prune(start.Add(-53 * Week)); nc != 1 || nk != 1 {
		t.Errorf("the loaded baseline forgot %d cells and %d categories, want 1 and 1", nc, nk)
	}
	// Saved after pruning: the far cell's district keeps its tickets.
	farArea := Parent(far, b.opt.AreaRes)
	data, err = json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	b3 := NewBaseline(BaselineOptions{})
	if err := json.Unmarshal(data, b3); err != nil {
		t.Fatal(err)
	}
	if a := b3.areas[farArea]; a == nil || a.n != 30 {
		t.Errorf("the forgotten cell's district after a reload: %+v, want its 30 tickets", a)
	}
}

// TestBaselineBoundsCategories: past MaxCategories a new name is counted
// as OtherCategory, also when a history saved with more names is loaded.
func TestBaselineBoundsCategories(t *testing.T) {
	b := NewBaseline(BaselineOptions{MaxCategories: 4})
	c := cellAt(t, haikou)
	at := time.Date(2026, 10, 5, 9, 0, 0, 0, time.UTC)
	for i := range 50 {
		_ = b.Observe(c, fmt.Sprintf("cat-%d", i), at)
	}
	if cats := b.Categories(); len(cats) != 4 || !slices.Contains(cats, OtherCategory) {
		t.Fatalf("categories %v, want 3 names and %s", cats, OtherCategory)
	}
	data, _ := json.Marshal(NewBaselineFrom(t, 10, c, at))
	b2 := NewBaseline(BaselineOptions{MaxCategories: 4})
	if err := json.Unmarshal(data, b2); err != nil {
		t.Fatal(err)
	}
	if cats := b2.Categories(); len(cats) != 4 || b2.Total() != 10 {
		t.Errorf("loaded: categories %v, total %v", cats, b2.Total())
	}
}

// NewBaselineFrom is a baseline of n categories, one ticket each.
func NewBaselineFrom(t *testing.T, n int, c h3.Cell, at time.Time) *Baseline {
	b := NewBaseline(BaselineOptions{MaxCategories: 1000})
	for i := range n {
		_ = b.Observe(c, fmt.Sprintf("cat-%d", i), at)
	}
	return b
}
