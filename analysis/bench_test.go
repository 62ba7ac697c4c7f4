package analysis_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/citywall/citywall/analysis"
	"github.com/citywall/citywall/geo/ticket"
)

// BenchmarkAddAtCapacity is one Add to a History holding MaxTickets
// (one million) tickets, so every Add drops the oldest: the steady state
// of a busy city's 35 days.
func BenchmarkAddAtCapacity(b *testing.B) {
	const held = analysis.DefaultMaxTickets
	start := now.AddDate(0, 0, -30)
	step := 30 * 24 * time.Hour / held
	h := analysis.New(analysis.Options{Location: shanghai, Now: func() time.Time { return now }})
	districts := []string{"龙华区", "美兰区", "秀英区", "琼山区"}
	mk := func(i int) ticket.Ticket {
		return tkt("T"+strconv.Itoa(i), start.Add(time.Duration(i)*step), districts[i%4], "G-"+strconv.Itoa(i%97),
			"城市管理", "道路脏乱", ticket.ChannelPhone, "道路脏乱")
	}
	for i := range held {
		h.Add(mk(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h.Add(mk(held + i))
	}
	b.StopTimer()
	if h.Len() != held {
		b.Fatalf("holds %d, want %d", h.Len(), held)
	}
}
