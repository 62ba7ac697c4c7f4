package geo

import (
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"
)

// t0 is on a whole hour, so every bucket boundary of the test windows falls
// on a whole minute after it.
var t0 = time.Date(2025, 7, 1, 9, 0, 0, 0, time.UTC)

// testOptions: windows of 10 and 60 minutes in 10 buckets, so the short
// window slides by the minute and the long one every 6 minutes.
func testOptions() Options {
	return Options{Resolutions: []int{7, 9}, Windows: []time.Duration{10 * time.Minute, time.Hour}, Buckets: 10}
}

func newTestEngine(t testing.TB, o Options) *Engine {
	t.Helper()
	e, err := NewEngine(o, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func cellAt(t testing.TB, lat, lng float64, res int) h3.Cell {
	t.Helper()
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustAdd(t testing.TB, e *Engine, p Point) {
	t.Helper()
	if err := e.Add(p); err != nil {
		t.Fatalf("Add(%+v): %v", p, err)
	}
}

const (
	hkLat, hkLng = 20.03, 110.33
	cityMgmt     = "城市管理"
	traffic      = "交通出行"
)

func TestEngineCounts(t *testing.T) {
	e := newTestEngine(t, testOptions())
	// Two spots about 1 km apart: different res-9 cells, one res-7 cell.
	aLat, aLng := hkLat, hkLng
	bLat, bLng := hkLat+0.005, hkLng+0.005
	for range 3 {
		mustAdd(t, e, Point{Lat: aLat, Lng: aLng, Time: t0, Category: cityMgmt})
	}
	mustAdd(t, e, Point{Lat: bLat, Lng: bLng, Time: t0.Add(-30 * time.Second), Category: traffic})
	// 15 minutes ago: in the hour, not in the 10 minutes.
	mustAdd(t, e, Point{Lat: bLat, Lng: bLng, Time: t0.Add(-15 * time.Minute), Category: traffic})

	a9, b9 := cellAt(t, aLat, aLng, 9), cellAt(t, bLat, bLng, 9)
	a7 := cellAt(t, aLat, aLng, 7)
	if a7 != cellAt(t, bLat, bLng, 7) {
		t.Fatal("test spots should share a res-7 cell")
	}
	short, long := 10*time.Minute, time.Hour
	tests := []struct {
		k    Key
		want map[h3.Cell]int
	}{
		{Key{9, short, AllCategories}, map[h3.Cell]int{a9: 3, b9: 1}},
		{Key{9, short, cityMgmt}, map[h3.Cell]int{a9: 3}},
		{Key{9, short, traffic}, map[h3.Cell]int{b9: 1}},
		{Key{7, short, AllCategories}, map[h3.Cell]int{a7: 4}},
		{Key{9, long, AllCategories}, map[h3.Cell]int{a9: 3, b9: 2}},
		{Key{9, long, traffic}, map[h3.Cell]int{b9: 2}},
		{Key{7, long, AllCategories}, map[h3.Cell]int{a7: 5}},
		{Key{7, long, cityMgmt}, map[h3.Cell]int{a7: 3}},
		{Key{8, long, AllCategories}, nil},     // resolution not counted
		{Key{9, 2 * time.Hour, cityMgmt}, nil}, // window not counted
		{Key{9, long, "噪声扰民"}, nil},            // category never seen
	}
	for _, tt := range tests {
		t.Run(tt.k.Topic(), func(t *testing.T) {
			got := e.Snapshot(tt.k)
			if !maps.Equal(got, tt.want) {
				t.Errorf("Snapshot = %v, want %v", got, tt.want)
			}
		})
	}
	st := e.Stats()
	if st.Added != 5 || st.Categories != 2 {
		t.Errorf("Stats = %+v", st)
	}
	wantCells := []WindowStats{{7, short, 1}, {9, short, 2}, {7, long, 1}, {9, long, 2}}
	if !slices.Equal(st.Windows, wantCells) || st.Cells != 6 {
		t.Errorf("Stats.Windows = %v (total %d), want %v", st.Windows, st.Cells, wantCells)
	}
	wantKeys := []Key{
		{7, short, AllCategories}, {7, short, cityMgmt}, {7, short, traffic},
		{9, short, AllCategories}, {9, short, cityMgmt}, {9, short, traffic},
		{7, long, AllCategories}, {7, long, cityMgmt}, {7, long, traffic},
		{9, long, AllCategories}, {9, long, cityMgmt}, {9, long, traffic},
	}
	if got := e.Keys(); !slices.Equal(got, wantKeys) {
		t.Errorf("Keys = %v\nwant %v", got, wantKeys)
	}
}

func TestEngineSlidesAndExpires(t *testing.T) {
	e := newTestEngine(t, testOptions())
	c9 := cellAt(t, hkLat, hkLng, 9)
	mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: cityMgmt})
	e.Changes()

	short := Key{9, 10 * time.Minute, AllCategories}
	long := Key{9, time.Hour, AllCategories}
	steps := []struct {
		at          time.Duration
		short, long int
	}{
		{time.Minute, 1, 1},
		{9*time.Minute + 59*time.Second, 1, 1},
		{10 * time.Minute, 0, 1}, // the point's minute is a whole window back
		{59 * time.Minute, 0, 1},
		{60 * time.Minute, 0, 0},
	}
	for _, st := range steps {
		t.Run(st.at.String(), func(t *testing.T) {
			e.Advance(t0.Add(st.at))
			if got := e.Snapshot(short)[c9]; got != st.short {
				t.Errorf("10m count %d, want %d", got, st.short)
			}
			if got := e.Snapshot(long)[c9]; got != st.long {
				t.Errorf("1h count %d, want %d", got, st.long)
			}
		})
	}
	if st := e.Stats(); st.Cells != 0 || len(e.Keys()) != 0 {
		t.Errorf("after an hour: %d cells, keys %v", st.Cells, e.Keys())
	}
	e.Changes()
	if st := e.Stats(); st.Entries != 0 {
		t.Errorf("after the drain %d entries remain", st.Entries)
	}

	t.Run("clock backwards is ignored", func(t *testing.T) {
		e.Advance(t0)
		if err := e.Add(Point{Lat: hkLat, Lng: hkLng, Time: t0.Add(time.Hour), Category: cityMgmt}); err != nil {
			t.Fatalf("point at the engine clock: %v", err)
		}
	})
}

func TestEngineChangesDrain(t *testing.T) {
	e := newTestEngine(t, testOptions())
	c9 := cellAt(t, hkLat, hkLng, 9)
	c7 := cellAt(t, hkLat, hkLng, 7)
	if got := e.Changes(); got != nil {
		t.Fatalf("fresh engine has changes %v", got)
	}
	mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: cityMgmt})
	mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: cityMgmt})

	got := e.Changes()
	// 2 resolutions x 2 windows x (category + total).
	if len(got) != 8 {
		t.Fatalf("Changes has %d keys, want 8: %v", len(got), got)
	}
	if n := got[Key{7, time.Hour, cityMgmt}][c7]; n != 2 {
		t.Errorf("absolute count %d, want 2", n)
	}
	if again := e.Changes(); again != nil {
		t.Errorf("second drain returned %v", again)
	}

	e.Advance(t0.Add(10 * time.Minute))
	got = e.Changes()
	want := map[Key]map[h3.Cell]int{
		{7, 10 * time.Minute, AllCategories}: {c7: 0},
		{7, 10 * time.Minute, cityMgmt}:      {c7: 0},
		{9, 10 * time.Minute, AllCategories}: {c9: 0},
		{9, 10 * time.Minute, cityMgmt}:      {c9: 0},
	}
	if !maps.EqualFunc(got, want, maps.Equal) {
		t.Errorf("after expiry Changes = %v, want %v", got, want)
	}

	t.Run("zero then back before a drain", func(t *testing.T) {
		e.Advance(t0.Add(time.Hour))
		mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0.Add(time.Hour), Category: cityMgmt})
		got := e.Changes()
		if n := got[Key{9, time.Hour, AllCategories}][c9]; n != 1 {
			t.Errorf("count %d, want 1", n)
		}
	})
}

func TestEnginePending(t *testing.T) {
	e := newTestEngine(t, testOptions())
	ready := func() bool {
		select {
		case <-e.Pending():
			return true
		default:
			return false
		}
	}
	if ready() {
		t.Fatal("pending before any change")
	}
	mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: cityMgmt})
	mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: traffic})
	if !ready() {
		t.Fatal("no signal after a change")
	}
	mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: cityMgmt})
	if ready() {
		t.Fatal("signalled again before the drain")
	}
	e.Changes()
	e.Advance(t0.Add(10 * time.Minute))
	if !ready() {
		t.Fatal("no signal for expiry after a drain")
	}
}

func TestEngineRejectsAndIgnores(t *testing.T) {
	e := newTestEngine(t, testOptions())
	tests := []struct {
		name    string
		p       Point
		wantErr func(error) bool
		ignored bool
	}{
		{"lat NaN", Point{Lat: math.NaN(), Lng: hkLng, Time: t0}, func(err error) bool {
			var ce *CoordError
			return errors.As(err, &ce) && ce.Name == "lat"
		}, false},
		{"lng out of range", Point{Lat: hkLat, Lng: 181, Time: t0}, func(err error) bool {
			var ce *CoordError
			return errors.As(err, &ce) && ce.Name == "lng"
		}, false},
		{"far future", Point{Lat: hkLat, Lng: hkLng, Time: t0.Add(2 * time.Minute)}, func(err error) bool {
			return errors.Is(err, ErrFuture)
		}, false},
		{"slightly ahead counts as now", Point{Lat: hkLat, Lng: hkLng, Time: t0.Add(FutureSkew)}, nil, false},
		{"older than the longest window", Point{Lat: hkLat, Lng: hkLng, Time: t0.Add(-61 * time.Minute)}, nil, true},
		{"zero time", Point{Lat: hkLat, Lng: hkLng}, nil, true},
		{"far past", Point{Lat: hkLat, Lng: hkLng, Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.Stats()
			err := e.Add(tt.p)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			after := e.Stats()
			if tt.ignored && (after.IgnoredOld != before.IgnoredOld+1 || after.Added != before.Added) {
				t.Errorf("not ignored: %+v", after)
			}
			if !tt.ignored && after.Added != before.Added+1 {
				t.Errorf("not added: %+v", after)
			}
		})
	}
	c9 := cellAt(t, hkLat, hkLng, 9)
	if n := e.Snapshot(Key{9, 10 * time.Minute, AllCategories})[c9]; n != 1 {
		t.Errorf("count %d, want only the point slightly ahead", n)
	}
}

func TestEngineCategoryCap(t *testing.T) {
	o := testOptions()
	o.MaxCategories = 2
	e := newTestEngine(t, o)
	for _, c := range []string{"A", "B", "C", "D", "A", "", OtherCategory, AllCategories, string([]byte{0xff}), "x" + string(make([]byte, 100))} {
		mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: t0, Category: c})
	}
	c9 := cellAt(t, hkLat, hkLng, 9)
	tests := []struct {
		cat  string
		want int
	}{
		{"A", 2},
		{"B", 1},
		{OtherCategory, 7}, // C, D, empty, explicit, "all", bad UTF-8, too long
		{AllCategories, 10},
	}
	for _, tt := range tests {
		t.Run(tt.cat, func(t *testing.T) {
			if n := e.Snapshot(Key{9, time.Hour, tt.cat})[c9]; n != tt.want {
				t.Errorf("count %d, want %d", n, tt.want)
			}
		})
	}
	if st := e.Stats(); st.Categories != 2 || st.Folded != 6 {
		t.Errorf("Stats = %+v, want 2 categories and 6 folded", st)
	}
	if e.Snapshot(Key{9, time.Hour, "C"}) != nil {
		t.Error("folded category has its own series")
	}
}

// TestEngineMatchesRecount drives the engine with random points and clock
// steps and checks every series against a count from scratch, and that a
// consumer applying Changes ends up with the same picture.
func TestEngineMatchesRecount(t *testing.T) {
	o := Options{Resolutions: []int{9, 6, 8}, Windows: []time.Duration{5 * time.Minute, 20 * time.Minute}, Buckets: 5, MaxCategories: 3}
	e := newTestEngine(t, o)
	rng := rand.New(rand.NewPCG(7, 8))
	cats := []string{"a", "b", "c", "d", "e"}
	type pt struct {
		lat, lng float64
		t        time.Time
		cat      string
	}
	var pts []pt
	replica := map[Key]map[h3.Cell]int{}
	now := t0
	// Claim the category slots in a known order: d and e fold.
	for _, cat := range cats[:3] {
		mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: now, Category: cat})
		pts = append(pts, pt{hkLat, hkLng, now, cat})
	}
	for step := range 200 {
		for range rng.IntN(20) {
			lat, lng := hkLat+(rng.Float64()-0.5)*0.05, hkLng+(rng.Float64()-0.5)*0.05
			// Mostly now, some backfill, a few too old.
			at := now.Add(-time.Duration(rng.IntN(int(25*time.Minute/time.Second))) * time.Second)
			if rng.IntN(2) == 0 {
				at = now
			}
			cat := cats[rng.IntN(len(cats))]
			mustAdd(t, e, Point{Lat: lat, Lng: lng, Time: at, Category: cat})
			pts = append(pts, pt{lat, lng, at, cat})
		}
		now = now.Add(time.Duration(rng.IntN(90)) * time.Second)
		e.Advance(now)
		if step%3 == 0 {
			for k, cells := range e.Changes() {
				m := replica[k]
				if m == nil {
					m = map[h3.Cell]int{}
					replica[k] = m
				}
				for c, n := range cells {
					if n == 0 {
						delete(m, c)
					} else {
						m[c] = n
					}
				}
			}
		}
	}

	slot := func(t time.Time, step time.Duration) int64 { return t.UnixNano() / int64(step) }
	want := map[Key]map[h3.Cell]int{}
	folded := map[string]string{"a": "a", "b": "b", "c": "c", "d": OtherCategory, "e": OtherCategory}
	for _, w := range o.Windows {
		step := w / time.Duration(o.Buckets)
		cur := slot(now, step)
		for _, p := range pts {
			// A point outside the window now was either ignored when added
			// or has expired since: both leave it out.
			if s := slot(p.t, step); s <= cur-int64(o.Buckets) || s > cur {
				continue
			}
			for _, r := range o.Resolutions {
				c := cellAt(t, p.lat, p.lng, r)
				for _, cat := range []string{AllCategories, folded[p.cat]} {
					k := Key{r, w, cat}
					if want[k] == nil {
						want[k] = map[h3.Cell]int{}
					}
					want[k][c]++
				}
			}
		}
	}
	for k, cells := range want {
		if got := e.Snapshot(k); !maps.Equal(got, cells) {
			t.Errorf("%s: engine has %d cells, recount %d", k, len(got), len(cells))
		}
	}
	if got := e.Keys(); len(got) != len(want) {
		t.Errorf("Keys has %d, recount %d", len(got), len(want))
	}
	// Drain the rest, then the replica must match.
	for k, cells := range e.Changes() {
		m := replica[k]
		if m == nil {
			m = map[h3.Cell]int{}
			replica[k] = m
		}
		for c, n := range cells {
			if n == 0 {
				delete(m, c)
			} else {
				m[c] = n
			}
		}
	}
	maps.DeleteFunc(replica, func(_ Key, m map[h3.Cell]int) bool { return len(m) == 0 })
	if !maps.EqualFunc(replica, want, maps.Equal) {
		t.Errorf("replica from Changes has %d keys, recount %d", len(replica), len(want))
	}
}

// TestEngineMemoryBounded runs two simulated days at Haikou's volume with a
// publisher draining changes, then lets everything expire.
func TestEngineMemoryBounded(t *testing.T) {
	e := newTestEngine(t, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	cats := []string{"城市管理", "交通出行", "噪声扰民", "供水供电", "市场监管", "劳动保障", "住房建设", "教育"}
	now := t0
	var peakDay1, peakDay2, slabDay1 int
	for minute := range 48 * 60 {
		now = t0.Add(time.Duration(minute) * time.Minute)
		e.Advance(now)
		for range 2 { // ~2,900 a day, like Haikou
			lat, lng := hkLat+(rng.Float64()-0.5)*0.3, hkLng+(rng.Float64()-0.5)*0.3
			mustAdd(t, e, Point{Lat: lat, Lng: lng, Time: now, Category: cats[rng.IntN(len(cats))]})
		}
		if minute%5 == 0 {
			e.Changes()
		}
		st := e.Stats()
		if minute < 24*60 {
			peakDay1 = max(peakDay1, st.Entries)
			slabDay1 = len(e.counts.entries)
		} else {
			peakDay2 = max(peakDay2, st.Entries)
		}
	}
	// Steady state: the second day holds no more than the first, give or
	// take randomness, and the slab stops growing.
	if peakDay2 > peakDay1*11/10 {
		t.Errorf("entries grew: day 1 peak %d, day 2 peak %d", peakDay1, peakDay2)
	}
	if len(e.counts.entries) > slabDay1*11/10 {
		t.Errorf("slab grew: day 1 %d, day 2 %d", slabDay1, len(e.counts.entries))
	}
	// Nothing new for a day: every cell expires and the drain frees all.
	e.Advance(now.Add(24*time.Hour + time.Minute))
	e.Changes()
	st := e.Stats()
	if st.Cells != 0 || st.Entries != 0 || len(e.Keys()) != 0 {
		t.Errorf("after a quiet day: %d cells, %d entries, keys %v", st.Cells, st.Entries, e.Keys())
	}
	for i, m := range e.counts.sets {
		if m != nil {
			t.Fatalf("set %d keeps an empty map", i)
		}
	}
	t.Logf("peak entries day 1 %d, day 2 %d, added %d", peakDay1, peakDay2, st.Added)
}

func TestEngineConcurrent(t *testing.T) {
	e := newTestEngine(t, testOptions())
	var wg sync.WaitGroup
	var clock sync.Mutex
	now := t0
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for range 500 {
				clock.Lock()
				at := now
				clock.Unlock()
				_ = e.Add(Point{Lat: hkLat + rng.Float64()*0.1, Lng: hkLng + rng.Float64()*0.1, Time: at, Category: cityMgmt})
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			clock.Lock()
			now = t0.Add(time.Duration(i) * 20 * time.Second)
			at := now
			clock.Unlock()
			e.Advance(at)
		}
	})
	wg.Go(func() {
		for range 200 {
			e.Changes()
			e.Snapshot(Key{9, time.Hour, AllCategories})
			e.HotTopics(time.Hour, 5)
			e.Keys()
			e.Stats()
		}
	})
	wg.Wait()
}
