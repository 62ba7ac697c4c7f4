package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is a change that could not be made because the shared
// state could not be reached.
var ErrUnavailable = errors.New("alert state unavailable")

// SharedStore is a Store that several instances write (Redis). The
// manager takes its lock around every change, and reloads first when
// another instance saved since this one last loaded or saved, so changes
// made anywhere apply in one order to one state.
type SharedStore interface {
	Store
	// Lock serialises changes across instances until unlock is called;
	// stale says another instance saved since this one loaded or saved.
	Lock(ctx context.Context) (unlock func(), stale bool, err error)
	// Stale says whether another instance saved since.
	Stale(ctx context.Context) (bool, error)
}

// OutboxStore is a store that takes a change's notifications in the same
// write as the state, so that no crash keeps the one without the other.
// With it the manager does not call its Notifiers: whoever reads the
// store's outbox delivers.
type OutboxStore interface {
	SaveWith(ctx context.Context, s Snapshot, notes []Notification) error
}

// shared takes the shared store's lock and brings the state up to date;
// a no-op for a store of one instance. m.mu must not be held.
func (m *Manager) shared(ctx context.Context) (func(), error) {
	ss, ok := m.opt.Store.(SharedStore)
	if !ok {
		return func() {}, nil
	}
	// A reload by Sync must not land between this change's load and save.
	m.syncMu.Lock()
	unlock, stale, err := ss.Lock(ctx)
	if err != nil {
		m.syncMu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if stale {
		if err := m.Reload(ctx); err != nil {
			unlock()
			m.syncMu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return func() { unlock(); m.syncMu.Unlock() }, nil
}

// Sync reloads the state when another instance changed it: followers call
// it now and then so their hub shows what the others did.
func (m *Manager) Sync(ctx context.Context) error {
	ss, ok := m.opt.Store.(SharedStore)
	if !ok {
		return nil
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	stale, err := ss.Stale(ctx)
	if err != nil || !stale {
		return err
	}
	return m.Reload(ctx)
}

// Resave saves the state as this instance holds it: after the shared
// store lost it.
func (m *Manager) Resave(ctx context.Context) error {
	unlock, err := m.shared(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saveLocked(ctx)
	return nil
}

// Wake makes Run look at its deadlines now: after this instance became
// the leader, for instance.
func (m *Manager) Wake() { m.poke() }

// Reload replaces the state with the store's and tells the listeners of
// every alert that differs, so each instance's hub shows the same alerts.
func (m *Manager) Reload(ctx context.Context) error {
	s, err := m.opt.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load alert state: %w", err)
	}
	m.mu.Lock()
	old := m.byID
	m.open, m.byID = map[string]*Alert{}, map[string]*Alert{}
	var out []func()
	for _, a := range s.Open {
		a := a.clone()
		if !a.Open() || a.Fingerprint == "" || a.ID == "" {
			continue
		}
		m.open[a.Fingerprint] = &a
		m.byID[a.ID] = &a
		if o := old[a.ID]; o == nil || !sameAlert(o, &a) {
			out = append(out, m.changedLocked(&a))
		}
	}
	m.history = s.History
	for id, o := range old {
		if m.byID[id] != nil {
			continue
		}
		gone := o.clone()
		gone.State = StateResolved
		for i := len(m.history) - 1; i >= 0; i-- {
			if m.history[i].ID == id {
				gone = m.history[i].clone()
				break
			}
		}
		out = append(out, m.changedLocked(&gone))
	}
	m.seq = max(m.seq, s.Seq)
	m.silences = s.Silences
	m.held = map[string]time.Time{}
	for fp, until := range s.Held {
		if t, err := time.Parse(time.RFC3339Nano, until); err == nil {
			m.held[fp] = t
		}
	}
	m.metricsLocked()
	m.release(out)
	m.poke()
	return nil
}

func sameAlert(a, b *Alert) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
