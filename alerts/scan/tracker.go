package scan

import (
	"slices"
	"time"

	"github.com/uber/h3-go/v4"
)

// Track is one cluster followed from scan to scan: the same place (cells
// that overlap or touch) and the same category.
type Track struct {
	// Fingerprint names the track for its whole life: its category and
	// the cell with most tickets when it was first found.
	Fingerprint string
	Category    string
	Cluster     Cluster   // as last detected
	First       time.Time // first detected
	Last        time.Time // last detected
	Peak        float64   // highest score
	near        []h3.Cell // cells and their neighbours, for matching
}

// Tracker follows clusters across scans. A track ends when no cluster has
// matched it for Quiet. Not safe for concurrent use.
type Tracker struct {
	Quiet  time.Duration // default 30m
	tracks []*Track
}

// Open lists the tracks still open.
func (t *Tracker) Open() []Track {
	out := make([]Track, len(t.tracks))
	for i, tr := range t.tracks {
		out[i] = *tr
	}
	return out
}

// Resume adds a track known from before (an open alert after a restart),
// so a cluster found again updates it and one that is gone ends it.
func (t *Tracker) Resume(fingerprint, category string, cells []h3.Cell, last time.Time) {
	tr := &Track{Fingerprint: fingerprint, Category: category, First: last, Last: last,
		Cluster: Cluster{Category: category, Cells: cells}}
	tr.near = nearOf(cells)
	t.tracks = append(t.tracks, tr)
}

// Update matches the clusters of one scan at now to the open tracks.
// started holds new tracks, updated the tracks a cluster matched again,
// ended the tracks quiet for Quiet.
func (t *Tracker) Update(now time.Time, clusters []Cluster) (started, updated, ended []Track) {
	quiet := t.Quiet
	if quiet <= 0 {
		quiet = 30 * time.Minute
	}
	matched := map[*Track]bool{}
	for _, c := range clusters {
		var best *Track
		for _, tr := range t.tracks {
			if matched[tr] || !(tr.Category == c.Category || tr.Category == "" || c.Category == "") {
				continue
			}
			if overlaps(tr.near, c.Cells) {
				best = tr
				break
			}
		}
		if best == nil {
			tr := &Track{Fingerprint: fingerprint(c), Category: c.Category, Cluster: c, First: now, Last: now, Peak: c.Score}
			tr.near = nearOf(c.Cells)
			t.tracks = append(t.tracks, tr)
			matched[tr] = true
			started = append(started, *tr)
			continue
		}
		matched[best] = true
		best.Cluster, best.Last = c, now
		if best.Category == "" && c.Category != "" {
			best.Category = c.Category
		}
		best.Peak = max(best.Peak, c.Score)
		best.near = nearOf(c.Cells)
		updated = append(updated, *best)
	}
	keep := t.tracks[:0]
	for _, tr := range t.tracks {
		if !matched[tr] && now.Sub(tr.Last) >= quiet {
			ended = append(ended, *tr)
			continue
		}
		keep = append(keep, tr)
	}
	clear(t.tracks[len(keep):])
	t.tracks = keep
	return started, updated, ended
}

func fingerprint(c Cluster) string {
	// The cell holding the centroid when it is in the region, else the
	// region's first cell: stable for a given place.
	anchor := c.Cells[0]
	if cell, err := h3.LatLngToCell(h3.LatLng{Lat: c.Lat, Lng: c.Lng}, c.Cells[0].Resolution()); err == nil && slices.Contains(c.Cells, cell) {
		anchor = cell
	}
	cat := c.Category
	if cat == "" {
		cat = "all"
	}
	return "cluster/" + cat + "/" + anchor.String()
}

func nearOf(cells []h3.Cell) []h3.Cell {
	out := slices.Clone(cells)
	for _, c := range cells {
		for _, n := range neighbours(c) {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func overlaps(a, b []h3.Cell) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
