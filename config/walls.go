package config

import "github.com/citywall/citywall/wall"

// Walls is the walls section: walls of monitors, their layouts, camera
// sets, tours and schedules (see package wall).
type Walls = wall.Spec

func defaultWalls() Walls { return wall.DefaultSpec() }

// validateWalls checks the walls section. Camera ids are checked against
// the cameras section; the demo city's own cameras are checked when the
// server starts.
func (c *Config) validateWalls() []error {
	var known func(string) bool
	if !c.Demo.Enabled {
		ids := map[string]bool{}
		for _, cam := range c.Cameras {
			ids[cam.ID] = true
		}
		known = func(id string) bool { return ids[id] }
	}
	var errs []error
	for _, e := range wall.Errors(wall.Validate(&c.Walls, known)) {
		errs = append(errs, &Error{Key: "walls." + e.Key, Value: e.Value, Reason: e.Reason})
	}
	return errs
}
