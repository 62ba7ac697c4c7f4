package city

import (
	"math"
	"math/rand/v2"
	"sort"

	"github.com/citywall/citywall/geo"
)

// hotspot is a dense neighbourhood where requests cluster.
type hotspot struct {
	lat, lng float64
	sigmaM   float64 // spread, metres
	weight   float64
}

// haikouHotspots are Haikou's busiest neighbourhoods: Longhua's centre
// around Guomao, Haidian island, Meilan's old town along Haifu road,
// Qiongshan's Fucheng, and Xiuying's town centre.
func haikouHotspots() []hotspot {
	return []hotspot{
		{20.030, 110.320, 1100, 0.30},
		{20.060, 110.340, 900, 0.20},
		{20.020, 110.350, 700, 0.18},
		{20.000, 110.350, 800, 0.18},
		{20.018, 110.268, 900, 0.14},
	}
}

// hotspotShare is the share of requests drawn around a hotspot; the rest
// spread over the grids of every district.
const hotspotShare = 0.6

// city indexes the districts for placing and locating points.
type city struct {
	districts []District
	hotspots  []hotspot
	// background picks a grid, weighted by district and grid density.
	bgCum  []float64
	bgGrid []gridRef
	hsCum  []float64
}

type gridRef struct{ d, g int }

func newCity() *city {
	c := &city{districts: Districts(), hotspots: haikouHotspots()}
	var acc float64
	for di, d := range c.districts {
		var sum float64
		for _, g := range d.Grids {
			sum += g.weight
		}
		for gi, g := range d.Grids {
			acc += d.Weight * g.weight / sum
			c.bgCum = append(c.bgCum, acc)
			c.bgGrid = append(c.bgGrid, gridRef{di, gi})
		}
	}
	acc = 0
	for _, h := range c.hotspots {
		acc += h.weight
		c.hsCum = append(c.hsCum, acc)
	}
	return c
}

// pick returns an index into cum (a cumulative weight table) drawn by weight.
func pick(rng *rand.Rand, cum []float64) int {
	u := rng.Float64() * cum[len(cum)-1]
	return sort.SearchFloat64s(cum, u)
}

// locate returns the district and grid a point falls in; points beyond the
// reach of every grid (the sea, the city's edge) are in none.
func (c *city) locate(lat, lng float64) (gridRef, bool) {
	if !OnLand(lat, lng) {
		return gridRef{}, false
	}
	for di, d := range c.districts {
		if !geo.InPolygon(d.Polygon, lat, lng) {
			continue
		}
		// Squared equirectangular metres, with the cosine taken once: this
		// runs for every candidate point.
		kx := metresPerDegLng * math.Cos(lat*math.Pi/180)
		best, bestD2 := -1, 0.0
		for gi, g := range d.Grids {
			dy, dx := (g.Center[0]-lat)*metresPerDegLat, (g.Center[1]-lng)*kx
			if d2 := dy*dy + dx*dx; best < 0 || d2 < bestD2 {
				best, bestD2 = gi, d2
			}
		}
		if best < 0 || bestD2 > d.Grids[best].reachM*d.Grids[best].reachM {
			return gridRef{}, false
		}
		return gridRef{di, best}, true
	}
	return gridRef{}, false
}

func (c *city) grid(r gridRef) (District, Grid) {
	d := c.districts[r.d]
	return d, d.Grids[r.g]
}

// place draws a request location: around a hotspot, or near a grid centre.
// Points that fall in the sea or outside the city are drawn again; the
// first hotspot's centre is the fallback should that keep happening.
func (c *city) place(rng *rand.Rand) (lat, lng float64, ref gridRef) {
	for range 32 {
		if rng.Float64() < hotspotShare {
			h := c.hotspots[pick(rng, c.hsCum)]
			lat, lng = offset(h.lat, h.lng, rng.NormFloat64()*h.sigmaM, rng.NormFloat64()*h.sigmaM)
		} else {
			r := c.bgGrid[pick(rng, c.bgCum)]
			g := c.districts[r.d].Grids[r.g]
			spread := 400.0
			if g.weight < 1 {
				spread = 1500 // village grids are large
			}
			lat, lng = offset(g.Center[0], g.Center[1], rng.NormFloat64()*spread, rng.NormFloat64()*spread)
		}
		if ref, ok := c.locate(lat, lng); ok {
			return lat, lng, ref
		}
	}
	h := c.hotspots[0]
	ref, _ = c.locate(h.lat, h.lng)
	return h.lat, h.lng, ref
}
