package phrase

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/citywall/citywall/alerts/scan"
)

// Doc is one ticket's summary and where it comes from.
type Doc struct {
	ID       string
	Category string
	District string
	Grid     string
	Summary  string
	Time     time.Time
}

// place is the finest place a doc names.
func (d Doc) place() string {
	if d.Grid != "" {
		return "g:" + d.Grid
	}
	return "d:" + d.District
}

// Options tune a Detector. Zero values take the defaults.
type Options struct {
	Windows   []time.Duration // default 30m, 1h and 2h
	MinCount  int             // summaries a phrase needs (default 8)
	Threshold float64         // score needed (default 25; Calibrate finds it)
	// Prior is the weight, in summaries, of a phrase's overall share in
	// its share within one category or place (default 50).
	Prior float64
	// MaxGrams bounds the n-grams with a history; past it, those seen
	// once are forgotten (default 200000).
	MaxGrams int
	Samples  int // summaries quoted (default 5)
}

func (o Options) withDefaults() Options {
	if len(o.Windows) == 0 {
		o.Windows = []time.Duration{30 * time.Minute, time.Hour, 2 * time.Hour}
	}
	if o.MinCount <= 0 {
		o.MinCount = 8
	}
	if o.Threshold <= 0 {
		o.Threshold = 25
	}
	if o.Prior <= 0 {
		o.Prior = 50
	}
	if o.MaxGrams <= 0 {
		o.MaxGrams = 200000
	}
	if o.Samples <= 0 {
		o.Samples = 5
	}
	return o
}

// Validate reports options a Detector cannot work with.
func (o Options) Validate() error {
	return scan.CheckWindows(o.Windows, 5*time.Minute)
}

// Count is a label and how many summaries carry it.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// Detection is one phrase far above its expected count.
type Detection struct {
	Phrase     string
	Window     time.Duration
	Count      int // summaries carrying it in the window
	Expected   float64
	Score      float64
	Samples    []string // summaries, latest first
	Tickets    []string // ids, oldest first
	Districts  []Count  // where they come from, most first
	Categories []Count  // under which categories, most first
	First      time.Time
}

type gramHist struct {
	n     float64
	cat   map[string]float64
	place map[string]float64
}

type recent struct {
	Doc
	grams []string
	where string // place()
}

// Detector keeps the history of n-grams and the recent summaries, and
// scores phrases. It is safe for concurrent use.
type Detector struct {
	opt Options
	x   *Extractor

	mu     sync.Mutex
	total  float64
	catN   map[string]float64
	placeN map[string]float64
	grams  map[string]*gramHist
	recent []recent // by time, within the longest window
	how    [168]float64
	loc    *time.Location
	pool   []recent // a sample of the history, for calibration
	seen   int
	from   time.Time // of the history
	to     time.Time
	frozen bool // a calibration's copy: summaries leaving the windows are not learnt
}

// NewDetector returns a detector segmenting with x; loc is the zone of the
// city's hours (nil: UTC).
func NewDetector(o Options, x *Extractor, loc *time.Location) (*Detector, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if loc == nil {
		loc = time.UTC
	}
	return &Detector{opt: o, x: x, loc: loc, catN: map[string]float64{}, placeN: map[string]float64{}, grams: map[string]*gramHist{}}, nil
}

// Options returns the options, defaults filled in.
func (d *Detector) Options() Options {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opt
}

// SetThreshold changes the score needed.
func (d *Detector) SetThreshold(th float64) {
	d.mu.Lock()
	d.opt.Threshold = th
	d.mu.Unlock()
}

// Threshold is the score needed.
func (d *Detector) Threshold() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opt.Threshold
}

// Total is the number of summaries learnt.
func (d *Detector) Total() float64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// Learn adds a summary of the past to the history.
func (d *Detector) Learn(doc Doc) {
	r := recent{doc, d.x.Grams(doc.Summary), doc.place()}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.learnLocked(r)
}

const poolSize = 20000

func (d *Detector) learnLocked(r recent) {
	if d.frozen {
		return
	}
	if d.from.IsZero() || r.Time.Before(d.from) {
		d.from = r.Time
	}
	if r.Time.After(d.to) {
		d.to = r.Time
	}
	d.total++
	d.catN[r.Category]++
	p := r.where
	d.placeN[p]++
	d.how[scan.HourOfWeek(r.Time, d.loc)]++
	for _, g := range r.grams {
		h := d.grams[g]
		if h == nil {
			h = &gramHist{cat: map[string]float64{}, place: map[string]float64{}}
			d.grams[g] = h
		}
		h.n++
		h.cat[r.Category]++
		h.place[p]++
	}
	if len(d.grams) > d.opt.MaxGrams {
		for g, h := range d.grams {
			if h.n <= 1 {
				delete(d.grams, g)
			}
		}
	}
	// Reservoir sample of the history.
	d.seen++
	if len(d.pool) < poolSize {
		d.pool = append(d.pool, r)
	} else if j := int(uint64(d.seen*2654435761) % uint64(d.seen)); j < poolSize {
		d.pool[j] = r
	}
}

// Add counts a new summary into the recent windows; it joins the history
// once it has left them, so a burst never raises its own expectation.
func (d *Detector) Add(doc Doc) {
	r := recent{doc, d.x.Grams(doc.Summary), doc.place()}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := len(d.recent)
	for i > 0 && d.recent[i-1].Time.After(doc.Time) {
		i--
	}
	d.recent = slices.Insert(d.recent, i, r)
}

// share is p(g | category or place): the n-gram's share among the
// category's (or place's) summaries, shrunk towards its overall share.
func (d *Detector) shareLocked(h *gramHist, pg float64, cat, place string) float64 {
	k := d.opt.Prior
	var nc, np float64
	if h != nil {
		nc, np = h.cat[cat], h.place[place]
	}
	pc := (nc + k*pg) / (d.catN[cat] + k)
	pp := (np + k*pg) / (d.placeN[place] + k)
	return max(pc, pp)
}

// Scan scores the phrases of the recent summaries at now and returns one
// detection per phrase (overlapping n-grams merged), strongest first.
func (d *Detector) Scan(now time.Time) []Detection {
	d.mu.Lock()
	defer d.mu.Unlock()
	wins := d.opt.Windows
	cut := now.Add(-wins[len(wins)-1])
	k := 0
	for k < len(d.recent) && !d.recent[k].Time.After(cut) {
		d.learnLocked(d.recent[k])
		k++
	}
	d.recent = slices.Delete(d.recent, 0, k)
	type cand struct {
		g    string
		docs []int // indexes into d.recent
		win  time.Duration
		b    float64
		s    float64
	}
	best := map[string]*cand{}
	longest := now.Add(-wins[len(wins)-1])
	lo := sort.Search(len(d.recent), func(i int) bool { return d.recent[i].Time.After(longest) })
	hi := sort.Search(len(d.recent), func(i int) bool { return d.recent[i].Time.After(now) })
	los := make([]int, len(wins))
	for wi, w := range wins {
		from := now.Add(-w)
		los[wi] = sort.Search(len(d.recent), func(i int) bool { return d.recent[i].Time.After(from) })
	}
	docs := map[string][]int{}
	for i := lo; i < hi; i++ {
		for _, g := range d.recent[i].grams {
			docs[g] = append(docs[g], i)
		}
	}
	cum := make([]float64, hi-lo+1)
	for g, idx := range docs {
		if len(idx) < d.opt.MinCount {
			continue
		}
		h := d.grams[g]
		pg := 0.5 / (d.total + 1)
		if h != nil {
			pg = (h.n + 0.5) / (d.total + 1)
		}
		// Expected counts of every window from one pass over the longest.
		for i := lo; i < hi; i++ {
			r := &d.recent[i]
			cum[i-lo+1] = cum[i-lo] + d.shareLocked(h, pg, r.Category, r.where)
		}
		for wi, w := range wins {
			first := sort.SearchInts(idx, los[wi])
			c := len(idx) - first
			if c < d.opt.MinCount {
				continue
			}
			b := cum[hi-lo] - cum[los[wi]-lo]
			sc := scan.Score(c, b)
			if sc < d.opt.Threshold {
				continue
			}
			if x := best[g]; x == nil || sc > x.s {
				best[g] = &cand{g, idx[first:], w, b, sc}
			}
		}
	}
	cands := make([]*cand, 0, len(best))
	for _, c := range best {
		cands = append(cands, c)
	}
	// Strongest first; a phrase's n-grams whose summaries are mostly the
	// same as a stronger one's are that phrase.
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].s != cands[j].s {
			return cands[i].s > cands[j].s
		}
		return cands[i].g < cands[j].g
	})
	var out []Detection
	var groups [][]*cand
	for _, c := range cands {
		joined := false
		for gi, grp := range groups {
			if overlap(grp[0].docs, c.docs) >= 0.6*float64(min(len(grp[0].docs), len(c.docs))) {
				groups[gi] = append(grp, c)
				joined = true
				break
			}
		}
		if !joined {
			groups = append(groups, []*cand{c})
		}
	}
	for _, grp := range groups {
		// The longest n-gram carried by most of the strongest's summaries,
		// joined with the n-grams it overlaps into one phrase.
		lead := grp[0]
		rep := lead
		for _, c := range grp[1:] {
			if len(c.docs) >= len(lead.docs)*4/5 && len([]rune(c.g)) > len([]rune(rep.g)) {
				rep = c
			}
		}
		phrase := rep.g
		for _, c := range grp {
			if len(c.docs) >= len(lead.docs)*4/5 {
				phrase = join(phrase, c.g)
			}
		}
		out = append(out, d.detectionLocked(phrase, lead.win, lead.docs, lead.b, lead.s))
	}
	return out
}

// join merges two n-grams that overlap at an end (燃气异 + 气异味 →
// 燃气异味); otherwise it keeps a.
func join(a, b string) string {
	if strings.Contains(a, b) {
		return a
	}
	if strings.Contains(b, a) {
		return b
	}
	ra, rb := []rune(a), []rune(b)
	for n := min(len(ra), len(rb)) - 1; n >= 1; n-- {
		if string(ra[len(ra)-n:]) == string(rb[:n]) {
			return a + string(rb[n:])
		}
		if string(rb[len(rb)-n:]) == string(ra[:n]) {
			return b + string(ra[n:])
		}
	}
	return a
}

func overlap(a, b []int) float64 {
	n, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			n++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(n)
}

func (d *Detector) detectionLocked(phrase string, win time.Duration, idx []int, b, s float64) Detection {
	det := Detection{Phrase: phrase, Window: win, Count: len(idx), Expected: b, Score: s}
	dist, cats := map[string]int{}, map[string]int{}
	for _, i := range idx {
		r := d.recent[i]
		det.Tickets = append(det.Tickets, r.ID)
		dist[r.District]++
		cats[r.Category]++
	}
	det.First = d.recent[idx[0]].Time
	for j := len(idx) - 1; j >= 0 && len(det.Samples) < d.opt.Samples; j-- {
		det.Samples = append(det.Samples, d.recent[idx[j]].Summary)
	}
	det.Districts, det.Categories = counts(dist), counts(cats)
	return det
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}
