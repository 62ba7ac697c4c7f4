package surge

import (
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/uber/h3-go/v4"
)

// Scales of a region, smallest first.
const (
	ScaleGrid     = "grid"
	ScaleDistrict = "district"
	ScaleCity     = "city"
)

// Kinds of detection.
const (
	KindSurge = "surge" // a window of 30m..24h against the baseline
	KindWeek  = "week"  // the last seven days against the weeks before
)

// Region is one area counts are kept for.
type Region struct {
	Scale string `json:"scale"`
	Name  string `json:"name"` // grid or district label; empty for the city
}

var city = Region{Scale: ScaleCity}

// Event is one ticket as the detector counts it.
type Event struct {
	ID          string
	Cell        h3.Cell // at the baseline's resolution; 0 when unknown
	Category    string
	Subcategory string
	District    string
	Grid        string
	Time        time.Time
}

// regions lists the regions e counts in, largest first.
func (e Event) regions() []Region {
	out := []Region{city}
	if e.District != "" {
		out = append(out, Region{ScaleDistrict, e.District})
	}
	if e.Grid != "" {
		out = append(out, Region{ScaleGrid, e.Grid})
	}
	return out
}

// keys lists the category keys e counts under: its category and its
// category/subcategory.
func (e Event) keys() []string {
	if e.Category == "" {
		return nil
	}
	out := []string{e.Category}
	if e.Subcategory != "" {
		out = append(out, subKey(e.Category, e.Subcategory))
	}
	return out
}

const subSep = "\x1f"

func subKey(cat, sub string) string { return cat + subSep + sub }

// splitKey returns a key's category and subcategory ("" for a category).
func splitKey(k string) (string, string) {
	for i := 0; i < len(k); i++ {
		if k[i] == subSep[0] {
			return k[:i], k[i+1:]
		}
	}
	return k, ""
}

// part is a region and its share of a cell.
type part struct {
	r Region
	w float64
}

// labels counts the district and grid labels seen in a cell, so the cell's
// expected counts go to the region most of its tickets name.
type labels struct {
	district map[string]int
	grid     map[string]int
}

func (l *labels) add(district, grid string) {
	if district != "" {
		if l.district == nil {
			l.district = map[string]int{}
		}
		l.district[district]++
	}
	if grid != "" {
		if l.grid == nil {
			l.grid = map[string]int{}
		}
		l.grid[grid]++
	}
}

// parts lists the regions of one scale a cell's labels name, each with
// its share of the labelled tickets.
func (l *labels) parts(scale string, m map[string]int) []part {
	n := 0
	for _, v := range m {
		n += v
	}
	out := make([]part, 0, len(m))
	for name, v := range m {
		out = append(out, part{Region{scale, name}, float64(v) / float64(n)})
	}
	return out
}

// pick draws a label with the probability of its share.
func pick(rng *rand.Rand, m map[string]int) string {
	n := 0
	for _, v := range m {
		n += v
	}
	if n == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(m))
	u := rng.IntN(n)
	for _, k := range names {
		if u -= m[k]; u < 0 {
			return k
		}
	}
	return names[len(names)-1]
}

func most(m map[string]int) string {
	best, n := "", 0
	for k, v := range m {
		if v > n || v == n && k < best {
			best, n = k, v
		}
	}
	return best
}

// dayOf numbers t's local calendar day.
func dayOf(t time.Time, loc *time.Location) int {
	y, m, d := t.In(loc).Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// midnight is the start of local day n.
func midnight(n int, loc *time.Location) time.Time {
	u := time.Unix(int64(n)*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}
