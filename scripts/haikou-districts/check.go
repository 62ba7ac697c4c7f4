package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/citywall/citywall/geo"
)

// check measures how far the outlines' coastal points lie from a WGS84
// coastline when read as GCJ-02 (converted) and as WGS84 (taken as they
// are). The datum under which the coast fits is the source's.
func check(tgz, coastFile string) error {
	js, err := readMember(tgz, member)
	if err != nil {
		return err
	}
	fc, err := decode(js)
	if err != nil {
		return err
	}
	coast, err := readCoast(coastFile)
	if err != nil {
		return err
	}
	var asWGS, asGCJ []float64 // metres to the coast of each outline point near it
	var raw [][2]float64       // the coastal points as the source has them
	for _, f := range fc.Features {
		for _, ring := range f.Geometry.Coordinates {
			for _, p := range ring {
				// decode converted GCJ-02 to WGS84; undo that for the raw reading.
				gLat, gLng := geo.WGS84ToGCJ02(p[1], p[0])
				dConv, dRaw := toCoast(coast, p[1], p[0]), toCoast(coast, gLat, gLng)
				if dConv < 2000 && dRaw < 2000 { // coastal points only; inland borders are far from both
					asGCJ = append(asGCJ, dConv)
					asWGS = append(asWGS, dRaw)
					raw = append(raw, [2]float64{gLat, gLng})
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		d    []float64
	}{{"source read as GCJ-02, converted to WGS84", asGCJ}, {"source read as WGS84, unconverted", asWGS}} {
		slices.Sort(c.d)
		var sum float64
		for _, v := range c.d {
			sum += v
		}
		n := len(c.d)
		if n == 0 {
			return fmt.Errorf("no outline point within 2 km of the coastline in %s", coastFile)
		}
		fmt.Printf("%-44s coastal points %d: median %4.0f m, mean %4.0f m, 90th %4.0f m to the coast\n",
			c.name, n, c.d[n/2], sum/float64(n), c.d[n*9/10])
	}
	e, n, m := bestShift(coast, raw)
	lat, lng := raw[0][0], raw[0][1]
	wLat, wLng := geo.GCJ02ToWGS84(lat, lng)
	fmt.Printf("best fit of the raw coastal points: move %.0f m east, %.0f m north (median %.0f m)\n", e, n, m)
	fmt.Printf("GCJ-02 -> WGS84 here moves a point %.0f m east, %.0f m north\n",
		(wLng-lng)*111_320*math.Cos(lat*math.Pi/180), (wLat-lat)*110_574)
	return nil
}

// readCoast reads GMT multi-segment "lon lat" text into segments.
func readCoast(name string) ([][][2]float64, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var segs [][][2]float64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, ">") {
			segs = append(segs, nil)
			continue
		}
		fs := strings.Fields(line)
		if len(fs) < 2 || len(segs) == 0 {
			return nil, fmt.Errorf("%s: not GMT multi-segment lon/lat text: %q", name, line)
		}
		lng, err1 := strconv.ParseFloat(fs[0], 64)
		lat, err2 := strconv.ParseFloat(fs[1], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: bad coordinate line %q", name, line)
		}
		segs[len(segs)-1] = append(segs[len(segs)-1], [2]float64{lat, lng})
	}
	return segs, sc.Err()
}

// toCoast is the distance in metres from a point to the nearest coastline
// segment (equirectangular, fine over a city).
func toCoast(segs [][][2]float64, lat, lng float64) float64 {
	const mLat = 110_574.0
	mLng := 111_320.0 * math.Cos(lat*math.Pi/180)
	best := math.Inf(1)
	for _, s := range segs {
		for i := 1; i < len(s); i++ {
			ax, ay := (s[i-1][1]-lng)*mLng, (s[i-1][0]-lat)*mLat
			bx, by := (s[i][1]-lng)*mLng, (s[i][0]-lat)*mLat
			dx, dy := bx-ax, by-ay
			t := 0.0
			if l := dx*dx + dy*dy; l > 0 {
				t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
			}
			best = math.Min(best, math.Hypot(ax+t*dx, ay+t*dy))
		}
	}
	return best
}

// bestShift finds the translation (metres east, north) of the raw points
// that brings them closest to the coast (median distance), on a 50 m grid.
func bestShift(coast [][][2]float64, pts [][2]float64) (east, north, median float64) {
	const mLat = 110_574.0
	median = math.Inf(1)
	for e := -1500.0; e <= 1500; e += 50 {
		for n := -1500.0; n <= 1500; n += 50 {
			var d []float64
			for _, p := range pts {
				lat := p[0] + n/mLat
				lng := p[1] + e/(111_320.0*math.Cos(p[0]*math.Pi/180))
				d = append(d, toCoast(coast, lat, lng))
			}
			slices.Sort(d)
			if m := d[len(d)/2]; m < median {
				east, north, median = e, n, m
			}
		}
	}
	return east, north, median
}
