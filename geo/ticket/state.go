package ticket

import (
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
// reports whether it did.
func (s *State) add(e Event) bool {
	for _, old := range s.Events {
		if sameEvent(old, e) {
			return false
		}
	}
	i := len(s.Events)
	for i > 0 && s.Events[i-1].Time.After(e.Time) {
		i--
	}
	s.Events = slices.Insert(s.Events, i, e)
	s.summarise()
	return true
}

func sameEvent(a, b Event) bool {
	if !a.Time.Equal(b.Time) {
		return false
	}
	a.Time = b.Time
	return a == b
}

// summarise derives the summary fields from the events; a late event may
// land anywhere in the order, so they are recomputed from the start.
func (s *State) summarise() {
	s.Status = ""
	s.DispatchedAt, s.RespondedAt, s.ResolvedAt = time.Time{}, time.Time{}, time.Time{}
	s.Satisfaction = ""
	for _, e := range s.Events {
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
}

func (s *State) responded(t time.Time) {
	if s.RespondedAt.IsZero() {
		s.RespondedAt = t
	}
}

// clone copies the state so that a caller never shares the events slice
// with the store.
func (s *State) clone() State {
	c := *s
	c.Events = slices.Clone(s.Events)
	return c
}
