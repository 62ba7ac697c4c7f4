package city

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Closed-loop figures: the 30-minute rule is met for about 97% of
// dispatches (urgent ones almost always); about 5% of tickets are sent back
// by the first department and re-dispatched to another before they are
// resolved, so about 95% are resolved directly; 2.5% run past the 24-hour
// handling limit, a day and a half late on average, so that about 98% of a
// day's tickets are resolved or still within the limit a day after it ends;
// visits back find about 85% satisfied, 6% basically satisfied and 9%
// unsatisfied (91% satisfied or basically so), worse when the response was
// late, the ticket was passed on or it ran overdue.
const (
	respondLimit    = 30 * time.Minute
	onTimeShare     = 0.97
	onTimeUrgent    = 0.995
	redispatchShare = 0.05
	overdueShare    = 0.025
	handlingLimit   = 24 * time.Hour
	visitDayStart   = 8  // CST hour; nobody is called back at night
	visitDayEnd     = 21 // CST hour
	maxRespondDelay = 6 * time.Hour
	maxResolveDelay = 23 * time.Hour // within the 24-hour handling rule
	// An overdue ticket is resolved this long after the handling limit at
	// the most.
	maxOverdue = 96 * time.Hour
)

// transferDepts are where a ticket sent back by its first department goes.
var transferDepts = []string{ticket.DeptCityAdmin, ticket.DeptTransport, ticket.DeptWater, ticket.DeptEnvironment, ticket.DeptLabour,
	ticket.DeptMarket, ticket.DeptEducation, ticket.DeptHousing, ticket.DeptTraffic}

// step is one event after received.
type step struct {
	typ  ticket.EventType
	at   time.Time
	dept string // of a dispatch
}

// life is the rest of an open ticket's closed loop, planned when the ticket
// is created and played out as its times come.
type life struct {
	id    string
	steps []step
	sat   ticket.Satisfaction
	next  int
	seq   uint64 // creation order, to break ties
}

func (l *life) due() time.Time { return l.steps[l.next].at }

// event is the life's next step.
func (l *life) event() ticket.Event {
	st := l.steps[l.next]
	e := ticket.Event{Ticket: l.id, Type: st.typ, Time: st.at}
	switch e.Type {
	case ticket.EventDispatched:
		e.Department = st.dept
	case ticket.EventVisited:
		e.Satisfaction = l.sat
	}
	return e
}

// plan draws a ticket's closed loop. The draws from rng are the same, in
// number and order, whatever the ticket's fate, so the tickets created after
// it never depend on it; whether it is passed on or runs overdue, and how,
// comes from fate, a stream of its own.
func plan(rng, fate *rand.Rand, created time.Time, urgent bool, dept string) (steps []step, sat ticket.Satisfaction) {
	// Dispatch within a few minutes; urgent tickets jump the queue.
	dispatch := minutes(2 + rng.ExpFloat64()*5)
	if urgent {
		dispatch = minutes(1 + rng.ExpFloat64()*2)
	}
	dispatched := created.Add(min(dispatch, 25*time.Minute))

	onTime := onTimeShare
	if urgent {
		onTime = onTimeUrgent
	}
	var respond time.Duration
	if rng.Float64() < onTime {
		respond = min(minutes(3+rng.ExpFloat64()*9), respondLimit-30*time.Second)
	} else {
		respond = min(minutes(31+rng.ExpFloat64()*40), maxRespondDelay)
	}
	responded := dispatched.Add(respond)
	steps = append(steps, step{typ: ticket.EventDispatched, at: dispatched, dept: dept},
		step{typ: ticket.EventResponded, at: responded})

	// Resolution takes hours: log-normal around 3.5 h, urgent work faster.
	resolve := time.Duration(3.5 * float64(time.Hour) * math.Exp(0.7*rng.NormFloat64()))
	if urgent {
		resolve = 30*time.Minute + minutes(rng.ExpFloat64()*90)
	}
	resolve = min(max(resolve, 20*time.Minute), maxResolveDelay)
	afterResolve := time.Hour + minutes(min(rng.ExpFloat64()*180, 720))

	// The first department may send the ticket back after looking at it;
	// the centre passes it on to another, and the 30-minute rule starts
	// again.
	f := fate.Float64()
	sendBack := minutes(20 + fate.ExpFloat64()*100)
	second := transferDepts[fate.IntN(len(transferDepts))]
	if second == dept {
		second = transferDepts[(slices.Index(transferDepts, second)+1)%len(transferDepts)]
	}
	secondRespond := min(minutes(3+fate.ExpFloat64()*9), respondLimit-30*time.Second)
	if fate.Float64() >= onTime {
		secondRespond = min(minutes(31+fate.ExpFloat64()*40), maxRespondDelay)
	}
	overdueBy := 2*time.Hour + time.Duration(fate.ExpFloat64()*float64(36*time.Hour))
	redispatched := f < redispatchShare
	overdue := f >= redispatchShare && f < redispatchShare+overdueShare

	resolveFrom := responded
	if redispatched {
		again := responded.Add(sendBack)
		steps = append(steps, step{typ: ticket.EventDispatched, at: again, dept: second},
			step{typ: ticket.EventResponded, at: again.Add(secondRespond)})
		resolveFrom = again.Add(secondRespond)
	}
	resolved := resolveFrom.Add(resolve)
	switch {
	case overdue:
		// Still open past the handling limit: resolved a day or more late.
		resolved = created.Add(handlingLimit + min(overdueBy, maxOverdue))
	case !resolved.Before(created.Add(maxResolveDelay)):
		// A ticket passed on is still resolved within the limit.
		resolved = created.Add(maxResolveDelay)
		if earliest := resolveFrom.Add(10 * time.Minute); earliest.After(resolved) {
			resolved = earliest
		}
	}
	// The call back as it would be had the ticket gone straight through:
	// whether it is moved out of the night decides whether rng is drawn
	// from, so it is drawn as such, then redrawn from fate when the ticket
	// went another way.
	visited := visitTime(rng, responded.Add(resolve).Add(afterResolve))
	if redispatched || overdue {
		visited = visitTime(fate, resolved.Add(afterResolve))
	}
	steps = append(steps, step{typ: ticket.EventResolved, at: resolved}, step{typ: ticket.EventVisited, at: visited})

	u := rng.Float64()

	satisfied, basic := 0.87, 0.055
	switch {
	case overdue:
		satisfied, basic = 0.55, 0.15
	case redispatched:
		satisfied, basic = 0.70, 0.12
	case respond > respondLimit:
		satisfied, basic = 0.75, 0.10
	}
	switch {
	case u < satisfied:
		sat = ticket.Satisfied
	case u < satisfied+basic:
		sat = ticket.BasicSatisfied
	default:
		sat = ticket.Unsatisfied
	}
	return steps, sat
}

// visitTime moves a call back out of the night into the next morning.
func visitTime(rng *rand.Rand, t time.Time) time.Time {
	c := t.In(cst)
	if c.Hour() >= visitDayStart && c.Hour() < visitDayEnd {
		return t
	}
	day := time.Date(c.Year(), c.Month(), c.Day(), visitDayStart, 0, 0, 0, cst)
	if c.Hour() >= visitDayEnd {
		day = day.AddDate(0, 0, 1)
	}
	return day.Add(minutes(rng.Float64() * 120))
}

func minutes(m float64) time.Duration {
	return time.Duration(m * float64(time.Minute))
}

// lifeHeap orders open tickets by the time of their next step.
type lifeHeap []*life

func (h lifeHeap) Len() int { return len(h) }
func (h lifeHeap) Less(i, j int) bool {
	a, b := h[i].due(), h[j].due()
	if a.Equal(b) {
		return h[i].seq < h[j].seq
	}
	return a.Before(b)
}
func (h lifeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *lifeHeap) Push(x any)   { *h = append(*h, x.(*life)) }
func (h *lifeHeap) Pop() any {
	old := *h
	n := len(old) - 1
	x := old[n]
	old[n] = nil
	*h = old[:n]
	return x
}

// draftHeap orders burst tickets that are waiting for their creation time.
type draftHeap []draft

type draft struct {
	t    ticket.Ticket
	dept string // the whole burst goes to one department
	seq  uint64
}

func (h draftHeap) Len() int { return len(h) }
func (h draftHeap) Less(i, j int) bool {
	a, b := h[i].t.Created, h[j].t.Created
	if a.Equal(b) {
		return h[i].seq < h[j].seq
	}
	return a.Before(b)
}
func (h draftHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *draftHeap) Push(x any)   { *h = append(*h, x.(draft)) }
func (h *draftHeap) Pop() any {
	old := *h
	n := len(old) - 1
	x := old[n]
	old[n] = draft{}
	*h = old[:n]
	return x
}
