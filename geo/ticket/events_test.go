package ticket

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestEventsCapped: a ticket takes at most MaxEvents events; the next new
// one is ErrTooManyEvents, a repeat of a held one is still a duplicate,
// and the state stays as it was.
func TestEventsCapped(t *testing.T) {
	const max = 20
	s := NewStore(StoreOptions{MaxEvents: max})
	tk := haikou("HK-1")
	if _, err := s.Add(tk); err != nil {
		t.Fatal(err)
	}
	ev := func(i int) Event {
		return Event{Ticket: "HK-1", Type: EventResponded, Time: tk.Created.Add(time.Duration(i) * time.Second), Note: fmt.Sprint(i)}
	}
	for i := range max {
		if _, added, err := s.AddEvent(ev(i)); !added || err != nil {
			t.Fatalf("event %d: %v %v", i, added, err)
		}
	}
	if _, added, err := s.AddEvent(ev(max)); added || !errors.Is(err, ErrTooManyEvents) {
		t.Fatalf("event past the cap: added %v, err %v", added, err)
	}
	if _, added, err := s.AddEvent(ev(3)); added || err != nil {
		t.Fatalf("repeat at the cap: added %v, err %v", added, err)
	}
	if st, _ := s.Get("HK-1"); len(st.Events) != max {
		t.Fatalf("%d events held, want %d", len(st.Events), max)
	}
}

// TestEventsOutOfOrder: events arriving in any order end sorted by time,
// duplicates (in another zone too) are recognised, and a state handed out
// earlier keeps the events it had.
func TestEventsOutOfOrder(t *testing.T) {
	s := NewStore(StoreOptions{})
	tk := haikou("HK-1")
	if _, err := s.Add(tk); err != nil {
		t.Fatal(err)
	}
	at := func(min int) time.Time { return tk.Created.Add(time.Duration(min) * time.Minute) }
	first, _, _ := s.AddEvent(Event{Ticket: "HK-1", Type: EventResolved, Time: at(30)})
	for _, e := range []Event{
		{Ticket: "HK-1", Type: EventDispatched, Time: at(5)},
		{Ticket: "HK-1", Type: EventReceived, Time: at(0)},
		{Ticket: "HK-1", Type: EventVisited, Time: at(40), Satisfaction: Satisfied},
	} {
		if _, added, err := s.AddEvent(e); !added || err != nil {
			t.Fatalf("%s: %v %v", e.Type, added, err)
		}
	}
	dup := Event{Ticket: "HK-1", Type: EventDispatched, Time: at(5).In(time.FixedZone("CST", 8*3600))}
	if _, added, err := s.AddEvent(dup); added || err != nil {
		t.Fatalf("the same event in another zone: added %v, err %v", added, err)
	}
	st, _ := s.Get("HK-1")
	var types []EventType
	for _, e := range st.Events {
		types = append(types, e.Type)
	}
	if fmt.Sprint(types) != fmt.Sprint([]EventType{EventReceived, EventDispatched, EventResolved, EventVisited}) {
		t.Fatalf("events %v", types)
	}
	if st.Status != EventVisited || !st.DispatchedAt.Equal(at(5)) || !st.ResolvedAt.Equal(at(30)) || st.Satisfaction != Satisfied {
		t.Fatalf("summary %+v", st)
	}
	if len(first.Events) != 1 || first.Events[0].Type != EventResolved {
		t.Fatalf("a state handed out earlier changed: %+v", first.Events)
	}
}

// BenchmarkAddEvent fills one ticket with distinct events, in time order,
// up to the default cap, and reports the cost of one event: it must not
// grow with the events held (it was a scan, an insert, a re-summary and a
// copy of all of them: quadratic).
func BenchmarkAddEvent(b *testing.B) {
	tk := haikou("HK-1")
	events := make([]Event, DefaultMaxEvents)
	for i := range events {
		events[i] = Event{Ticket: "HK-1", Type: EventResponded, Time: tk.Created.Add(time.Duration(i) * time.Second)}
	}
	b.ReportAllocs()
	for b.Loop() {
		s := NewStore(StoreOptions{})
		if _, err := s.Add(tk); err != nil {
			b.Fatal(err)
		}
		for _, e := range events {
			if _, _, err := s.AddEvent(e); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/event")
}
