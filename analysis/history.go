// Package analysis keeps every ticket of the days the durable store holds,
// a few dozen bytes each, and answers the commanders' analysis view from
// them: counts by day or by week over district, grid, category,
// subcategory and channel; the subcategories and summary phrases rising
// fastest against the days before; and the drill-down from the city to a
// district, a grid and its tickets. It is fed every accepted ticket,
// the replay of the ingest log at start included, so after a restart it
// holds what the log holds (storage.retention, 35 days by default).
//
// Queries scan the tickets held; nothing is precomputed but the phrases
// of a query, which are kept until the next ticket arrives.
package analysis

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Defaults of Options.
const (
	DefaultRetention  = 35 * 24 * time.Hour
	DefaultMaxTickets = 1_000_000
)

// Options configure a History. Zero values take the defaults.
type Options struct {
	Location   *time.Location // the city's zone: days and weeks are counted in it; default UTC
	Retention  time.Duration  // whole local days kept, today included; default 35 days
	MaxTickets int            // past this, the oldest tickets are dropped; default one million
	Now        func() time.Time
	// Grams cuts a summary into the phrases counted by Rising (distinct
	// per summary); nil: phrases are not counted.
	Grams func(summary string) []string
}

// rec is one ticket as the view needs it; names are indexes into
// History.names so that a district or a category is stored once.
type rec struct {
	created int64 // Unix ns
	day     int32 // local day number (days since 1970-01-01 in the city's zone)
	dims    [numDims]uint32
	urgent  bool
	id      string
	summary string
}

// History holds the tickets of the days kept. It is safe for concurrent
// use.
type History struct {
	o    Options
	days int32 // local days kept

	mu      sync.RWMutex
	names   []string
	index   map[string]uint32
	recs    []rec               // oldest first (by created, then arrival)
	ids     map[string]struct{} // the ids held: a ticket re-posted or replayed is counted once
	added   int                 // since the last prune
	version uint64

	phraseMu    sync.Mutex
	phraseCache map[phraseKey]phraseCounts
	phraseVer   uint64
}

// New returns an empty History.
func New(o Options) *History {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.MaxTickets <= 0 {
		o.MaxTickets = DefaultMaxTickets
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	days := int32(o.Retention / (24 * time.Hour))
	if days < 1 {
		days = 1
	}
	return &History{o: o, days: days, names: []string{""}, index: map[string]uint32{"": 0}, ids: map[string]struct{}{}}
}

// DayOf is the local day number of t: days since 1970-01-01 in the city's
// zone.
func (h *History) DayOf(t time.Time) int32 {
	y, m, d := t.In(h.o.Location).Date()
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Today is today's local day number.
func (h *History) Today() int32 { return h.DayOf(h.o.Now()) }

// First is the first local day kept: Today − (days kept − 1).
func (h *History) First() int32 { return h.Today() - h.days + 1 }

// Days is how many local days are kept, today included.
func (h *History) Days() int { return int(h.days) }

// Date formats a local day number as YYYY-MM-DD.
func Date(day int32) string { return time.Unix(int64(day)*86400, 0).UTC().Format(time.DateOnly) }

// ParseDate reads YYYY-MM-DD as a local day number.
func ParseDate(s string) (int32, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return int32(t.Unix() / 86400), nil
}

// WeekOf is the Monday starting the week of day.
func WeekOf(day int32) int32 {
	// Day 0, 1970-01-01, was a Thursday.
	return day - ((day%7 + 7 + 3) % 7)
}

// Version changes whenever a ticket is added.
func (h *History) Version() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.version
}

// Len is the number of tickets held.
func (h *History) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.recs)
}

func (h *History) nameLocked(s string) uint32 {
	if i, ok := h.index[s]; ok {
		return i
	}
	i := uint32(len(h.names))
	h.names = append(h.names, s)
	h.index[s] = i
	return i
}

// Add records an accepted ticket. The ingest pipeline calls it once per
// new ticket, but the durable store's replay and a client's re-post can
// bring the same ticket again: a ticket whose id is held already is not
// counted twice (the first one held stands). Tickets are kept in the
// order they were created; one arriving late is put in its place.
func (h *History) Add(t ticket.Ticket) {
	day := h.DayOf(t.Created)
	h.mu.Lock()
	defer h.mu.Unlock()
	if t.ID != "" {
		if _, ok := h.ids[t.ID]; ok {
			return
		}
	}
	r := rec{created: t.Created.UnixNano(), day: day, urgent: t.Urgent, id: t.ID, summary: t.Summary}
	r.dims[District] = h.nameLocked(t.District)
	r.dims[Grid] = h.nameLocked(t.Grid)
	r.dims[Category] = h.nameLocked(t.Category)
	r.dims[Subcategory] = h.nameLocked(t.Subcategory)
	r.dims[Channel] = h.nameLocked(string(t.Channel))
	// Tickets come nearly in order: look for the place from the end.
	i := len(h.recs)
	for i > 0 && h.recs[i-1].created > r.created {
		i--
	}
	h.recs = slices.Insert(h.recs, i, r)
	if r.id != "" {
		h.ids[r.id] = struct{}{}
	}
	h.version++
	h.added++
	if h.added >= 4096 || len(h.recs) > h.o.MaxTickets {
		h.pruneLocked()
	}
}

// Prune drops the tickets of the days no longer kept and any past
// MaxTickets, oldest first, and returns how many it dropped.
func (h *History) Prune() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pruneLocked()
}

// pruneLocked drops a prefix of recs (they are oldest first): the days
// no longer kept, then any past MaxTickets. At MaxTickets every Add drops
// one ticket, so the slice is cut at its front, not copied; append moves
// it to a new array when the old one is full, which keeps the cost of a
// drop constant on the average.
func (h *History) pruneLocked() int {
	h.added = 0
	first := h.First()
	drop := sort.Search(len(h.recs), func(i int) bool { return h.recs[i].day >= first })
	drop = max(drop, len(h.recs)-h.o.MaxTickets)
	if drop <= 0 {
		return 0
	}
	for i := range drop {
		delete(h.ids, h.recs[i].id)
	}
	clear(h.recs[:drop])
	h.recs = h.recs[drop:]
	h.version++
	return drop
}
