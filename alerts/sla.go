package alerts

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// SLAOptions tune the SLA source. Zero values take the defaults.
type SLAOptions struct {
	Limit time.Duration // respond within this of dispatch (default 30m, the hotline's rule)
	// MaxAge skips deadlines that passed longer ago than this when their
	// dispatch arrives (history replayed at start; default 2h).
	MaxAge     time.Duration
	MaxPending int // deadlines held (default 200000); the oldest go first
	// Grace delays the check of a deadline already past when its dispatch
	// arrives (default 30s): history replayed at start brings the response
	// right after the dispatch, and a ticket answered late but answered is
	// not overdue now.
	Grace      time.Duration
	Lookup     func(id string) (ticket.State, bool) // the ticket store
	CategoryEn func(string) string
	Now        func() time.Time
	// Active, when set, says whether this instance fires: only the leader
	// of several instances does; the others keep their deadlines.
	Active func() bool
}

// SLA raises an alert for each ticket dispatched but not responded to
// within Limit, and clears it when the response comes.
type SLA struct {
	m   *Manager
	opt SLAOptions

	mu   sync.Mutex
	due  deadlineHeap
	wake chan struct{}
}

// NewSLA returns the SLA source feeding m.
func NewSLA(m *Manager, o SLAOptions) *SLA {
	if o.Limit <= 0 {
		o.Limit = 30 * time.Minute
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 2 * time.Hour
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 200_000
	}
	if o.Grace <= 0 {
		o.Grace = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CategoryEn == nil {
		o.CategoryEn = func(string) string { return "" }
	}
	return &SLA{m: m, opt: o, wake: make(chan struct{}, 1)}
}

// Fingerprint of a ticket's SLA alert.
func slaFingerprint(id string) string { return "sla/" + id }

// Event takes one lifecycle event that the store has accepted.
func (s *SLA) Event(ctx context.Context, e ticket.Event) {
	switch e.Type {
	case ticket.EventDispatched:
		at := e.Time.Add(s.opt.Limit)
		now := s.opt.Now()
		if now.Sub(at) > s.opt.MaxAge {
			return
		}
		if !at.After(now) {
			at = now.Add(s.opt.Grace)
		}
		s.mu.Lock()
		heap.Push(&s.due, deadline{id: e.Ticket, at: at})
		for len(s.due) > s.opt.MaxPending {
			heap.Pop(&s.due)
		}
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	case ticket.EventResponded, ticket.EventResolved:
		_ = s.m.Clear(ctx, slaFingerprint(e.Ticket))
	}
}

// Run checks deadlines as they come until ctx ends.
func (s *SLA) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := time.Second
		if s.opt.Active == nil || s.opt.Active() {
			wait = s.check(ctx)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// check fires the deadlines passed and returns how long until the next.
func (s *SLA) check(ctx context.Context) time.Duration {
	for {
		now := s.opt.Now()
		s.mu.Lock()
		if len(s.due) == 0 {
			s.mu.Unlock()
			return time.Hour
		}
		if d := s.due[0]; d.at.After(now) {
			s.mu.Unlock()
			return d.at.Sub(now)
		}
		d := heap.Pop(&s.due).(deadline)
		s.mu.Unlock()
		st, ok := s.opt.Lookup(d.id)
		if !ok || st.DispatchedAt.IsZero() || !st.RespondedAt.IsZero() || now.Sub(st.DispatchedAt) < s.opt.Limit {
			continue // answered, re-dispatched (a later deadline is queued) or gone
		}
		_ = s.m.Fire(ctx, s.signal(st))
	}
}

func (s *SLA) signal(st ticket.State) Signal {
	t := st.Ticket
	mins := int(s.opt.Limit.Minutes())
	dept := ""
	for i := len(st.Events) - 1; i >= 0; i-- {
		if st.Events[i].Type == ticket.EventDispatched {
			dept = st.Events[i].Department
			break
		}
	}
	title := fmt.Sprintf("工单%s派发%d分钟未响应", t.ID, mins)
	titleEn := fmt.Sprintf("Ticket %s not responded to %d min after dispatch", t.ID, mins)
	if dept != "" {
		title += "（" + dept + "）"
	}
	return Signal{Source: SourceSLA, Kind: "response_overdue", Fingerprint: slaFingerprint(t.ID), Severity: SeverityWarning,
		Title: title, TitleEn: titleEn, Detail: t.Summary, Lat: t.Lat, Lng: t.Lng, District: t.District, Category: t.Category}
}

type deadline struct {
	id string
	at time.Time
}

type deadlineHeap []deadline

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deadlineHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deadlineHeap) Push(x any)        { *h = append(*h, x.(deadline)) }
func (h *deadlineHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
