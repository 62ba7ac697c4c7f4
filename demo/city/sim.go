package city

import (
	"container/heap"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Emitter receives what the demo city produces, in time order. Run calls it
// from its own goroutine; calls must not block for long.
type Emitter interface {
	Ticket(t ticket.Ticket)
	Event(e ticket.Event)
}

// Stats counts what a Sim has emitted.
type Stats struct {
	Tickets   uint64
	Events    uint64
	Incidents uint64 // bursts raised
	Dropped   uint64 // tickets whose lifecycle was cut off by MaxPending
}

// Sim is a simulated Haikou 12345 centre.
type Sim struct {
	opt   Options
	city  *city
	kinds []incidentKind
	cats  []ticket.Category
	rng   *rand.Rand
	// fate draws which tickets are passed on or run overdue, apart from rng
	// so that the tickets created stay the same.
	fate     *rand.Rand
	arrivals rhythm
	// incidentRate is bursts per nanosecond.
	incidentRate float64
	// subCum[h] picks a (category, sub) pair at CST hour h; subRefs maps the
	// index back.
	subCum  [24][]float64
	subRefs [][2]int
	// chanCum[daytime][city management] picks one of channels.
	channels []ticket.Channel
	chanCum  [2][2][]float64

	tag                       string
	seq                       uint64
	nextArrival, nextIncident time.Time
	lives                     lifeHeap
	lifeSeq                   uint64
	drafts                    draftHeap
	draftSeq                  uint64

	started                             atomic.Bool
	tickets, events, incidents, dropped atomic.Uint64
}

// New returns a demo city with the given options.
func New(o Options) *Sim {
	o = o.withDefaults()
	s := &Sim{
		opt:   o,
		city:  newCity(),
		kinds: incidentKinds(),
		cats:  ticket.Categories(),
		rng:   rand.New(rand.NewPCG(uint64(o.Seed), 0x12345)),
		fate:  rand.New(rand.NewPCG(uint64(o.Seed), 0xfa7e)),
	}
	base := (o.PerDay - o.Incidents*burstMeanSize) * o.Speed
	s.arrivals = newRhythm(base)
	s.incidentRate = o.Incidents * o.Speed / float64(24*time.Hour)
	s.buildTables()
	return s
}

// Stats returns what the Sim has emitted so far; safe to call while it runs.
func (s *Sim) Stats() Stats {
	return Stats{
		Tickets:   s.tickets.Load(),
		Events:    s.events.Load(),
		Incidents: s.incidents.Load(),
		Dropped:   s.dropped.Load(),
	}
}

type source int

const (
	srcNone source = iota
	srcLife
	srcDraft
	srcArrival
	srcIncident
)

// nextDue is the earliest pending happening. Ties go to lifecycle events,
// then burst tickets, then arrivals, so the order never depends on how the
// clock is stepped.
func (s *Sim) nextDue() (time.Time, source) {
	at, src := time.Time{}, srcNone
	if len(s.lives) > 0 {
		at, src = s.lives[0].due(), srcLife
	}
	if len(s.drafts) > 0 && (src == srcNone || s.drafts[0].t.Created.Before(at)) {
		at, src = s.drafts[0].t.Created, srcDraft
	}
	if src == srcNone || s.nextArrival.Before(at) {
		at, src = s.nextArrival, srcArrival
	}
	if s.incidentRate > 0 && s.nextIncident.Before(at) {
		at, src = s.nextIncident, srcIncident
	}
	return at, src
}

// advance plays out everything due up to and including to, in time order.
func (s *Sim) advance(to time.Time, emit Emitter) {
	for {
		at, src := s.nextDue()
		if at.After(to) {
			return
		}
		switch src {
		case srcLife:
			l := s.lives[0]
			emit.Event(l.event())
			s.events.Add(1)
			if l.next++; l.next < len(l.steps) {
				heap.Fix(&s.lives, 0)
			} else {
				heap.Pop(&s.lives)
			}
		case srcDraft:
			d := heap.Pop(&s.drafts).(draft)
			s.create(d.t, d.dept, emit)
		case srcArrival:
			// Thinning: candidates come at the peak rate and are kept in
			// proportion to the rate at their time.
			if s.rng.Float64()*s.arrivals.max < s.arrivals.rate(at) {
				t, dept := s.request(at)
				s.create(t, dept, emit)
			}
			s.nextArrival = at.Add(expDuration(s.rng, s.arrivals.max))
		case srcIncident:
			s.incident(at)
			s.nextIncident = at.Add(expDuration(s.rng, s.incidentRate))
		}
	}
}

// create gives t its id, emits it with its received event, and plans the
// rest of its closed loop.
func (s *Sim) create(t ticket.Ticket, dept string, emit Emitter) {
	s.seq++
	t.ID = ticketID(t.Created, s.tag, s.seq)
	emit.Ticket(t)
	emit.Event(ticket.Event{Ticket: t.ID, Type: ticket.EventReceived, Time: t.Created})
	s.tickets.Add(1)
	s.events.Add(1)
	// The plan is drawn even when it is dropped, so MaxPending never changes
	// the rest of the run.
	steps, sat := plan(s.rng, s.fate, t.Created, t.Urgent, dept)
	if len(s.lives) >= s.opt.MaxPending {
		s.dropped.Add(1)
		return
	}
	s.lifeSeq++
	heap.Push(&s.lives, &life{id: t.ID, steps: steps, sat: sat, seq: s.lifeSeq})
}
