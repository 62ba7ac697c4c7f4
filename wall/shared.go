package wall

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnavailable is a change that could not be made because the shared
// state could not be reached.
var ErrUnavailable = errors.New("wall state unavailable")

// SharedStore is a Store that several instances write (Redis). The
// manager takes its lock around every change and reloads first when
// another instance saved since; the leader's automatic changes (tours,
// schedules, override expiry) are saved with its fencing token.
type SharedStore interface {
	Store
	// Lock serialises changes across instances until unlock is called;
	// stale says another instance saved since this one loaded or saved.
	Lock() (unlock func(), stale bool, err error)
	// Stale says whether another instance saved since.
	Stale() (bool, error)
	// SaveLeader saves as Save does, refused when this instance is no
	// longer the leader.
	SaveLeader(*Snapshot) error
}

// shared takes the shared store's lock and reloads a stale state; m.mu
// must not be held.
func (m *Manager) shared() (func(), error) {
	ss, ok := m.store.(SharedStore)
	if !ok {
		return func() {}, nil
	}
	// A reload by Sync must not land between this change's load and save.
	m.syncMu.Lock()
	unlock, stale, err := ss.Lock()
	if err != nil {
		m.syncMu.Unlock()
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if stale {
		if err := m.Reload(context.Background()); err != nil {
			unlock()
			m.syncMu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return func() { unlock(); m.syncMu.Unlock() }, nil
}

// Sync reloads the state when another instance changed it and publishes
// what changed, so every instance's displays show the same.
func (m *Manager) Sync(ctx context.Context) error {
	ss, ok := m.store.(SharedStore)
	if !ok {
		return nil
	}
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	stale, err := ss.Stale()
	if err != nil || !stale {
		return err
	}
	return m.Reload(ctx)
}

// Reload takes the saved state (walls, alert pushes, edits, the audit
// trail) and publishes what differs from what this instance showed.
func (m *Manager) Reload(ctx context.Context) error {
	snap, err := m.store.Load()
	if err != nil {
		return err
	}
	entries, aerr := m.store.Entries()
	m.mu.Lock()
	defer m.mu.Unlock()
	if snap == nil {
		snap = &Snapshot{}
	}
	if snap.Edits.empty() && !m.edits.empty() {
		sp := m.base.clone()
		if Validate(&sp, m.known) == nil {
			m.spec, m.edits = sp, Edits{}
		}
	}
	old := m.walls
	m.walls, m.alerts = map[string]*wallState{}, nil
	m.restore(snap)
	now := m.now()
	for i := range m.spec.Walls {
		w := &m.spec.Walls[i]
		if m.walls[w.ID] == nil {
			if o := old[w.ID]; o != nil {
				m.walls[w.ID] = o
			} else {
				m.walls[w.ID] = &wallState{Layout: w.Layout, Changed: now}
			}
		}
		m.publish(ctx, w)
	}
	if aerr == nil {
		m.audit = entries
		if len(m.audit) > m.keep {
			m.audit = m.audit[len(m.audit)-m.keep:]
		}
	}
	return nil
}

// Resave saves the state as this instance holds it: after the shared
// store lost it.
func (m *Manager) Resave() error {
	unlock, err := m.shared()
	if err != nil {
		return err
	}
	defer unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.save(m.now())
	return nil
}

// saveAuto saves an automatic change; m.mu held.
func (m *Manager) saveAuto(now time.Time) {
	ss, ok := m.store.(SharedStore)
	if !ok {
		m.save(now)
		return
	}
	if err := ss.SaveLeader(&Snapshot{Saved: now, Walls: m.walls, Alerts: m.alerts, Edits: m.edits}); err != nil {
		m.log.Error("wall state not saved", "err", err)
	}
}
