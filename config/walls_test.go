package config

import (
	"strings"
	"testing"
)

// TestWallsSection: the walls section is strict YAML over the default
// walls, its errors name the key under walls: and the value, and a camera
// must be in the cameras section when the demo is off.
func TestWallsSection(t *testing.T) {
	good := `
cameras:
  - {id: gate-1, name: 校门, lat: 20.02, lng: 110.34, main: "rtsp://10.0.0.5/main"}
walls:
  state_file: /var/lib/citywall/walls.json
  sets:
    - {id: gates, name: 校门, cameras: [gate-1]}
  schedules:
    - {id: pm, name: 放学, days: [workdays], start: "16:30", end: "18:00", set: gates}
`
	c := Default()
	if err := Decode(strings.NewReader(good), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid walls section: %v", err)
	}
	if len(c.Walls.Walls) != 2 || c.Walls.Walls[0].ID != "main" || c.Walls.StateFile != "/var/lib/citywall/walls.json" {
		t.Fatalf("the default walls stay under a section that sets only sets: %+v", c.Walls.Walls)
	}

	c = Default()
	if err := Decode(strings.NewReader("walls:\n  sets:\n    - {id: a, name: A, cameras: [x], colour: red}\n"), &c); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Fatalf("unknown key under walls: %v", err)
	}

	c = Default()
	bad := `
walls:
  sets:
    - {id: gates, name: 校门, cameras: [gate-9]}
  schedules:
    - {id: pm, name: 放学, days: [], start: "16:30", end: "18:00", set: gates}
`
	if err := Decode(strings.NewReader(bad), &c); err != nil {
		t.Fatal(err)
	}
	msgs := []string{}
	for _, e := range unjoin(c.Validate()) {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{`'walls.sets[0].cameras[0]' = "gate-9": unknown camera`, `'walls.schedules[0].days' = []: the schedule never fires`} {
		if !strings.Contains(all, want) {
			t.Errorf("errors do not say %s:\n%s", want, all)
		}
	}

	c = Default()
	if err := ApplyEnv(&c, []string{"CITYWALL_WALLS_STATE_FILE=/tmp/w.json", "CITYWALL_WALLS_OVERRIDE_FOR=30m"}); err != nil {
		t.Fatal(err)
	}
	if c.Walls.StateFile != "/tmp/w.json" || c.Walls.OverrideFor.Minutes() != 30 {
		t.Fatalf("env: %q %s", c.Walls.StateFile, c.Walls.OverrideFor)
	}
}
