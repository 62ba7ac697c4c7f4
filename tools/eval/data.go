// Package eval measures cluster detection on semi-synthetic data: weeks of
// the demo city's background traffic (its daily and weekly rhythm, category
// mix and uneven spatial density) with clusters injected at known places
// and times, scored by the space-time scan of package scan and, on the same
// data at the same false-alarm rate, by two baselines: a fixed count
// threshold per cell and EARS C2 per cell.
package eval

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/geo/ticket"
)

// collector gathers what the demo city emits.
type collector struct {
	mu      sync.Mutex
	res     int
	evs     []scan.Event
	tickets []ticket.Ticket // when keep
	keep    bool
}

func (c *collector) Ticket(t ticket.Ticket) {
	cell, err := h3.LatLngToCell(h3.LatLng{Lat: t.Lat, Lng: t.Lng}, c.res)
	if err != nil {
		return
	}
	c.mu.Lock()
	c.evs = append(c.evs, scan.Event{ID: t.ID, Cell: cell, Category: t.Category, Time: t.Created, Lat: t.Lat, Lng: t.Lng})
	if c.keep {
		c.tickets = append(c.tickets, t)
	}
	c.mu.Unlock()
}

func (c *collector) Event(ticket.Event) {}

// Background returns the demo city's tickets over the span before end, by
// time. incidents < 0 switches the demo's own bursts off.
func Background(ctx context.Context, perDay float64, span time.Duration, end time.Time, seed int64, incidents float64, res int) ([]scan.Event, error) {
	col, err := background(ctx, perDay, span, end, seed, incidents, res, false)
	if err != nil {
		return nil, err
	}
	return col.evs, nil
}

// BackgroundTickets is Background with the whole tickets (subcategory,
// summary, district and grid), by time.
func BackgroundTickets(ctx context.Context, perDay float64, span time.Duration, end time.Time, seed int64, incidents float64) ([]ticket.Ticket, error) {
	col, err := background(ctx, perDay, span, end, seed, incidents, 8, true)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(col.tickets, func(i, j int) bool { return col.tickets[i].Created.Before(col.tickets[j].Created) })
	return col.tickets, nil
}

func background(ctx context.Context, perDay float64, span time.Duration, end time.Time, seed int64, incidents float64, res int, keep bool) (*collector, error) {
	sim := city.New(city.Options{PerDay: perDay, Seed: seed, Backfill: span, Incidents: incidents, MaxPending: 1})
	col := &collector{res: res, keep: keep}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Run asks the clock once to start and again only when the backfill is
	// done: the second call ends the run.
	var calls int
	now := func() time.Time {
		calls++
		if calls > 1 {
			cancel()
		}
		return end
	}
	if err := sim.Run(ctx, now, col); err != nil {
		return nil, fmt.Errorf("demo background: %w", err)
	}
	sort.SliceStable(col.evs, func(i, j int) bool { return col.evs[i].Time.Before(col.evs[j].Time) })
	return col, nil
}

// Scenario shapes injected clusters.
type Scenario struct {
	Name             string
	MinSize, MaxSize int           // tickets
	MaxCells         int           // adjacent res-8 cells they fall in (1..7)
	MinSpan, MaxSpan time.Duration // from first to last ticket
	PerDay           float64       // clusters injected a day
}

// Injection is one injected cluster: the truth detections are scored
// against.
type Injection struct {
	ID       int
	Category string
	Cells    []h3.Cell
	Times    []time.Time // by time
	Lat, Lng float64     // centroid of its tickets
	near     []h3.Cell
}

// Start is its first ticket's time, End its last's.
func (in Injection) Start() time.Time { return in.Times[0] }

// End is its last ticket's time.
func (in Injection) End() time.Time { return in.Times[len(in.Times)-1] }

// Fifth is the time of its fifth ticket, from which time to detect is
// counted.
func (in Injection) Fifth() time.Time { return in.Times[min(4, len(in.Times)-1)] }

// Inject draws clusters over [from, to) at places and of categories picked
// from the background (so they fall where people live and are of the kinds
// people report) and returns the background with them merged in, by time.
func Inject(bg []scan.Event, sc Scenario, from, to time.Time, seed uint64) ([]scan.Event, []Injection) {
	rng := rand.New(rand.NewPCG(seed, 0x1a7e))
	days := to.Sub(from).Hours() / 24
	n := int(math.Round(sc.PerDay * days))
	var pool []scan.Event
	for _, e := range bg {
		if !e.Time.Before(from) && e.Time.Before(to) {
			pool = append(pool, e)
		}
	}
	if len(pool) == 0 {
		return bg, nil
	}
	out := slices.Clone(bg)
	var injs []Injection
	res := pool[0].Cell.Resolution()
	for k := range n {
		ref := pool[rng.IntN(len(pool))]
		size := sc.MinSize + rng.IntN(sc.MaxSize-sc.MinSize+1)
		span := sc.MinSpan + time.Duration(rng.Float64()*float64(sc.MaxSpan-sc.MinSpan))
		start := from.Add(time.Duration(rng.Float64() * float64(to.Sub(from)-span-time.Hour)))
		// 1..MaxCells adjacent cells: the reference cell and a connected
		// walk of its neighbours.
		cells := []h3.Cell{ref.Cell}
		want := 1 + rng.IntN(sc.MaxCells)
		for tries := 0; len(cells) < want && tries < 50; tries++ {
			base := cells[rng.IntN(len(cells))]
			ring, _ := base.GridDisk(1)
			c := ring[rng.IntN(len(ring))]
			if !slices.Contains(cells, c) {
				cells = append(cells, c)
			}
		}
		in := Injection{ID: k, Category: ref.Category, Cells: cells}
		times := make([]time.Time, size)
		for i := range times {
			times[i] = start.Add(time.Duration(rng.Float64() * float64(span)))
		}
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		in.Times = times
		for i, t := range times {
			// Every cell gets at least one ticket; the rest fall at random.
			cell := cells[i%len(cells)]
			if i >= len(cells) {
				cell = cells[rng.IntN(len(cells))]
			}
			lat, lng := pointIn(rng, cell, res)
			in.Lat += lat
			in.Lng += lng
			out = append(out, scan.Event{ID: fmt.Sprintf("inj-%d-%d", k, i), Cell: cell, Category: ref.Category, Time: t, Lat: lat, Lng: lng})
		}
		in.Lat /= float64(size)
		in.Lng /= float64(size)
		in.near = near(cells)
		injs = append(injs, in)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, injs
}

// pointIn draws a point inside cell.
func pointIn(rng *rand.Rand, cell h3.Cell, res int) (float64, float64) {
	c, _ := cell.LatLng()
	for range 20 {
		lat := c.Lat + (rng.Float64()-0.5)*0.01
		lng := c.Lng + (rng.Float64()-0.5)*0.01
		if got, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res); err == nil && got == cell {
			return lat, lng
		}
	}
	return c.Lat, c.Lng
}

func near(cells []h3.Cell) []h3.Cell {
	out := slices.Clone(cells)
	for _, c := range cells {
		ring, _ := c.GridDisk(1)
		for _, r := range ring {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}
