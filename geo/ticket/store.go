package ticket

import (
	"fmt"
	"sync"
	"time"
)

// Store defaults.
const (
	DefaultRetention  = 48 * time.Hour
	DefaultMaxTickets = 1_000_000
	DefaultMaxEvents  = 1000
)

// StoreOptions bound a Store. Zero values take the defaults.
type StoreOptions struct {
	Retention  time.Duration // tickets created longer ago are dropped by Expire
	MaxTickets int           // past this, the oldest ticket is dropped to make room
	// MaxEvents bounds the events of one ticket (a real one has a handful);
	// past it a new event is ErrTooManyEvents.
	MaxEvents int
}

// Store holds recent tickets and their lifecycle events in memory, keyed by
// ticket id, so that a retried post is recognised and never counted twice.
// It is safe for concurrent use.
type Store struct {
	retention time.Duration
	max       int
	maxEvents int

	mu      sync.RWMutex
	tickets map[string]*State
	byAge   ageHeap // every held ticket, oldest created first
}

// NewStore returns an empty store.
func NewStore(o StoreOptions) *Store {
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxTickets <= 0 {
		o.MaxTickets = DefaultMaxTickets
	}
	if o.MaxEvents <= 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	return &Store{
		retention: o.Retention,
		max:       o.MaxTickets,
		maxEvents: o.MaxEvents,
		tickets:   make(map[string]*State),
	}
}

// Add stores a normalised ticket and reports whether it is new. A ticket
// whose id is held already is not added again: an identical one is a retry,
// (false, nil); a different one is (false, ErrConflict). When the store is
// full, the oldest ticket (possibly t itself) is dropped. A ticket dropped
// by Expire or for room is forgotten: posted again, it is new.
func (s *Store) Add(t Ticket) (bool, error) {
	if t.ID == "" {
		return false, &FieldError{Field: "id", Reason: "required"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.tickets[t.ID]; ok {
		if sameTicket(old.Ticket, t) {
			return false, nil
		}
		return false, fmt.Errorf("ticket %q: %w", t.ID, ErrConflict)
	}
	s.tickets[t.ID] = &State{Ticket: t}
	s.byAge.push(ageEntry{created: t.Created.UnixNano(), id: t.ID})
	for len(s.tickets) > s.max {
		delete(s.tickets, s.byAge.pop().id)
	}
	return true, nil
}

// sameTicket compares tickets field by field; times by instant, since a
// retry may carry the same time in another zone.
func sameTicket(a, b Ticket) bool {
	if !a.Created.Equal(b.Created) {
		return false
	}
	a.Created = b.Created
	return a == b
}

// AddEvent records a normalised event of a held ticket and returns the
// ticket's state with it. An event identical to one held already changes
// nothing and reports false; an event of a ticket the store does not hold is
// ErrUnknownTicket, and a new event of a ticket holding MaxEvents already is
// ErrTooManyEvents. The state returned shares its events with the store:
// the caller reads it and never changes it.
func (s *Store) AddEvent(e Event) (State, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.tickets[e.Ticket]
	if !ok {
		return State{}, false, fmt.Errorf("event for ticket %q: %w", e.Ticket, ErrUnknownTicket)
	}
	added, err := st.add(e, s.maxEvents)
	if err != nil {
		return State{}, false, err
	}
	return st.view(), added, nil
}

// Get returns the state of a held ticket.
func (s *Store) Get(id string) (State, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.tickets[id]
	if !ok {
		return State{}, false
	}
	return st.clone(), true
}

// Len is the number of tickets held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.tickets)
}

// Expire drops the tickets created more than the retention before now,
// oldest first, and any over the size bound, and returns how many it dropped.
func (s *Store) Expire(now time.Time) int {
	cutoff := now.Add(-s.retention).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for len(s.byAge) > 0 && (s.byAge[0].created < cutoff || len(s.tickets) > s.max) {
		delete(s.tickets, s.byAge.pop().id)
		n++
	}
	return n
}

// ageEntry places a ticket in the age order; created is in Unix nanoseconds,
// which covers the years 1678 to 2262, all Normalize accepts.
type ageEntry struct {
	created int64
	id      string
}

// ageHeap is a binary min-heap by created time. Tickets arrive roughly in
// order but late and replayed ones do not, so a FIFO would keep a late old
// ticket behind younger ones; the heap drops exactly the oldest.
type ageHeap []ageEntry

func (h *ageHeap) push(e ageEntry) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].created <= a[i].created {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *ageHeap) pop() ageEntry {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = ageEntry{} // let the id be collected
	a = a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && a[l].created < a[m].created {
			m = l
		}
		if r := l + 1; r < n && a[r].created < a[m].created {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
