package geo_test

import (
	"strings"
	"testing"

	"github.com/citywall/citywall/geo"
)

func TestArea(t *testing.T) {
	ds := []geo.District{
		{Name: "西", Polygon: [][2]float64{{20, 110}, {20, 110.5}, {20.5, 110.5}, {20.5, 110}}},
		{Name: "东", Polygon: [][2]float64{{20, 110.5}, {20, 111}, {20.2, 111}}},
	}
	box := geo.AreaAround(ds, 10) // 10 km: 0.09° of latitude, 0.096° of longitude at 20.6°
	tri, err := geo.NewArea([][2]float64{{0, 0}, {0, 10}, {10, 0}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		a        *geo.Area
		lat, lng float64
		want     bool
	}{
		{"in a district", box, 20.25, 110.25, true},
		{"between the districts, in their box", box, 20.4, 110.9, true},
		{"5 km north of the box", box, 20.545, 110.25, true},
		{"15 km north of the box", box, 20.635, 110.25, false},
		{"8 km east", box, 20.1, 111.077, true},
		{"12 km east", box, 20.1, 111.115, false},
		{"the other side of the Earth", box, -20.25, -69.75, false},
		{"in the triangle", tri, 2, 2, true},
		{"in its box, not in it", tri, 8, 8, false},
		{"outside its box", tri, -1, 2, false},
		{"no area: anywhere", nil, -89, 179, true},
	} {
		if got := tt.a.Contains(tt.lat, tt.lng); got != tt.want {
			t.Errorf("%s: Contains(%g, %g) = %v, want %v (%s)", tt.name, tt.lat, tt.lng, got, tt.want, tt.a)
		}
	}
	if a := geo.AreaAround(nil, 10); a != nil {
		t.Errorf("no districts: %s, want nil (anywhere)", a)
	}
	if _, err := geo.NewArea([][2]float64{{0, 0}, {1, 1}}); err == nil {
		t.Error("an area of two vertices was taken")
	}
	if s := box.String(); !strings.Contains(s, "lat 19.9101..20.5899") {
		t.Errorf("String() = %q", s)
	}
}
