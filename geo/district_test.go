package geo_test

import (
	"testing"

	"github.com/citywall/citywall/geo"
)

func TestDistrictAt(t *testing.T) {
	square := [][2]float64{{20, 110}, {20, 111}, {21, 111}, {21, 110}}
	east := [][2]float64{{20, 111}, {20, 112}, {21, 112}, {21, 111}}
	ds := []geo.District{{Name: "西", Polygon: square}, {Name: "东", Polygon: east}}
	for _, tt := range []struct {
		lat, lng float64
		want     string
	}{
		{20.5, 110.5, "西"},
		{20.5, 111.5, "东"},
		{19.5, 110.5, ""},
		{20.5, 113, ""},
	} {
		d, ok := geo.DistrictAt(ds, tt.lat, tt.lng)
		if d.Name != tt.want || ok != (tt.want != "") {
			t.Errorf("DistrictAt(%g, %g) = %q, %v; want %q", tt.lat, tt.lng, d.Name, ok, tt.want)
		}
	}
	if geo.InPolygon(nil, 20, 110) {
		t.Error("an empty polygon holds a point")
	}
}
