package alerts

import (
	"context"
	"sync"
)

// Snapshot is the manager's whole state: what must survive a restart.
// Timers are not stored as such: every deadline (escalation, re-notify,
// silence end) follows from the times kept in the alerts and silences.
type Snapshot struct {
	Version  int               `json:"version"`
	Seq      uint64            `json:"seq"`
	Open     []Alert           `json:"open"`
	History  []Alert           `json:"history"` // resolved, newest last
	Silences []Silence         `json:"silences"`
	Held     map[string]string `json:"held,omitempty"` // fingerprint → RFC 3339 time until which a manually resolved condition stays resolved
}

// Store keeps the snapshot. The embedded default is a file written
// atomically (package alerts/filestore); a shared store for several
// instances can take its place.
type Store interface {
	Load(ctx context.Context) (Snapshot, error) // an empty snapshot when none was saved
	Save(ctx context.Context, s Snapshot) error
}

// MemoryStore keeps the snapshot in memory: nothing survives a restart.
type MemoryStore struct {
	mu sync.Mutex
	s  Snapshot
}

var _ Store = (*MemoryStore)(nil)

// Load returns the last saved snapshot.
func (m *MemoryStore) Load(context.Context) (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s, nil
}

// Save keeps s.
func (m *MemoryStore) Save(_ context.Context, s Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s = s
	return nil
}
