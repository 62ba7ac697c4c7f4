package geo

import (
	"fmt"
	"math"
)

// Area is where a city's tickets can be: a polygon, or the bounding box of
// its districts grown by a margin. Outside it a point is a wrong
// coordinate (swapped lat and lng, the wrong coordinate system, a test
// point) rather than a request the city's centre serves. Every point
// taken makes heat-map cells and baseline history that live for weeks, so
// points anywhere on Earth would grow memory without bound.
type Area struct {
	poly [][2]float64 // nil for a box
	// the bounding box, checked first
	minLat, maxLat, minLng, maxLng float64
}

// NewArea is the area inside poly ([lat, lng] vertices, at least 3).
func NewArea(poly [][2]float64) (*Area, error) {
	if len(poly) < 3 {
		return nil, fmt.Errorf("area: %d vertices, want at least 3", len(poly))
	}
	a := &Area{poly: append([][2]float64(nil), poly...)}
	a.minLat, a.maxLat, a.minLng, a.maxLng = bounds(poly)
	return a, nil
}

// AreaAround is the bounding box of the districts' polygons grown by
// marginKm on every side; nil when there are no districts (then no area
// is known and every point is the city's).
func AreaAround(ds []District, marginKm float64) *Area {
	var all [][2]float64
	for _, d := range ds {
		all = append(all, d.Polygon...)
	}
	if len(all) == 0 {
		return nil
	}
	a := &Area{}
	a.minLat, a.maxLat, a.minLng, a.maxLng = bounds(all)
	dLat := marginKm / 111.2
	// A degree of longitude is shortest at the box's edge farthest from
	// the equator; the margin holds there and is wider elsewhere.
	far := math.Max(math.Abs(a.minLat), math.Abs(a.maxLat)) + dLat
	dLng := 180.0
	if c := math.Cos(far * math.Pi / 180); c > 1e-6 {
		dLng = math.Min(marginKm/(111.32*c), 180)
	}
	a.minLat, a.maxLat = math.Max(a.minLat-dLat, -90), math.Min(a.maxLat+dLat, 90)
	a.minLng, a.maxLng = math.Max(a.minLng-dLng, -180), math.Min(a.maxLng+dLng, 180)
	return a
}

func bounds(ps [][2]float64) (minLat, maxLat, minLng, maxLng float64) {
	minLat, maxLat, minLng, maxLng = 90, -90, 180, -180
	for _, p := range ps {
		minLat, maxLat = math.Min(minLat, p[0]), math.Max(maxLat, p[0])
		minLng, maxLng = math.Min(minLng, p[1]), math.Max(maxLng, p[1])
	}
	return
}

// Contains says whether the point (WGS84) is in the area; a nil Area holds
// every point.
func (a *Area) Contains(lat, lng float64) bool {
	if a == nil {
		return true
	}
	if lat < a.minLat || lat > a.maxLat || lng < a.minLng || lng > a.maxLng {
		return false
	}
	return a.poly == nil || InPolygon(a.poly, lat, lng)
}

// String is the area's bounding box, for messages: "lat 19.85..20.10,
// lng 110.10..110.62", and whether it is a polygon inside it.
func (a *Area) String() string {
	if a == nil {
		return "anywhere"
	}
	s := fmt.Sprintf("lat %.4f..%.4f, lng %.4f..%.4f", a.minLat, a.maxLat, a.minLng, a.maxLng)
	if a.poly != nil {
		s = fmt.Sprintf("a polygon of %d vertices within %s", len(a.poly), s)
	}
	return s
}
