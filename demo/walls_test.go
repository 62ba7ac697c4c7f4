package demo

import (
	"strings"
	"testing"

	"github.com/citywall/citywall/wall"
)

// TestWallSpec: the demo's sets, tour and schedules are valid, come from
// the cameras' tags, and leave the spec they are added to unchanged.
func TestWallSpec(t *testing.T) {
	d := wall.DefaultSpec()
	cams := []wall.Camera{{ID: "s1", Tags: []string{"school-gate"}}, {ID: "k1", Tags: []string{"kitchen", "school-gate"}}, {ID: "r1", Tags: []string{"road", "waterlogging"}}}
	spec := wallSpec(d, cams)
	if err := wall.Validate(&spec, func(id string) bool { return id == "s1" || id == "k1" || id == "r1" }); err != nil {
		t.Fatalf("wallSpec: %v", err)
	}
	sets := map[string]wall.Set{}
	for _, s := range spec.Sets {
		sets[s.ID] = s
	}
	if s := sets["school-gates"]; strings.Join(s.Cameras, ",") != "s1,k1" {
		t.Fatalf("school gates: %+v", s)
	}
	if _, ok := sets["reservoirs"]; ok {
		t.Fatal("a set without cameras was made")
	}
	if len(d.Sets) != 0 || d.Walls[0].Tour != "" {
		t.Fatal("wallSpec changed its argument")
	}
	for _, w := range spec.Walls {
		if w.Tour != "patrol" {
			t.Errorf("wall %s: tour %q, want patrol", w.ID, w.Tour)
		}
	}
	if len(spec.Schedules) != 4 {
		t.Errorf("%d schedules, want 4", len(spec.Schedules))
	}
}
