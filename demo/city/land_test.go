package city

import (
	"math/rand/v2"
	"testing"

	"github.com/citywall/citywall/geo"
)

// toDistricts is the demo's districts as geo.DistrictAt takes them.
func toDistricts() []geo.District {
	var out []geo.District
	for _, d := range Districts() {
		out = append(out, geo.District{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
	}
	return out
}

func TestOnLand(t *testing.T) {
	tests := []struct {
		place    string
		lat, lng float64
		land     bool
	}{
		{"Guomao", 20.03, 110.32, true},
		{"Fucheng", 19.99, 110.35, true},
		{"Meilan airport", 19.935, 110.459, true},
		{"Qiongzhou strait", 20.15, 110.30, false},
		{"Haikou bay", 20.06, 110.29, false},
		{"off Xixiu beach", 20.07, 110.20, false},
	}
	for _, tt := range tests {
		if got := OnLand(tt.lat, tt.lng); got != tt.land {
			t.Errorf("%s (%v, %v): on land %v, want %v", tt.place, tt.lat, tt.lng, got, tt.land)
		}
	}
}

// TestPlacesOnLand: every place the demo puts on the map is on land and in
// the district it names.
func TestPlacesOnLand(t *testing.T) {
	ds := toDistricts()
	for _, c := range Cameras() {
		if got, ok := geo.DistrictAt(ds, c.Lat, c.Lng); !ok || got.Name != c.District || !OnLand(c.Lat, c.Lng) {
			t.Errorf("camera %s (%v, %v): in %q, want %s; on land %v", c.ID, c.Lat, c.Lng, got.Name, c.District, OnLand(c.Lat, c.Lng))
		}
	}
	for _, h := range haikouHotspots() {
		if _, ok := geo.DistrictAt(ds, h.lat, h.lng); !ok || !OnLand(h.lat, h.lng) {
			t.Errorf("hotspot (%v, %v): in a district %v, on land %v", h.lat, h.lng, ok, OnLand(h.lat, h.lng))
		}
	}
	for _, d := range districtSeeds() {
		for _, st := range d.streets {
			got, ok := geo.DistrictAt(ds, st.lat, st.lng)
			if !ok || got.Name != d.name || !OnLand(st.lat, st.lng) {
				t.Errorf("street %s (%v, %v): in %q, want %s; on land %v", st.name, st.lat, st.lng, got.Name, d.name, OnLand(st.lat, st.lng))
			}
		}
	}
	c := newCity()
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		lat, lng, ref := c.place(rng)
		d, _ := c.grid(ref)
		got, ok := geo.DistrictAt(ds, lat, lng)
		if !ok || got.Name != d.Name || !OnLand(lat, lng) {
			t.Fatalf("placed (%v, %v) in %s: DistrictAt %q %v, on land %v", lat, lng, d.Name, got.Name, ok, OnLand(lat, lng))
		}
	}
}
