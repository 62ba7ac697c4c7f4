package kpi

import (
	"fmt"
	"sync"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Options configure a Tracker. Zero values take the defaults.
type Options struct {
	Location      *time.Location   // the city's zone: days are counted in it; default UTC
	ResponseLimit time.Duration    // default 30m
	HandlingLimit time.Duration    // default 24h
	Days          int              // local days kept; default 15 (today, last week's same day, and a week of reports)
	MaxFuture     time.Duration    // default 5m
	Now           func() time.Time // default time.Now
}

const minutesPerDay = 24 * 60

// day holds one local day's counters, by minute of the day.
type day struct {
	tickets   [minutesPerDay]int32
	offered   [minutesPerDay]int32
	answered  int
	abandoned int
	waitSum   float64 // of answered calls, seconds
}

type callRec struct {
	day     string
	outcome CallType // "" while waiting
	implied bool     // offered was implied by the outcome
}

type ticketRec struct {
	created, dispatched, responded, resolved, visited time.Time
	dispatches                                        int
	sat                                               ticket.Satisfaction
}

// Tracker counts calls and ticket lifecycles. It is safe for concurrent
// use.
type Tracker struct {
	o Options

	mu      sync.Mutex
	days    map[string]*day
	calls   map[string]*callRec
	tickets map[string]*ticketRec
	version uint64 // grows on every change
}

// New returns an empty Tracker.
func New(o Options) *Tracker {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.ResponseLimit <= 0 {
		o.ResponseLimit = 30 * time.Minute
	}
	if o.HandlingLimit <= 0 {
		o.HandlingLimit = 24 * time.Hour
	}
	if o.Days < 8 {
		o.Days = 15
	}
	if o.MaxFuture <= 0 {
		o.MaxFuture = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Tracker{o: o, days: map[string]*day{}, calls: map[string]*callRec{}, tickets: map[string]*ticketRec{}}
}

// Version changes whenever something was counted.
func (t *Tracker) Version() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.version
}

func (t *Tracker) dayOf(at time.Time) (string, int) {
	l := at.In(t.o.Location)
	return l.Format(time.DateOnly), l.Hour()*60 + l.Minute()
}

func (t *Tracker) dayLocked(key string) *day {
	d := t.days[key]
	if d == nil {
		d = &day{}
		t.days[key] = d
	}
	return d
}

// oldest is the first local day still kept.
func (t *Tracker) oldest(now time.Time) string {
	l := now.In(t.o.Location)
	return time.Date(l.Year(), l.Month(), l.Day()-(t.o.Days-1), 0, 0, 0, 0, t.o.Location).Format(time.DateOnly)
}

// Call counts one call event and answers accepted, duplicate or rejected
// with a reason. A call belongs to the day it was offered; an answered or
// abandoned event without an offered one implies it (offered = time −
// wait).
func (t *Tracker) Call(c Call) (ticket.PostStatus, string) {
	now := t.o.Now()
	if c.Time.After(now.Add(t.o.MaxFuture)) {
		return ticket.StatusRejected, fmt.Sprintf("time: %s is ahead of the server's clock by more than %s", c.Time.Format(time.RFC3339), t.o.MaxFuture)
	}
	offeredAt := c.Time
	if c.Type != Offered {
		offeredAt = c.Time.Add(-time.Duration(c.Wait * float64(time.Second)))
	}
	key, minute := t.dayOf(offeredAt)
	t.mu.Lock()
	defer t.mu.Unlock()
	if key < t.oldest(now) {
		return ticket.StatusRejected, fmt.Sprintf("time: %s is before the %d days kept", c.Time.Format(time.RFC3339), t.o.Days)
	}
	r, seen := t.calls[c.ID]
	if c.Type == Offered {
		if seen {
			return ticket.StatusDuplicate, ""
		}
		t.calls[c.ID] = &callRec{day: key}
		t.dayLocked(key).offered[minute]++
		t.version++
		return ticket.StatusAccepted, ""
	}
	if seen && r.outcome != "" {
		if r.outcome == c.Type {
			return ticket.StatusDuplicate, ""
		}
		return ticket.StatusRejected, fmt.Sprintf("type: call %q was already %s", c.ID, r.outcome)
	}
	if !seen {
		r = &callRec{day: key, implied: true}
		t.calls[c.ID] = r
		t.dayLocked(key).offered[minute]++
	}
	r.outcome = c.Type
	d := t.dayLocked(r.day)
	if c.Type == Answered {
		d.answered++
		d.waitSum += c.Wait
	} else {
		d.abandoned++
	}
	t.version++
	return ticket.StatusAccepted, ""
}

// Ticket counts a newly accepted ticket into the volume of the day it was
// created. A ticket counted before is ignored.
func (t *Tracker) Ticket(tk ticket.Ticket) {
	now := t.o.Now()
	key, minute := t.dayOf(tk.Created)
	t.mu.Lock()
	defer t.mu.Unlock()
	if key < t.oldest(now) {
		return
	}
	if _, ok := t.tickets[tk.ID]; ok {
		return
	}
	t.tickets[tk.ID] = &ticketRec{created: tk.Created}
	t.dayLocked(key).tickets[minute]++
	t.version++
}

// Volume counts a request created at created into its day's volume, with
// no ticket behind it to follow: the demo's history of the days before its
// own tickets.
func (t *Tracker) Volume(created time.Time) {
	key, minute := t.dayOf(created)
	t.mu.Lock()
	defer t.mu.Unlock()
	if key < t.oldest(t.o.Now()) {
		return
	}
	t.dayLocked(key).tickets[minute]++
	t.version++
}

// TicketState takes a ticket's lifecycle after an event was added: the
// summary the store keeps, and when it was last visited back.
func (t *Tracker) TicketState(st ticket.State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.tickets[st.Ticket.ID]
	if !ok {
		// Events of a ticket created before the tracker started (or
		// outside the days kept) still count for the days they fall in.
		r = &ticketRec{created: st.Ticket.Created}
		t.tickets[st.Ticket.ID] = r
	}
	r.dispatched, r.responded, r.resolved, r.sat = st.DispatchedAt, st.RespondedAt, st.ResolvedAt, st.Satisfaction
	r.dispatches, r.visited = 0, time.Time{}
	for _, e := range st.Events {
		switch e.Type {
		case ticket.EventDispatched:
			r.dispatches++
		case ticket.EventVisited:
			if e.Satisfaction != "" {
				r.visited = e.Time
			}
		}
	}
	t.version++
}

// Expire forgets what is older than the days kept.
func (t *Tracker) Expire() {
	now := t.o.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	oldest := t.oldest(now)
	for k := range t.days {
		if k < oldest {
			delete(t.days, k)
		}
	}
	for id, c := range t.calls {
		if c.day < oldest {
			delete(t.calls, id)
		}
	}
	for id, r := range t.tickets {
		latest := r.created
		for _, x := range []time.Time{r.dispatched, r.responded, r.resolved, r.visited} {
			if x.After(latest) {
				latest = x
			}
		}
		if k, _ := t.dayOf(latest); k < oldest {
			delete(t.tickets, id)
		}
	}
}
