package wall

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func knownTest(id string) bool {
	for _, c := range testCams {
		if c.ID == id {
			return true
		}
	}
	return false
}

// TestValidate: each broken rule is an error naming the key and the value.
func TestValidate(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Spec)
		key   string // the error's key
		value string // in the error's value
		why   string // in the reason
	}{
		{"unknown camera in a set", func(s *Spec) { s.Sets[1].Cameras = []string{"b1", "zz"} }, "sets[1].cameras[1]", `"zz"`, "unknown camera"},
		{"unknown camera on a tile", func(s *Spec) { s.Walls[0].Layouts[1].Tiles[0].Opts = map[string]any{"camera": "zz"} }, "walls[0].layouts[1].tiles[0].opts.camera", `"zz"`, "unknown camera"},
		{"overlapping tiles", func(s *Spec) { s.Walls[0].Layouts[0].Tiles[2].Y = 0 }, "walls[0].layouts[0].tiles[2]", `"v2" at 2,0`, `overlaps tiles[1] "v1"`},
		{"tile off the canvas", func(s *Spec) { s.Walls[0].Layouts[0].Tiles[1].W = 3 }, "walls[0].layouts[0].tiles[1]", `"v1" at 2,0 size 3x1`, "off the canvas: the grid is 4x2"},
		{"tile past the grid by overflow", func(s *Spec) {
			s.Walls[0].Layouts[0].Tiles[1].X, s.Walls[0].Layouts[0].Tiles[1].W = math.MaxInt, math.MaxInt
		}, "walls[0].layouts[0].tiles[1]", `"v1"`, "off the canvas"},
		{"negative position", func(s *Spec) { s.Walls[0].Layouts[0].Tiles[0].X = -1 }, "walls[0].layouts[0].tiles[0]", `"map" at -1,0`, "off the canvas"},
		{"unknown widget kind", func(s *Spec) { s.Walls[0].Layouts[0].Tiles[0].Kind = "weather" }, "walls[0].layouts[0].tiles[0].kind", `"weather"`, "unknown widget kind"},
		{"alert on a map", func(s *Spec) { s.Walls[0].Layouts[0].Tiles[0].Alert = true }, "walls[0].layouts[0].tiles[0].alert", "true", "only video slots"},
		{"unknown set in a tour", func(s *Spec) { s.Tours[0].Steps[1].Set = "zz" }, "tours[0].steps[1].set", `"zz"`, "unknown set"},
		{"schedule without days", func(s *Spec) { s.Schedules[0].Days = nil }, "schedules[0].days", "[]", "never fires"},
		{"schedule of zero length", func(s *Spec) { s.Schedules[0].End = "17:00" }, "schedules[0].end", `"17:00"`, "never fires"},
		{"schedule on an unknown day", func(s *Spec) { s.Schedules[0].Days = []string{"funday"} }, "schedules[0].days", "funday", `unknown day "funday"`},
		{"schedule time", func(s *Spec) { s.Schedules[0].Start = "25:00" }, "schedules[0].start", `"25:00"`, "HH:MM"},
		{"schedule without set or tour", func(s *Spec) { s.Schedules[0].Set = "" }, "schedules[0].set", `""`, "a set or a tour"},
		{"schedule of an unknown wall", func(s *Spec) { s.Schedules[0].Wall = "zz" }, "schedules[0].wall", `"zz"`, "unknown wall"},
		{"duplicate layout", func(s *Spec) { s.Walls[0].Layouts[1].ID = "l" }, "walls[0].layouts[1].id", `"l"`, "listed twice"},
		{"unknown default layout", func(s *Spec) { s.Walls[0].Layout = "zz" }, "walls[0].layout", `"zz"`, "unknown layout"},
		{"bad monitor", func(s *Spec) { s.Walls[0].Monitor = [2]int{10, 10} }, "walls[0].monitor", "10x10", "monitor pixels"},
		{"bad id", func(s *Spec) { s.Sets[0].ID = "School Gates" }, "sets[0].id", `"School Gates"`, "a-z"},
		{"short dwell", func(s *Spec) { s.Tours[0].Dwell = time.Second }, "tours[0].dwell", "1s", "at least 10s"},
		{"no wall", func(s *Spec) { s.Walls = nil; s.Schedules = nil }, "walls", "[]", "at least one wall"},
		{"empty set", func(s *Spec) { s.Sets[2].Cameras = nil }, "sets[2].cameras", "0", "1..256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := testSpec()
			s.Schedules = []Schedule{{ID: "s", Name: "S", Days: []string{"workdays"}, Start: "17:00", End: "18:00", Set: "a"}}
			if err := Validate(&s, knownTest); err != nil {
				t.Fatalf("the base spec is invalid: %v", err)
			}
			s = s.clone()
			c.edit(&s)
			errs := Errors(Validate(&s, knownTest))
			for _, e := range errs {
				if e.Key == c.key {
					if v := fmt.Sprint(e.Value); !strings.Contains(v, c.value) {
						t.Errorf("%s: value %q does not show %q", e.Key, v, c.value)
					}
					if !strings.Contains(e.Reason, c.why) {
						t.Errorf("%s: reason %q does not say %q", e.Key, e.Reason, c.why)
					}
					return
				}
			}
			t.Fatalf("no error for %s; got %v", c.key, errs)
		})
	}
}

// TestDefaultSpec: the embedded walls are valid, and the command wall has
// a tile of every kind.
func TestDefaultSpec(t *testing.T) {
	d := DefaultSpec()
	if err := Validate(&d, knownTest); err != nil {
		t.Fatalf("DefaultSpec: %v", err)
	}
	w := d.wall("main")
	if cw, ch := w.Canvas(); cw != 7680 || ch != 2160 {
		t.Fatalf("main wall %dx%d", cw, ch)
	}
	kinds := map[string]bool{}
	for _, tl := range w.layout("command").Tiles {
		kinds[tl.Kind] = true
	}
	for _, k := range Kinds {
		if !kinds[k] {
			t.Errorf("the command layout has no %s tile", k)
		}
	}
}

func TestParseClock(t *testing.T) {
	for s, want := range map[string]int{"00:00": 0, "17:00": 1020, "23:59": 1439, "9:05": 545} {
		if got, err := ParseClock(s); err != nil || got != want {
			t.Errorf("ParseClock(%q) = %d, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "24:00", "12:60", "12", "12:5", "a:bc", "-1:00"} {
		if _, err := ParseClock(s); err == nil {
			t.Errorf("ParseClock(%q) accepted", s)
		}
	}
}
