package wall

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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
	OnChange  func(Entry) // called for every audited change (metrics)
	OnError   func(error) // called when the state or the audit trail cannot be written
	// Active, when set, says whether this instance runs tours, schedules
	// and override expiry: only the leader of several instances does.
	Active func() bool
	// Now is the clock of schedules, tours and the audit trail; nil:
	// time.Now.
	Now func() time.Time
}

// Manager owns every wall's state. Its methods are safe for concurrent use.
type Manager struct {
	base  Spec // as configured
	loc   *time.Location
	store Store
	act   func() bool
	now   func() time.Time
	pub   Publisher
	log   *slog.Logger
	cams  map[string]Camera
	list  []Camera
	keep  int
	wake  chan struct{}
	onChg func(Entry)
	onErr func(error)

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
		onChg: o.OnChange, onErr: o.OnError, now: o.Now,
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.onChg == nil {
		m.onChg = func(Entry) {}
	}
	if m.onErr == nil {
		m.onErr = func(error) {}
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
	// A wall must come up: state that cannot be read is logged and the
	// walls start from their configuration.
	snap, err := o.Store.Load()
	if err != nil {
		m.log.Error("wall state unreadable; starting from the configuration", "err", err)
		m.onErr(err)
		snap = nil
	} else if snap != nil {
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
	now := m.now()
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		if m.walls[w.ID] == nil {
			m.walls[w.ID] = &wallState{Layout: w.Layout, Changed: now}
		}
		m.settle(w, m.walls[w.ID], now)
	}
	if _, shared := o.Store.(SharedStore); shared && snap == nil && err == nil {
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
		m.tick(ctx, m.now())
	}
	for i := range m.spec.Walls {
		m.publish(ctx, &m.spec.Walls[i])
	}
	m.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		m.mu.Lock()
		now := m.now()
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
		m.tick(ctx, m.now())
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
		m.onErr(err)
	}
	m.onChg(e)
	m.log.Info("wall change", "wall", e.Wall, "who", e.Who, "role", e.Role, "action", e.Action, "detail", e.Detail)
}

// save writes the state; m.mu held. A failure is logged: the wall goes on
// and the next change tries again.
func (m *Manager) save(now time.Time) {
	s := &Snapshot{Saved: now, Walls: m.walls, Alerts: m.alerts, Edits: m.edits}
	if err := m.store.Save(s); err != nil {
		m.log.Error("wall state not saved", "err", err)
		m.onErr(err)
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

// DefaultWall is the wall /wall shows: the configured default, else the
// first wall of a single monitor (one screen shows it best), else the first.
func (m *Manager) DefaultWall() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spec.Default != "" {
		return m.spec.Default
	}
	for _, w := range m.spec.Walls {
		if w.Rows*w.Cols == 1 {
			return w.ID
		}
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
