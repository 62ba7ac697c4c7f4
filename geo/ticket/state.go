package ticket

import (
	"fmt"
	"slices"
	"time"
)

// State is a ticket with its lifecycle so far, as the store holds it.
type State struct {
	Ticket Ticket  `json:"ticket"`
	Events []Event `json:"events"` // by time; events of equal time in arrival order

	Status       EventType    `json:"status,omitempty"`       // type of the latest event; empty before any
	DispatchedAt time.Time    `json:"dispatched_at,omitzero"` // latest dispatch: a re-dispatch restarts the clock
	RespondedAt  time.Time    `json:"responded_at,omitzero"`  // first response (or resolution) since that dispatch
	ResolvedAt   time.Time    `json:"resolved_at,omitzero"`   // latest resolution
	Satisfaction Satisfaction `json:"satisfaction,omitempty"` // latest rating

	seen map[Event]struct{} // the events held, by eventKey; built on first use
}

// Overdue reports whether the ticket broke the response rule: dispatched,
// and no response within limit (30 minutes at a 12345 centre) — either none
// yet at now, or one that came too late.
func (s *State) Overdue(now time.Time, limit time.Duration) bool {
	if s.DispatchedAt.IsZero() {
		return false
	}
	if !s.RespondedAt.IsZero() {
		return s.RespondedAt.Sub(s.DispatchedAt) > limit
	}
	return now.Sub(s.DispatchedAt) > limit
}

// add inserts e in time order unless an identical event is held, and
// reports whether it did; past max events (0: no bound) a new one is
// ErrTooManyEvents. An event in time order (the usual case) costs O(1)
// amortised: a set finds duplicates and the summary takes the event on;
// only a late event makes the events slice and the summary be rebuilt.
// The slice is never changed in place below its length, so a State handed
// out earlier keeps its events.
func (s *State) add(e Event, max int) (bool, error) {
	if s.seen == nil {
		s.seen = make(map[Event]struct{}, len(s.Events)+1)
		for _, old := range s.Events {
			s.seen[eventKey(old)] = struct{}{}
		}
	}
	k := eventKey(e)
	if _, dup := s.seen[k]; dup {
		return false, nil
	}
	if max > 0 && len(s.Events) >= max {
		return false, fmt.Errorf("ticket %q holds %d events, at most %d: %w", e.Ticket, len(s.Events), max, ErrTooManyEvents)
	}
	s.seen[k] = struct{}{}
	n := len(s.Events)
	if n == 0 || !s.Events[n-1].Time.After(e.Time) {
		s.Events = append(s.Events, e)
		s.take(e)
		return true, nil
	}
	i := n
	for i > 0 && s.Events[i-1].Time.After(e.Time) {
		i--
	}
	events := make([]Event, 0, n+1+n/4)
	events = append(append(append(events, s.Events[:i]...), e), s.Events[i:]...)
	s.Events = events
	s.summarise()
	return true, nil
}

// eventKey is e with its time as a plain UTC instant, so events equal by
// sameEvent are equal map keys.
func eventKey(e Event) Event {
	e.Time = time.Unix(0, e.Time.UnixNano()).UTC()
	return e
}

// summarise derives the summary fields from the events; a late event may
// land anywhere in the order, so they are recomputed from the start.
func (s *State) summarise() {
	s.Status = ""
	s.DispatchedAt, s.RespondedAt, s.ResolvedAt = time.Time{}, time.Time{}, time.Time{}
	s.Satisfaction = ""
	for _, e := range s.Events {
		s.take(e)
	}
}

// take brings the summary up to date with e, the latest event.
func (s *State) take(e Event) {
	s.Status = e.Type
	switch e.Type {
	case EventDispatched:
		s.DispatchedAt = e.Time
		s.RespondedAt = time.Time{}
	case EventResponded:
		s.responded(e.Time)
	case EventResolved:
		s.responded(e.Time)
		s.ResolvedAt = e.Time
	case EventVisited:
		if e.Satisfaction != "" {
			s.Satisfaction = e.Satisfaction
		}
	}
}

func (s *State) responded(t time.Time) {
	if s.RespondedAt.IsZero() {
		s.RespondedAt = t
	}
}

// clone copies the state so that a caller never shares the events slice
// with the store.
func (s *State) clone() State {
	c := s.view()
	c.Events = slices.Clone(s.Events)
	return c
}

// view is the state as it is now, sharing the events slice cut to its
// length: add never changes what a view holds (it appends past the
// length, or rebuilds the slice), so the view costs O(1). Read-only.
func (s *State) view() State {
	c := *s
	c.Events = s.Events[:len(s.Events):len(s.Events)]
	c.seen = nil
	return c
}
