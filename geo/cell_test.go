package geo

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestBucketKeyResolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		lat, lng := rng.Float64()*180-90, rng.Float64()*360-180
		res := rng.IntN(16)
		c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
		if err != nil {
			t.Fatal(err)
		}
		k := packBucketKey(c, uint16(rng.IntN(1026)))
		if got := k.res(); got != res {
			t.Fatalf("case %d: %s packed: res %d, want %d", i, c, got, res)
		}
		if got := k.cell(k.res()); got != c {
			t.Fatalf("case %d: %s unpacked as %s", i, c, got)
		}
	}
}

func TestBucketKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		res := rng.IntN(16)
		c, err := h3.LatLngToCell(h3.LatLng{Lat: rng.Float64()*180 - 90, Lng: rng.Float64()*360 - 180}, res)
		if err != nil {
			t.Fatal(err)
		}
		cat := uint16(rng.IntN(MaxCategoriesLimit + 2))
		k := packBucketKey(c, cat)
		if got := k.cell(res); got != c || k.cat() != cat {
			t.Fatalf("case %d: %s/%d packed back to %s/%d", i, c, cat, got, k.cat())
		}
	}
}

func TestParseCell(t *testing.T) {
	valid, _ := h3.LatLngToCell(h3.LatLng{Lat: 20.03, Lng: 110.33}, 9)
	tests := []struct {
		name, in string
		want     string // error substring, "" for valid
	}{
		{"valid", valid.String(), ""},
		{"upper case", strings.ToUpper(valid.String()), ""},
		{"res 0", "8001fffffffffff", ""},
		{"empty", "", "empty"},
		{"not hex", "89283082zzzffff", "not hex"},
		{"prefix", "0x" + valid.String()[2:], "not hex"},
		{"sign", "+" + valid.String(), "not hex"},
		{"too long", strings.Repeat("f", 17), "longer than 16"},
		{"zero", "0", "not a valid H3 cell"},
		{"all ones", "ffffffffffffffff", "not a valid H3 cell"},
		{"vertex not cell", "2222597fffffffff", "not a valid H3 cell"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCell(tt.in)
			if tt.want == "" {
				if err != nil || !c.IsValid() {
					t.Fatalf("ParseCell(%q) = %v, %v", tt.in, c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseCell(%q) = %v, want error", tt.in, c)
			}
			if !errors.Is(err, ErrBadCell) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want ErrBadCell mentioning %q", err, tt.want)
			}
		})
	}
}

func FuzzParseCell(f *testing.F) {
	for _, s := range []string{"8928308280fffff", "8001fffffffffff", "", "0", "ffffffffffffffff", "0x8928308280fffff", "zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCell(s)
		if err != nil {
			return
		}
		if !c.IsValid() {
			t.Fatalf("ParseCell(%q) accepted invalid cell %x", s, uint64(c))
		}
		// A cell that parses has an outline and parents.
		if _, err := h3.CellToBoundary(c); err != nil {
			t.Fatalf("boundary of %s: %v", c, err)
		}
		if p, err := c.Parent(0); err != nil || !p.IsValid() {
			t.Fatalf("parent of %s at res 0 invalid", c)
		}
	})
}
