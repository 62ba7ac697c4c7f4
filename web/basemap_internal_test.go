package web

import (
	"testing"

	"github.com/citywall/citywall/feeds"
)

func TestBasemapFeatures(t *testing.T) {
	land := [][][2]float64{{{20, 110}, {20, 110.2}, {20.1, 110.2}, {20.1, 110}}} // [lat, lng], clockwise in lng/lat
	ds := []District{{Name: "甲区", NameEn: "Jia", Polygon: [][2]float64{{20, 110}, {20.1, 110}, {20.1, 110.1}}}}
	st := []feeds.Station{
		{ID: "r1", Kind: feeds.Road, Name: "大道", Key: true, Polyline: [][2]float64{{20.01, 110.01}, {20.02, 110.02}}},
		{ID: "w1", Kind: feeds.Reservoir, Name: "水库", Lat: 20.05, Lng: 110.05},
		{ID: "x1", Kind: feeds.Rain, Name: "雨量", Lat: 20.05, Lng: 110.05},
	}
	kinds := map[string]gjFeature{}
	for _, f := range basemapFeatures(land, ds, st) {
		kinds[f.Properties["kind"].(string)] = f
	}
	if len(kinds) != 5 {
		t.Fatalf("kinds %v, want land, sea, district, road, reservoir", kinds)
	}
	sea := kinds["sea"].Geometry.Coordinates.([][][2]float64)
	if len(sea) != 2 || signedArea(sea[0]) <= 0 || signedArea(sea[1]) >= 0 {
		t.Errorf("sea: want a counter-clockwise box with the land as a clockwise hole, got %v", sea)
	}
	if sea[1][0] != [2]float64{110, 20} || sea[1][0] != sea[1][len(sea[1])-1] {
		t.Errorf("the land hole is not closed [lng, lat]: %v", sea[1])
	}
	if r := kinds["road"]; r.Geometry.Type != "LineString" || r.Properties["key"] != true {
		t.Errorf("road: %+v", r)
	}
	if w := kinds["reservoir"]; w.Geometry.Coordinates != [2]float64{110.05, 20.05} {
		t.Errorf("reservoir: %+v", w)
	}
	if basemapFeatures(nil, nil, nil) != nil {
		t.Error("nothing to draw should give no features")
	}
}
