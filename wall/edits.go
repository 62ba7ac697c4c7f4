package wall

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// edit changes the spec through f, validates the result and takes it.
// An error of f (ErrNotFound: nothing to delete) leaves everything as it
// was and records nothing, so calls that change nothing cannot push real
// changes out of the audit trail.
func (m *Manager) edit(ctx context.Context, a Actor, action, detail string, f func(sp *Spec, ed *Edits) error) error {
	unlock, err := m.shared()
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	sp, ed := m.spec.clone(), m.edits.clone()
	if err := f(&sp, &ed); err != nil {
		return err
	}
	if err := Validate(&sp, m.known); err != nil {
		return err
	}
	m.spec, m.edits = sp, ed
	now := m.now()
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		st := m.walls[w.ID].clone()
		m.fixRefs(w, st)
		m.settle(w, st, now)
		st.Version++
		st.Changed = now
		m.walls[w.ID] = st
		m.publish(ctx, w)
	}
	m.record(Entry{Time: now, Who: a.Name, Role: a.Role, Action: action, Detail: detail})
	m.save(now)
	m.kick()
	return nil
}

// PutLayout adds or replaces a layout of a wall.
func (m *Manager) PutLayout(ctx context.Context, a Actor, wallID string, l Layout) error {
	if !m.HasWall(wallID) {
		return fmt.Errorf("wall %q: %w", wallID, ErrNotFound)
	}
	return m.edit(ctx, a, "layout.put", wallID+"/"+l.ID, func(sp *Spec, ed *Edits) error {
		w := sp.wall(wallID)
		if i := slices.IndexFunc(w.Layouts, func(x Layout) bool { return x.ID == l.ID }); i >= 0 {
			w.Layouts[i] = l
		} else {
			w.Layouts = append(w.Layouts, l)
		}
		ed.Layouts = setEdit(ed.Layouts, wallID+"/"+l.ID, &l)
		return nil
	})
}

// DeleteLayout removes a layout of a wall.
func (m *Manager) DeleteLayout(ctx context.Context, a Actor, wallID, id string) error {
	if !m.HasWall(wallID) {
		return fmt.Errorf("wall %q: %w", wallID, ErrNotFound)
	}
	return m.edit(ctx, a, "layout.delete", wallID+"/"+id, func(sp *Spec, ed *Edits) error {
		w := sp.wall(wallID)
		if !slices.ContainsFunc(w.Layouts, func(x Layout) bool { return x.ID == id }) {
			return fmt.Errorf("layout %q of wall %q: %w", id, wallID, ErrNotFound)
		}
		w.Layouts = slices.DeleteFunc(w.Layouts, func(x Layout) bool { return x.ID == id })
		ed.Layouts = setEdit[Layout](ed.Layouts, wallID+"/"+id, nil)
		return nil
	})
}

// PutSet adds or replaces a camera set.
func (m *Manager) PutSet(ctx context.Context, a Actor, s Set) error {
	return m.edit(ctx, a, "set.put", s.ID, func(sp *Spec, ed *Edits) error {
		sp.Sets = putByID(sp.Sets, s, func(x Set) string { return x.ID })
		ed.Sets = setEdit(ed.Sets, s.ID, &s)
		return nil
	})
}

// DeleteSet removes a camera set; sets still used by a tour, schedule or
// wall cannot go.
func (m *Manager) DeleteSet(ctx context.Context, a Actor, id string) error {
	return m.edit(ctx, a, "set.delete", id, func(sp *Spec, ed *Edits) error {
		if !slices.ContainsFunc(sp.Sets, func(x Set) bool { return x.ID == id }) {
			return fmt.Errorf("camera set %q: %w", id, ErrNotFound)
		}
		sp.Sets = slices.DeleteFunc(sp.Sets, func(x Set) bool { return x.ID == id })
		ed.Sets = setEdit[Set](ed.Sets, id, nil)
		return nil
	})
}

// PutTour adds or replaces a tour.
func (m *Manager) PutTour(ctx context.Context, a Actor, t Tour) error {
	return m.edit(ctx, a, "tour.put", t.ID, func(sp *Spec, ed *Edits) error {
		sp.Tours = putByID(sp.Tours, t, func(x Tour) string { return x.ID })
		ed.Tours = setEdit(ed.Tours, t.ID, &t)
		return nil
	})
}

// DeleteTour removes a tour.
func (m *Manager) DeleteTour(ctx context.Context, a Actor, id string) error {
	return m.edit(ctx, a, "tour.delete", id, func(sp *Spec, ed *Edits) error {
		if !slices.ContainsFunc(sp.Tours, func(x Tour) bool { return x.ID == id }) {
			return fmt.Errorf("tour %q: %w", id, ErrNotFound)
		}
		sp.Tours = slices.DeleteFunc(sp.Tours, func(x Tour) bool { return x.ID == id })
		ed.Tours = setEdit[Tour](ed.Tours, id, nil)
		return nil
	})
}

// PutSchedule adds or replaces a schedule.
func (m *Manager) PutSchedule(ctx context.Context, a Actor, s Schedule) error {
	return m.edit(ctx, a, "schedule.put", s.ID, func(sp *Spec, ed *Edits) error {
		sp.Schedules = putByID(sp.Schedules, s, func(x Schedule) string { return x.ID })
		ed.Schedules = setEdit(ed.Schedules, s.ID, &s)
		return nil
	})
}

// DeleteSchedule removes a schedule.
func (m *Manager) DeleteSchedule(ctx context.Context, a Actor, id string) error {
	return m.edit(ctx, a, "schedule.delete", id, func(sp *Spec, ed *Edits) error {
		if !slices.ContainsFunc(sp.Schedules, func(x Schedule) bool { return x.ID == id }) {
			return fmt.Errorf("schedule %q: %w", id, ErrNotFound)
		}
		sp.Schedules = slices.DeleteFunc(sp.Schedules, func(x Schedule) bool { return x.ID == id })
		ed.Schedules = setEdit[Schedule](ed.Schedules, id, nil)
		return nil
	})
}

func putByID[T any](list []T, v T, id func(T) string) []T {
	if i := slices.IndexFunc(list, func(x T) bool { return id(x) == id(v) }); i >= 0 {
		list[i] = v
		return list
	}
	return append(list, v)
}

func setEdit[T any](m map[string]*T, id string, v *T) map[string]*T {
	if m == nil {
		m = map[string]*T{}
	}
	m[id] = v
	return m
}

func (e Edits) empty() bool {
	return len(e.Layouts) == 0 && len(e.Sets) == 0 && len(e.Tours) == 0 && len(e.Schedules) == 0
}

func (e Edits) clone() Edits {
	return Edits{Layouts: maps(e.Layouts), Sets: maps(e.Sets), Tours: maps(e.Tours), Schedules: maps(e.Schedules)}
}

func maps[T any](m map[string]*T) map[string]*T {
	if m == nil {
		return nil
	}
	out := make(map[string]*T, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// apply lays the edits over a spec, in a fixed order.
func (e Edits) apply(sp *Spec) {
	for _, k := range sortedKeys(e.Sets) {
		if v := e.Sets[k]; v != nil {
			sp.Sets = putByID(sp.Sets, *v, func(x Set) string { return x.ID })
		} else {
			sp.Sets = slices.DeleteFunc(sp.Sets, func(x Set) bool { return x.ID == k })
		}
	}
	for _, k := range sortedKeys(e.Tours) {
		if v := e.Tours[k]; v != nil {
			sp.Tours = putByID(sp.Tours, *v, func(x Tour) string { return x.ID })
		} else {
			sp.Tours = slices.DeleteFunc(sp.Tours, func(x Tour) bool { return x.ID == k })
		}
	}
	for _, k := range sortedKeys(e.Schedules) {
		if v := e.Schedules[k]; v != nil {
			sp.Schedules = putByID(sp.Schedules, *v, func(x Schedule) string { return x.ID })
		} else {
			sp.Schedules = slices.DeleteFunc(sp.Schedules, func(x Schedule) bool { return x.ID == k })
		}
	}
	for _, k := range sortedKeys(e.Layouts) {
		wallID, id, _ := strings.Cut(k, "/")
		w := sp.wall(wallID)
		if w == nil {
			continue
		}
		if v := e.Layouts[k]; v != nil {
			w.Layouts = putByID(w.Layouts, *v, func(x Layout) string { return x.ID })
		} else {
			w.Layouts = slices.DeleteFunc(w.Layouts, func(x Layout) bool { return x.ID == id })
		}
	}
}

func sortedKeys[T any](m map[string]*T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// clone copies a spec deeply enough that edits of the copy leave the
// original alone (tile options are replaced whole, never changed in place).
func (s Spec) clone() Spec {
	c := s
	c.Walls = make([]Wall, len(s.Walls))
	for i, w := range s.Walls {
		w.Layouts = slices.Clone(w.Layouts)
		for j := range w.Layouts {
			w.Layouts[j].Tiles = slices.Clone(w.Layouts[j].Tiles)
		}
		c.Walls[i] = w
	}
	c.Sets = slices.Clone(s.Sets)
	c.Tours = slices.Clone(s.Tours)
	c.Schedules = slices.Clone(s.Schedules)
	return c
}
