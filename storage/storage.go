// Package storage is an instance's one data directory: everything it keeps
// across restarts (the ingest log, the walls' state and audit trail, the
// alerts' state and baseline, the demo's tokens) lives under it. Open
// takes an exclusive lock on it, so a second instance pointed at the same
// directory is refused instead of overwriting the first one's state, and
// checks its format version, so a directory written by a newer citywall
// is refused with a clear message instead of being misread.
package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Version is the data directory's format version this build writes.
const Version = 1

// Names of what lives in a data directory.
const (
	LogDir        = "log"           // the ingest log (disklog segments)
	WallsFile     = "walls.json"    // the walls' state and audit trail
	AlertsFile    = "alerts.json"   // open alerts, silences, timers (and alerts.baseline.json)
	DemoTokenFile = "demo-tokens"   // the demo's tokens
	SessionsFile  = "sessions.json" // browsers' sign-ins (digests of their ids)
	versionFile   = "VERSION"
	lockFile      = "LOCK"
)

// Dir is an open, locked data directory.
type Dir struct {
	path string
	lock *os.File
}

// DefaultDir is where an instance keeps its data when storage.dir is not
// set: $XDG_STATE_HOME/citywall, or ~/.local/state/citywall.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "citywall"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("storage.dir is not set and there is no home directory to default to: %w", err)
	}
	return filepath.Join(home, ".local", "state", "citywall"), nil
}

// Open creates path if needed, locks it against a second instance and
// checks its version.
func Open(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("storage: no data directory given")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("storage.dir %q: %w", path, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("storage.dir %q: %w", abs, err)
	}
	lock, err := os.OpenFile(filepath.Join(abs, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage.dir %q: %w", abs, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("storage.dir %q is in use by another citywall instance (pid %s); give each instance its own storage.dir", abs, lockHolder(abs))
		}
		return nil, fmt.Errorf("storage.dir %q: lock: %w", abs, err)
	}
	d := &Dir{path: abs, lock: lock}
	if err := d.checkVersion(); err != nil {
		d.Close()
		return nil, err
	}
	_ = lock.Truncate(0)
	_, _ = lock.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return d, nil
}

func lockHolder(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, lockFile))
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// checkVersion writes VERSION into a new directory and refuses one written
// by a newer format.
func (d *Dir) checkVersion() error {
	p := filepath.Join(d.path, versionFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(p, []byte(strconv.Itoa(Version)+"\n"), 0o600); err != nil {
			return fmt.Errorf("storage.dir %q: %w", d.path, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("storage.dir %q: %w", d.path, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("storage.dir %q: %s holds %q, not a format version", d.path, versionFile, strings.TrimSpace(string(b)))
	}
	if v > Version {
		return fmt.Errorf("storage.dir %q was written by a newer citywall (data format %d; this build reads up to %d): upgrade citywall, or point storage.dir elsewhere", d.path, v, Version)
	}
	return nil
}

// Path is the directory's absolute path.
func (d *Dir) Path() string { return d.path }

// File is the path of name inside the directory.
func (d *Dir) File(name string) string { return filepath.Join(d.path, name) }

// Close releases the lock. Safe twice.
func (d *Dir) Close() {
	if d == nil || d.lock == nil {
		return
	}
	_ = d.lock.Close() // closing the descriptor releases the flock
	d.lock = nil
}
