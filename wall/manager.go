package wall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Publisher carries a wall's state to its displays: the hub's PublishState.
type Publisher interface {
	PublishState(ctx context.Context, topic string, set map[string]json.RawMessage, del []string, origin time.Time) error
}

// Actor is who makes a change: a token's name and role, or the system.
type Actor struct {
	Name string
	Role string
}

// System actors of automatic changes.
var (
	actorSchedule = Actor{Name: "schedule", Role: "system"}
	actorAlerts   = Actor{Name: "alerts", Role: "system"}
)

// ErrNotFound is an unknown wall.
var ErrNotFound = errors.New("not found")

// DefaultOverride is how long a manual switch lasts when neither the
// request nor the configuration says.
const DefaultOverride = 2 * time.Hour

// TopicPrefix starts each wall's hub topic: wall/{id}.
const TopicPrefix = "wall/"

// Options build a Manager.
type Options struct {
	Spec      Spec
	Cameras   []Camera
	Location  *time.Location // schedules' time zone; UTC when nil
	Store     Store          // a MemoryStore when nil
	Publisher Publisher      // nil: nothing is published
	Log       *slog.Logger
	// Active, when set, says whether this instance runs tours, schedules
	// and override expiry: only the leader of several instances does.
	Active func() bool
}

// Manager owns every wall's state. Its methods are safe for concurrent use.
type Manager struct {
	base  Spec // as configured
	loc   *time.Location
	store Store
	act   func() bool
	pub   Publisher
	log   *slog.Logger
	cams  map[string]Camera
	list  []Camera
	keep  int
	wake  chan struct{}

	syncMu    sync.Mutex // a shared store's reload against this instance's changes
	mu        sync.Mutex
	spec      Spec // base with the API's edits
	edits     Edits
	walls     map[string]*wallState
	alerts    []AlertPush // oldest first
	audit     []Entry     // oldest first, at most keep
	published map[string]map[string][]byte
}

// New builds a Manager from a spec, restoring the saved state. A saved
// state that no longer fits the spec (a wall, layout or set gone from the
// configuration) is trimmed to what still exists.
func New(o Options) (*Manager, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Store == nil {
		o.Store = &MemoryStore{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		base: o.Spec, loc: o.Location, store: o.Store, act: o.Active, pub: o.Publisher, log: o.Log,
		cams: map[string]Camera{}, keep: o.Spec.AuditKeep, wake: make(chan struct{}, 1),
		walls: map[string]*wallState{}, published: map[string]map[string][]byte{},
	}
	if m.keep <= 0 {
		m.keep = 10000
	}
	for _, c := range o.Cameras {
		if _, dup := m.cams[c.ID]; !dup {
			m.cams[c.ID] = c
			m.list = append(m.list, c)
		}
	}
	if err := Validate(&o.Spec, m.known); err != nil {
		return nil, err
	}
	m.spec = o.Spec.clone()
	snap, err := o.Store.Load()
	if err != nil {
		return nil, err
	}
	if snap != nil {
		m.restore(snap)
	}
	if entries, err := o.Store.Entries(); err != nil {
		m.log.Warn("wall audit trail unreadable; starting a new one", "err", err)
	} else {
		m.audit = entries
		if len(m.audit) > m.keep {
			m.audit = m.audit[len(m.audit)-m.keep:]
		}
	}
	now := time.Now()
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		if m.walls[w.ID] == nil {
			m.walls[w.ID] = &wallState{Layout: w.Layout, Changed: now}
		}
		m.settle(w, m.walls[w.ID], now)
	}
	if _, shared := o.Store.(SharedStore); shared && snap == nil {
		m.save(now) // the first instance's start is everyone's
	}
	return m, nil
}

func (m *Manager) known(id string) bool {
	_, ok := m.cams[id]
	return ok
}

// restore takes a saved snapshot: edits first (dropped whole if they no
// longer validate against the configuration), then each wall's state.
func (m *Manager) restore(s *Snapshot) {
	if !s.Edits.empty() {
		sp := m.base.clone()
		s.Edits.apply(&sp)
		if err := Validate(&sp, m.known); err != nil {
			m.log.Warn("saved wall edits no longer fit the configuration; using the configuration", "err", err)
		} else {
			m.spec, m.edits = sp, s.Edits
		}
	}
	for id, st := range s.Walls {
		w := m.spec.wall(id)
		if w == nil || st == nil {
			continue
		}
		m.fixRefs(w, st)
		m.walls[id] = st
	}
	for _, a := range s.Alerts {
		a.Cameras = slices.DeleteFunc(a.Cameras, func(c string) bool { return !m.known(c) })
		if len(a.Cameras) > 0 {
			m.alerts = append(m.alerts, a)
		}
	}
}

// fixRefs drops what a state names that the spec no longer has.
func (m *Manager) fixRefs(w *Wall, st *wallState) {
	if w.layout(st.Layout) == nil {
		st.Layout = w.Layout
	}
	if st.Set != "" && m.spec.set(st.Set) == nil {
		st.Set = ""
	}
	if st.Tour != nil && m.spec.tour(st.Tour.ID) == nil {
		st.Tour = nil
	}
	l := w.layout(st.Layout)
	for tile, p := range st.Pushes {
		if !m.known(p.Camera) || !slices.ContainsFunc(l.Tiles, func(t Tile) bool { return t.ID == tile && t.Kind == KindVideo }) {
			delete(st.Pushes, tile)
		}
	}
	if id, ok := cutPrefix(st.Source, SourceSchedule); ok && !slices.ContainsFunc(m.spec.Schedules, func(s Schedule) bool { return s.ID == id }) {
		st.Source = ""
	}
}

// Run follows schedules, tours and override expiry until ctx ends. It
// publishes every wall's state when it starts.
func (m *Manager) Run(ctx context.Context) {
	m.mu.Lock()
	if m.act == nil {
		m.tick(ctx, time.Now())
	}
	for i := range m.spec.Walls {
		m.publish(ctx, &m.spec.Walls[i])
	}
	m.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		m.mu.Lock()
		now := time.Now()
		d := m.nextWake(now).Sub(now)
		m.mu.Unlock()
		// Wake at least once a minute: the wall clock may be stepped.
		timer.Reset(min(max(d, 0), time.Minute))
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-m.wake:
		}
		if m.act != nil && !m.act() {
			continue
		}
		unlock, err := m.shared()
		if err != nil {
			m.log.Warn("wall timers wait", "err", err)
			continue
		}
		m.mu.Lock()
		m.tick(ctx, time.Now())
		m.mu.Unlock()
		unlock()
	}
}

// Wake makes Run look at tours and schedules now: after this instance
// became the leader, for instance.
func (m *Manager) Wake() { m.kick() }

func (m *Manager) kick() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// tick settles every wall at now; m.mu held.
func (m *Manager) tick(ctx context.Context, now time.Time) {
	changed := false
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		st := m.walls[w.ID].clone()
		what := m.settle(w, st, now)
		if what == "" {
			continue
		}
		st.Version++
		st.Changed = now
		m.walls[w.ID] = st
		m.record(Entry{Time: now, Wall: w.ID, Who: actorSchedule.Name, Role: actorSchedule.Role, Action: "auto", Detail: what})
		m.publish(ctx, w)
		changed = true
	}
	if changed {
		m.saveAuto(now)
	}
}

// nextWake is the earliest moment a wall changes by itself; m.mu held.
func (m *Manager) nextWake(now time.Time) time.Time {
	next := now.Add(time.Hour)
	earlier := func(t time.Time) {
		if !t.IsZero() && t.Before(next) {
			next = t
		}
	}
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		st := m.walls[w.ID]
		if st.Override != nil {
			earlier(st.Override.Until)
		} else {
			earlier(nextBoundary(&m.spec, w.ID, now, m.loc))
		}
		if st.Tour != nil && !st.Tour.Paused {
			if t := m.spec.tour(st.Tour.ID); t != nil && st.Tour.Step < len(t.Steps) {
				earlier(st.Tour.Since.Add(t.dwell(st.Tour.Step)))
			}
		}
	}
	return next
}

// settle brings a wall's state up to now: an expired override ends, the
// schedule (or the wall's default) takes over when nothing manual holds,
// and a running tour moves on by the steps whose dwell has passed. It
// says what changed, "" for nothing.
func (m *Manager) settle(w *Wall, st *wallState, now time.Time) string {
	var what []string
	if st.Override != nil && !now.Before(st.Override.Until) {
		st.Override, st.Pushes, st.Source = nil, nil, ""
		what = append(what, "override expired")
	}
	if st.Override == nil {
		if sc, began := activeSchedule(&m.spec, w.ID, now, m.loc); sc != nil {
			key := SourceSchedule + sc.ID
			if st.Source != key || !st.RunStart.Equal(began) {
				st.Source, st.RunStart, st.Pushes = key, began, nil
				st.Layout = w.Layout
				if sc.Layout != "" {
					st.Layout = sc.Layout
				}
				if sc.Set != "" {
					st.Set, st.Tour = sc.Set, nil
				} else {
					st.Tour = &TourState{ID: sc.Tour, Since: began}
				}
				what = append(what, "schedule "+sc.ID)
			}
		} else if st.Source != SourceDefault {
			st.Source, st.RunStart, st.Pushes = SourceDefault, time.Time{}, nil
			st.Layout, st.Set, st.Tour = w.Layout, w.Set, nil
			if w.Tour != "" {
				st.Tour = &TourState{ID: w.Tour, Since: now}
			}
			what = append(what, "default")
		}
	}
	if st.Tour != nil {
		before := *st.Tour
		m.advance(st, now)
		if st.Tour == nil || st.Tour.Step != before.Step {
			if st.Tour != nil {
				what = append(what, fmt.Sprintf("tour %s step %d", st.Tour.ID, st.Tour.Step+1))
			}
		}
	}
	return strings.Join(what, "; ")
}

// advance moves a running tour to the step due at now and shows its set.
func (m *Manager) advance(st *wallState, now time.Time) {
	t := m.spec.tour(st.Tour.ID)
	if t == nil {
		st.Tour = nil
		return
	}
	ts := st.Tour
	if ts.Step < 0 || ts.Step >= len(t.Steps) {
		ts.Step, ts.Since = 0, now
	}
	if !ts.Paused {
		var cycle time.Duration
		for i := range t.Steps {
			cycle += t.dwell(i)
		}
		// Whole cycles come back to the same step: skip them at once after
		// a long stop.
		if el := now.Sub(ts.Since); el >= cycle {
			ts.Since = ts.Since.Add(el / cycle * cycle)
		}
		for d := t.dwell(ts.Step); !now.Before(ts.Since.Add(d)); d = t.dwell(ts.Step) {
			ts.Since = ts.Since.Add(d)
			ts.Step = (ts.Step + 1) % len(t.Steps)
		}
	}
	st.Set = t.Steps[ts.Step].Set
}

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
	now := time.Now()
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
	m.alerts = append(m.alerts, AlertPush{ID: alertID, Cameras: cams, At: time.Now()})
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
	now := time.Now()
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

// dirty reports whether a wall's slots differ from what was published.
func (m *Manager) dirty(w *Wall, st *wallState) bool {
	b, _ := json.Marshal(m.view(w, st).Slots)
	return !bytes.Equal(b, m.published[TopicPrefix+w.ID]["slots"])
}

// publish sends the keys of a wall's view that changed; m.mu held.
func (m *Manager) publish(ctx context.Context, w *Wall) {
	v := m.view(w, m.walls[w.ID])
	topic := TopicPrefix + w.ID
	prev := m.published[topic]
	if prev == nil {
		prev = map[string][]byte{}
		m.published[topic] = prev
	}
	set := map[string]json.RawMessage{}
	add := func(k string, x any) {
		b, err := json.Marshal(x)
		if err == nil && !bytes.Equal(prev[k], b) {
			set[k] = b
		}
	}
	add("wall", v.Wall)
	add("layout", v.Layout)
	add("set", v.Set)
	add("slots", v.Slots)
	add("tour", v.Tour)
	add("control", v.Control)
	if len(set) == 0 || m.pub == nil {
		return
	}
	if err := m.pub.PublishState(ctx, topic, set, nil, time.Time{}); err != nil {
		m.log.Warn("publish wall state", "wall", w.ID, "err", err)
		return
	}
	for k, b := range set {
		prev[k] = b
	}
}

// record appends to the audit trail; m.mu held.
func (m *Manager) record(e Entry) {
	m.audit = append(m.audit, e)
	if len(m.audit) > m.keep+m.keep/4 {
		m.audit = append([]Entry(nil), m.audit[len(m.audit)-m.keep:]...)
	}
	if err := m.store.Append(e); err != nil {
		m.log.Error("wall audit trail not written", "err", err, "action", e.Action, "who", e.Who)
	}
	m.log.Info("wall change", "wall", e.Wall, "who", e.Who, "role", e.Role, "action", e.Action, "detail", e.Detail)
}

// save writes the state; m.mu held. A failure is logged: the wall goes on
// and the next change tries again.
func (m *Manager) save(now time.Time) {
	s := &Snapshot{Saved: now, Walls: m.walls, Alerts: m.alerts, Edits: m.edits}
	if err := m.store.Save(s); err != nil {
		m.log.Error("wall state not saved", "err", err)
	}
}

// View returns a wall's current state.
func (m *Manager) View(wallID string) (View, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.spec.wall(wallID)
	if w == nil {
		return View{}, fmt.Errorf("wall %q: %w", wallID, ErrNotFound)
	}
	return m.view(w, m.walls[wallID]), nil
}

// Views returns every wall's state, in configuration order.
func (m *Manager) Views() []View {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]View, 0, len(m.spec.Walls))
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		out = append(out, m.view(w, m.walls[w.ID]))
	}
	return out
}

// Spec returns the current spec (the configuration with the API's edits).
func (m *Manager) Spec() Spec {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spec.clone()
}

// HasWall reports whether a wall exists.
func (m *Manager) HasWall(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spec.wall(id) != nil
}

// DefaultWall is the wall /wall shows.
func (m *Manager) DefaultWall() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spec.Default != "" {
		return m.spec.Default
	}
	if len(m.spec.Walls) > 0 {
		return m.spec.Walls[0].ID
	}
	return ""
}

// Cameras lists the cameras the walls know.
func (m *Manager) Cameras() []Camera { return slices.Clone(m.list) }

// AuditQuery selects audit entries.
type AuditQuery struct {
	Wall  string    // "" for every wall (and changes of no one wall)
	Since time.Time // entries at or after
	Limit int       // newest first; 100 when 0
}

// Audit returns the entries matching q, newest first.
func (m *Manager) Audit(q AuditQuery) []Entry {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for i := len(m.audit) - 1; i >= 0 && len(out) < q.Limit; i-- {
		e := m.audit[i]
		if e.Time.Before(q.Since) {
			break
		}
		if q.Wall != "" && e.Wall != q.Wall && e.Wall != "" {
			continue
		}
		out = append(out, e)
	}
	return out
}

// edit changes the spec through f, validates the result and takes it.
func (m *Manager) edit(ctx context.Context, a Actor, action, detail string, f func(sp *Spec, ed *Edits)) error {
	unlock, err := m.shared()
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	sp, ed := m.spec.clone(), m.edits.clone()
	f(&sp, &ed)
	if err := Validate(&sp, m.known); err != nil {
		return err
	}
	m.spec, m.edits = sp, ed
	now := time.Now()
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
	return m.edit(ctx, a, "layout.put", wallID+"/"+l.ID, func(sp *Spec, ed *Edits) {
		w := sp.wall(wallID)
		if i := slices.IndexFunc(w.Layouts, func(x Layout) bool { return x.ID == l.ID }); i >= 0 {
			w.Layouts[i] = l
		} else {
			w.Layouts = append(w.Layouts, l)
		}
		ed.Layouts = setEdit(ed.Layouts, wallID+"/"+l.ID, &l)
	})
}

// DeleteLayout removes a layout of a wall.
func (m *Manager) DeleteLayout(ctx context.Context, a Actor, wallID, id string) error {
	if !m.HasWall(wallID) {
		return fmt.Errorf("wall %q: %w", wallID, ErrNotFound)
	}
	return m.edit(ctx, a, "layout.delete", wallID+"/"+id, func(sp *Spec, ed *Edits) {
		w := sp.wall(wallID)
		w.Layouts = slices.DeleteFunc(w.Layouts, func(x Layout) bool { return x.ID == id })
		ed.Layouts = setEdit[Layout](ed.Layouts, wallID+"/"+id, nil)
	})
}

// PutSet adds or replaces a camera set.
func (m *Manager) PutSet(ctx context.Context, a Actor, s Set) error {
	return m.edit(ctx, a, "set.put", s.ID, func(sp *Spec, ed *Edits) {
		sp.Sets = putByID(sp.Sets, s, func(x Set) string { return x.ID })
		ed.Sets = setEdit(ed.Sets, s.ID, &s)
	})
}

// DeleteSet removes a camera set; sets still used by a tour, schedule or
// wall cannot go.
func (m *Manager) DeleteSet(ctx context.Context, a Actor, id string) error {
	return m.edit(ctx, a, "set.delete", id, func(sp *Spec, ed *Edits) {
		sp.Sets = slices.DeleteFunc(sp.Sets, func(x Set) bool { return x.ID == id })
		ed.Sets = setEdit[Set](ed.Sets, id, nil)
	})
}

// PutTour adds or replaces a tour.
func (m *Manager) PutTour(ctx context.Context, a Actor, t Tour) error {
	return m.edit(ctx, a, "tour.put", t.ID, func(sp *Spec, ed *Edits) {
		sp.Tours = putByID(sp.Tours, t, func(x Tour) string { return x.ID })
		ed.Tours = setEdit(ed.Tours, t.ID, &t)
	})
}

// DeleteTour removes a tour.
func (m *Manager) DeleteTour(ctx context.Context, a Actor, id string) error {
	return m.edit(ctx, a, "tour.delete", id, func(sp *Spec, ed *Edits) {
		sp.Tours = slices.DeleteFunc(sp.Tours, func(x Tour) bool { return x.ID == id })
		ed.Tours = setEdit[Tour](ed.Tours, id, nil)
	})
}

// PutSchedule adds or replaces a schedule.
func (m *Manager) PutSchedule(ctx context.Context, a Actor, s Schedule) error {
	return m.edit(ctx, a, "schedule.put", s.ID, func(sp *Spec, ed *Edits) {
		sp.Schedules = putByID(sp.Schedules, s, func(x Schedule) string { return x.ID })
		ed.Schedules = setEdit(ed.Schedules, s.ID, &s)
	})
}

// DeleteSchedule removes a schedule.
func (m *Manager) DeleteSchedule(ctx context.Context, a Actor, id string) error {
	return m.edit(ctx, a, "schedule.delete", id, func(sp *Spec, ed *Edits) {
		sp.Schedules = slices.DeleteFunc(sp.Schedules, func(x Schedule) bool { return x.ID == id })
		ed.Schedules = setEdit[Schedule](ed.Schedules, id, nil)
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
