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
	return WriteAtomic(s.path, data)
}

// WriteAtomic replaces path with data: temp file, fsync, rename, fsync of
// the directory.
func WriteAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}
