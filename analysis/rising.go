package analysis

import (
	"math"
	"slices"
	"strings"
)

// Kind is what Rising ranks.
type Kind string

// What can rise.
const (
	KindSubcategory Kind = "subcategory"
	KindPhrase      Kind = "phrase"
)

// minRising is the fewest tickets in the recent days for an item to rank.
const minRising = 3

// Rising is the items rising fastest in the recent days against the days
// before them.
type Rising struct {
	Kind     Kind         `json:"kind"`
	From     string       `json:"from"` // the recent days
	To       string       `json:"to"`
	BaseFrom string       `json:"base_from,omitempty"` // the days they are compared with; absent when none are held
	BaseTo   string       `json:"base_to,omitempty"`
	BaseDays int          `json:"base_days"`
	Items    []RisingItem `json:"items"` // by score, highest first
}

// RisingItem is one subcategory or phrase. Score is (recent − expected) /
// √(expected + 1): the rise in units of the Poisson noise of the
// baseline, so a small item's doubling ranks below a large one's.
type RisingItem struct {
	Name     string   `json:"name"`
	Category string   `json:"category"` // the subcategory's category; the phrase's most common one
	Recent   int      `json:"recent"`
	Expected float64  `json:"expected"` // the baseline days' count scaled to the recent days
	Change   *float64 `json:"change"`   // recent / expected − 1; null without a baseline
	Score    float64  `json:"score"`
	Samples  []string `json:"samples,omitempty"` // a phrase's summaries, newest first
}

type counted struct {
	recent, base int
	cats         map[string]int
	samples      []string
}

// Rising ranks the subcategories or phrases of the tickets f selects
// over the days recent days to f.To against up to four times as many days
// before them; f.From is ignored. limit bounds the items.
func (h *History) Rising(kind Kind, f Filter, days, limit int) Rising {
	recentFrom := f.To - int32(days) + 1
	baseFrom := max(recentFrom-4*int32(days), h.First())
	baseDays := max(int(recentFrom-baseFrom), 0)
	res := Rising{Kind: kind, From: Date(max(recentFrom, h.First())), To: Date(f.To), BaseDays: baseDays, Items: []RisingItem{}}
	if baseDays > 0 {
		res.BaseFrom, res.BaseTo = Date(baseFrom), Date(recentFrom-1)
	}
	f.From = baseFrom
	var m map[string]*counted
	if kind == KindPhrase {
		m = h.phraseCounts(f, recentFrom)
	} else {
		m = h.subcategoryCounts(f, recentFrom)
	}
	scale := 0.0
	if baseDays > 0 {
		scale = float64(days) / float64(baseDays)
	}
	for name, c := range m {
		exp := float64(c.base) * scale
		if c.recent < minRising || float64(c.recent) <= exp {
			continue
		}
		it := RisingItem{Name: name, Recent: c.recent, Expected: round2(exp), Score: round2((float64(c.recent) - exp) / math.Sqrt(exp+1)), Samples: c.samples}
		if kind == KindSubcategory {
			it.Name, it.Category, _ = strings.Cut(name, "\x00")
		} else {
			for cat, n := range c.cats {
				if n > c.cats[it.Category] || n == c.cats[it.Category] && cat < it.Category {
					it.Category = cat
				}
			}
		}
		if exp > 0 {
			ch := round2(float64(c.recent)/exp - 1)
			it.Change = &ch
		}
		res.Items = append(res.Items, it)
	}
	slices.SortFunc(res.Items, func(a, b RisingItem) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		if a.Recent != b.Recent {
			return b.Recent - a.Recent
		}
		return strings.Compare(a.Name+a.Category, b.Name+b.Category)
	})
	if kind == KindPhrase {
		res.Items = merge(res.Items)
	}
	if len(res.Items) > limit {
		res.Items = res.Items[:limit]
	}
	return res
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// merge keeps the longest of overlapping phrases that rise together: the
// n-grams of 燃气异味 (燃气, 气异, 异味, ...) rise as one, and 燃气异味 names
// it; n-grams that overlap end to start (楼下夜间, 夜间噪声, 噪声扰民) are
// joined into the phrase they cut (楼下夜间噪声扰民). Phrases within 80 %
// of each other's count are the same rise; the joined one keeps the
// figures of the higher-ranked part.
func merge(items []RisingItem) []RisingItem {
	same := func(a, b RisingItem) bool {
		return float64(min(a.Recent, b.Recent)) >= 0.8*float64(max(a.Recent, b.Recent))
	}
	var kept []RisingItem
	for _, it := range items {
		absorbed := false
		for i := 0; i < len(kept) && !absorbed; i++ {
			k := kept[i]
			if !same(k, it) {
				continue
			}
			switch {
			case strings.Contains(k.Name, it.Name):
				absorbed = true
			case strings.Contains(it.Name, k.Name):
				kept[i].Name, absorbed = it.Name, true
			default:
				if j := joined(k.Name, it.Name); j != "" {
					kept[i].Name, absorbed = j, true
				} else if j := joined(it.Name, k.Name); j != "" {
					kept[i].Name, absorbed = j, true
				}
			}
		}
		if !absorbed {
			kept = append(kept, it)
		}
	}
	// A joined phrase may now cover another held one.
	for i := 0; i < len(kept); i++ {
		for j := 0; j < len(kept); j++ {
			if i != j && same(kept[i], kept[j]) && (strings.Contains(kept[i].Name, kept[j].Name) ||
				joined(kept[i].Name, kept[j].Name) != "" || joined(kept[j].Name, kept[i].Name) != "") {
				if n := joined(kept[i].Name, kept[j].Name); n != "" {
					kept[i].Name = n
				} else if n := joined(kept[j].Name, kept[i].Name); n != "" {
					kept[i].Name = n
				}
				kept = slices.Delete(kept, j, j+1)
				if j < i {
					i--
				}
				j = -1
			}
		}
	}
	return kept
}

// joined is a followed by b where a's last characters (two at least) are
// b's first ones, or "".
func joined(a, b string) string {
	ra, rb := []rune(a), []rune(b)
	for n := min(len(ra), len(rb)) - 1; n >= 2; n-- {
		if string(ra[len(ra)-n:]) == string(rb[:n]) {
			return a + string(rb[n:])
		}
	}
	return ""
}

func (h *History) subcategoryCounts(f Filter, recentFrom int32) map[string]*counted {
	m := map[string]*counted{}
	h.mu.RLock()
	defer h.mu.RUnlock()
	match, ok := h.matcherLocked(f)
	if !ok {
		return m
	}
	for i := range h.recs {
		r := &h.recs[i]
		if r.dims[Subcategory] == 0 || !match(r) {
			continue
		}
		k := h.names[r.dims[Subcategory]] + "\x00" + h.names[r.dims[Category]]
		c := m[k]
		if c == nil {
			c = &counted{}
			m[k] = c
		}
		if r.day >= recentFrom {
			c.recent++
		} else {
			c.base++
		}
	}
	return m
}

type phraseKey struct {
	f          Filter
	recentFrom int32
}

type phraseCounts = map[string]*counted

const maxSamples = 3

// phraseCounts counts the phrases of the selected summaries; the counts
// of a query are kept until a ticket is added.
func (h *History) phraseCounts(f Filter, recentFrom int32) map[string]*counted {
	if h.o.Grams == nil {
		return map[string]*counted{}
	}
	key := phraseKey{f: f, recentFrom: recentFrom}
	ver := h.Version()
	h.phraseMu.Lock()
	defer h.phraseMu.Unlock()
	if h.phraseVer != ver || h.phraseCache == nil {
		h.phraseCache, h.phraseVer = map[phraseKey]phraseCounts{}, ver
	}
	if m, ok := h.phraseCache[key]; ok {
		return m
	}
	type doc struct {
		created int64
		recent  bool
		summary string
		cat     string
	}
	var docs []doc
	h.mu.RLock()
	if match, ok := h.matcherLocked(f); ok {
		for i := range h.recs {
			r := &h.recs[i]
			if r.summary != "" && match(r) {
				docs = append(docs, doc{r.created, r.day >= recentFrom, r.summary, h.names[r.dims[Category]]})
			}
		}
	}
	h.mu.RUnlock()
	// Newest first, so the samples are the latest summaries.
	slices.SortFunc(docs, func(a, b doc) int {
		switch {
		case a.created > b.created:
			return -1
		case a.created < b.created:
			return 1
		}
		return strings.Compare(a.summary, b.summary)
	})
	m := map[string]*counted{}
	for _, d := range docs {
		for _, g := range h.o.Grams(d.summary) {
			c := m[g]
			if c == nil {
				c = &counted{cats: map[string]int{}}
				m[g] = c
			}
			if !d.recent {
				c.base++
				continue
			}
			c.recent++
			c.cats[d.cat]++
			if len(c.samples) < maxSamples && !slices.Contains(c.samples, d.summary) {
				c.samples = append(c.samples, d.summary)
			}
		}
	}
	if len(h.phraseCache) >= 64 {
		clear(h.phraseCache)
	}
	h.phraseCache[key] = m
	return m
}
