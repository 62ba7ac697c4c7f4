package ticket

import "github.com/citywall/citywall/geo"

// toWGS84 converts a point posted in crs to WGS84. crs must be valid.
func toWGS84(crs CRS, lat, lng float64) (float64, float64) {
	switch crs {
	case GCJ02:
		return geo.GCJ02ToWGS84(lat, lng)
	case BD09:
		return geo.BD09ToWGS84(lat, lng)
	}
	return lat, lng
}
