package feeds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Item outcomes, as the ticket API names them.
const (
	Accepted  = ticket.StatusAccepted
	Duplicate = ticket.StatusDuplicate
	Rejected  = ticket.StatusRejected
)

// Options configure a Feed. Zero values take the defaults.
type Options struct {
	Stations        []Station
	History         time.Duration // readings kept per station; default 24h
	MaxPoints       int           // per station; default 20000
	StaleFactor     float64       // default 3
	JamAfter        time.Duration // default 10m
	MaxFuture       time.Duration // how far ahead of the clock a reading may be; default 5m
	PublishInterval time.Duration // changes are coalesced to one publication per topic per interval; default 250ms
	Now             func() time.Time
	Publisher       Publisher // nil: nothing is published
	Alerter         Alerter   // nil: alerts are only logged
	Log             *slog.Logger
}

const defaultInterval = 5 * time.Minute

// Point is one reading in a station's history: Unix milliseconds and the
// value in the kind's unit.
type Point struct {
	T int64   `json:"t"`
	V float64 `json:"v"`
}

// Outcome is one item's result, as the API answers it.
type Outcome struct {
	Index  int               `json:"index"`
	ID     string            `json:"id,omitempty"`
	Status ticket.PostStatus `json:"status"`
	Reason string            `json:"reason,omitempty"`
	Note   string            `json:"note,omitempty"`
	kind   Kind
}

// Kind is the kind of station the item was for, when known.
func (o Outcome) Kind() Kind { return o.kind }

// Feed holds the stations' current values and history, derives their
// states and raises alerts. It is safe for concurrent use.
type Feed struct {
	o     Options
	start time.Time

	mu        sync.Mutex
	stations  map[string]*station
	order     []string
	incidents map[string]*Incident
	sources   map[string]*source
	dirty     map[string]map[string]bool // topic → keys to republish
	pending   []alertAction

	emitMu sync.Mutex // alert actions are sent in order, one caller at a time
	stats  Stats
	kick   chan struct{}
}

// Stats count what a Feed has taken.
type Stats struct {
	Accepted, Duplicates, Rejected, OutOfOrder uint64
}

type alertAction struct {
	fire  *Alert
	clear string
}

// New builds a Feed. Nothing is published until Run.
func New(o Options) (*Feed, error) {
	if o.History <= 0 {
		o.History = 24 * time.Hour
	}
	if o.MaxPoints <= 0 {
		o.MaxPoints = 20_000
	}
	if o.StaleFactor < 1 {
		o.StaleFactor = 3
	}
	if o.JamAfter <= 0 {
		o.JamAfter = 10 * time.Minute
	}
	if o.MaxFuture <= 0 {
		o.MaxFuture = 5 * time.Minute
	}
	if o.PublishInterval <= 0 {
		o.PublishInterval = 250 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{
		o:         o,
		start:     o.Now(),
		stations:  map[string]*station{},
		incidents: map[string]*Incident{},
		sources:   map[string]*source{},
		dirty:     map[string]map[string]bool{},
		kick:      make(chan struct{}, 1),
	}
	for _, s := range o.Stations {
		if s.ID == "" {
			return nil, errors.New("feeds: a station without an id")
		}
		if _, dup := f.stations[s.ID]; dup {
			return nil, fmt.Errorf("feeds: station %q listed twice", s.ID)
		}
		if s.Kind.Unit() == "" {
			return nil, fmt.Errorf("feeds: station %q: unknown kind %q", s.ID, s.Kind)
		}
		if s.Interval <= 0 {
			s.Interval = defaultInterval
		}
		if s.Hysteresis <= 0 {
			s.Hysteresis = map[Kind]float64{Reservoir: 0.05, Waterlogging: 2, Rain: 5}[s.Kind]
		}
		if s.Kind == Road && s.Lat == 0 && s.Lng == 0 && len(s.Polyline) > 0 {
			mid := s.Polyline[len(s.Polyline)/2]
			s.Lat, s.Lng = mid[0], mid[1]
		}
		f.stations[s.ID] = &station{st: s}
		f.order = append(f.order, s.ID)
		f.markLocked(s.Kind.Topic(), s.ID)
	}
	return f, nil
}

// Stations lists the configured stations in configuration order.
func (f *Feed) Stations() []Station {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Station, 0, len(f.order))
	for _, id := range f.order {
		out = append(out, f.stations[id].st)
	}
	return out
}

// Stats returns the counts so far.
func (f *Feed) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// Ingest takes decoded items from a source (push, or a configured source's
// name) and answers each. A station's value on the wall only moves forward
// in time: an older reading goes into the history and changes nothing else.
func (f *Feed) Ingest(ctx context.Context, src string, items []Item) []Outcome {
	now := f.o.Now()
	out := make([]Outcome, len(items))
	f.mu.Lock()
	for i, it := range items {
		o := Outcome{Index: it.Index, ID: it.ID()}
		switch {
		case it.Err != nil:
			o.Status, o.Reason = Rejected, it.Err.Error()
		case it.Reading != nil:
			o = f.readingLocked(now, src, *it.Reading, o)
		case it.Incident != nil:
			o = f.incidentLocked(now, *it.Incident, o)
		default:
			o.Status, o.Reason = Rejected, "empty item"
		}
		switch o.Status {
		case Accepted:
			f.stats.Accepted++
		case Duplicate:
			f.stats.Duplicates++
		default:
			f.stats.Rejected++
		}
		out[i] = o
	}
	if s, ok := f.sources[src]; ok {
		s.lastData = now
	}
	f.mu.Unlock()
	f.emit(ctx)
	f.wake()
	return out
}

func (f *Feed) readingLocked(now time.Time, src string, r Reading, o Outcome) Outcome {
	s, ok := f.stations[r.Station]
	if !ok {
		o.Status, o.Reason = Rejected, fmt.Sprintf("station: %q is not a configured station", shorten(r.Station))
		return o
	}
	k := s.st.Kind
	o.kind = k
	v, ok := convert(k, r.Value, r.Unit)
	if !ok {
		o.Status, o.Reason = Rejected, fmt.Sprintf("unit: %q is not a unit of a %s reading (want %s)", shorten(r.Unit), k, unitsOf(k))
		return o
	}
	if msg := plausible(s.st, v); msg != "" {
		o.Status, o.Reason = Rejected, fmt.Sprintf("value: %s %s %s", strconv.FormatFloat(r.Value, 'g', -1, 64), r.Unit, msg)
		return o
	}
	if (r.Inflow != nil || r.Outflow != nil) && k != Reservoir {
		o.Status, o.Reason = Rejected, "inflow: only reservoirs report inflow and outflow"
		return o
	}
	switch {
	case r.Time.After(now.Add(f.o.MaxFuture)):
		o.Status, o.Reason = Rejected, fmt.Sprintf("time: %s is ahead of the server's clock (%s) by more than %s", r.Time.Format(time.RFC3339), now.Format(time.RFC3339), f.o.MaxFuture)
		return o
	case r.Time.Before(now.Add(-f.o.History)):
		o.Status, o.Reason = Rejected, fmt.Sprintf("time: %s is older than the %s of history kept", r.Time.Format(time.RFC3339), f.o.History)
		return o
	}
	p := Point{T: r.Time.UnixMilli(), V: v}
	pos, dup := s.find(p.T)
	if dup {
		o.Status = Duplicate
		if s.hist[pos].V != v {
			o.Reason = fmt.Sprintf("time: a reading of %s at %s is already held (%v %s); the first one stands", s.st.ID, r.Time.Format(time.RFC3339Nano), s.hist[pos].V, k.Unit())
		}
		return o
	}
	newest := pos == len(s.hist)
	s.insert(pos, p)
	s.prune(now.Add(-f.o.History).UnixMilli(), f.o.MaxPoints)
	o.Status = Accepted
	if !newest {
		f.stats.OutOfOrder++
		o.Note = "older than the current reading: kept in the history"
		return o
	}
	s.source = src
	if k == Reservoir {
		s.inflow, s.outflow = r.Inflow, r.Outflow
	}
	f.evaluateLocked(s, now)
	f.markLocked(k.Topic(), s.st.ID)
	return o
}

func (f *Feed) incidentLocked(now time.Time, in Incident, o Outcome) Outcome {
	o.kind = Road
	if in.Time.After(now.Add(f.o.MaxFuture)) {
		o.Status, o.Reason = Rejected, fmt.Sprintf("time: %s is ahead of the server's clock by more than %s", in.Time.Format(time.RFC3339), f.o.MaxFuture)
		return o
	}
	if in.Road != "" {
		if s, ok := f.stations[in.Road]; !ok || s.st.Kind != Road {
			o.Status, o.Reason = Rejected, fmt.Sprintf("road: %q is not a configured road segment", shorten(in.Road))
			return o
		}
	}
	old, ok := f.incidents[in.ID]
	switch {
	case ok && *old == in:
		o.Status = Duplicate
		return o
	case ok && !in.Time.After(old.Time):
		o.Status, o.Reason = Duplicate, "a later report of this incident is held"
		return o
	}
	c := in
	f.incidents[in.ID] = &c
	f.markLocked(TopicTraffic, incidentKey(in.ID))
	o.Status = Accepted
	return o
}

// plausible rejects values no station of the kind can read; most often
// a value in another unit than the one it is labelled with.
func plausible(st Station, v float64) string {
	switch st.Kind {
	case Reservoir:
		lo, hi := st.Limit-80, st.Limit+30
		if v < lo || v > hi {
			return fmt.Sprintf("is %.2f m, implausible for %s (flood limit %.2f m; accepted %.0f..%.0f m): wrong unit?", v, st.ID, st.Limit, lo, hi)
		}
	case Waterlogging:
		if v < -5 || v > 500 {
			return fmt.Sprintf("is %.1f cm, out of range -5..500 cm: wrong unit?", v)
		}
	case Rain:
		if v < 0 || v > 400 {
			return fmt.Sprintf("is %.1f mm/h, out of range 0..400 mm/h: wrong unit?", v)
		}
	case Road:
		if v < 0 || v > 250 {
			return fmt.Sprintf("is %.1f km/h, out of range 0..250 km/h: wrong unit?", v)
		}
	}
	return ""
}

func shorten(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func incidentKey(id string) string { return "incident:" + id }
func sourceKey(name string) string { return "source:" + name }

func (f *Feed) markLocked(topic, key string) {
	m := f.dirty[topic]
	if m == nil {
		m = map[string]bool{}
		f.dirty[topic] = m
	}
	m[key] = true
}

func (f *Feed) wake() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// emit sends queued alert actions, in order.
func (f *Feed) emit(ctx context.Context) {
	f.emitMu.Lock()
	defer f.emitMu.Unlock()
	f.mu.Lock()
	acts := f.pending
	f.pending = nil
	f.mu.Unlock()
	for _, a := range acts {
		var err error
		if a.fire != nil {
			f.o.Log.Info("feed alert", "fingerprint", a.fire.Fingerprint, "severity", a.fire.Severity, "title", a.fire.TitleEn)
			if f.o.Alerter != nil {
				err = f.o.Alerter.Fire(ctx, *a.fire)
			}
		} else {
			f.o.Log.Info("feed alert cleared", "fingerprint", a.clear)
			if f.o.Alerter != nil {
				err = f.o.Alerter.Clear(ctx, a.clear)
			}
		}
		if err != nil {
			f.o.Log.Warn("feed alert not delivered", "err", err)
		}
	}
}

// History returns a station's readings since since, oldest first.
func (f *Feed) History(id string, since time.Time) (Station, []Point, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.stations[id]
	if !ok {
		return Station{}, nil, false
	}
	ms := since.UnixMilli()
	i := sort.Search(len(s.hist), func(i int) bool { return s.hist[i].T >= ms })
	return s.st, append([]Point(nil), s.hist[i:]...), true
}
