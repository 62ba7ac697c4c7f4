package city

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
)

// kpiFeed passes what the demo emits through a ticket store into the KPI
// tracker, as the server does.
type kpiFeed struct {
	t     *testing.T
	store *ticket.Store
	tr    *kpi.Tracker
}

func (f *kpiFeed) Ticket(tk ticket.Ticket) {
	if _, err := f.store.Add(tk); err != nil {
		f.t.Fatal(err)
	}
	f.tr.Ticket(tk)
}

func (f *kpiFeed) Event(e ticket.Event) {
	st, _, err := f.store.AddEvent(e)
	if err != nil {
		f.t.Fatal(err)
	}
	f.tr.TicketState(st)
}

// TestSimulatedDayKPIs checks that a simulated day, judged by the KPI
// tracker a day after it ends, lands where real centres do: completion
// (of the tickets whose 24-hour handling limit ran out that day) 96.9–98.9%,
// direct resolution about 95%, satisfaction 88–95%, 30-minute response
// about 97%.
func TestSimulatedDayKPIs(t *testing.T) {
	const days = 4
	end := monday.Add(days * 24 * time.Hour)
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			f := &kpiFeed{t: t,
				store: ticket.NewStore(ticket.StoreOptions{Retention: 30 * 24 * time.Hour}),
				tr:    kpi.New(kpi.Options{Location: cst, Now: func() time.Time { return end }}),
			}
			s := New(Options{Seed: seed})
			s.begin(monday, monday)
			for at := monday; at.Before(end); {
				at = at.Add(time.Hour)
				s.advance(at, f)
			}
			for d := 1; d <= 2; d++ {
				midnight := monday.AddDate(0, 0, d)
				r := f.tr.Day(midnight, midnight.Add(48*time.Hour))
				rates := []struct {
					what     string
					r        kpi.Rate
					min, max float64
				}{
					{"completion", r.Completion, 0.969, 0.989},
					{"direct resolution", r.DirectResolve, 0.93, 0.97},
					{"satisfaction", r.Satisfaction, 0.88, 0.95},
					{"30-minute response", r.Response, 0.95, 0.99},
				}
				for _, x := range rates {
					if x.r.Value == nil || *x.r.Value < x.min || *x.r.Value > x.max {
						t.Errorf("%s: %s %d/%d, want %.3f–%.3f", r.Date, x.what, x.r.Num, x.r.Den, x.min, x.max)
					} else {
						t.Logf("%s: %s %.4f (%d/%d)", r.Date, x.what, *x.r.Value, x.r.Num, x.r.Den)
					}
				}
			}
		})
	}
}

// TestFateLeavesTicketsAlone checks that which tickets are passed on or run
// overdue never changes the tickets created.
func TestFateLeavesTicketsAlone(t *testing.T) {
	day := 24 * time.Hour
	_, base, _ := simulate(Options{Seed: 7}, monday, day, 10*time.Minute)
	s := New(Options{Seed: 7})
	s.fate = rand.New(rand.NewPCG(99, 99))
	s.begin(monday, monday)
	r := &recorder{}
	s.advance(monday.Add(day), r)
	if !slices.Equal(r.tickets, base.tickets) {
		t.Error("another fate stream changed the tickets")
	}
	if slices.Equal(digest(r), digest(base)) {
		t.Error("another fate stream changed no event")
	}
}
