package wall

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Error is one rejected setting: the key as written in YAML (under walls:)
// or in the API's JSON, the value, and why.
type Error struct {
	Key    string
	Value  any
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("'%s' = %v: %s", e.Key, e.Value, e.Reason) }

// Errors unwraps a joined validation error into its *Error parts.
func Errors(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		var e *Error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		} else if errors.As(err, &e) {
			out = append(out, e)
		}
	}
	walk(err)
	return out
}

// Limits of a spec; they keep a wall page and the state file small.
const (
	maxMonitors = 64
	maxGrid     = 96
	maxTiles    = 256
	maxCameras  = 256
	maxItems    = 256
)

// Validate checks a spec against the known cameras (nil: any camera id is
// accepted). It returns every problem found, joined; each is an *Error.
func Validate(s *Spec, known func(id string) bool) error {
	var errs []error
	bad := func(key string, value any, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	camOK := func(key, id string) {
		if !ValidID(id) {
			bad(key, q(id), "not a camera id")
		} else if known != nil && !known(id) {
			bad(key, q(id), "unknown camera")
		}
	}
	if s.OverrideFor < 0 || s.OverrideFor > 7*24*time.Hour {
		bad("override_for", s.OverrideFor, "must be between 0 (the default, 2h) and 168h")
	}
	if s.AuditKeep < 0 || s.AuditKeep > 1_000_000 {
		bad("audit_keep", s.AuditKeep, "must be 0..1000000")
	}
	if s.AuditMaxBytes < 0 || s.AuditMaxBytes > 0 && s.AuditMaxBytes < 64<<10 {
		bad("audit_max_bytes", s.AuditMaxBytes, "must be 0 (the default, 64 MiB) or at least 65536")
	}
	if s.AuditMaxAge < 0 || s.AuditMaxAge > 0 && s.AuditMaxAge < time.Hour {
		bad("audit_max_age", s.AuditMaxAge, "must be 0 (the default, 720h) or at least 1h")
	}
	if len(s.Walls) > maxItems || len(s.Sets) > maxItems || len(s.Tours) > maxItems || len(s.Schedules) > maxItems {
		bad("walls", len(s.Walls)+len(s.Sets)+len(s.Tours)+len(s.Schedules), "at most %d walls, sets, tours and schedules each", maxItems)
		return errors.Join(errs...)
	}
	if len(s.Walls) == 0 {
		bad("walls", "[]", "at least one wall: /wall shows it")
	}
	if s.Default != "" && s.wall(s.Default) == nil {
		bad("default", q(s.Default), "unknown wall")
	}

	sets := map[string]bool{}
	for i, st := range s.Sets {
		key := fmt.Sprintf("sets[%d]", i)
		idOK(bad, key+".id", st.ID, sets)
		if st.Name == "" {
			bad(key+".name", q(st.Name), "the console shows it; set it")
		}
		if len(st.Cameras) == 0 || len(st.Cameras) > maxCameras {
			bad(key+".cameras", len(st.Cameras), "a set holds 1..%d cameras", maxCameras)
		}
		for j, c := range st.Cameras {
			camOK(fmt.Sprintf("%s.cameras[%d]", key, j), c)
			if slices.Contains(st.Cameras[:j], c) {
				bad(fmt.Sprintf("%s.cameras[%d]", key, j), q(c), "listed twice")
			}
		}
	}
	tours := map[string]bool{}
	for i, t := range s.Tours {
		key := fmt.Sprintf("tours[%d]", i)
		idOK(bad, key+".id", t.ID, tours)
		if t.Name == "" {
			bad(key+".name", q(t.Name), "the console shows it; set it")
		}
		if t.Dwell < 0 || (t.Dwell > 0 && t.Dwell < 10*time.Second) {
			bad(key+".dwell", t.Dwell, "must be at least 10s (0: %s)", DefaultDwell)
		}
		if len(t.Steps) == 0 || len(t.Steps) > maxItems {
			bad(key+".steps", len(t.Steps), "a tour has 1..%d steps", maxItems)
		}
		for j, st := range t.Steps {
			if s.set(st.Set) == nil {
				bad(fmt.Sprintf("%s.steps[%d].set", key, j), q(st.Set), "unknown set")
			}
			if st.Dwell < 0 || (st.Dwell > 0 && st.Dwell < 10*time.Second) {
				bad(fmt.Sprintf("%s.steps[%d].dwell", key, j), st.Dwell, "must be at least 10s (0: the tour's)")
			}
		}
	}

	walls := map[string]bool{}
	for i := range s.Walls {
		w := &s.Walls[i]
		key := fmt.Sprintf("walls[%d]", i)
		idOK(bad, key+".id", w.ID, walls)
		if w.Name == "" {
			bad(key+".name", q(w.Name), "the console shows it; set it")
		}
		if w.Rows < 1 || w.Cols < 1 || w.Rows*w.Cols > maxMonitors {
			bad(key+".rows", fmt.Sprintf("%d×%d", w.Rows, w.Cols), "rows and cols must be at least 1 and at most %d monitors in all", maxMonitors)
		}
		if w.Monitor[0] < 320 || w.Monitor[0] > 8192 || w.Monitor[1] < 200 || w.Monitor[1] > 8192 {
			bad(key+".monitor", fmt.Sprintf("%dx%d", w.Monitor[0], w.Monitor[1]), "monitor pixels must be 320..8192 wide and 200..8192 high")
		}
		if len(w.Layouts) == 0 {
			bad(key+".layouts", "[]", "a wall needs at least one layout")
		}
		layouts := map[string]bool{}
		for j := range w.Layouts {
			errs = append(errs, validateLayout(fmt.Sprintf("%s.layouts[%d]", key, j), &w.Layouts[j], known)...)
			idOK(bad, fmt.Sprintf("%s.layouts[%d].id", key, j), w.Layouts[j].ID, layouts)
		}
		if w.Layout == "" && len(w.Layouts) > 0 {
			bad(key+".layout", q(w.Layout), "name the layout shown by default")
		} else if w.Layout != "" && w.layout(w.Layout) == nil {
			bad(key+".layout", q(w.Layout), "unknown layout of this wall")
		}
		if w.Set != "" && s.set(w.Set) == nil {
			bad(key+".set", q(w.Set), "unknown set")
		}
		if w.Tour != "" && s.tour(w.Tour) == nil {
			bad(key+".tour", q(w.Tour), "unknown tour")
		}
		if w.Set != "" && w.Tour != "" {
			bad(key+".tour", q(w.Tour), "a wall's default is a set or a tour, not both")
		}
	}

	schedules := map[string]bool{}
	for i, sc := range s.Schedules {
		key := fmt.Sprintf("schedules[%d]", i)
		idOK(bad, key+".id", sc.ID, schedules)
		var w *Wall
		if sc.Wall != "" {
			if w = s.wall(sc.Wall); w == nil {
				bad(key+".wall", q(sc.Wall), "unknown wall")
			}
		}
		switch {
		case sc.Set == "" && sc.Tour == "":
			bad(key+".set", q(""), "a schedule starts a set or a tour: set one of them")
		case sc.Set != "" && sc.Tour != "":
			bad(key+".tour", q(sc.Tour), "a schedule starts a set or a tour, not both")
		case sc.Set != "" && s.set(sc.Set) == nil:
			bad(key+".set", q(sc.Set), "unknown set")
		case sc.Tour != "" && s.tour(sc.Tour) == nil:
			bad(key+".tour", q(sc.Tour), "unknown tour")
		}
		if sc.Layout != "" {
			for _, ww := range s.Walls {
				if (w == nil || ww.ID == w.ID) && ww.layout(sc.Layout) == nil {
					bad(key+".layout", q(sc.Layout), "wall %q has no such layout", ww.ID)
				}
			}
		}
		days, derr := ParseDays(sc.Days)
		if derr != nil {
			bad(key+".days", sc.Days, "%v", derr)
		}
		start, serr := ParseClock(sc.Start)
		if serr != nil {
			bad(key+".start", q(sc.Start), "%v", serr)
		}
		end, eerr := ParseClock(sc.End)
		if eerr != nil {
			bad(key+".end", q(sc.End), "%v", eerr)
		}
		if derr == nil && days == 0 {
			bad(key+".days", "[]", "the schedule never fires: name at least one day (mon..sun, workdays, weekend, daily)")
		}
		if serr == nil && eerr == nil && start == end {
			bad(key+".end", q(sc.End), "the schedule never fires: it ends when it starts (%s)", sc.Start)
		}
	}
	return errors.Join(errs...)
}

func validateLayout(key string, l *Layout, known func(string) bool) []error {
	var errs []error
	bad := func(key string, value any, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Value: value, Reason: fmt.Sprintf(format, args...)})
	}
	if l.Name == "" {
		bad(key+".name", q(l.Name), "the console shows it; set it")
	}
	gw, gh := l.Grid[0], l.Grid[1]
	if gw < 1 || gh < 1 || gw > maxGrid || gh > maxGrid {
		bad(key+".grid", fmt.Sprintf("%dx%d", gw, gh), "grid columns and rows must be 1..%d", maxGrid)
		return errs
	}
	if len(l.Tiles) > maxTiles {
		bad(key+".tiles", len(l.Tiles), "at most %d tiles", maxTiles)
		return errs
	}
	ids := map[string]bool{}
	for i, t := range l.Tiles {
		tk := fmt.Sprintf("%s.tiles[%d]", key, i)
		idOK(bad, tk+".id", t.ID, ids)
		if !slices.Contains(Kinds, t.Kind) {
			bad(tk+".kind", q(t.Kind), "unknown widget kind (want one of %s)", strings.Join(Kinds, ", "))
		}
		if t.W < 1 || t.H < 1 {
			bad(tk+".w", fmt.Sprintf("%dx%d", t.W, t.H), "a tile is at least 1x1")
			continue
		}
		// Written so that no sum overflows: gw and gh are at most maxGrid.
		if t.X < 0 || t.Y < 0 || t.X > gw-t.W || t.Y > gh-t.H {
			bad(tk, fmt.Sprintf("%q at %d,%d size %dx%d", t.ID, t.X, t.Y, t.W, t.H), "off the canvas: the grid is %dx%d", gw, gh)
			continue
		}
		for j, o := range l.Tiles[:i] {
			if o.W < 1 || o.H < 1 {
				continue
			}
			if t.X < o.X+o.W && o.X < t.X+t.W && t.Y < o.Y+o.H && o.Y < t.Y+t.H {
				bad(tk, fmt.Sprintf("%q at %d,%d size %dx%d", t.ID, t.X, t.Y, t.W, t.H),
					"overlaps tiles[%d] %q at %d,%d size %dx%d", j, o.ID, o.X, o.Y, o.W, o.H)
			}
		}
		if t.Alert && t.Kind != KindVideo {
			bad(tk+".alert", true, "only video slots take alert cameras")
		}
		if t.Kind == KindVideo {
			if c, ok := t.Opts["camera"]; ok {
				id, _ := c.(string)
				if !ValidID(id) {
					bad(tk+".opts.camera", c, "not a camera id")
				} else if known != nil && !known(id) {
					bad(tk+".opts.camera", q(id), "unknown camera")
				}
			}
		}
		if layers, ok := t.Opts["layers"]; ok {
			list, ok := layers.([]any)
			if !ok {
				bad(tk+".opts.layers", layers, "a list of layer names")
			}
			for k, x := range list {
				if n, _ := x.(string); !ValidID(n) {
					bad(fmt.Sprintf("%s.opts.layers[%d]", tk, k), x, "a layer name is 1..64 of a-z, 0-9, '-' and '_'")
				}
			}
		}
	}
	return errs
}

func idOK(bad func(string, any, string, ...any), key, id string, seen map[string]bool) {
	switch {
	case !ValidID(id):
		bad(key, q(id), "must be 1..64 of a-z, 0-9, '-' and '_'")
	case seen[id]:
		bad(key, q(id), "listed twice")
	}
	seen[id] = true
}

// ValidID is the id rule of walls, layouts, tiles, sets, tours, schedules
// and cameras: they appear in URLs and topics.
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// ParseClock reads HH:MM into minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, errors.New("want HH:MM, 00:00..23:59")
	}
	return hh*60 + mm, nil
}

// Weekdays is a set of days, bit d for time.Weekday d.
type Weekdays uint8

// Has reports whether d is in the set.
func (w Weekdays) Has(d time.Weekday) bool { return w&(1<<d) != 0 }

var dayNames = map[string]Weekdays{
	"sun": 1 << time.Sunday, "mon": 1 << time.Monday, "tue": 1 << time.Tuesday, "wed": 1 << time.Wednesday,
	"thu": 1 << time.Thursday, "fri": 1 << time.Friday, "sat": 1 << time.Saturday,
	"workdays": 1<<time.Monday | 1<<time.Tuesday | 1<<time.Wednesday | 1<<time.Thursday | 1<<time.Friday,
	"weekend":  1<<time.Saturday | 1<<time.Sunday,
	"daily":    0x7f,
}

// ParseDays reads day names (mon..sun, workdays, weekend, daily).
func ParseDays(names []string) (Weekdays, error) {
	var w Weekdays
	for _, n := range names {
		d, ok := dayNames[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return 0, fmt.Errorf("unknown day %q (want mon..sun, workdays, weekend or daily)", n)
		}
		w |= d
	}
	return w, nil
}

func q(s string) string { return strconv.Quote(s) }
