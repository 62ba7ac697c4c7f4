package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configure a Manager. Zero values take the defaults.
type Options struct {
	Store         Store         // nil: memory only
	Router        *Router       // nil: alerts go to no team
	Notifiers     []Notifier    // told of firing, re-notify, escalation, ack and resolve
	Listeners     []Listener    // told of every change
	EscalateAfter time.Duration // unacknowledged this long after it started: escalate (default 30m)
	Renotify      time.Duration // re-notify an unacknowledged alert this often (default 10m)
	// HoldResolved keeps a manually resolved condition resolved while its
	// source still fires it (default 2h), so resolving a cluster that is
	// still there does not raise it again at the next scan.
	HoldResolved time.Duration
	History      int // resolved alerts kept (default 2000)
	Metrics      *Metrics
	Logger       *slog.Logger
	Now          func() time.Time // default time.Now
	// Active, when set, says whether this instance runs the timers: only
	// the leader of several instances does (the others wait for Wake).
	Active func() bool
}

func (o Options) withDefaults() Options {
	if o.Store == nil {
		o.Store = &MemoryStore{}
	}
	if o.EscalateAfter <= 0 {
		o.EscalateAfter = 30 * time.Minute
	}
	if o.Renotify <= 0 {
		o.Renotify = 10 * time.Minute
	}
	if o.HoldResolved <= 0 {
		o.HoldResolved = 2 * time.Hour
	}
	if o.History <= 0 {
		o.History = 2000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Manager is the alert lifecycle: dedup by fingerprint, firing →
// acknowledged → resolved, silences, escalation and re-notification. Its
// state is saved to the Store after every change, and every deadline is
// derived from saved times, so a restart keeps open alerts and timers.
type Manager struct {
	opt Options
	log *slog.Logger

	mu       sync.Mutex
	emit     sync.Mutex        // orders notifications and listener calls as the changes
	open     map[string]*Alert // by fingerprint
	byID     map[string]*Alert // open ones
	history  []Alert
	silences []Silence
	held     map[string]time.Time
	seq      uint64
	pending  []Notification // for an OutboxStore: saved with the next state
	syncMu   sync.Mutex     // a shared store's reload against this instance's changes
	closed   bool
	wake     chan struct{}

	runOnce sync.Once
	done    chan struct{}
}

// New loads the saved state and returns a manager. Call Run for its timers.
func New(ctx context.Context, o Options) (*Manager, error) {
	o = o.withDefaults()
	m := &Manager{opt: o, log: o.Logger, open: map[string]*Alert{}, byID: map[string]*Alert{},
		held: map[string]time.Time{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	s, err := o.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("load alert state: %w", err)
	}
	m.seq = s.Seq
	for _, a := range s.Open {
		a := a.clone()
		if !a.Open() || a.Fingerprint == "" || a.ID == "" {
			continue
		}
		m.open[a.Fingerprint] = &a
		m.byID[a.ID] = &a
	}
	m.history = s.History
	m.silences = s.Silences
	for fp, until := range s.Held {
		if t, err := time.Parse(time.RFC3339Nano, until); err == nil {
			m.held[fp] = t
		}
	}
	m.metricsLocked()
	return m, nil
}

// Run drives the timers until ctx ends: escalation, re-notification and
// the end of silences. Deadlines passed while the process was down are
// acted on at once.
func (m *Manager) Run(ctx context.Context) {
	started := false
	m.runOnce.Do(func() { started = true })
	if !started {
		return
	}
	defer close(m.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var next time.Time
		if m.opt.Active == nil || m.opt.Active() {
			if unlock, err := m.shared(ctx); err != nil {
				m.log.Warn("alert timers wait", "err", err)
				next = m.opt.Now().Add(time.Second)
			} else {
				next = m.tick(ctx)
				unlock()
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(m.opt.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// tick acts on every deadline passed and returns the next one.
func (m *Manager) tick(ctx context.Context) time.Time {
	m.mu.Lock()
	now := m.opt.Now()
	var out []func()
	changed := false
	var next time.Time
	due := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	// Silences that began or ended change what is muted.
	for _, a := range m.sortedOpenLocked() {
		sil := silenceOf(m.silences, a, now)
		if sil != a.Silenced {
			a.Silenced = sil
			a.UpdatedAt = now
			changed = true
			out = append(out, m.changedLocked(a))
			if sil == "" && a.State == StateFiring {
				// Unmuted while firing: tell the teams now.
				a.NotifiedAt, a.Notifications = now, a.Notifications+1
				out = append(out, m.notifyLocked(EventFiring, a, a.Teams, now))
			}
		}
		if a.State != StateFiring || a.Silenced != "" {
			continue
		}
		if a.Level == 0 && m.opt.Router != nil && len(m.opt.Router.Escalation) > 0 {
			at := a.StartsAt.Add(m.opt.EscalateAfter)
			if !now.Before(at) {
				a.Level = 1
				a.EscalatedAt = now
				for _, t := range m.opt.Router.Escalation {
					if !slices.Contains(a.Teams, t) {
						a.Teams = append(a.Teams, t)
					}
				}
				a.UpdatedAt = now
				a.NotifiedAt, a.Notifications = now, a.Notifications+1
				changed = true
				if m.opt.Metrics != nil {
					m.opt.Metrics.escalations.WithLabelValues(a.Source).Inc()
				}
				out = append(out, m.changedLocked(a), m.notifyLocked(EventEscalated, a, a.Teams, now))
			} else {
				due(at)
			}
		}
		at := a.NotifiedAt.Add(m.opt.Renotify)
		if !now.Before(at) {
			a.NotifiedAt, a.Notifications = now, a.Notifications+1
			changed = true
			out = append(out, m.changedLocked(a), m.notifyLocked(EventRenotify, a, a.Teams, now))
			at = now.Add(m.opt.Renotify)
		}
		due(at)
	}
	for _, s := range m.silences {
		if s.ExpiredAt.IsZero() {
			if now.Before(s.StartsAt) {
				due(s.StartsAt)
			} else if now.Before(s.EndsAt) {
				due(s.EndsAt)
			}
		}
	}
	for fp, until := range m.held {
		if !now.Before(until) {
			delete(m.held, fp)
			changed = true
		}
	}
	if changed {
		m.saveLocked(ctx)
	}
	m.emit.Lock()
	m.mu.Unlock()
	for _, f := range out {
		f()
	}
	m.emit.Unlock()
	return next
}

// Fire raises or updates the alert of s.Fingerprint.
func (m *Manager) Fire(ctx context.Context, s Signal) error {
	if err := s.validate(); err != nil {
		return err
	}
	unlock, err := m.shared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	now := m.opt.Now()
	if until, ok := m.held[s.Fingerprint]; ok && now.Before(until) {
		m.mu.Unlock()
		return nil
	}
	var out []func()
	a := m.open[s.Fingerprint]
	if a != nil {
		a.Signal = s
		a.UpdatedAt = now
		a.Updates++
		out = append(out, m.changedLocked(a))
	} else {
		m.seq++
		a = &Alert{ID: fmt.Sprintf("A%s-%04d", now.UTC().Format("20060102-150405"), m.seq%10000), Signal: s,
			State: StateFiring, StartsAt: now, UpdatedAt: now}
		a.Teams = m.opt.Router.Route(a)
		a.Silenced = silenceOf(m.silences, a, now)
		m.open[s.Fingerprint] = a
		m.byID[a.ID] = a
		if m.opt.Metrics != nil {
			m.opt.Metrics.raised.WithLabelValues(a.Source).Inc()
		}
		out = append(out, m.changedLocked(a))
		if a.Silenced == "" {
			a.NotifiedAt, a.Notifications = now, 1
			out = append(out, m.notifyLocked(EventFiring, a, a.Teams, now))
		}
		m.log.InfoContext(ctx, "alert firing", "alert", a.ID, "source", a.Source, "fingerprint", a.Fingerprint, "teams", a.Teams, "silenced", a.Silenced)
	}
	m.saveLocked(ctx)
	m.metricsLocked()
	m.release(out)
	m.poke()
	return nil
}

// apply fires a scan's signals and clears the fingerprints it no longer
// sees, for a source named what; a fire that fails is logged.
func (m *Manager) apply(ctx context.Context, log *slog.Logger, what string, fire []Signal, gone []string) {
	for _, s := range fire {
		if err := m.Fire(ctx, s); err != nil {
			log.Warn(what+" alert not raised", "fingerprint", s.Fingerprint, "err", err)
		}
	}
	for _, fp := range gone {
		_ = m.Clear(ctx, fp)
	}
}

// Clear resolves the open alert of fingerprint because its source says the
// condition ended; nothing happens when none is open.
func (m *Manager) Clear(ctx context.Context, fingerprint string) error {
	unlock, err := m.shared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	delete(m.held, fingerprint)
	a := m.open[fingerprint]
	if a == nil {
		m.mu.Unlock()
		return nil
	}
	out := m.resolveLocked(a, "system", "condition cleared")
	m.saveLocked(ctx)
	m.metricsLocked()
	m.release(out)
	return nil
}

// Ack acknowledges a firing alert: its escalation and re-notification
// stop, and everyone sees who took it and when.
func (m *Manager) Ack(ctx context.Context, id, by, note string) (Alert, error) {
	if len(note) > maxText {
		return Alert{}, fmt.Errorf("%w: note: at most %d bytes", ErrBadSignal, maxText)
	}
	unlock, err := m.shared(ctx)
	if err != nil {
		return Alert{}, err
	}
	defer unlock()
	m.mu.Lock()
	a, err := m.openLocked(id)
	if err != nil {
		m.mu.Unlock()
		return Alert{}, err
	}
	if a.State != StateFiring {
		m.mu.Unlock()
		return Alert{}, fmt.Errorf("%w: %s is %s (by %s)", ErrState, id, a.State, a.AckedBy)
	}
	now := m.opt.Now()
	a.State, a.AckedAt, a.AckedBy, a.AckNote, a.UpdatedAt = StateAcknowledged, now, by, note, now
	out := []func(){m.changedLocked(a), m.notifyLocked(EventAcknowledged, a, a.Teams, now)}
	m.log.InfoContext(ctx, "alert acknowledged", "alert", id, "by", by)
	m.saveLocked(ctx)
	m.metricsLocked()
	cp := a.clone()
	m.release(out)
	m.poke()
	return cp, nil
}

// Resolve closes an open alert by hand; reason is required.
func (m *Manager) Resolve(ctx context.Context, id, by, reason string) (Alert, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return Alert{}, ErrReasonRequired
	}
	if len(reason) > maxText {
		return Alert{}, fmt.Errorf("%w: reason: at most %d bytes", ErrBadSignal, maxText)
	}
	unlock, err := m.shared(ctx)
	if err != nil {
		return Alert{}, err
	}
	defer unlock()
	m.mu.Lock()
	a, err := m.openLocked(id)
	if err != nil {
		m.mu.Unlock()
		return Alert{}, err
	}
	m.held[a.Fingerprint] = m.opt.Now().Add(m.opt.HoldResolved)
	out := m.resolveLocked(a, by, reason)
	cp := m.history[len(m.history)-1].clone()
	m.log.InfoContext(ctx, "alert resolved", "alert", id, "by", by)
	m.saveLocked(ctx)
	m.metricsLocked()
	m.release(out)
	m.poke()
	return cp, nil
}

func (m *Manager) resolveLocked(a *Alert, by, reason string) []func() {
	now := m.opt.Now()
	a.State, a.ResolvedAt, a.ResolvedBy, a.Reason, a.UpdatedAt = StateResolved, now, by, reason, now
	delete(m.open, a.Fingerprint)
	delete(m.byID, a.ID)
	m.history = append(m.history, a.clone())
	if over := len(m.history) - m.opt.History; over > 0 {
		m.history = slices.Delete(m.history, 0, over)
	}
	return []func(){m.changedLocked(a), m.notifyLocked(EventResolved, a, a.Teams, now)}
}

// release hands the queued calls over in order, after the state lock.
func (m *Manager) release(out []func()) {
	m.emit.Lock()
	m.mu.Unlock()
	defer m.emit.Unlock()
	for _, f := range out {
		f()
	}
}

func (m *Manager) changedLocked(a *Alert) func() {
	cp := a.clone()
	return func() {
		for _, l := range m.opt.Listeners {
			l(cp)
		}
	}
}

func (m *Manager) notifyLocked(ev Event, a *Alert, teams []string, now time.Time) func() {
	n := Notification{Event: ev, Alert: a.clone(), Teams: slices.Clone(teams), Time: now}
	if _, ok := m.opt.Store.(OutboxStore); ok {
		m.pending = append(m.pending, n)
	}
	return func() {
		for _, nf := range m.opt.Notifiers {
			nf.Notify(context.Background(), n)
		}
		if m.opt.Metrics != nil {
			m.opt.Metrics.notifications.WithLabelValues(string(ev)).Inc()
		}
	}
}

// openLocked returns the open alert id, or why there is none: it is
// resolved already, or unknown. m.mu is held.
func (m *Manager) openLocked(id string) (*Alert, error) {
	if a := m.byID[id]; a != nil {
		return a, nil
	}
	if slices.ContainsFunc(m.history, func(a Alert) bool { return a.ID == id }) {
		return nil, fmt.Errorf("%w: %s is resolved", ErrState, id)
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
}

func (m *Manager) sortedOpenLocked() []*Alert {
	out := make([]*Alert, 0, len(m.open))
	for _, a := range m.open {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (m *Manager) saveLocked(ctx context.Context) {
	s := Snapshot{Version: 1, Seq: m.seq, History: m.history, Silences: m.silences, Held: map[string]string{}}
	for _, a := range m.sortedOpenLocked() {
		s.Open = append(s.Open, a.clone())
	}
	for fp, t := range m.held {
		s.Held[fp] = t.Format(time.RFC3339Nano)
	}
	var err error
	if ob, ok := m.opt.Store.(OutboxStore); ok {
		err = ob.SaveWith(ctx, s, m.pending)
		m.pending = nil
	} else {
		err = m.opt.Store.Save(ctx, s)
	}
	if err != nil {
		m.log.ErrorContext(ctx, "alert state not saved", "err", err)
		if m.opt.Metrics != nil {
			m.opt.Metrics.saveErrors.Inc()
		}
	}
}

func (m *Manager) metricsLocked() {
	if m.opt.Metrics == nil {
		return
	}
	m.opt.Metrics.zeroOpen()
	for _, a := range m.open {
		m.opt.Metrics.open.WithLabelValues(a.Source, string(a.State)).Inc()
	}
}

// Get returns an alert, open or from history.
func (m *Manager) Get(id string) (Alert, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.byID[id]; a != nil {
		return a.clone(), true
	}
	for i := len(m.history) - 1; i >= 0; i-- {
		if m.history[i].ID == id {
			return m.history[i].clone(), true
		}
	}
	return Alert{}, false
}

// Open lists the open alerts, newest first.
func (m *Manager) Open() []Alert {
	return m.List(Filter{Open: true})
}

// Filter selects alerts from List. Zero fields select everything.
type Filter struct {
	Open     bool // only open ones
	State    State
	Source   string
	Category string
	District string
	Team     string
	From, To time.Time // StartsAt in [From, To)
	Limit    int       // default 500
}

// List returns the alerts matching f, open and resolved, newest first.
func (m *Manager) List(f Filter) []Alert {
	if f.Limit <= 0 || f.Limit > 5000 {
		f.Limit = 500
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	match := func(a *Alert) bool {
		switch {
		case f.Open && !a.Open(),
			f.State != "" && a.State != f.State,
			f.Source != "" && a.Source != f.Source,
			f.Category != "" && a.Category != f.Category,
			f.District != "" && a.District != f.District,
			f.Team != "" && !slices.Contains(a.Teams, f.Team),
			!f.From.IsZero() && a.StartsAt.Before(f.From),
			!f.To.IsZero() && !a.StartsAt.Before(f.To):
			return false
		}
		return true
	}
	for _, a := range m.open {
		if match(a) {
			out = append(out, a.clone())
		}
	}
	if !f.Open {
		for i := range m.history {
			if match(&m.history[i]) {
				out = append(out, m.history[i].clone())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].StartsAt.Equal(out[j].StartsAt) {
			return out[i].StartsAt.After(out[j].StartsAt)
		}
		return out[i].ID > out[j].ID
	})
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out
}

// AddSilence validates and adds a silence; open alerts it matches are
// muted at once.
func (m *Manager) AddSilence(ctx context.Context, s Silence) (Silence, error) {
	now := m.opt.Now()
	if err := s.Validate(now); err != nil {
		return Silence{}, err
	}
	unlock, err := m.shared(ctx)
	if err != nil {
		return Silence{}, err
	}
	defer unlock()
	m.mu.Lock()
	m.seq++
	s.ID = fmt.Sprintf("S%s-%04d", now.UTC().Format("20060102-150405"), m.seq%10000)
	s.ExpiredAt = time.Time{}
	m.silences = append(m.silences, s)
	// Drop silences long over, keeping a week of record.
	m.silences = slices.DeleteFunc(m.silences, func(x Silence) bool {
		end := x.EndsAt
		if !x.ExpiredAt.IsZero() {
			end = x.ExpiredAt
		}
		return now.Sub(end) > 7*24*time.Hour
	})
	m.saveLocked(ctx)
	m.mu.Unlock()
	m.poke()
	m.tick(ctx)
	return s, nil
}

// Silences lists the silences, newest first.
func (m *Manager) Silences() []Silence {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Clone(m.silences)
	slices.Reverse(out)
	return out
}

// ExpireSilence ends a silence now.
func (m *Manager) ExpireSilence(ctx context.Context, id string) error {
	unlock, err := m.shared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	i := slices.IndexFunc(m.silences, func(s Silence) bool { return s.ID == id })
	if i < 0 {
		m.mu.Unlock()
		return fmt.Errorf("%w: silence %s", ErrNotFound, id)
	}
	if !m.silences[i].ExpiredAt.IsZero() {
		m.mu.Unlock()
		return fmt.Errorf("%w: silence %s already expired", ErrState, id)
	}
	m.silences[i].ExpiredAt = m.opt.Now()
	m.saveLocked(ctx)
	m.mu.Unlock()
	m.tick(ctx)
	m.poke()
	return nil
}

// Router is the manager's router.
func (m *Manager) Router() *Router { return m.opt.Router }

// Close stops accepting signals and saves the state once more; Run ends
// with its context. Safe to call twice.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	if _, shared := m.opt.Store.(SharedStore); !shared {
		// A shared store has every change already, and another instance
		// may have saved since: saving again would undo its changes.
		m.saveLocked(context.Background())
	}
	return nil
}
