package geo

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"
)

// cityPoints spreads n points over Haikou (±0.15°) in 16 categories.
func cityPoints(n int) []Point {
	rng := rand.New(rand.NewPCG(1, 1))
	cats := make([]string, 16)
	for i := range cats {
		cats[i] = "类别" + string(rune('A'+i))
	}
	pts := make([]Point, n)
	for i := range pts {
		pts[i] = Point{
			Lat:      hkLat + (rng.Float64()-0.5)*0.3,
			Lng:      hkLng + (rng.Float64()-0.5)*0.3,
			Category: cats[rng.IntN(len(cats))],
		}
	}
	return pts
}

func BenchmarkLatLngToCell(b *testing.B) {
	pts := cityPoints(1 << 12)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := pts[i&(len(pts)-1)]
		if _, err := h3.LatLngToCell(h3.LatLng{Lat: p.Lat, Lng: p.Lng}, 9); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkEngineAdd: default options (res 7, 8, 9; 15m, 1h, 24h), points
// all at the clock so every one counts in every window.
func BenchmarkEngineAdd(b *testing.B) {
	e, err := NewEngine(Options{}, t0)
	if err != nil {
		b.Fatal(err)
	}
	pts := cityPoints(1 << 16)
	for i := range pts {
		pts[i].Time = t0
	}
	// Warm up to the city's size, so the figure is the steady state.
	for _, p := range pts {
		if err := e.Add(p); err != nil {
			b.Fatal(err)
		}
	}
	e.Changes()
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if err := e.Add(pts[i&(len(pts)-1)]); err != nil {
			b.Fatal(err)
		}
		i++
		if i&(1<<14-1) == 0 {
			e.Changes() // a publisher drains, as in production
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkAdvance: one 30 s step of the clock (one bucket of the 15 m
// window), with a minute's worth of points at a busy 100 a minute between
// steps; the figure includes the adds and the drain.
func BenchmarkAdvance(b *testing.B) {
	e, err := NewEngine(Options{}, t0)
	if err != nil {
		b.Fatal(err)
	}
	pts := cityPoints(1 << 16)
	now := t0
	const perStep = 50
	step := func(i int) {
		now = now.Add(30 * time.Second)
		e.Advance(now)
		for j := range perStep {
			p := pts[(i*perStep+j)&(len(pts)-1)]
			p.Time = now
			if err := e.Add(p); err != nil {
				b.Fatal(err)
			}
		}
		e.Changes()
	}
	// A full day first, so the 24 h window is at its steady size.
	for i := range 24 * 120 {
		step(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		step(i)
		i++
	}
	st := e.Stats()
	b.ReportMetric(float64(st.Entries), "entries")
}

func BenchmarkBoundariesGet(b *testing.B) {
	c, _ := h3.LatLngToCell(h3.LatLng{Lat: hkLat, Lng: hkLng}, 9)
	cells, _ := c.GridDisk(10)
	bc := NewBoundaries(len(cells))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := bc.Get(cells[i%len(cells)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
