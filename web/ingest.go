package web

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
)

// Item outcomes of an ingest, as the API reports them.
const (
	statusAccepted  = ticket.StatusAccepted
	statusDuplicate = ticket.StatusDuplicate
	statusRejected  = ticket.StatusRejected
)

// ingester takes tickets and events from the API and the demo city into
// the store, the engine and the hub.
type ingester struct {
	app *App

	mu     sync.Mutex
	day    string // the city-local date the counters are for
	today  int
	urgent int
}

// ticket ingests one ticket that has passed Normalize (the API's decoder
// and the demo emitter both run it). It returns the outcome and, when
// rejected, the reason.
func (in *ingester) ticket(ctx context.Context, t ticket.Ticket) (status ticket.PostStatus, reason string) {
	a := in.app
	now := a.now()
	added, err := a.store.Add(t)
	switch {
	case errors.Is(err, ticket.ErrConflict):
		a.metrics.rejected("conflict")
		return statusRejected, err.Error()
	case err != nil:
		a.metrics.rejected("store")
		return statusRejected, err.Error()
	case !added:
		a.metrics.items.WithLabelValues(string(statusDuplicate), "").Inc()
		return statusDuplicate, ""
	}
	a.metrics.items.WithLabelValues(string(statusAccepted), "").Inc()
	a.pub.touch(now)
	// Normalize lets a ticket run up to ticket.MaxFuture ahead of the
	// server's clock, further than the engine's geo.FutureSkew: such a
	// ticket counts as arriving now, as the engine counts a small skew.
	at := t.Created
	if at.After(now) {
		at = now
	}
	if err := a.engine.Add(geo.Point{Lat: t.Lat, Lng: t.Lng, Time: at, Category: t.Category}); err != nil {
		// Normalize has checked what the engine checks; an error here is a
		// bug, and the ticket is kept in the store regardless.
		a.log.Warn("ticket not counted on the map", "id", t.ID, "err", err)
	}
	in.count(t)
	if a.alerting != nil {
		a.alerting.ticket(t)
	}
	a.feeds.kpi.Ticket(t)
	if ev, err := json.Marshal(ticketView(t)); err == nil {
		_ = a.hub.PublishEvent(ctx, topicTickets, ev, now)
	}
	return statusAccepted, ""
}

// event ingests one lifecycle event that has passed Normalize.
func (in *ingester) event(e ticket.Event) (ticket.State, bool, error) {
	a := in.app
	st, changed, err := a.store.AddEvent(e)
	if err != nil {
		a.metrics.eventsRejected("unknown_ticket")
		return st, false, err
	}
	if changed && a.alerting != nil {
		a.alerting.event(e)
	}
	a.feeds.ticketState(st, changed)
	return st, changed, nil
}

// count keeps today's totals for the stats topic; "today" is the city's
// local date.
func (in *ingester) count(t ticket.Ticket) {
	a := in.app
	day := t.Created.In(a.loc).Format(time.DateOnly)
	in.mu.Lock()
	defer in.mu.Unlock()
	today := a.now().In(a.loc).Format(time.DateOnly)
	if in.day != today {
		in.day, in.today, in.urgent = today, 0, 0
	}
	if day != today {
		return
	}
	in.today++
	if t.Urgent {
		in.urgent++
	}
	a.pub.statsChanged()
}

func (in *ingester) todayCounts() (day string, tickets, urgent int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.day, in.today, in.urgent
}

// rejectLabel turns an error into a bounded metric label: the field a
// FieldError names, or "invalid".
func rejectLabel(err error) string {
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

// view is what walls see of a ticket: no contact details are ever carried.
type view struct {
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

func ticketView(t ticket.Ticket) view {
	return view{ID: t.ID, Channel: string(t.Channel), Category: t.Category, Subcategory: t.Subcategory,
		Summary: t.Summary, Lat: t.Lat, Lng: t.Lng, District: t.District, Grid: t.Grid, Created: t.Created, Urgent: t.Urgent}
}
