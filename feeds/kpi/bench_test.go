package kpi_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
)

// loaded is a tracker holding a busy day: 2,700 calls and 2,700 tickets
// with their loops, plus the same weekday last week.
func loaded(b *testing.B) (*kpi.Tracker, time.Time) {
	now := at("2026-11-20", "18:00:00")
	tr := kpi.New(kpi.Options{Location: cst, Now: func() time.Time { return now }})
	for d, day := range []string{"2026-11-13", "2026-11-20"} {
		base := at(day, "00:00:00")
		for i := range 2700 {
			t0 := base.Add(time.Duration(i) * 17 * time.Second)
			id := fmt.Sprintf("%d-%d", d, i)
			tr.Call(kpi.Call{ID: id, Type: kpi.Offered, Time: t0})
			tr.Call(kpi.Call{ID: id, Type: kpi.Answered, Time: t0.Add(12 * time.Second), Wait: 12})
			tk := ticket.Ticket{ID: "T" + id, Created: t0}
			tr.Ticket(tk)
			st := ticket.State{Ticket: tk, DispatchedAt: t0.Add(5 * time.Minute), RespondedAt: t0.Add(15 * time.Minute),
				Events: []ticket.Event{{Type: ticket.EventDispatched, Time: t0.Add(5 * time.Minute)}}}
			tr.TicketState(st)
		}
	}
	return tr, now
}

// BenchmarkCall is the cost of counting one call event.
func BenchmarkCall(b *testing.B) {
	tr, _ := loaded(b)
	t0 := at("2026-11-20", "12:00:00")
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tr.Call(kpi.Call{ID: fmt.Sprintf("b-%d", i), Type: kpi.Answered, Time: t0, Wait: 10})
		i++
	}
}

// BenchmarkTicketState is the cost of the ticket-event hook.
func BenchmarkTicketState(b *testing.B) {
	tr, _ := loaded(b)
	t0 := at("2026-11-20", "12:00:00")
	st := ticket.State{Ticket: ticket.Ticket{ID: "X", Created: t0}, DispatchedAt: t0, ResolvedAt: t0.Add(time.Hour),
		Events: []ticket.Event{{Type: ticket.EventDispatched, Time: t0}, {Type: ticket.EventResponded}, {Type: ticket.EventResolved}, {Type: ticket.EventVisited, Satisfaction: ticket.Satisfied}}}
	b.ReportAllocs()
	for b.Loop() {
		tr.TicketState(st)
	}
}

// BenchmarkToday is the cost of computing the published figures over a
// busy day (what the kpi topic publishes at most once a second).
func BenchmarkToday(b *testing.B) {
	tr, _ := loaded(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = tr.Today()
	}
}
