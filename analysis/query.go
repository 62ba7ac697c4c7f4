package analysis

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Dim is a dimension tickets are counted or filtered by.
type Dim int

// The dimensions.
const (
	District Dim = iota
	Grid
	Category
	Subcategory
	Channel
	numDims
)

var dimNames = [numDims]string{"district", "grid", "category", "subcategory", "channel"}

func (d Dim) String() string { return dimNames[d] }

// ParseDim reads a dimension's name.
func ParseDim(s string) (Dim, error) {
	for i, n := range dimNames {
		if n == s {
			return Dim(i), nil
		}
	}
	return 0, fmt.Errorf("%q is not one of %s", s, strings.Join(dimNames[:], ", "))
}

// Filter selects tickets: local days From..To (inclusive) and, for each
// dimension set, that value ("" in Match: any).
type Filter struct {
	From, To int32
	Match    [numDims]string
	matchSet [numDims]bool
}

// Set selects the tickets whose dimension d is v ("" matches tickets
// without one).
func (f *Filter) Set(d Dim, v string) {
	f.Match[d] = v
	f.matchSet[d] = true
}

// IsSet reports whether d is filtered on.
func (f *Filter) IsSet(d Dim) bool { return f.matchSet[d] }

// matcher resolves the filter to name indexes; ok is false when a value
// asked for was never seen, so nothing can match.
func (h *History) matcherLocked(f Filter) (func(*rec) bool, bool) {
	var want [numDims]uint32
	var on []Dim
	for d := range numDims {
		if !f.matchSet[d] {
			continue
		}
		i, ok := h.index[f.Match[d]]
		if !ok {
			return nil, false
		}
		want[d] = i
		on = append(on, d)
	}
	first := max(f.From, h.First())
	return func(r *rec) bool {
		if r.day < first || r.day > f.To {
			return false
		}
		for _, d := range on {
			if r.dims[d] != want[d] {
				return false
			}
		}
		return true
	}, true
}

// Group is the period counts are summed over.
type Group string

// The periods.
const (
	ByDay  Group = "day"
	ByWeek Group = "week" // Monday to Sunday
)

// Counts is tickets per period and series.
type Counts struct {
	Group   Group    `json:"group"`
	By      []string `json:"by"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Periods []string `json:"periods"` // the first day of each period (a week's Monday)
	Series  []Series `json:"series"`  // by total, largest first, then by key
	Totals  []int    `json:"totals"`  // per period, all series
	Total   int      `json:"total"`
}

// Series is one combination of the By dimensions.
type Series struct {
	Key    []string `json:"key"` // one value per By dimension
	Counts []int    `json:"counts"`
	Total  int      `json:"total"`
}

// Counts counts the tickets f selects per period of g, one series per
// combination of the by dimensions' values.
func (h *History) Counts(f Filter, g Group, by []Dim) Counts {
	from := max(f.From, h.First())
	var periods []int32
	for d := from; d <= f.To; d++ {
		p := d
		if g == ByWeek {
			p = WeekOf(d)
		}
		if len(periods) == 0 || periods[len(periods)-1] != p {
			periods = append(periods, p)
		}
	}
	c := Counts{Group: g, From: Date(from), To: Date(f.To), By: []string{}, Periods: make([]string, len(periods)),
		Series: []Series{}, Totals: make([]int, len(periods))}
	for i, p := range periods {
		c.Periods[i] = Date(p)
	}
	for _, d := range by {
		c.By = append(c.By, d.String())
	}
	periodOf := func(day int32) int {
		if g == ByWeek {
			day = WeekOf(day)
		}
		i, _ := slices.BinarySearch(periods, day)
		return i
	}
	type skey [3]uint32
	idx := map[skey]int{}
	var keys []skey

	h.mu.RLock()
	match, ok := h.matcherLocked(f)
	if ok && len(periods) > 0 {
		for i := range h.recs {
			r := &h.recs[i]
			if !match(r) {
				continue
			}
			var k skey
			for j, d := range by {
				k[j] = r.dims[d]
			}
			s, ok := idx[k]
			if !ok {
				s = len(c.Series)
				idx[k] = s
				keys = append(keys, k)
				c.Series = append(c.Series, Series{Counts: make([]int, len(periods))})
			}
			p := periodOf(r.day)
			c.Series[s].Counts[p]++
			c.Series[s].Total++
			c.Totals[p]++
			c.Total++
		}
	}
	for s, k := range keys {
		c.Series[s].Key = make([]string, len(by))
		for j := range by {
			c.Series[s].Key[j] = h.names[k[j]]
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(c.Series, func(a, b Series) int {
		if a.Total != b.Total {
			return b.Total - a.Total
		}
		return slices.Compare(a.Key, b.Key)
	})
	return c
}

// Area is one district (or grid) of a drill-down level.
type Area struct {
	Name        string `json:"name"` // "" for tickets without one
	Tickets     int    `json:"tickets"`
	Urgent      int    `json:"urgent"`
	TopCategory string `json:"top_category"` // the category with the most tickets
	TopCount    int    `json:"top_count"`
}

// Areas is a drill-down level: the city's districts, or a district's
// grids.
type Areas struct {
	Level    string `json:"level"` // "city" (rows are districts) or "district" (rows are grids)
	District string `json:"district,omitempty"`
	From     string `json:"from"`
	To       string `json:"to"`
	Areas    []Area `json:"areas"` // by tickets, most first, then by name
	Total    int    `json:"total"`
}

// Areas counts the tickets f selects by district, or, when f selects a
// district, by the district's grids.
func (h *History) Areas(f Filter) Areas {
	dim, level := District, "city"
	if f.IsSet(District) {
		dim, level = Grid, "district"
	}
	a := Areas{Level: level, District: f.Match[District], From: Date(max(f.From, h.First())), To: Date(f.To), Areas: []Area{}}
	type acc struct {
		n, urgent int
		cats      map[uint32]int
	}
	by := map[uint32]*acc{}
	h.mu.RLock()
	if match, ok := h.matcherLocked(f); ok {
		for i := range h.recs {
			r := &h.recs[i]
			if !match(r) {
				continue
			}
			x := by[r.dims[dim]]
			if x == nil {
				x = &acc{cats: map[uint32]int{}}
				by[r.dims[dim]] = x
			}
			x.n++
			if r.urgent {
				x.urgent++
			}
			x.cats[r.dims[Category]]++
			a.Total++
		}
	}
	for k, x := range by {
		ar := Area{Name: h.names[k], Tickets: x.n, Urgent: x.urgent}
		for c, n := range x.cats {
			if n > ar.TopCount || n == ar.TopCount && h.names[c] < ar.TopCategory {
				ar.TopCategory, ar.TopCount = h.names[c], n
			}
		}
		a.Areas = append(a.Areas, ar)
	}
	h.mu.RUnlock()
	slices.SortFunc(a.Areas, func(x, y Area) int {
		if x.Tickets != y.Tickets {
			return y.Tickets - x.Tickets
		}
		return strings.Compare(x.Name, y.Name)
	})
	return a
}

// Ticket is a ticket as the drill-down lists it.
type Ticket struct {
	ID          string    `json:"id"`
	Created     time.Time `json:"created"`
	District    string    `json:"district"`
	Grid        string    `json:"grid"`
	Category    string    `json:"category"`
	Subcategory string    `json:"subcategory"`
	Channel     string    `json:"channel"`
	Urgent      bool      `json:"urgent,omitempty"`
	Summary     string    `json:"summary"`
}

// Tickets lists the tickets f selects, newest first (then by id), at
// most limit of them, and how many there are in all.
func (h *History) Tickets(f Filter, limit int) ([]Ticket, int) {
	var sel []*rec
	h.mu.RLock()
	defer h.mu.RUnlock()
	if match, ok := h.matcherLocked(f); ok {
		for i := range h.recs {
			if match(&h.recs[i]) {
				sel = append(sel, &h.recs[i])
			}
		}
	}
	slices.SortFunc(sel, func(a, b *rec) int {
		if a.created != b.created {
			if a.created > b.created {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]Ticket, 0, min(limit, len(sel)))
	for _, r := range sel[:min(limit, len(sel))] {
		out = append(out, Ticket{
			ID: r.id, Created: time.Unix(0, r.created).In(h.o.Location), Summary: r.summary, Urgent: r.urgent,
			District: h.names[r.dims[District]], Grid: h.names[r.dims[Grid]], Category: h.names[r.dims[Category]],
			Subcategory: h.names[r.dims[Subcategory]], Channel: h.names[r.dims[Channel]],
		})
	}
	return out, len(sel)
}

// Values lists the values of dimension d among the tickets held, sorted,
// without the empty one.
func (h *History) Values(d Dim) []string {
	h.mu.RLock()
	seen := map[uint32]bool{}
	first := h.First()
	for i := range h.recs {
		if h.recs[i].day >= first {
			seen[h.recs[i].dims[d]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		if k != 0 {
			out = append(out, h.names[k])
		}
	}
	h.mu.RUnlock()
	slices.Sort(out)
	return out
}
