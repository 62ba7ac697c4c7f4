package web

import (
	"net/http"
	"os"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
)

// The basemaps of map.basemap. builtin: the sea, the land, the districts,
// the main roads (the feeds' road polylines) and the reservoirs, as one
// GeoJSON FeatureCollection whose features say what they are in "kind".
// pmtiles: the centre's PMTiles archive, served as it is; the browser reads
// its directories and tiles with range requests. Both are drawn by
// js/citymap.js, and only for signed-in pages: a city's map is not public.

// basemapArchivePath is where the pmtiles basemap's archive is read.
const basemapArchivePath = "/api/v1/basemap.pmtiles"

type gjFeature struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
	Geometry   gjGeometry     `json:"geometry"`
}

type gjGeometry struct {
	Type        string `json:"type"`
	Coordinates any    `json:"coordinates"`
}

// lngLat turns [lat, lng] points into GeoJSON's [lng, lat], closing the
// ring when ring is set.
func lngLat(pts [][2]float64, ring bool) [][2]float64 {
	out := make([][2]float64, 0, len(pts)+1)
	for _, p := range pts {
		out = append(out, [2]float64{p[1], p[0]})
	}
	if ring && len(out) > 0 && out[0] != out[len(out)-1] {
		out = append(out, out[0])
	}
	return out
}

// signedArea is twice the ring's signed area (positive counter-clockwise).
func signedArea(r [][2]float64) float64 {
	var a float64
	for i := range r {
		j := (i + 1) % len(r)
		a += r[i][0]*r[j][1] - r[j][0]*r[i][1]
	}
	return a
}

// orient returns r wound counter-clockwise when ccw, clockwise otherwise.
func orient(r [][2]float64, ccw bool) [][2]float64 {
	if (signedArea(r) > 0) != ccw {
		out := make([][2]float64, len(r))
		for i, p := range r {
			out[len(r)-1-i] = p
		}
		return out
	}
	return r
}

// basemapFeatures builds the builtin basemap from the land's rings, the
// districts and the feed stations.
func basemapFeatures(land [][][2]float64, districts []District, stations []feeds.Station) []gjFeature {
	var fs []gjFeature
	if len(land) > 0 {
		// The sea is a box around the land with the land cut out: drawn
		// over the districts' fills, it hides where their outlines run out
		// into the sea, and the coast is what remains.
		minLat, minLng, maxLat, maxLng := 90.0, 180.0, -90.0, -180.0
		var landPolys [][][][2]float64
		sea := [][][2]float64{nil}
		for _, r := range land {
			for _, p := range r {
				minLat, maxLat = min(minLat, p[0]), max(maxLat, p[0])
				minLng, maxLng = min(minLng, p[1]), max(maxLng, p[1])
			}
			g := lngLat(r, true)
			landPolys = append(landPolys, [][][2]float64{orient(g, true)})
			sea = append(sea, orient(g, false))
		}
		sea[0] = [][2]float64{{minLng, minLat}, {maxLng, minLat}, {maxLng, maxLat}, {minLng, maxLat}, {minLng, minLat}}
		fs = append(fs,
			gjFeature{"Feature", map[string]any{"kind": "land"}, gjGeometry{"MultiPolygon", landPolys}},
			gjFeature{"Feature", map[string]any{"kind": "sea"}, gjGeometry{"Polygon", sea}})
	}
	for _, d := range districts {
		if len(d.Polygon) < 3 {
			continue
		}
		fs = append(fs, gjFeature{"Feature", map[string]any{"kind": "district", "name": d.Name, "name_en": d.NameEn},
			gjGeometry{"Polygon", [][][2]float64{orient(lngLat(d.Polygon, true), true)}}})
	}
	for _, st := range stations {
		props := map[string]any{"kind": string(st.Kind), "id": st.ID, "name": st.Name, "name_en": st.NameEn}
		switch {
		case st.Kind == feeds.Road && len(st.Polyline) >= 2:
			props["key"] = st.Key
			fs = append(fs, gjFeature{"Feature", props, gjGeometry{"LineString", lngLat(st.Polyline, false)}})
		case st.Kind == feeds.Reservoir:
			fs = append(fs, gjFeature{"Feature", props, gjGeometry{"Point", [2]float64{st.Lng, st.Lat}}})
		}
	}
	return fs
}

// handleBasemap serves the builtin basemap's GeoJSON.
func (s *Server) handleBasemap(w http.ResponseWriter, _ *http.Request) {
	fs := basemapFeatures(s.land, s.districts, s.feed.Stations())
	if fs == nil {
		fs = []gjFeature{}
	}
	w.Header().Set("Cache-Control", "private, max-age=300")
	writeJSON(w, http.StatusOK, map[string]any{"type": "FeatureCollection", "features": fs})
}

// handleBasemapArchive serves the pmtiles basemap's archive, whole or in
// the byte ranges asked for (206 Partial Content). The file is opened for
// each request, so an archive replaced on disk is served at once.
func (s *Server) handleBasemapArchive(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Map.Basemap != config.BasemapPMTiles {
		writeError(w, http.StatusNotFound, codeNotFound, "map.basemap is not pmtiles")
		return
	}
	f, err := os.Open(s.cfg.Map.PMTiles)
	if err != nil {
		s.log.Error("basemap archive", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the basemap archive cannot be read")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.log.Error("basemap archive", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the basemap archive cannot be read")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/vnd.pmtiles")
	h.Set("Cache-Control", "private, no-cache")
	http.ServeContent(w, r, "", st.ModTime(), f)
}
