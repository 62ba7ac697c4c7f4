package wall

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// change applies one manual action to a wall, records it and publishes the
// result.
func (m *Manager) change(ctx context.Context, wallID string, a Actor, action, detail string, f func(w *Wall, st *wallState, now time.Time) error) (View, error) {
	unlock, err := m.shared()
	if err != nil {
		return View{}, err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.spec.wall(wallID)
	if w == nil {
		return View{}, fmt.Errorf("wall %q: %w", wallID, ErrNotFound)
	}
	now := m.now()
	st := m.walls[wallID].clone()
	if err := f(w, st, now); err != nil {
		return View{}, err
	}
	m.settle(w, st, now)
	st.Version++
	st.Changed = now
	m.walls[wallID] = st
	m.record(Entry{Time: now, Wall: wallID, Who: a.Name, Role: a.Role, Action: action, Detail: detail})
	m.save(now)
	m.publish(ctx, w)
	m.kick()
	return m.view(w, st), nil
}

func (m *Manager) override(a Actor, st *wallState, now time.Time, d time.Duration) {
	if d <= 0 {
		d = m.spec.OverrideFor
	}
	if d <= 0 {
		d = DefaultOverride
	}
	st.Override = &Override{By: a.Name, Role: a.Role, Until: now.Add(d)}
	st.Source, st.RunStart = SourceManual, time.Time{}
}

// MaxOverride bounds a manual switch's duration.
const MaxOverride = 7 * 24 * time.Hour

func checkFor(d time.Duration) error {
	if d < 0 || d > MaxOverride {
		return &Error{Key: "for", Value: d, Reason: "must be between 0 (the default) and 168h"}
	}
	return nil
}

// ShowSet fills the wall's video slots with a camera set, holding off the
// schedule for d (0: the configured override time).
func (m *Manager) ShowSet(ctx context.Context, a Actor, wallID, setID string, d time.Duration) (View, error) {
	return m.change(ctx, wallID, a, "set", setID, func(w *Wall, st *wallState, now time.Time) error {
		if err := checkFor(d); err != nil {
			return err
		}
		if m.spec.set(setID) == nil {
			return &Error{Key: "set", Value: q(setID), Reason: "unknown set"}
		}
		m.override(a, st, now, d)
		st.Set, st.Tour, st.Pushes = setID, nil, nil
		return nil
	})
}

// ShowLayout switches the wall's layout. Pushed cameras stay on the tiles
// the new layout still has.
func (m *Manager) ShowLayout(ctx context.Context, a Actor, wallID, layoutID string, d time.Duration) (View, error) {
	return m.change(ctx, wallID, a, "layout", layoutID, func(w *Wall, st *wallState, now time.Time) error {
		if err := checkFor(d); err != nil {
			return err
		}
		l := w.layout(layoutID)
		if l == nil {
			return &Error{Key: "layout", Value: q(layoutID), Reason: fmt.Sprintf("wall %q has no such layout", wallID)}
		}
		m.override(a, st, now, d)
		st.Layout = layoutID
		for tile := range st.Pushes {
			if !slices.ContainsFunc(l.Tiles, func(t Tile) bool { return t.ID == tile && t.Kind == KindVideo }) {
				delete(st.Pushes, tile)
			}
		}
		return nil
	})
}

// PushCamera puts one camera into one video slot of the current layout.
func (m *Manager) PushCamera(ctx context.Context, a Actor, wallID, slot, camera string, d time.Duration) (View, error) {
	return m.change(ctx, wallID, a, "push", slot+"="+camera, func(w *Wall, st *wallState, now time.Time) error {
		if err := checkFor(d); err != nil {
			return err
		}
		if !m.known(camera) {
			return &Error{Key: "camera", Value: q(camera), Reason: "unknown camera"}
		}
		l := w.layout(st.Layout)
		if l == nil || !slices.ContainsFunc(l.Tiles, func(t Tile) bool { return t.ID == slot && t.Kind == KindVideo }) {
			return &Error{Key: "slot", Value: q(slot), Reason: fmt.Sprintf("layout %q has no video slot of that id", st.Layout)}
		}
		m.override(a, st, now, d)
		if st.Pushes == nil {
			st.Pushes = map[string]Push{}
		}
		st.Pushes[slot] = Push{Camera: camera, By: a.Name, At: now}
		return nil
	})
}

// Tour actions.
const (
	TourStart  = "start"
	TourPause  = "pause"
	TourResume = "resume"
	TourSkip   = "skip"
)

// TourAction starts (tourID), pauses, resumes or skips the wall's tour.
func (m *Manager) TourAction(ctx context.Context, a Actor, wallID, action, tourID string, d time.Duration) (View, error) {
	detail := action
	if tourID != "" {
		detail += " " + tourID
	}
	return m.change(ctx, wallID, a, "tour", detail, func(w *Wall, st *wallState, now time.Time) error {
		if err := checkFor(d); err != nil {
			return err
		}
		if action != TourStart && tourID != "" {
			return &Error{Key: "tour", Value: q(tourID), Reason: "only start names a tour"}
		}
		switch action {
		case TourStart:
			if m.spec.tour(tourID) == nil {
				return &Error{Key: "tour", Value: q(tourID), Reason: "unknown tour"}
			}
			st.Tour, st.Pushes = &TourState{ID: tourID, Since: now}, nil
		case TourPause, TourResume, TourSkip:
			if st.Tour == nil {
				return &Error{Key: "action", Value: q(action), Reason: "no tour is running on this wall"}
			}
			t := m.spec.tour(st.Tour.ID)
			m.advance(st, now)
			ts := st.Tour
			switch action {
			case TourPause:
				if !ts.Paused {
					ts.Paused, ts.Left = true, max(0, ts.Since.Add(t.dwell(ts.Step)).Sub(now))
				}
			case TourResume:
				if ts.Paused {
					ts.Paused, ts.Since, ts.Left = false, now.Add(ts.Left-t.dwell(ts.Step)), 0
				}
			case TourSkip:
				ts.Step = (ts.Step + 1) % len(t.Steps)
				ts.Since = now
				if ts.Paused {
					ts.Left = t.dwell(ts.Step)
				}
			}
		default:
			return &Error{Key: "action", Value: q(action), Reason: "want start, pause, resume or skip"}
		}
		m.override(a, st, now, d)
		return nil
	})
}

// Release drops the wall's manual override and pushed cameras: the
// schedule or the wall's default takes over at once.
func (m *Manager) Release(ctx context.Context, a Actor, wallID string) (View, error) {
	return m.change(ctx, wallID, a, "release", "", func(w *Wall, st *wallState, now time.Time) error {
		st.Override, st.Pushes, st.Source = nil, nil, ""
		return nil
	})
}

// PushAlert puts an alert's cameras on the slots marked alert of every
// wall, newest alert first. Unknown cameras are left out; an alert with
// none known is an error.
func (m *Manager) PushAlert(ctx context.Context, alertID string, cameras []string) error {
	if alertID == "" {
		return &Error{Key: "alert", Value: q(alertID), Reason: "an alert needs an id"}
	}
	var cams []string
	for _, c := range cameras {
		if m.known(c) && !slices.Contains(cams, c) {
			cams = append(cams, c)
		}
	}
	if len(cams) == 0 {
		return &Error{Key: "cameras", Value: cameras, Reason: "no known camera"}
	}
	unlock, err := m.shared()
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.alerts = slices.DeleteFunc(m.alerts, func(a AlertPush) bool { return a.ID == alertID })
	m.alerts = append(m.alerts, AlertPush{ID: alertID, Cameras: cams, At: m.now()})
	if len(m.alerts) > maxItems {
		m.alerts = m.alerts[len(m.alerts)-maxItems:]
	}
	m.alertsChanged(ctx, "alert.push", alertID+": "+strings.Join(cams, ","))
	return nil
}

// Revert takes an alert's cameras off the walls: the slots show again what
// they showed before. Reverting an alert that is not on the wall is not an
// error.
func (m *Manager) Revert(ctx context.Context, alertID string) error {
	unlock, err := m.shared()
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.alerts)
	m.alerts = slices.DeleteFunc(m.alerts, func(a AlertPush) bool { return a.ID == alertID })
	if len(m.alerts) == n {
		return nil
	}
	m.alertsChanged(ctx, "alert.revert", alertID)
	return nil
}

// alertsChanged republishes the walls whose slots changed; m.mu held.
func (m *Manager) alertsChanged(ctx context.Context, action, detail string) {
	now := m.now()
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		st := m.walls[w.ID]
		if !m.dirty(w, st) {
			continue
		}
		st = st.clone()
		st.Version++
		st.Changed = now
		m.walls[w.ID] = st
		m.publish(ctx, w)
	}
	m.record(Entry{Time: now, Who: actorAlerts.Name, Role: actorAlerts.Role, Action: action, Detail: detail})
	m.save(now)
}

// ReleaseAlerts takes off the walls the cameras of every pushed alert
// that open does not know (an alert resolved or forgotten while this
// instance was down, or raised by another), and returns their ids.
func (m *Manager) ReleaseAlerts(ctx context.Context, open func(alertID string) bool) ([]string, error) {
	unlock, err := m.shared()
	if err != nil {
		return nil, err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	var gone []string
	m.alerts = slices.DeleteFunc(m.alerts, func(a AlertPush) bool {
		if open(a.ID) {
			return false
		}
		gone = append(gone, a.ID)
		return true
	})
	if len(gone) > 0 {
		m.alertsChanged(ctx, "alert.release", strings.Join(gone, ","))
	}
	return gone, nil
}
