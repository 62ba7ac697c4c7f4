package city

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/citywall/citywall/geo"
)

// The outlines of Haikou's districts and the land around them; see
// haikou/README.md for their sources, licences and datum.
var (
	//go:embed haikou/districts.geojson
	districtsGeoJSON []byte
	//go:embed haikou/land.geojson
	landGeoJSON []byte
)

// outlines are the districts' outer rings as [lat, lng] by division code,
// and land the land's rings, decoded once.
var outlines, land = mustDecode()

func mustDecode() (map[string][][2]float64, [][][2]float64) {
	o, err := decodeDistricts(districtsGeoJSON)
	if err != nil {
		panic("demo/city: haikou/districts.geojson: " + err.Error())
	}
	l, err := decodeLand(landGeoJSON)
	if err != nil {
		panic("demo/city: haikou/land.geojson: " + err.Error())
	}
	return o, l
}

type featureCollection struct {
	Features []struct {
		Properties struct {
			ID string `json:"id"`
		} `json:"properties"`
		Geometry struct {
			Type        string          `json:"type"`
			Coordinates json.RawMessage `json:"coordinates"`
		} `json:"geometry"`
	} `json:"features"`
}

func decodeDistricts(b []byte) (map[string][][2]float64, error) {
	var fc featureCollection
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, err
	}
	out := map[string][][2]float64{}
	for _, f := range fc.Features {
		var rings [][][2]float64
		if f.Geometry.Type != "Polygon" {
			return nil, fmt.Errorf("district %s: a %s, want a Polygon", f.Properties.ID, f.Geometry.Type)
		}
		if err := json.Unmarshal(f.Geometry.Coordinates, &rings); err != nil || len(rings) == 0 {
			return nil, fmt.Errorf("district %s: bad coordinates: %v", f.Properties.ID, err)
		}
		out[f.Properties.ID] = latLng(rings[0])
	}
	return out, nil
}

func decodeLand(b []byte) ([][][2]float64, error) {
	var fc featureCollection
	if err := json.Unmarshal(b, &fc); err != nil {
		return nil, err
	}
	var out [][][2]float64
	for _, f := range fc.Features {
		var polys [][][][2]float64
		if f.Geometry.Type != "MultiPolygon" {
			return nil, fmt.Errorf("land: a %s, want a MultiPolygon", f.Geometry.Type)
		}
		if err := json.Unmarshal(f.Geometry.Coordinates, &polys); err != nil {
			return nil, fmt.Errorf("land: bad coordinates: %w", err)
		}
		for _, p := range polys {
			for _, r := range p {
				out = append(out, latLng(r))
			}
		}
	}
	return out, nil
}

// latLng turns a closed GeoJSON ring of [lng, lat] into an open ring of
// [lat, lng], as geo.District and the configuration hold them.
func latLng(ring [][2]float64) [][2]float64 {
	if n := len(ring); n > 1 && ring[0] == ring[n-1] {
		ring = ring[:n-1]
	}
	out := make([][2]float64, len(ring))
	for i, p := range ring {
		out[i] = [2]float64{p[1], p[0]}
	}
	return out
}

// geoDistricts are the districts as geo.DistrictAt takes them.
var geoDistricts = func() []geo.District {
	var out []geo.District
	for _, d := range Districts() {
		out = append(out, geo.District{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
	}
	return out
}()

// DistrictOf names the district a point is in, by geo.DistrictAt.
func DistrictOf(lat, lng float64) (string, bool) {
	d, ok := geo.DistrictAt(geoDistricts, lat, lng)
	return d.Name, ok
}

// OnLand reports whether a point is on land (not in the sea, a river
// mouth or a bay) by the embedded coastline.
func OnLand(lat, lng float64) bool {
	in := false
	for _, r := range land {
		if geo.InPolygon(r, lat, lng) {
			in = !in
		}
	}
	return in
}

// Land returns the land around Haikou as [lat, lng] rings: a point is on
// land when an odd number of them hold it. The result is the caller's.
func Land() [][][2]float64 {
	out := make([][][2]float64, len(land))
	for i, r := range land {
		out[i] = append([][2]float64(nil), r...)
	}
	return out
}
