package demo

import "github.com/citywall/citywall/demo/city"

// Land is the land around the demo city as [lat, lng] rings (a point is on
// land when an odd number hold it), for the builtin basemap's sea and
// coast; nil without the demo, or when the configuration has districts of
// its own (another city).
func (d *City) Land() [][][2]float64 {
	if d == nil || !d.ownDistricts {
		return nil
	}
	return city.Land()
}
