package city

import (
	"regexp"
	"strings"
	"testing"

	"github.com/citywall/citywall/geo"
)

func TestDistrictsGeography(t *testing.T) {
	ds := Districts()
	if len(ds) != 4 {
		t.Fatalf("got %d districts, want 4", len(ds))
	}
	byName := map[string]District{}
	for _, d := range ds {
		byName[d.Name] = d
	}
	// Places whose district is known, and each district's rough longitude span.
	tests := []struct {
		place    string
		lat, lng float64
		district string
	}{
		{"Longhua centre", 20.03, 110.32, "龙华区"},
		{"Haidian island", 20.06, 110.34, "美兰区"},
		{"Haifu road", 20.02, 110.35, "美兰区"},
		{"Fucheng", 20.00, 110.35, "琼山区"},
		{"Meilan airport", 19.93, 110.46, "美兰区"},
		{"Xiuying port", 20.02, 110.26, "秀英区"},
		{"Changliu", 19.99, 110.17, "秀英区"},
		{"Yanfeng", 20.03, 110.56, "美兰区"},
		{"Hongqi", 19.80, 110.55, "琼山区"},
	}
	for _, tt := range tests {
		t.Run(tt.place, func(t *testing.T) {
			var in []string
			for _, d := range ds {
				if geo.InPolygon(d.Polygon, tt.lat, tt.lng) {
					in = append(in, d.Name)
				}
			}
			if len(in) != 1 || in[0] != tt.district {
				t.Errorf("(%v, %v) is in %v, want %s", tt.lat, tt.lng, in, tt.district)
			}
		})
	}
	// Each district's bounds (lng, lat), as decoded from the source.
	spans := map[string][4]float64{
		"秀英区": {110.10, 110.34, 19.68, 20.09},
		"龙华区": {110.24, 110.42, 19.71, 20.07},
		"琼山区": {110.32, 110.67, 19.52, 20.02},
		"美兰区": {110.28, 110.71, 19.75, 20.12},
	}
	for name, span := range spans {
		t.Run("span "+name, func(t *testing.T) {
			d, ok := byName[name]
			if !ok {
				t.Fatalf("no district %s", name)
			}
			if d.NameEn == "" || d.ID == "" || d.Weight <= 0 || len(d.Polygon) < 4 {
				t.Errorf("incomplete district %+v", d)
			}
			for _, v := range d.Polygon {
				if v[1] < span[0] || v[1] > span[1] || v[0] < span[2] || v[0] > span[3] {
					t.Errorf("vertex %v outside %v", v, span)
				}
			}
		})
	}
}

func TestDistrictsDoNotOverlap(t *testing.T) {
	ds := Districts()
	for lat := 19.50; lat <= 20.13; lat += 0.004 {
		for lng := 110.05; lng <= 110.72; lng += 0.004 {
			n := 0
			for _, d := range ds {
				if geo.InPolygon(d.Polygon, lat, lng) {
					n++
				}
			}
			if n > 1 {
				t.Fatalf("(%.3f, %.3f) is in %d districts", lat, lng, n)
			}
		}
	}
}

func TestGrids(t *testing.T) {
	ds := Districts()
	idRE := regexp.MustCompile(`^(秀英|龙华|琼山|美兰)-\p{Han}+-\d{3}$`)
	seen := map[string]bool{}
	total := 0
	for _, d := range ds {
		t.Run(d.NameEn, func(t *testing.T) {
			streets := map[string]int{}
			for _, g := range d.Grids {
				if !idRE.MatchString(g.ID) || !strings.HasPrefix(g.ID, strings.TrimSuffix(d.Name, "区")+"-") {
					t.Errorf("bad grid id %q", g.ID)
				}
				if seen[g.ID] {
					t.Errorf("duplicate grid id %q", g.ID)
				}
				seen[g.ID] = true
				if !geo.InPolygon(d.Polygon, g.Center[0], g.Center[1]) {
					t.Errorf("grid %s centre %v outside its district", g.ID, g.Center)
				}
				if !OnLand(g.Center[0], g.Center[1]) {
					t.Errorf("grid %s centre %v in the sea", g.ID, g.Center)
				}
				if g.Street == "" || g.StreetEn == "" || g.reachM <= 0 || g.reachM > 6000 {
					t.Errorf("incomplete grid %+v", g)
				}
				streets[g.Street]++
			}
			for _, seed := range districtSeeds() {
				if seed.name != d.Name {
					continue
				}
				for _, st := range seed.streets {
					if streets[st.name] == 0 {
						t.Errorf("street %s has no grid", st.name)
					}
				}
			}
		})
		total += len(d.Grids)
	}
	if total < 300 || total > 700 {
		t.Errorf("%d grids, want a few hundred", total)
	}
}

func TestDistrictsIsACopy(t *testing.T) {
	a := Districts()
	a[0].Polygon[0][0] = 0
	a[0].Grids[0].ID = "x"
	b := Districts()
	if b[0].Polygon[0][0] == 0 || b[0].Grids[0].ID == "x" {
		t.Error("Districts shares state between calls")
	}
}

func TestLocate(t *testing.T) {
	c := newCity()
	tests := []struct {
		name     string
		lat, lng float64
		district string
		ok       bool
	}{
		{"Longhua centre", 20.03, 110.32, "龙华区", true},
		{"Fucheng", 20.00, 110.35, "琼山区", true},
		{"open sea", 20.20, 110.35, "", false},
		{"Ding'an county", 19.60, 110.25, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, ok := c.locate(tt.lat, tt.lng)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			d, g := c.grid(ref)
			if d.Name != tt.district {
				t.Errorf("district %s, want %s", d.Name, tt.district)
			}
			if dist := distance(tt.lat, tt.lng, g.Center[0], g.Center[1]); dist > g.reachM {
				t.Errorf("grid %s is %.0f m away", g.ID, dist)
			}
		})
	}
}
