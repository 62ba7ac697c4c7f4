package geo

import (
	"errors"
	"math"
	"testing"

	"github.com/uber/h3-go/v4"
)

// metres between two WGS84 points.
func metres(lat1, lng1, lat2, lng2 float64) float64 {
	return h3.GreatCircleDistanceM(h3.LatLng{Lat: lat1, Lng: lng1}, h3.LatLng{Lat: lat2, Lng: lng2})
}

func TestValidLatLng(t *testing.T) {
	tests := []struct {
		name     string
		lat, lng float64
		field    string // "" for valid
		msg      string
	}{
		{"haikou", 20.03, 110.33, "", ""},
		{"poles and antimeridian", -90, 180, "", ""},
		{"lat NaN", math.NaN(), 0, "lat", "lat is NaN"},
		{"lng NaN", 0, math.NaN(), "lng", "lng is NaN"},
		{"lat inf", math.Inf(1), 0, "lat", "lat is infinite"},
		{"lng -inf", 0, math.Inf(-1), "lng", "lng is infinite"},
		{"lat high", 90.5, 0, "lat", "lat 90.5 out of range -90..90"},
		{"lng low", 0, -181, "lng", "lng -181 out of range -180..180"},
		{"swapped", 110.33, 20.03, "lat", "lat 110.33 out of range -90..90"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidLatLng(tt.lat, tt.lng)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var ce *CoordError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want *CoordError", err)
			}
			if ce.Name != tt.field || err.Error() != tt.msg {
				t.Errorf("got %q (field %s), want %q (field %s)", err, ce.Name, tt.msg, tt.field)
			}
		})
	}
}

func TestOutOfChina(t *testing.T) {
	tests := []struct {
		name     string
		lat, lng float64
		out      bool
	}{
		{"haikou", 20.03, 110.33, false},
		{"beijing", 39.91, 116.40, false},
		{"urumqi", 43.83, 87.62, false},
		{"tokyo", 35.68, 139.76, true},
		{"paris", 48.86, 2.35, true},
		{"sydney", -33.87, 151.21, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OutOfChina(tt.lat, tt.lng); got != tt.out {
				t.Errorf("OutOfChina(%g, %g) = %v, want %v", tt.lat, tt.lng, got, tt.out)
			}
		})
	}
}

// Reference pairs published with the widely used implementations of the
// same formulas (eviltransform, coordtransform).
func TestWGS84ToGCJ02Known(t *testing.T) {
	tests := []struct {
		name       string
		wLat, wLng float64
		gLat, gLng float64
	}{
		{"shanghai", 31.1774276, 121.5272106, 31.17530398364597, 121.531541859215},
		{"shenzhen", 22.543847, 113.912316, 22.540796131694766, 113.9171764808363},
		{"beijing", 39.911954, 116.377817, 39.91334545536069, 116.38404722455657},
		{"tiananmen", 39.915, 116.404, 39.91640428150164, 116.41024449916938},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lat, lng := WGS84ToGCJ02(tt.wLat, tt.wLng)
			if math.Abs(lat-tt.gLat) > 1e-9 || math.Abs(lng-tt.gLng) > 1e-9 {
				t.Errorf("WGS84ToGCJ02 = %.12f,%.12f, want %.12f,%.12f", lat, lng, tt.gLat, tt.gLng)
			}
			lat, lng = GCJ02ToWGS84(tt.gLat, tt.gLng)
			if d := metres(lat, lng, tt.wLat, tt.wLng); d > 0.01 {
				t.Errorf("GCJ02ToWGS84 is %.3f m off", d)
			}
		})
	}
}

func TestBD09Known(t *testing.T) {
	t.Run("gcj02 to bd09", func(t *testing.T) {
		lat, lng := GCJ02ToBD09(39.915, 116.404)
		if math.Abs(lat-39.92133699351021) > 1e-9 || math.Abs(lng-116.41036949371029) > 1e-9 {
			t.Errorf("GCJ02ToBD09 = %.12f,%.12f", lat, lng)
		}
	})
	t.Run("bd09 to gcj02", func(t *testing.T) {
		// The reference is the one-step approximation; the refined inverse
		// must agree within a metre and invert exactly.
		lat, lng := BD09ToGCJ02(39.915, 116.404)
		if d := metres(lat, lng, 39.90865673957631, 116.39762729119315); d > 1 {
			t.Errorf("BD09ToGCJ02 is %.3f m from the reference", d)
		}
		bLat, bLng := GCJ02ToBD09(lat, lng)
		if d := metres(bLat, bLng, 39.915, 116.404); d > 0.01 {
			t.Errorf("round trip is %.3f m off", d)
		}
	})
}

func TestRoundTripsAcrossChina(t *testing.T) {
	type conv func(lat, lng float64) (float64, float64)
	tests := []struct {
		name     string
		to, from conv
	}{
		{"gcj02", WGS84ToGCJ02, GCJ02ToWGS84},
		{"bd09", WGS84ToBD09, BD09ToWGS84},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			worst := 0.0
			for lat := 18.0; lat <= 53.5; lat += 0.37 {
				for lng := 73.5; lng <= 134.5; lng += 0.53 {
					cLat, cLng := tt.to(lat, lng)
					wLat, wLng := tt.from(cLat, cLng)
					worst = max(worst, metres(lat, lng, wLat, wLng))
				}
			}
			if worst > 0.5 {
				t.Errorf("worst round-trip error %.4f m, want < 0.5 m", worst)
			}
		})
	}
}

func TestOffsetInHaikou(t *testing.T) {
	// The GCJ-02 shift is a few hundred metres in China: drawing
	// unconverted points on a WGS84 map would put them in the wrong street.
	lat, lng := WGS84ToGCJ02(20.03, 110.33)
	if d := metres(lat, lng, 20.03, 110.33); d < 100 || d > 1000 {
		t.Errorf("GCJ-02 offset in Haikou is %.0f m, want a few hundred", d)
	}
	wLat, wLng := GCJ02ToWGS84(lat, lng)
	if d := metres(wLat, wLng, 20.03, 110.33); d > 0.001 {
		t.Errorf("GCJ02ToWGS84 is %.4f m off", d)
	}
}

func TestOutsideChinaIsIdentity(t *testing.T) {
	tests := []struct {
		name string
		f    func(lat, lng float64) (float64, float64)
	}{
		{"WGS84ToGCJ02", WGS84ToGCJ02},
		{"GCJ02ToWGS84", GCJ02ToWGS84},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if lat, lng := tt.f(48.86, 2.35); lat != 48.86 || lng != 2.35 {
				t.Errorf("got %g,%g, want unchanged", lat, lng)
			}
		})
	}
}
