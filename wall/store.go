package wall

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/citywall/citywall/internal/atomicfile"
)

// Store keeps the walls' state and the audit trail across restarts. The
// file store is the default; a shared store (Redis) can stand in for it.
type Store interface {
	// Load returns the saved state, or nil when nothing was saved yet. An
	// error leaves the walls to start from their configuration.
	Load() (*Snapshot, error)
	// Save replaces the saved state; it is durable when it returns.
	Save(*Snapshot) error
	// Append adds an audit entry; it is durable when it returns.
	Append(Entry) error
	// Entries returns the kept audit entries, oldest first.
	Entries() ([]Entry, error)
}

// Snapshot is everything that survives a restart.
type Snapshot struct {
	Saved  time.Time             `json:"saved"`
	Walls  map[string]*wallState `json:"walls"`
	Alerts []AlertPush           `json:"alerts,omitempty"`
	Edits  Edits                 `json:"edits"`
}

// Edits are the API's changes to the configured spec, by id; a nil value
// deletes what the configuration has under that id.
type Edits struct {
	Layouts   map[string]*Layout   `json:"layouts,omitempty"` // "wall/layout"
	Sets      map[string]*Set      `json:"sets,omitempty"`
	Tours     map[string]*Tour     `json:"tours,omitempty"`
	Schedules map[string]*Schedule `json:"schedules,omitempty"`
}

// Entry is one audited change: who (the token's name and role), what, when.
type Entry struct {
	Time   time.Time `json:"time"`
	Wall   string    `json:"wall,omitempty"`
	Who    string    `json:"who"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	Detail string    `json:"detail,omitempty"`
}

// MemoryStore keeps everything in memory: state does not survive the
// process. For tests and for a wall without a state file.
type MemoryStore struct {
	Keep int // audit entries kept; 10000 when 0

	mu      sync.Mutex
	snap    []byte
	entries []Entry
}

var _ Store = (*MemoryStore)(nil)

// Load implements Store.
func (m *MemoryStore) Load() (*Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		return nil, nil
	}
	var s Snapshot
	return &s, json.Unmarshal(m.snap, &s)
}

// Save implements Store.
func (m *MemoryStore) Save(s *Snapshot) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.snap = b
	m.mu.Unlock()
	return nil
}

// Append implements Store.
func (m *MemoryStore) Append(e Entry) error {
	keep := m.Keep
	if keep <= 0 {
		keep = 10000
	}
	m.mu.Lock()
	m.entries = append(m.entries, e)
	if len(m.entries) > keep+keep/4 {
		m.entries = append([]Entry(nil), m.entries[len(m.entries)-keep:]...)
	}
	m.mu.Unlock()
	return nil
}

// Entries implements Store.
func (m *MemoryStore) Entries() ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Entry(nil), m.entries...), nil
}

// FileStore keeps the state in one JSON file, replaced atomically (written
// to a temporary file in the same directory, synced, renamed over the old
// one, and the directory synced), so a crash leaves the old state or the
// new one, never a torn file. The audit trail is a JSON-lines file next to
// it, appended and synced per entry and never rewritten: past MaxBytes, or
// once its first entry is MaxAge old, it is renamed to
// Path + ".audit.<UTC time>" and a new one begins. Rotated files are kept;
// removing them is the operator's decision, never the API's.
type FileStore struct {
	Path     string        // the state file; the audit trail is Path + ".audit"
	Keep     int           // audit entries Entries returns; 10000 when 0
	MaxBytes int64         // rotate the audit file past this size; 64 MiB when 0
	MaxAge   time.Duration // rotate once its first entry is this old; 720h when 0
	Now      func() time.Time

	mu    sync.Mutex
	size  int64     // bytes in the audit file; 0: look at the file
	first time.Time // its first entry's time
}

var _ Store = (*FileStore)(nil)

func (f *FileStore) keep() int {
	if f.Keep > 0 {
		return f.Keep
	}
	return 10000
}

func (f *FileStore) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Load implements Store.
func (f *FileStore) Load() (*Snapshot, error) {
	b, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read wall state: %w", err)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		// Keep the unreadable file for a look; the next save starts afresh.
		aside := f.Path + ".unreadable"
		if rerr := os.Rename(f.Path, aside); rerr == nil {
			return nil, fmt.Errorf("wall state %s (kept as %s): %w", f.Path, aside, err)
		}
		return nil, fmt.Errorf("wall state %s: %w", f.Path, err)
	}
	return &s, nil
}

// Save implements Store.
func (f *FileStore) Save(s *Snapshot) error {
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("encode wall state: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return writeAtomic(f.Path, b)
}

// writeAtomic replaces path with data (see atomicfile.Write), making its
// directory first. Once the new state is in place, a directory that cannot
// be synced is not an error.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("wall state dir: %w", err)
	}
	if err := atomicfile.Write(path, data); err != nil && !errors.Is(err, atomicfile.ErrDirSync) {
		return fmt.Errorf("wall state: %w", err)
	}
	return nil
}

func (f *FileStore) auditPath() string { return f.Path + ".audit" }

// Append implements Store.
func (f *FileStore) Append(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o755); err != nil {
		return fmt.Errorf("audit dir: %w", err)
	}
	if err := f.rotateIfDue(int64(len(b))); err != nil {
		return err
	}
	file, err := os.OpenFile(f.auditPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open audit: %w", err)
	}
	_, err = file.Write(b)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		f.size = 0 // look again: part of the line may be there
		return fmt.Errorf("append audit: %w", err)
	}
	if f.size == 0 {
		f.first = e.Time
	}
	f.size += int64(len(b))
	return nil
}

// rotateIfDue renames the audit file aside when adding n bytes would pass
// MaxBytes or its first entry is MaxAge old. f.mu held.
func (f *FileStore) rotateIfDue(n int64) error {
	if f.size <= 0 {
		f.size, f.first = 0, time.Time{}
		st, err := os.Stat(f.auditPath())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		f.size = st.Size()
		if entries, err := readEntries(f.auditPath()); err == nil && len(entries) > 0 {
			f.first = entries[0].Time
		} else {
			f.first = st.ModTime()
		}
	}
	maxBytes, maxAge := f.MaxBytes, f.MaxAge
	if maxBytes <= 0 {
		maxBytes = 64 << 20
	}
	if maxAge <= 0 {
		maxAge = 30 * 24 * time.Hour
	}
	if f.size == 0 || f.size+n <= maxBytes && f.now().Sub(f.first) < maxAge {
		return nil
	}
	aside := f.auditPath() + "." + f.now().UTC().Format("20060102T150405.000000000Z")
	if err := os.Rename(f.auditPath(), aside); err != nil {
		return fmt.Errorf("rotate audit: %w", err)
	}
	if d, err := os.Open(filepath.Dir(f.Path)); err == nil {
		_ = d.Sync() // the rename is in place either way
		_ = d.Close()
	}
	f.size, f.first = 0, time.Time{}
	return nil
}

// Entries implements Store: the last Keep entries, from the audit file and,
// when it holds fewer, the newest rotated ones. A torn last line (a crash
// mid-append) is skipped.
func (f *FileStore) Entries() ([]Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	entries, err := readEntries(f.auditPath())
	if err != nil {
		return nil, err
	}
	rotated, _ := filepath.Glob(f.auditPath() + ".*")
	sort.Sort(sort.Reverse(sort.StringSlice(rotated)))
	for _, p := range rotated {
		if len(entries) >= f.keep() {
			break
		}
		older, err := readEntries(p)
		if err != nil {
			return nil, err
		}
		entries = append(older, entries...)
	}
	if len(entries) > f.keep() {
		entries = entries[len(entries)-f.keep():]
	}
	return entries, nil
}

func readEntries(path string) ([]Entry, error) {
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer file.Close()
	var out []Entry
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}
