package ticket

import (
	"math"
	"testing"
)

func TestCategories(t *testing.T) {
	cats := Categories()
	seen := map[string]bool{}
	var total float64
	share := map[string]float64{}
	for _, c := range cats {
		t.Run(c.NameEn, func(t *testing.T) {
			if c.Name == "" || c.NameEn == "" || c.Weight <= 0 || len(c.Subs) == 0 {
				t.Fatalf("incomplete category %+v", c)
			}
			var subSum float64
			for _, s := range c.Subs {
				subSum += s.Weight
			}
			for _, s := range c.Subs {
				if s.Name == "" || s.NameEn == "" || s.Weight <= 0 || len(s.Summaries) == 0 {
					t.Errorf("incomplete sub %+v", s)
				}
				if s.Urgent < 0 || s.Urgent > 1 {
					t.Errorf("%s: urgent share %v", s.Name, s.Urgent)
				}
				share[s.Name] = c.Weight * s.Weight / subSum
			}
		})
		for _, name := range append([]string{c.Name}, subNames(c)...) {
			if seen[name] {
				t.Errorf("name %q used twice", name)
			}
			seen[name] = true
		}
		total += c.Weight
	}
	if math.Abs(total-100) > 1e-9 {
		t.Errorf("level-1 weights sum to %v, want 100", total)
	}
	// Car moving is the single biggest request, city management the biggest
	// family after traffic.
	for name, s := range share {
		if name != SubParking && s >= share[SubParking] {
			t.Errorf("%s (%.1f%%) outweighs car moving (%.1f%%)", name, s, share[SubParking])
		}
	}
	for _, name := range []string{SubNoise, SubParking, SubBurstPipe, SubWaterlog, SubWageArrears, CatCityAdmin} {
		if !seen[name] {
			t.Errorf("taxonomy lacks %s", name)
		}
	}
}

func subNames(c Category) []string {
	var out []string
	for _, s := range c.Subs {
		out = append(out, s.Name)
	}
	return out
}

func TestCategoryNameEn(t *testing.T) {
	tests := []struct {
		zh, en string
	}{
		{"城市管理", "City management"},
		{"违停挪车", "Illegal parking / move my car"},
		{"爆管", "Burst water pipe"},
		{"台风滞留", "Stranded in a typhoon"},
		{"不存在", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.zh, func(t *testing.T) {
			if got := CategoryNameEn(tt.zh); got != tt.en {
				t.Errorf("CategoryNameEn(%q) = %q, want %q", tt.zh, got, tt.en)
			}
		})
	}
}
