package phrase

import (
	"strings"
	"time"
)

// Episode is one phrase followed from scan to scan.
type Episode struct {
	Fingerprint string // phrase/<the phrase first found>
	Best        Detection
	First, Last time.Time
	Peak        float64
}

// Tracker follows phrases across scans: a detection whose phrase contains,
// or is contained in, an open episode's is that episode. An episode ends
// when nothing has matched it for Quiet. Not safe for concurrent use.
type Tracker struct {
	Quiet time.Duration // default 2h
	eps   []*Episode
}

// Resume adds an episode known from before (an open alert after a
// restart).
func (t *Tracker) Resume(fingerprint, phrase string, last time.Time) {
	t.eps = append(t.eps, &Episode{Fingerprint: fingerprint, Best: Detection{Phrase: phrase}, First: last, Last: last})
}

// Update matches the detections of one scan at now to the open episodes.
func (t *Tracker) Update(now time.Time, dets []Detection) (started, updated, ended []Episode) {
	quiet := t.Quiet
	if quiet <= 0 {
		quiet = 2 * time.Hour
	}
	matched, created := map[*Episode]bool{}, map[*Episode]bool{}
	for _, d := range dets {
		var ep *Episode
		for _, e := range t.eps {
			if strings.Contains(e.Best.Phrase, d.Phrase) || strings.Contains(d.Phrase, e.Best.Phrase) {
				ep = e
				break
			}
		}
		if ep == nil {
			ep = &Episode{Fingerprint: "phrase/" + d.Phrase, First: now}
			t.eps = append(t.eps, ep)
			created[ep] = true
		}
		if !matched[ep] || d.Score > ep.Best.Score {
			ep.Best = d
		}
		matched[ep] = true
		ep.Last = now
		ep.Peak = max(ep.Peak, d.Score)
	}
	keep := t.eps[:0]
	for _, ep := range t.eps {
		switch {
		case created[ep]:
			started = append(started, *ep)
		case matched[ep]:
			updated = append(updated, *ep)
		case now.Sub(ep.Last) >= quiet:
			ended = append(ended, *ep)
			continue
		}
		keep = append(keep, ep)
	}
	clear(t.eps[len(keep):])
	t.eps = keep
	return started, updated, ended
}
