package feedsim

import (
	"container/heap"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
)

// ReadingSink takes readings: *feeds.Feed is one.
type ReadingSink interface {
	Ingest(ctx context.Context, src string, items []feeds.Item) []feeds.Outcome
}

// CallSink takes call-centre events: *kpi.Tracker is one.
type CallSink interface {
	Call(c kpi.Call) (ticket.PostStatus, string)
}

// VolumeSink, when the CallSink is one too, takes the request volume of
// the days before the ticket demo's own back-fill (TicketBackfill), so the
// comparison with the same weekday last week has a base: *kpi.Tracker is
// one. These are counts, not tickets: no lifecycle follows them.
type VolumeSink interface {
	Volume(created time.Time)
}

// Options tune the simulator. Zero values take the defaults.
type Options struct {
	Seed        int64
	Speed       float64       // multiplies the call and incident rates; default 1
	CallsPerDay float64       // default 2700
	AnswerRate  float64       // default 0.985
	FirstStorm  time.Duration // after the start; default 10m, negative for none until a day later
	StormEvery  time.Duration // mean gap between storms; default 24h
	Backfill    time.Duration // readings emitted at once on start; default 6h, negative for none
	CallDays    int           // days of calls emitted at once on start (for "vs last week"); default 8, negative for none
	// TicketBackfill is how far back the ticket demo emits whole tickets
	// on start; the request volume before it comes from here. Default 24h.
	TicketBackfill time.Duration
}

// StormLength is how long a rainstorm's rain lasts; its effects (water
// draining, reservoirs falling) outlast it.
const StormLength = 80 * time.Minute

// Source is the name the simulator's readings are ingested under.
const Source = "demo"

func (o Options) withDefaults() Options {
	if !(o.Speed > 0) {
		o.Speed = 1
	}
	if !(o.CallsPerDay > 0) {
		o.CallsPerDay = 2700
	}
	if !(o.AnswerRate > 0 && o.AnswerRate <= 1) {
		o.AnswerRate = 0.985
	}
	switch {
	case o.FirstStorm == 0:
		o.FirstStorm = 10 * time.Minute
	case o.FirstStorm < 0:
		o.FirstStorm = 24 * time.Hour
	}
	if o.StormEvery <= 0 {
		o.StormEvery = 24 * time.Hour
	}
	switch {
	case o.Backfill == 0:
		o.Backfill = 6 * time.Hour
	case o.Backfill < 0:
		o.Backfill = 0
	}
	switch {
	case o.CallDays == 0:
		o.CallDays = 8
	case o.CallDays < 0:
		o.CallDays = 0
	}
	if o.TicketBackfill <= 0 {
		o.TicketBackfill = 24 * time.Hour
	}
	return o
}

// Sim is the simulated sensors and call centre.
type Sim struct {
	o        Options
	stations []feeds.Station
	rng      *rand.Rand

	mu      sync.Mutex
	trigger bool
	storms  []time.Time // starts, in order; the last is the next one
	stats   Stats

	// state integrated over time
	last      time.Time
	depth     map[string]float64 // waterlogging, cm
	rise      map[string]float64 // reservoir, m above base
	nextRead  map[string]time.Time
	nextCall  time.Time
	nextInc   time.Time
	incidents []incident
	pending   evHeap // ticket lifecycle events waiting for their time
	evSeq     uint64
	tickSeq   int
	stormDone map[int64]bool // storm start → its tickets and incidents planned
	drafts    []ticket.Ticket
	held      heldCall
	callSeq   int
	incSeq    int
	tag       string // run tag in ids, so a restarted demo never reuses one
}

// Stats count what a Sim has emitted.
type Stats struct {
	Readings, Calls, Storms, StormTickets, Incidents int
}

// New returns a simulator.
func New(o Options) *Sim {
	o = o.withDefaults()
	return &Sim{o: o, stations: Stations(), rng: rand.New(rand.NewPCG(uint64(o.Seed), 0x5eed_f00d)),
		depth: map[string]float64{}, rise: map[string]float64{}, nextRead: map[string]time.Time{}, stormDone: map[int64]bool{}}
}

// TriggerStorm starts a rainstorm at the next step.
func (s *Sim) TriggerStorm() {
	s.mu.Lock()
	s.trigger = true
	s.mu.Unlock()
}

// Stats returns the counts so far.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Storming reports whether a storm's rain is falling at t.
func (s *Sim) Storming(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.stormAt(t)
	return ok
}

// Run emits the backfill at once, then live readings, calls, incidents
// and storms as their times come on the clock now, until ctx ends.
func (s *Sim) Run(ctx context.Context, now func() time.Time, readings ReadingSink, calls CallSink, tickets city.Emitter) error {
	if readings == nil || calls == nil || tickets == nil {
		return errors.New("feeds demo: nil sink")
	}
	if now == nil {
		now = time.Now
	}
	start := now().Round(0)
	s.mu.Lock()
	s.tag = strconv.FormatInt(start.Unix()%(36*36*36*36), 36)
	s.storms = []time.Time{start.Add(s.o.FirstStorm)}
	s.last = start.Add(-s.o.Backfill)
	for _, st := range s.stations {
		s.nextRead[st.ID] = start.Add(-s.o.Backfill)
	}
	s.nextCall = start.Add(-time.Duration(s.o.CallDays) * 24 * time.Hour)
	s.nextInc = start.Add(-s.o.Backfill).Add(s.incidentGap())
	s.mu.Unlock()
	if vs, ok := calls.(VolumeSink); ok && s.o.CallDays > 1 {
		s.volumeHistory(start, vs)
	}
	s.step(ctx, start, readings, calls, tickets)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s.step(ctx, now(), readings, calls, tickets)
	}
}

// step emits everything due up to t, in time order per kind.
func (s *Sim) step(ctx context.Context, t time.Time, readings ReadingSink, calls CallSink, tickets city.Emitter) {
	s.mu.Lock()
	if s.trigger {
		s.trigger = false
		s.storms[len(s.storms)-1] = t
	}
	s.planStorms(t)
	var items []feeds.Item
	var tks []ticket.Ticket
	var evs []ticket.Event
	var cs []kpi.Call
	// Readings: advance the integrated state a minute at a time.
	for s.last.Before(t) {
		next := s.last.Add(time.Minute)
		if next.After(t) {
			next = t
		}
		s.integrate(next, next.Sub(s.last))
		s.last = next
		for _, st := range s.stations {
			for !s.nextRead[st.ID].After(next) {
				at := s.nextRead[st.ID]
				items = append(items, s.reading(st, at))
				s.nextRead[st.ID] = at.Add(st.Interval)
			}
		}
		items = append(items, s.incidentsUntil(next)...)
		tks = append(tks, s.stormTicketsUntil(next)...)
	}
	for s.pending.Len() > 0 && !s.pending[0].e.Time.After(t) {
		evs = append(evs, heap.Pop(&s.pending).(evItem).e)
	}
	cs = s.callsUntil(t)
	s.stats.Readings += len(items)
	s.stats.Calls += len(cs)
	s.mu.Unlock()

	ingestByStation(ctx, readings, items)
	for _, c := range cs {
		calls.Call(c)
	}
	for _, tk := range tks {
		tickets.Ticket(tk)
	}
	for _, e := range evs {
		tickets.Event(e)
	}
}

// ingestByStation sends items (in time order per station) in batches of
// about 500 that hold each station's items whole. The feed checks
// staleness between batches: a batch that ended in the middle of a
// station's back-fill would leave it with an hours-old last reading, and
// the feed would raise and clear a stale alert for it.
func ingestByStation(ctx context.Context, readings ReadingSink, items []feeds.Item) {
	slices.SortStableFunc(items, func(a, b feeds.Item) int { return strings.Compare(a.ID(), b.ID()) })
	for len(items) > 0 {
		n := min(500, len(items))
		for n < len(items) && items[n].ID() == items[n-1].ID() {
			n++
		}
		batch := items[:n]
		for j := range batch {
			batch[j].Index = j
		}
		readings.Ingest(ctx, Source, batch)
		items = items[n:]
	}
}

// stormAt returns the start of the storm whose rain falls at t.
func (s *Sim) stormAt(t time.Time) (time.Time, bool) {
	for i := len(s.storms) - 1; i >= 0; i-- {
		st := s.storms[i]
		if !t.Before(st) && t.Before(st.Add(StormLength)) {
			return st, true
		}
	}
	return time.Time{}, false
}

// planStorms schedules the next storm once the current one has begun.
func (s *Sim) planStorms(t time.Time) {
	last := s.storms[len(s.storms)-1]
	if t.Before(last) {
		return
	}
	if !s.stormDone[last.UnixNano()] {
		s.stormDone[last.UnixNano()] = true
		s.stats.Storms++
		s.planStorm(last)
	}
	gap := s.o.StormEvery + time.Duration((s.rng.Float64()-0.5)*float64(s.o.StormEvery)/3)
	s.storms = append(s.storms, last.Add(gap))
	if len(s.storms) > 8 {
		s.storms = s.storms[len(s.storms)-8:]
	}
}

// stormShape is the storm's relative intensity at t: 0 outside, up to 1.
func (s *Sim) stormShape(t time.Time) float64 {
	st, ok := s.stormAt(t)
	if !ok {
		return 0
	}
	p := float64(t.Sub(st)) / float64(StormLength)
	return math.Pow(math.Sin(math.Pi*p), 1.5)
}

// stormPhase is how far into the latest storm t is, as a fraction of its
// rain; negative before it.
func (s *Sim) stormPhase(t time.Time) float64 {
	for i := len(s.storms) - 1; i >= 0; i-- {
		st := s.storms[i]
		if !t.Before(st) {
			return float64(t.Sub(st)) / float64(StormLength)
		}
	}
	return -1
}

// rainAt is a gauge's intensity in mm/h: dry outside storms; a storm
// peaks at 55–85 mm/h, strongest over Longhua and Xiuying.
func (s *Sim) rainAt(lat, lng float64, t time.Time) float64 {
	sh := s.stormShape(t)
	if sh == 0 {
		return 0
	}
	// The cell's centre sits over the west of the city.
	d := math.Hypot(lat-20.015, (lng-110.305)*0.94) * 111 // km
	peak := 85 - 4*d
	return math.Max(0, peak*sh)
}

var depthGain = map[string]float64{
	"wl-nanhai-underpass": 1.5, "wl-haifu-underpass": 1.3, "wl-longkun-nanda": 1.2,
	"wl-binhai-xiuying": 0.9, "wl-guoxing-dayingshan": 0.8, "wl-jinpan": 1.0,
}

var reservoirModel = map[string]struct{ base, gain float64 }{
	"res-yongzhuang": {17.9, 0.016},
	"res-shahe":      {11.6, 0.020},
	"res-lingbei":    {24.7, 0.009},
}

// integrate moves the water forward by dt ending at t.
func (s *Sim) integrate(t time.Time, dt time.Duration) {
	h := dt.Hours()
	for _, st := range s.stations {
		switch st.Kind {
		case feeds.Waterlogging:
			r := s.rainAt(st.Lat, st.Lng, t)
			d := s.depth[st.ID] + (r*depthGain[st.ID]-25)*h
			s.depth[st.ID] = math.Min(math.Max(d, 0), 80)
		case feeds.Reservoir:
			r := s.rainAt(st.Lat, st.Lng, t)
			rise := s.rise[st.ID] + r*reservoirModel[st.ID].gain*h
			rise -= rise * h / 8 // released over hours
			s.rise[st.ID] = math.Max(rise, 0)
		}
	}
}

// reading is a station's reading at t.
func (s *Sim) reading(st feeds.Station, t time.Time) feeds.Item {
	r := feeds.Reading{Station: st.ID, Time: t.Truncate(time.Second)}
	noise := s.rng.NormFloat64()
	switch st.Kind {
	case feeds.Reservoir:
		m := reservoirModel[st.ID]
		r.Value, r.Unit = round(m.base+s.rise[st.ID]+0.01*noise, 2), "m"
		in := round(3+s.rainAt(st.Lat, st.Lng, t)*0.9+0.3*math.Abs(noise), 1)
		out := round(2.5+math.Max(0, s.rise[st.ID])*12, 1)
		r.Inflow, r.Outflow = &in, &out
	case feeds.Waterlogging:
		d := s.depth[st.ID]
		if d > 0 {
			d += 0.4 * noise
		}
		r.Value, r.Unit = round(math.Max(d, 0), 1), "cm"
	case feeds.Rain:
		v := s.rainAt(st.Lat, st.Lng, t)
		if v > 0 {
			v *= 1 + 0.08*noise
		}
		r.Value, r.Unit = round(math.Max(v, 0), 1), "mm/h"
	case feeds.Road:
		r.Value, r.Unit = round(s.speed(st, t, noise), 1), "km/h"
	}
	return feeds.Item{Reading: &r}
}

// speed is a road's speed at t: free flow at night, slow in the rush
// hours, jammed on the storm's key roads while it pours and for a while
// after.
func (s *Sim) speed(st feeds.Station, t time.Time, noise float64) float64 {
	c := t.In(cst)
	h := float64(c.Hour()) + float64(c.Minute())/60
	f := 0.92
	rush := math.Exp(-math.Pow((h-8.2)/0.8, 2)) + math.Exp(-math.Pow((h-18)/0.9, 2))
	if st.Key {
		f -= 0.45 * rush // a key road's rush hour is congested, not jammed
	} else {
		f -= 0.3 * rush
	}
	if h >= 10 && h < 17 {
		f -= 0.12
	}
	if p := s.stormPhase(t); p >= 0.25 && p < 1.0 && stormRoads[st.ID] {
		f = 0.16
	} else if p >= 0 && p < 1.3 {
		f -= 0.25 * math.Min(1, s.stormShape(t)*2)
	}
	for _, in := range s.incidents {
		if in.road == st.ID && !t.Before(in.from) && t.Before(in.to) {
			f *= 0.6
		}
	}
	return math.Max(3, st.FreeFlow*(f+0.04*noise))
}

// stormRoads jam in every storm.
var stormRoads = map[string]bool{"road-nanhai": true, "road-longkun-s": true, "road-haixiu-w": true, "road-binhai-w": true}

func round(v float64, prec int) float64 {
	p := math.Pow(10, float64(prec))
	return math.Round(v*p) / p
}

// cst is China Standard Time: the demo city's clock.
var cst = time.FixedZone("CST", 8*3600)
