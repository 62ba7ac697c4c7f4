package geo

// District is a named area of the city, outlined by a polygon.
type District struct {
	Name    string
	NameEn  string
	Polygon [][2]float64 // [lat, lng] vertices (WGS84); the ring closes implicitly
}

// DistrictAt is the first of ds that holds the point, and false when none
// does.
func DistrictAt(ds []District, lat, lng float64) (District, bool) {
	for _, d := range ds {
		if InPolygon(d.Polygon, lat, lng) {
			return d, true
		}
	}
	return District{}, false
}

// InPolygon is the even-odd ray test on lat/lng taken as a plane, which is
// accurate enough over a city.
func InPolygon(poly [][2]float64, lat, lng float64) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		yi, xi := poly[i][0], poly[i][1]
		yj, xj := poly[j][0], poly[j][1]
		if (yi > lat) != (yj > lat) && lng < (xj-xi)*(lat-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}
