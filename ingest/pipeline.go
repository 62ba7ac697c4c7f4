package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
)

// TopicTickets is the hub's events topic of accepted tickets (a View each).
const TopicTickets = "tickets"

// EventPublisher is the hub as the pipeline uses it.
type EventPublisher interface {
	PublishEvent(ctx context.Context, topic string, data json.RawMessage, origin time.Time) error
}

// ReadingSink takes decoded readings (a *feeds.Feed).
type ReadingSink interface {
	Ingest(ctx context.Context, source string, items []feeds.Item) []feeds.Outcome
}

// CallTracker takes call-centre events (a *kpi.Tracker).
type CallTracker interface {
	Call(c kpi.Call) (ticket.PostStatus, string)
	Volume(created time.Time)
}

// Options are what a Pipeline writes to and tells.
type Options struct {
	Store    *ticket.Store
	Engine   *geo.Engine
	Hub      EventPublisher
	Readings ReadingSink
	Calls    CallTracker
	// OnTicket hears every accepted ticket (alerting, KPIs), in order.
	OnTicket []func(ticket.Ticket)
	// OnEvent hears every event that changed its ticket, with the state it
	// left (alerting's SLA, KPIs), in order.
	OnEvent []func(ticket.Event, ticket.State)
	// Districts fill in a ticket's missing district from its position
	// (geo.DistrictAt) before it is submitted.
	Districts []geo.District
	// Area is where the city's tickets can be; a ticket outside it is
	// rejected before it is stored (reason out_of_area). nil: anywhere.
	Area *geo.Area
	// Touched: an accepted ticket at now awaits publication on the heat
	// maps; StatsChanged: today's counts moved.
	Touched      func(now time.Time)
	StatsChanged func()
	// Backend makes the backend that keeps accepted batches and applies
	// them with apply; nil: Local.
	Backend func(apply ApplyFunc) (Backend, error)

	Location   *time.Location
	Now        func() time.Time
	Log        *slog.Logger
	Registerer prometheus.Registerer
}

// Pipeline is the one way into citywall's state.
type Pipeline struct {
	o       Options
	backend Backend
	metrics metrics

	mu     sync.Mutex
	day    string // the city-local date the counters are for
	today  int
	urgent int
}

// New builds the pipeline and its backend.
func New(o Options) (*Pipeline, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Touched == nil {
		o.Touched = func(time.Time) {}
	}
	if o.StatsChanged == nil {
		o.StatsChanged = func() {}
	}
	p := &Pipeline{o: o, metrics: newMetrics(o.Registerer)}
	if o.Backend == nil {
		p.backend = NewLocal(p.Apply)
		return p, nil
	}
	var err error
	if p.backend, err = o.Backend(p.Apply); err != nil {
		return nil, err
	}
	return p, nil
}

// Submit sends a validated batch through the backend and returns what
// applying it gave; see Backend.Submit.
func (p *Pipeline) Submit(ctx context.Context, b Batch) (Result, error) {
	if b.Len() == 0 && b.Kind != KindReadings && b.Kind != KindCalls {
		return Result{}, nil
	}
	if b.Kind != KindTickets {
		return p.backend.Submit(ctx, b)
	}
	// Tickets outside the city's area are answered here, before anything
	// is stored: the rest go through the backend and their answers are
	// put back in the batch's order.
	var out map[int]ticket.PostItem
	kept := b.Tickets
	for i, t := range b.Tickets {
		err := p.OutsideArea(t.Lat, t.Lng)
		if err == nil {
			if out != nil {
				kept = append(kept, t)
			}
			continue
		}
		if out == nil {
			out = map[int]ticket.PostItem{}
			kept = append([]ticket.Ticket(nil), b.Tickets[:i]...)
		}
		p.Rejected(RejectOutOfArea)
		out[i] = ticket.PostItem{ID: t.ID, Status: ticket.StatusRejected, Reason: err.Error()}
	}
	if out == nil {
		b.Tickets = p.withDistricts(b.Tickets)
		return p.backend.Submit(ctx, b)
	}
	var res Result
	if len(kept) > 0 {
		var err error
		if res, err = p.backend.Submit(ctx, Batch{Kind: KindTickets, Tickets: p.withDistricts(kept)}); err != nil {
			return Result{}, err
		}
	}
	all := Result{Items: make([]ticket.PostItem, len(b.Tickets))}
	j := 0
	for i := range all.Items {
		if it, ok := out[i]; ok {
			all.Items[i] = it
			continue
		}
		if j < len(res.Items) {
			all.Items[i] = res.Items[j]
		}
		j++
	}
	return all, nil
}

// RejectOutOfArea is the reason label of tickets outside the city's area.
const RejectOutOfArea = "out_of_area"

// OutsideArea is nil when the point (WGS84) is in the city's area, and
// otherwise the *ticket.FieldError that rejects it, naming lat,lng, the
// area, and a swap of lat and lng when that would put the point inside.
func (p *Pipeline) OutsideArea(lat, lng float64) error {
	a := p.o.Area
	if a.Contains(lat, lng) {
		return nil
	}
	reason := "out of the city's area (" + a.String() + ")"
	if a.Contains(lng, lat) {
		reason += "; lat and lng swapped?"
	}
	return &ticket.FieldError{Field: "lat,lng", Value: strconv.FormatFloat(lat, 'f', -1, 64) + "," + strconv.FormatFloat(lng, 'f', -1, 64), Reason: reason}
}

// withDistricts is ts with each missing district filled in from the
// ticket's position, where a configured district holds it; ts itself is
// left as it is.
func (p *Pipeline) withDistricts(ts []ticket.Ticket) []ticket.Ticket {
	if len(p.o.Districts) == 0 {
		return ts
	}
	var out []ticket.Ticket
	for i, t := range ts {
		if t.District != "" {
			continue
		}
		d, ok := geo.DistrictAt(p.o.Districts, t.Lat, t.Lng)
		if !ok {
			continue
		}
		if out == nil {
			out = append([]ticket.Ticket(nil), ts...)
		}
		out[i].District = d.Name
	}
	if out == nil {
		return ts
	}
	return out
}

// Run runs the backend until ctx ends.
func (p *Pipeline) Run(ctx context.Context) { p.backend.Run(ctx) }

// NotReady is the backend's NotReady.
func (p *Pipeline) NotReady() string { return p.backend.NotReady() }

// Backend is the pipeline's backend.
func (p *Pipeline) Backend() Backend { return p.backend }

// EmitTicket takes a simulated ticket like a posted one, without waiting.
func (p *Pipeline) EmitTicket(t ticket.Ticket) {
	if err := t.Normalize(p.o.Now()); err != nil {
		p.Rejected(RejectLabel(err))
		return
	}
	if p.OutsideArea(t.Lat, t.Lng) != nil {
		p.Rejected(RejectOutOfArea)
		return
	}
	p.backend.Emit(context.Background(), Batch{Kind: KindTickets, Tickets: p.withDistricts([]ticket.Ticket{t})})
}

// EmitEvent takes a simulated lifecycle event like a posted one.
func (p *Pipeline) EmitEvent(e ticket.Event) {
	if err := e.Normalize(p.o.Now()); err != nil {
		p.EventRejected(RejectLabel(err))
		return
	}
	p.backend.Emit(context.Background(), Batch{Kind: KindEvents, Events: []ticket.Event{e}})
}

// Call takes a simulated call (the demo's) like a posted one.
func (p *Pipeline) Call(c kpi.Call) (ticket.PostStatus, string) {
	st, reason := p.o.Calls.Call(c)
	p.metrics.calls.WithLabelValues(string(st)).Inc()
	return st, reason
}

// Volume takes the demo's request volume of last week.
func (p *Pipeline) Volume(created time.Time) { p.o.Calls.Volume(created) }

// Apply applies one batch to this instance's state: the backends call it,
// every instance alike.
func (p *Pipeline) Apply(ctx context.Context, b Batch) Result {
	var res Result
	switch b.Kind {
	case KindTickets:
		res.Items = make([]ticket.PostItem, len(b.Tickets))
		for i, t := range b.Tickets {
			res.Items[i].ID = t.ID
			tctx := ctx
			if src := itemSource(ctx, i); src != "" {
				tctx = stream.WithSource(ctx, src)
			}
			res.Items[i].Status, res.Items[i].Reason = p.ticket(tctx, t)
		}
	case KindEvents:
		res.Items = make([]ticket.PostItem, len(b.Events))
		for i, e := range b.Events {
			res.Items[i].ID = e.Ticket
			changed, err := p.event(e)
			switch {
			case err != nil:
				res.Items[i].Status, res.Items[i].Reason = ticket.StatusRejected, err.Error()
			case changed:
				res.Items[i].Status = ticket.StatusAccepted
			default:
				res.Items[i].Status = ticket.StatusDuplicate
			}
		}
	case KindReadings:
		for _, o := range p.o.Readings.Ingest(ctx, "push", b.Readings) {
			p.metrics.readings.WithLabelValues(string(o.Status), string(o.Kind())).Inc()
			res.Outcomes = append(res.Outcomes, o)
		}
	case KindCalls:
		for _, it := range b.Calls {
			o := feeds.Outcome{Index: it.Index, ID: it.Call.ID}
			if it.Err != nil {
				o.Status, o.Reason = feeds.Rejected, it.Err.Error()
				p.metrics.calls.WithLabelValues(string(o.Status)).Inc()
			} else {
				o.Status, o.Reason = p.Call(it.Call)
			}
			res.Outcomes = append(res.Outcomes, o)
		}
	}
	return res
}

// ticket applies one ticket that has passed Normalize. It returns the
// outcome and, when rejected, the reason.
func (p *Pipeline) ticket(ctx context.Context, t ticket.Ticket) (ticket.PostStatus, string) {
	now := p.o.Now()
	added, err := p.o.Store.Add(t)
	switch {
	case errors.Is(err, ticket.ErrConflict):
		p.Rejected("conflict")
		return ticket.StatusRejected, err.Error()
	case err != nil:
		p.Rejected("store")
		return ticket.StatusRejected, err.Error()
	case !added:
		p.metrics.items.WithLabelValues(string(ticket.StatusDuplicate), "").Inc()
		return ticket.StatusDuplicate, ""
	}
	p.metrics.items.WithLabelValues(string(ticket.StatusAccepted), "").Inc()
	p.o.Touched(now)
	// Normalize lets a ticket run up to ticket.MaxFuture ahead of the
	// server's clock, further than the engine's geo.FutureSkew: such a
	// ticket counts as arriving now, as the engine counts a small skew.
	at := t.Created
	if at.After(now) {
		at = now
	}
	if err := p.o.Engine.Add(geo.Point{Lat: t.Lat, Lng: t.Lng, Time: at, Category: t.Category}); err != nil {
		// Normalize has checked what the engine checks; an error here is a
		// bug, and the ticket is kept in the store regardless.
		p.o.Log.Warn("ticket not counted on the map", "id", t.ID, "err", err)
	}
	p.count(t)
	for _, f := range p.o.OnTicket {
		f(t)
	}
	if Replaying(ctx) {
		return ticket.StatusAccepted, "" // told when it was accepted
	}
	if ev, err := json.Marshal(NewView(t)); err == nil {
		_ = p.o.Hub.PublishEvent(ctx, TopicTickets, ev, now)
	}
	return ticket.StatusAccepted, ""
}

// event applies one lifecycle event that has passed Normalize.
func (p *Pipeline) event(e ticket.Event) (changed bool, err error) {
	st, changed, err := p.o.Store.AddEvent(e)
	if errors.Is(err, ticket.ErrTooManyEvents) {
		p.EventRejected("too_many_events")
		return false, err
	}
	if err != nil {
		p.EventRejected("unknown_ticket")
		return false, err
	}
	if changed {
		for _, f := range p.o.OnEvent {
			f(e, st)
		}
	}
	return changed, nil
}

// count keeps today's totals for the stats topic; "today" is the city's
// local date.
func (p *Pipeline) count(t ticket.Ticket) {
	day := t.Created.In(p.o.Location).Format(time.DateOnly)
	p.mu.Lock()
	defer p.mu.Unlock()
	today := p.o.Now().In(p.o.Location).Format(time.DateOnly)
	if p.day != today {
		p.day, p.today, p.urgent = today, 0, 0
	}
	if day != today {
		return
	}
	p.today++
	if t.Urgent {
		p.urgent++
	}
	p.o.StatsChanged()
}

// Today is the city-local date and the tickets (and urgent ones) created
// on it so far.
func (p *Pipeline) Today() (day string, tickets, urgent int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.day, p.today, p.urgent
}

// RejectLabel turns an error into a bounded metric label: the field a
// FieldError names, or "invalid".
func RejectLabel(err error) string {
	var fe *ticket.FieldError
	if errors.As(err, &fe) {
		switch fe.Field {
		case "id", "channel", "category", "subcategory", "summary", "lat", "lng", "crs",
			"district", "grid", "created", "ticket", "type", "time", "satisfaction", "department", "note":
			return fe.Field
		}
	}
	return "invalid"
}

// View is what walls see of a ticket: no contact details are ever carried.
type View struct {
	ID          string    `json:"id"`
	Channel     string    `json:"channel"`
	Category    string    `json:"category"`
	Subcategory string    `json:"subcategory,omitempty"`
	Summary     string    `json:"summary,omitempty"`
	Lat         float64   `json:"lat"`
	Lng         float64   `json:"lng"`
	District    string    `json:"district,omitempty"`
	Grid        string    `json:"grid,omitempty"`
	Created     time.Time `json:"created"`
	Urgent      bool      `json:"urgent,omitempty"`
}

// NewView is t as walls see it.
func NewView(t ticket.Ticket) View {
	return View{ID: t.ID, Channel: string(t.Channel), Category: t.Category, Subcategory: t.Subcategory,
		Summary: t.Summary, Lat: t.Lat, Lng: t.Lng, District: t.District, Grid: t.Grid, Created: t.Created, Urgent: t.Urgent}
}
