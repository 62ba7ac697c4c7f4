package feedsim_test

import (
	"testing"

	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/demo/feedsim"
	"github.com/citywall/citywall/geo"
)

// TestStationsOnLand: every station, and every vertex of every road, is on
// land in a district of the demo city, the one it names if it names one.
func TestStationsOnLand(t *testing.T) {
	var ds []geo.District
	for _, d := range city.Districts() {
		ds = append(ds, geo.District{Name: d.Name, Polygon: d.Polygon})
	}
	check := func(id, want string, lat, lng float64) {
		t.Helper()
		d, ok := geo.DistrictAt(ds, lat, lng)
		if !ok || (want != "" && d.Name != want) || !city.OnLand(lat, lng) {
			t.Errorf("station %s (%v, %v): in %q, want %q; on land %v", id, lat, lng, d.Name, want, city.OnLand(lat, lng))
		}
	}
	for _, s := range feedsim.Stations() {
		if len(s.Polyline) == 0 {
			check(s.ID, s.District, s.Lat, s.Lng)
		}
		for _, p := range s.Polyline {
			check(s.ID, "", p[0], p[1])
		}
	}
}

// TestStationCameras: every camera a station names is a demo camera.
func TestStationCameras(t *testing.T) {
	ids := map[string]bool{}
	for _, c := range city.Cameras() {
		ids[c.ID] = true
	}
	for _, s := range feedsim.Stations() {
		for _, c := range s.Cameras {
			if !ids[c] {
				t.Errorf("station %s: camera %q is not a demo camera", s.ID, c)
			}
		}
	}
}
