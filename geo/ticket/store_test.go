package ticket

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestStoreAddIdempotent(t *testing.T) {
	base := haikou("HK-1")
	tests := []struct {
		name    string
		again   func(Ticket) Ticket
		wantErr error
	}{
		{"retry", func(t Ticket) Ticket { return t }, nil},
		{"retry other zone", func(t Ticket) Ticket {
			t.Created = t.Created.In(time.FixedZone("CST", 8*3600))
			return t
		}, nil},
		{"other category", func(t Ticket) Ticket { t.Category = "噪音"; return t }, ErrConflict},
		{"other place", func(t Ticket) Ticket { t.Lat += 0.001; return t }, ErrConflict},
		{"other time", func(t Ticket) Ticket { t.Created = t.Created.Add(time.Second); return t }, ErrConflict},
		{"urgent now", func(t Ticket) Ticket { t.Urgent = true; return t }, ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStore(StoreOptions{})
			if added, err := s.Add(base); !added || err != nil {
				t.Fatalf("first Add = %v, %v", added, err)
			}
			added, err := s.Add(tt.again(base))
			if added {
				t.Error("repeat was added")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), `"HK-1"`) {
				t.Errorf("err %q does not name the id", err)
			}
			if s.Len() != 1 {
				t.Errorf("Len = %d, want 1", s.Len())
			}
			if st, _ := s.Get("HK-1"); st.Ticket != base {
				t.Errorf("held ticket changed: %+v", st.Ticket)
			}
		})
	}
}

func TestStoreAddNoID(t *testing.T) {
	s := NewStore(StoreOptions{})
	var fe *FieldError
	if _, err := s.Add(Ticket{}); !errors.As(err, &fe) || fe.Field != "id" {
		t.Errorf("err = %v, want a FieldError for id", err)
	}
}

func TestStoreConcurrentAdd(t *testing.T) {
	s := NewStore(StoreOptions{})
	const workers, per = 8, 500
	var wg sync.WaitGroup
	var mu sync.Mutex
	added := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := range per {
				// Every worker posts the same ids, as retries would.
				tk := haikou(fmt.Sprintf("HK-%d", i))
				if ok, err := s.Add(tk); err != nil {
					t.Errorf("worker %d: %v", w, err)
				} else if ok {
					n++
				}
				if i%50 == 0 {
					s.Get(tk.ID)
					s.Expire(testNow)
				}
			}
			mu.Lock()
			added += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if added != per || s.Len() != per {
		t.Errorf("added %d, Len %d, want %d each", added, s.Len(), per)
	}
}

func TestStoreEvents(t *testing.T) {
	t0 := testNow.Add(-2 * time.Hour)
	ev := func(typ EventType, min int) Event {
		return Event{Ticket: "HK-1", Type: typ, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	visited := ev(EventVisited, 300)
	visited.Satisfaction = BasicSatisfied

	s := NewStore(StoreOptions{})
	tk := haikou("HK-1")
	tk.Created = t0
	if _, err := s.Add(tk); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AddEvent(Event{Ticket: "nope", Type: EventReceived, Time: t0}); !errors.Is(err, ErrUnknownTicket) {
		t.Fatalf("unknown ticket: err = %v", err)
	}

	steps := []struct {
		name       string
		e          Event
		added      bool
		status     EventType
		dispatched int // minutes after t0, -1 for none
		responded  int
		resolved   int
		overdueAt  map[int]bool // minutes after t0 -> Overdue(30m)
	}{
		{"received", ev(EventReceived, 0), true, EventReceived, -1, -1, -1, map[int]bool{100: false}},
		{"dispatched", ev(EventDispatched, 5), true, EventDispatched, 5, -1, -1, map[int]bool{20: false, 35: false, 36: true}},
		{"retry is no-op", ev(EventDispatched, 5), false, EventDispatched, 5, -1, -1, nil},
		{"late response", ev(EventResponded, 50), true, EventResponded, 5, 50, -1, map[int]bool{60: true}},
		{"earlier response arrives late", ev(EventResponded, 20), true, EventResponded, 5, 20, -1, map[int]bool{60: false}},
		{"re-dispatched", ev(EventDispatched, 60), true, EventDispatched, 60, -1, -1, map[int]bool{80: false, 91: true}},
		{"resolved counts as response", ev(EventResolved, 70), true, EventResolved, 60, 70, 70, map[int]bool{200: false}},
		{"visited", visited, true, EventVisited, 60, 70, 70, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			state, added, err := s.AddEvent(st.e)
			if err != nil {
				t.Fatal(err)
			}
			if added != st.added {
				t.Errorf("added = %v, want %v", added, st.added)
			}
			if state.Status != st.status {
				t.Errorf("Status = %q, want %q", state.Status, st.status)
			}
			checkAt(t, "DispatchedAt", state.DispatchedAt, t0, st.dispatched)
			checkAt(t, "RespondedAt", state.RespondedAt, t0, st.responded)
			checkAt(t, "ResolvedAt", state.ResolvedAt, t0, st.resolved)
			for min, want := range st.overdueAt {
				if got := state.Overdue(t0.Add(time.Duration(min)*time.Minute), 30*time.Minute); got != want {
					t.Errorf("Overdue at +%dm = %v, want %v", min, got, want)
				}
			}
			for i := 1; i < len(state.Events); i++ {
				if state.Events[i].Time.Before(state.Events[i-1].Time) {
					t.Errorf("events out of order: %v", state.Events)
				}
			}
		})
	}
	st, _ := s.Get("HK-1")
	if len(st.Events) != 7 || st.Satisfaction != BasicSatisfied {
		t.Errorf("final state: %d events, satisfaction %q", len(st.Events), st.Satisfaction)
	}
	st.Events[0].Note = "changed by caller"
	if again, _ := s.Get("HK-1"); again.Events[0].Note != "" {
		t.Error("Get shares the events slice with the store")
	}
}

func checkAt(t *testing.T, name string, got, t0 time.Time, min int) {
	t.Helper()
	if min < 0 {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero", name, got)
		}
		return
	}
	if want := t0.Add(time.Duration(min) * time.Minute); !got.Equal(want) {
		t.Errorf("%s = +%v, want +%dm", name, got.Sub(t0), min)
	}
}

func TestOverdueNeverDispatched(t *testing.T) {
	var st State
	if st.Overdue(testNow, 30*time.Minute) {
		t.Error("a ticket never dispatched is overdue")
	}
}

func TestStoreExpire(t *testing.T) {
	s := NewStore(StoreOptions{Retention: time.Hour, MaxTickets: 100})
	// Out of order, as late and replayed tickets arrive.
	ages := []int{10, 70, 30, 90, 65, 5, 120}
	for i, min := range ages {
		tk := haikou(fmt.Sprint("T", i))
		tk.Created = testNow.Add(-time.Duration(min) * time.Minute)
		if _, err := s.Add(tk); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Expire(testNow); n != 4 {
		t.Errorf("Expire dropped %d, want 4 (older than 1h)", n)
	}
	for i, min := range ages {
		_, ok := s.Get(fmt.Sprint("T", i))
		if want := min <= 60; ok != want {
			t.Errorf("ticket %dm old: held %v, want %v", min, ok, want)
		}
	}
	if n := s.Expire(testNow); n != 0 {
		t.Errorf("second Expire dropped %d", n)
	}
}

func TestStoreBounded(t *testing.T) {
	const max = 50
	s := NewStore(StoreOptions{MaxTickets: max})
	for i := range 500 {
		tk := haikou(fmt.Sprint("T", i))
		// Ages go up and down, so the heap order is exercised.
		tk.Created = testNow.Add(-time.Duration((i*37)%500) * time.Minute)
		if _, err := s.Add(tk); err != nil {
			t.Fatal(err)
		}
		if s.Len() > max {
			t.Fatalf("Len %d over %d", s.Len(), max)
		}
	}
	// The held ones are the newest: ages 0..49 minutes.
	for i := range 500 {
		age := (i * 37) % 500
		if _, ok := s.Get(fmt.Sprint("T", i)); ok != (age < max) {
			t.Errorf("ticket aged %dm: held %v", age, ok)
		}
	}
}

func BenchmarkStoreAdd(b *testing.B) {
	b.Run("new", func(b *testing.B) {
		s := NewStore(StoreOptions{})
		tk := haikou("")
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			tk.ID = "HK-" + strconv.Itoa(i)
			tk.Created = testNow.Add(time.Duration(i) * time.Millisecond)
			if _, err := s.Add(tk); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("retry", func(b *testing.B) {
		s := NewStore(StoreOptions{})
		tk := haikou("HK-1")
		if _, err := s.Add(tk); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Add(tk); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		// At the size bound every Add also drops the oldest ticket.
		s := NewStore(StoreOptions{MaxTickets: 100_000})
		tk := haikou("")
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			tk.ID = "HK-" + strconv.Itoa(i)
			tk.Created = testNow.Add(time.Duration(i) * time.Millisecond)
			if _, err := s.Add(tk); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
