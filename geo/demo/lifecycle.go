package demo

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Closed-loop figures: the 30-minute rule is met for about 97% of tickets
// (urgent ones almost always), and visits back find about 90% satisfied, 6%
// basically satisfied and 4% unsatisfied, worse when the response was late.
const (
	respondLimit    = 30 * time.Minute
	onTimeShare     = 0.97
	onTimeUrgent    = 0.995
	visitDayStart   = 8  // CST hour; nobody is called back at night
	visitDayEnd     = 21 // CST hour
	maxRespondDelay = 6 * time.Hour
	maxResolveDelay = 23 * time.Hour // within the 24-hour handling rule
)

// steps are the events after received, in order.
var steps = [...]ticket.EventType{ticket.EventDispatched, ticket.EventResponded, ticket.EventResolved, ticket.EventVisited}

// life is the rest of an open ticket's closed loop, planned when the ticket
// is created and played out as its times come.
type life struct {
	id   string
	dept string
	at   [len(steps)]time.Time
	sat  ticket.Satisfaction
	next int
	seq  uint64 // creation order, to break ties
}

func (l *life) due() time.Time { return l.at[l.next] }

// event is the life's next step.
func (l *life) event() ticket.Event {
	e := ticket.Event{Ticket: l.id, Type: steps[l.next], Time: l.at[l.next]}
	switch e.Type {
	case ticket.EventDispatched:
		e.Department = l.dept
	case ticket.EventVisited:
		e.Satisfaction = l.sat
	}
	return e
}

// plan draws the times of a ticket's closed loop.
func plan(rng *rand.Rand, created time.Time, urgent bool) (at [len(steps)]time.Time, sat ticket.Satisfaction) {
	// Dispatch within a few minutes; urgent tickets jump the queue.
	dispatch := minutes(2 + rng.ExpFloat64()*5)
	if urgent {
		dispatch = minutes(1 + rng.ExpFloat64()*2)
	}
	at[0] = created.Add(min(dispatch, 25*time.Minute))

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
	at[1] = at[0].Add(respond)

	// Resolution takes hours: log-normal around 3.5 h, urgent work faster.
	resolve := time.Duration(3.5 * float64(time.Hour) * math.Exp(0.7*rng.NormFloat64()))
	if urgent {
		resolve = 30*time.Minute + minutes(rng.ExpFloat64()*90)
	}
	at[2] = at[1].Add(min(max(resolve, 20*time.Minute), maxResolveDelay))

	at[3] = visitTime(rng, at[2].Add(time.Hour+minutes(min(rng.ExpFloat64()*180, 720))))

	u := rng.Float64()
	satisfied, basic := 0.905, 0.058
	if respond > respondLimit {
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
	return at, sat
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
