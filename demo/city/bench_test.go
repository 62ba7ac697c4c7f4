package city

import (
	"testing"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

type discard struct{}

func (discard) Ticket(ticket.Ticket) {}
func (discard) Event(ticket.Event)   {}

func BenchmarkAdvanceHour(b *testing.B) {
	s := New(Options{Seed: 1})
	s.begin(monday, monday)
	at := monday
	b.ReportAllocs()
	for b.Loop() {
		at = at.Add(time.Hour)
		s.advance(at, discard{})
	}
}

func BenchmarkPlace(b *testing.B) {
	s := New(Options{Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		s.city.place(s.rng)
	}
}
