package surge

import (
	"fmt"
	"slices"
	"time"
)

// Episode is one event followed from scan to scan: detections of the same
// kind and category in regions that overlap (a grid, its district, the
// city) are one episode, so a surge seen at several scales is one alert.
type Episode struct {
	// Fingerprint names the episode for its whole life, from its first
	// detection.
	Fingerprint string
	Kind        string
	Category    string
	Best        Detection   // the strongest detection of the last scan that matched
	Scales      []Detection // the latest detection of each region and key
	First, Last time.Time
	Peak        float64
}

// Tracker follows episodes across scans. An episode ends when nothing has
// matched it for Quiet and the longest window it was detected in, plus
// Quiet, has passed since it started: until then that window still holds
// the tickets that raised it, and a window is scored only when a ticket of
// its key arrives (at night, hours apart), so a detection after a gap is
// the same event, not a new one. A detection whose window reaches back
// before the last detection of an ended episode it overlaps (a 6- or
// 24-hour window still holding an outage's tickets after the episode's
// shorter windows went quiet) is that episode's tail: it is dropped, not
// raised again. Not safe for concurrent use.
type Tracker struct {
	Quiet time.Duration // default 2h
	// Related says whether two regions overlap (Detector.Related); nil:
	// only the same region.
	Related func(a, b Region) bool
	eps     []*Episode
	closed  []*Episode // ended, kept while a window may still cover them
}

// Open lists the episodes still open.
func (t *Tracker) Open() []Episode {
	out := make([]Episode, len(t.eps))
	for i, e := range t.eps {
		out[i] = *e
	}
	return out
}

// Resume adds an episode known from before (an open alert after a
// restart), so that it is updated or ended instead of raised again.
func (t *Tracker) Resume(fingerprint, kind, category string, r Region, last time.Time) {
	d := Detection{Kind: kind, Region: r, Category: category}
	t.eps = append(t.eps, &Episode{Fingerprint: fingerprint, Kind: kind, Category: category, Best: d,
		Scales: []Detection{d}, First: last, Last: last})
}

// Fingerprint names an episode started by d.
func Fingerprint(d Detection) string {
	what := d.Category
	if d.Subcategory != "" {
		what += "/" + d.Subcategory
	}
	return fmt.Sprintf("hot/%s/%s/%s:%s", d.Kind, what, d.Region.Scale, d.Region.Name)
}

// Update matches the detections of one scan at now to the open episodes,
// strongest first.
func (t *Tracker) Update(now time.Time, dets []Detection) (started, updated, ended []Episode) {
	quiet := t.Quiet
	if quiet <= 0 {
		quiet = 2 * time.Hour
	}
	sortDetections(dets)
	t.closed = slices.DeleteFunc(t.closed, func(ep *Episode) bool { return now.Sub(ep.Last) > 8*24*time.Hour })
	matched, created := map[*Episode]bool{}, map[*Episode]bool{}
	for _, d := range dets {
		ep := t.find(d)
		if ep == nil && t.tail(d) {
			continue
		}
		if ep == nil {
			ep = &Episode{Fingerprint: Fingerprint(d), Kind: d.Kind, Category: d.Category, First: now}
			t.eps = append(t.eps, ep)
			created[ep] = true
		}
		if !matched[ep] {
			ep.Best = d // detections come strongest first
		}
		matched[ep] = true
		ep.Last = now
		ep.Peak = max(ep.Peak, d.Score)
		replaced := false
		for i, s := range ep.Scales {
			if s.Region == d.Region && s.Subcategory == d.Subcategory {
				ep.Scales[i], replaced = d, true
			}
		}
		if !replaced {
			ep.Scales = append(ep.Scales, d)
		}
	}
	keep := t.eps[:0]
	for _, ep := range t.eps {
		switch {
		case created[ep]:
			started = append(started, *ep)
		case matched[ep]:
			updated = append(updated, *ep)
		case now.Sub(ep.Last) >= quiet && now.Sub(ep.First) >= ep.longest()+quiet:
			ended = append(ended, *ep)
			t.closed = append(t.closed, ep)
			continue
		}
		keep = append(keep, ep)
	}
	clear(t.eps[len(keep):])
	t.eps = keep
	return started, updated, ended
}

// longest is the longest window of the episode's detections.
func (ep *Episode) longest() time.Duration {
	var w time.Duration
	for _, s := range ep.Scales {
		w = max(w, s.Window)
	}
	return w
}

// tail reports whether d's window starts before the last detection of an
// ended episode of its kind and category in an overlapping region, and
// counts its key (the whole category, or a subcategory the episode was
// detected in): the window still holds that episode's tickets.
func (t *Tracker) tail(d Detection) bool {
	for _, ep := range t.closed {
		if !d.First.Before(ep.Last) || ep.Kind != d.Kind || ep.Category != d.Category {
			continue
		}
		for _, s := range ep.Scales {
			if (d.Subcategory == "" || s.Subcategory == d.Subcategory) &&
				(s.Region == d.Region || t.Related != nil && t.Related(s.Region, d.Region)) {
				return true
			}
		}
	}
	return false
}

func (t *Tracker) find(d Detection) *Episode {
	for _, ep := range t.eps {
		if ep.Kind != d.Kind || ep.Category != d.Category {
			continue
		}
		for _, s := range ep.Scales {
			if s.Region == d.Region || t.Related != nil && t.Related(s.Region, d.Region) {
				return ep
			}
		}
	}
	return nil
}
