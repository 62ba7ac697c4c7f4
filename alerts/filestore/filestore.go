// Package filestore keeps the alert state in one JSON file, written
// atomically: a temporary file in the same directory, fsync, rename over
// the old one, fsync of the directory. A crash leaves either the old state
// or the new, never a torn file.
package filestore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/internal/atomicfile"
)

// Store is a state file.
type Store struct {
	path string
	mu   sync.Mutex
}

var _ alerts.Store = (*Store)(nil)

// New returns a store at path; the directory is created when missing.
func New(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("alert state dir: %w", err)
	}
	return &Store{path: path}, nil
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Load reads the state; a missing file is an empty state.
func (s *Store) Load(context.Context) (alerts.Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var snap alerts.Snapshot
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return snap, nil
	}
	if err != nil {
		return snap, fmt.Errorf("read %s: %w", s.path, err)
	}
	if err := json.Unmarshal(data, &snap); err != nil {
		return snap, fmt.Errorf("parse %s: %w", s.path, err)
	}
	return snap, nil
}

// Save writes the state atomically.
func (s *Store) Save(_ context.Context, snap alerts.Snapshot) error {
	data, err := json.Marshal(snap)
	if err != nil {
		return fmt.Errorf("encode alert state: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return atomicfile.Write(s.path, data)
}
