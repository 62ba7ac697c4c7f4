package alerts

import (
	"math"
	"sort"

	"github.com/uber/h3-go/v4"
)

// Camera is a camera's place, for linking cameras to alerts.
type Camera struct {
	ID, Name, NameEn string
	Lat, Lng         float64
}

// cameraIndex finds the cameras nearest to a set of cells by H3 grid
// distance at the detection resolution.
type cameraIndex struct {
	res  int
	cams []Camera
	cell []h3.Cell
}

func newCameraIndex(cams []Camera, res int) *cameraIndex {
	ix := &cameraIndex{res: res}
	for _, c := range cams {
		cell, err := h3.LatLngToCell(h3.LatLng{Lat: c.Lat, Lng: c.Lng}, res)
		if err != nil {
			continue
		}
		ix.cams = append(ix.cams, c)
		ix.cell = append(ix.cell, cell)
	}
	return ix
}

// Nearest returns up to n cameras within maxK grid steps of any of cells,
// nearest first; ties go to the one closer in metres to (lat, lng).
func (ix *cameraIndex) Nearest(cells []h3.Cell, lat, lng float64, n, maxK int) []CameraRef {
	if ix == nil || n <= 0 {
		return nil
	}
	type hit struct {
		ref CameraRef
		m   float64
	}
	var hits []hit
	for i, cc := range ix.cell {
		best := math.MaxInt
		for _, c := range cells {
			if d, err := h3.GridDistance(c, cc); err == nil && d < best {
				best = d
			}
		}
		if best > maxK {
			continue
		}
		c := ix.cams[i]
		m := h3.GreatCircleDistanceM(h3.LatLng{Lat: lat, Lng: lng}, h3.LatLng{Lat: c.Lat, Lng: c.Lng})
		hits = append(hits, hit{CameraRef{ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Distance: best}, m})
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].ref.Distance != hits[j].ref.Distance {
			return hits[i].ref.Distance < hits[j].ref.Distance
		}
		return hits[i].m < hits[j].m
	})
	out := make([]CameraRef, 0, min(n, len(hits)))
	for i := 0; i < len(hits) && i < n; i++ {
		out = append(out, hits[i].ref)
	}
	return out
}
