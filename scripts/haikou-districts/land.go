package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/simplify"
)

// landSource names where land.geojson comes from.
const landSource = "GSHHG 2.3.7 high resolution (Debian gmt-gshhg-high), rasterised at 0.001° " +
	"by gmt grdlandmask -Dh -N0/1/1/1/1 and outlined by gmt grdcontour -C+0.5; see scripts/haikou-land.sh"

// writeLand reads the closed 0.5 contours of a land mask (GMT multi-segment
// text) and writes them, simplified, as one GeoJSON MultiPolygon of land:
// every contour is one polygon, so a point is on land when an odd number of
// them hold it (a lake in an island in a lake stays right).
func writeLand(contours, out string) error {
	segs, err := readCoast(contours)
	if err != nil {
		return err
	}
	var mp orb.MultiPolygon
	for i, s := range segs {
		if len(s) < 4 || s[0] != s[len(s)-1] {
			return fmt.Errorf("%s: contour %d is not closed (pad the mask with water so every contour closes)", contours, i)
		}
		var ring orb.Ring
		for _, p := range s {
			ring = append(ring, orb.Point{p[1], p[0]})
		}
		// 0.0004° (about 40 m) keeps the coast's shape and drops the
		// raster's stair steps.
		ring = simplify.DouglasPeucker(0.0004).Ring(ring)
		if len(ring) < 4 {
			continue
		}
		if ring.Orientation() != orb.CCW {
			ring.Reverse()
		}
		for i := range ring {
			ring[i] = orb.Point{round6(ring[i][0]), round6(ring[i][1])}
		}
		mp = append(mp, orb.Polygon{ring})
	}
	fc := map[string]any{
		"type": "FeatureCollection", "source": landSource, "license": "LGPL-3.0-or-later (GSHHG, P. Wessel and W. H. F. Smith)",
		"features": []any{map[string]any{"type": "Feature", "properties": map[string]any{"kind": "land"},
			"geometry": map[string]any{"type": "MultiPolygon", "coordinates": mp}}},
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return err
	}
	s := strings.ReplaceAll(string(b), "]]],[[[", "]]],\n[[[")
	return os.WriteFile(out, []byte(s+"\n"), 0o644)
}
