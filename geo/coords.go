package geo

import (
	"fmt"
	"math"
)

// CoordError reports an unusable coordinate: which one, its value and why.
type CoordError struct {
	Name   string // "lat" or "lng"
	Value  float64
	Reason string
}

func (e *CoordError) Error() string {
	if math.IsNaN(e.Value) || math.IsInf(e.Value, 0) {
		return e.Name + " " + e.Reason
	}
	return fmt.Sprintf("%s %g %s", e.Name, e.Value, e.Reason)
}

// ValidLatLng reports whether lat/lng is a usable WGS84 coordinate. The
// error is a *CoordError naming the offending coordinate and why.
func ValidLatLng(lat, lng float64) error {
	if err := validCoord("lat", lat, 90); err != nil {
		return err
	}
	return validCoord("lng", lng, 180)
}

func validCoord(name string, v, limit float64) error {
	switch {
	case math.IsNaN(v):
		return &CoordError{name, v, "is NaN"}
	case math.IsInf(v, 0):
		return &CoordError{name, v, "is infinite"}
	case v < -limit || v > limit:
		return &CoordError{name, v, fmt.Sprintf("out of range -%g..%g", limit, limit)}
	}
	return nil
}

// The GCJ-02 offset is defined on the Krasovsky 1940 ellipsoid.
const (
	krasovskyA  = 6378245.0              // semi-major axis, metres
	krasovskyEE = 0.00669342162296594323 // first eccentricity squared

	// bd09Pi is the constant Baidu's published GCJ-02 <-> BD-09 formulas use.
	bd09Pi = math.Pi * 3000.0 / 180.0

	// inverseTol stops the iterative inverses: 1e-9 degree is about 0.1 mm,
	// far below the 0.5 m the callers need.
	inverseTol  = 1e-9
	inverseIter = 30
)

// OutOfChina reports whether a point lies outside the rough bounding box of
// China where the GCJ-02 offset is applied. Outside it, GCJ-02 equals WGS84.
// The box is the one the published formulas use, so conversions agree with
// the map providers' own.
func OutOfChina(lat, lng float64) bool {
	return lng < 72.004 || lng > 137.8347 || lat < 0.8293 || lat > 55.8271
}

// WGS84ToGCJ02 applies the GCJ-02 offset to a WGS84 point.
func WGS84ToGCJ02(lat, lng float64) (float64, float64) {
	if OutOfChina(lat, lng) {
		return lat, lng
	}
	dLat, dLng := gcjDelta(lat, lng)
	return lat + dLat, lng + dLng
}

// GCJ02ToWGS84 removes the GCJ-02 offset. The offset has no closed-form
// inverse, so it iterates w <- w - (forward(w) - g); the offset's derivative
// is tiny, so this converts in a few steps to well under a millimetre.
func GCJ02ToWGS84(lat, lng float64) (float64, float64) {
	if OutOfChina(lat, lng) {
		return lat, lng
	}
	return invert(lat, lng, WGS84ToGCJ02)
}

// GCJ02ToBD09 applies Baidu's BD-09 offset to a GCJ-02 point.
func GCJ02ToBD09(lat, lng float64) (float64, float64) {
	x, y := lng, lat
	z := math.Sqrt(x*x+y*y) + 0.00002*math.Sin(y*bd09Pi)
	theta := math.Atan2(y, x) + 0.000003*math.Cos(x*bd09Pi)
	return z*math.Sin(theta) + 0.006, z*math.Cos(theta) + 0.0065
}

// BD09ToGCJ02 removes Baidu's BD-09 offset. The published one-step inverse
// is only approximate, so it is refined by the same iteration as GCJ-02.
func BD09ToGCJ02(lat, lng float64) (float64, float64) {
	x, y := lng-0.0065, lat-0.006
	z := math.Sqrt(x*x+y*y) - 0.00002*math.Sin(y*bd09Pi)
	theta := math.Atan2(y, x) - 0.000003*math.Cos(x*bd09Pi)
	gLat, gLng := z*math.Sin(theta), z*math.Cos(theta)
	return refine(lat, lng, gLat, gLng, GCJ02ToBD09)
}

// WGS84ToBD09 converts a WGS84 point to Baidu's BD-09 (through GCJ-02).
func WGS84ToBD09(lat, lng float64) (float64, float64) {
	return GCJ02ToBD09(WGS84ToGCJ02(lat, lng))
}

// BD09ToWGS84 converts a Baidu BD-09 point to WGS84 (through GCJ-02).
func BD09ToWGS84(lat, lng float64) (float64, float64) {
	return GCJ02ToWGS84(BD09ToGCJ02(lat, lng))
}

// invert finds w with forward(w) == (lat, lng), starting from the target.
func invert(lat, lng float64, forward func(lat, lng float64) (float64, float64)) (float64, float64) {
	return refine(lat, lng, lat, lng, forward)
}

// refine improves a guess (wLat, wLng) for the preimage of (lat, lng) under
// forward by fixed-point iteration.
func refine(lat, lng, wLat, wLng float64, forward func(lat, lng float64) (float64, float64)) (float64, float64) {
	for range inverseIter {
		fLat, fLng := forward(wLat, wLng)
		dLat, dLng := fLat-lat, fLng-lng
		wLat -= dLat
		wLng -= dLng
		if math.Abs(dLat) < inverseTol && math.Abs(dLng) < inverseTol {
			break
		}
	}
	return wLat, wLng
}

// gcjDelta is the GCJ-02 offset in degrees at a WGS84 point.
func gcjDelta(lat, lng float64) (dLat, dLng float64) {
	x, y := lng-105.0, lat-35.0
	dLat = gcjLat(x, y)
	dLng = gcjLng(x, y)
	radLat := lat / 180.0 * math.Pi
	magic := math.Sin(radLat)
	magic = 1 - krasovskyEE*magic*magic
	sqrtMagic := math.Sqrt(magic)
	dLat = (dLat * 180.0) / ((krasovskyA * (1 - krasovskyEE)) / (magic * sqrtMagic) * math.Pi)
	dLng = (dLng * 180.0) / (krasovskyA / sqrtMagic * math.Cos(radLat) * math.Pi)
	return dLat, dLng
}

func gcjLat(x, y float64) float64 {
	r := -100.0 + 2.0*x + 3.0*y + 0.2*y*y + 0.1*x*y + 0.2*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(y*math.Pi) + 40.0*math.Sin(y/3.0*math.Pi)) * 2.0 / 3.0
	r += (160.0*math.Sin(y/12.0*math.Pi) + 320.0*math.Sin(y*math.Pi/30.0)) * 2.0 / 3.0
	return r
}

func gcjLng(x, y float64) float64 {
	r := 300.0 + x + 2.0*y + 0.1*x*x + 0.1*x*y + 0.1*math.Sqrt(math.Abs(x))
	r += (20.0*math.Sin(6.0*x*math.Pi) + 20.0*math.Sin(2.0*x*math.Pi)) * 2.0 / 3.0
	r += (20.0*math.Sin(x*math.Pi) + 40.0*math.Sin(x/3.0*math.Pi)) * 2.0 / 3.0
	r += (150.0*math.Sin(x/12.0*math.Pi) + 300.0*math.Sin(x/30.0*math.Pi)) * 2.0 / 3.0
	return r
}
