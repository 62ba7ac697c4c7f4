package scan

import (
	"math"
	"slices"
	"sort"
	"time"
)

// Hit is one detection at the calibration floor: what was found (a
// region and category, a phrase), when, and its score.
type Hit struct {
	Key   string
	At    time.Time
	Score float64
}

// episodesAt counts the episodes the hits at or above u make: hits of one
// region and key less than quiet apart are one episode, as a Tracker
// groups them (per region: alerts also merge scales, so they are no more
// than counted). It returns their peaks.
func episodesAt(hits []Hit, quiet time.Duration, u float64) []float64 {
	last := map[string]int{} // key → index in peaks
	lastAt := map[string]time.Time{}
	var peaks []float64
	for _, h := range hits {
		if h.Score < u {
			continue
		}
		i, ok := last[h.Key]
		if !ok || h.At.Sub(lastAt[h.Key]) >= quiet {
			i = len(peaks)
			peaks = append(peaks, 0)
			last[h.Key] = i
		}
		lastAt[h.Key] = h.At
		peaks[i] = max(peaks[i], h.Score)
	}
	return peaks
}

// ThresholdFor is the lowest score, of those seen, at which the hits make
// no more than allowed episodes. The episodes are counted at each
// candidate threshold, not followed at the floor: at the floor, weak
// detections would chain a busy region's episodes into one and hide their
// peaks.
func ThresholdFor(hits []Hit, quiet time.Duration, allowed, floor float64) (float64, []float64) {
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].At.Before(hits[j].At) })
	var scores []float64
	for _, h := range hits {
		scores = append(scores, h.Score)
	}
	sort.Float64s(scores)
	scores = slices.Compact(scores)
	n := int(math.Floor(allowed))
	// The count falls as the threshold rises: the first score whose count
	// is within the allowance.
	i := sort.Search(len(scores), func(i int) bool { return len(episodesAt(hits, quiet, scores[i])) <= n })
	th := floor
	if i > 0 {
		th = max(math.Nextafter(scores[i-1], math.Inf(1)), floor)
	}
	peaks := episodesAt(hits, quiet, floor)
	sort.Sort(sort.Reverse(sort.Float64Slice(peaks)))
	return th, peaks[:min(len(peaks), 10)]
}
