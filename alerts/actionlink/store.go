package actionlink

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/citywall/citywall/internal/atomicfile"
)

// MemoryStore keeps the key and the used links in memory: links die with
// the process.
type MemoryStore struct {
	mu   sync.Mutex
	key  []byte
	used map[string]time.Time
	now  func() time.Time
}

var _ Store = (*MemoryStore)(nil)

// Key returns the store's key.
func (m *MemoryStore) Key(context.Context) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.key == nil {
		m.key = NewKey()
	}
	return m.key, nil
}

// Use records nonce/action.
func (m *MemoryStore) Use(_ context.Context, nonce, action string, until time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.used == nil {
		m.used = map[string]time.Time{}
	}
	return use(m.used, nonce+"/"+action, until, m.now), nil
}

// use records k in used unless it is there, dropping what has expired.
func use(used map[string]time.Time, k string, until time.Time, now func() time.Time) bool {
	if now == nil {
		now = time.Now
	}
	t := now()
	for x, u := range used {
		if t.After(u) {
			delete(used, x)
		}
	}
	if _, ok := used[k]; ok {
		return false
	}
	used[k] = until
	return true
}

// FileStore keeps the key and the used links in one JSON file, written
// atomically before Use answers: a link used before a restart stays used.
type FileStore struct {
	path string
	now  func() time.Time

	mu   sync.Mutex
	key  []byte
	used map[string]time.Time
}

var _ Store = (*FileStore)(nil)

type fileState struct {
	Key  string               `json:"key"`
	Used map[string]time.Time `json:"used"`
}

// NewFileStore reads path (mode 0600; created on first use).
func NewFileStore(path string, now func() time.Time) (*FileStore, error) {
	f := &FileStore{path: path, now: now, used: map[string]time.Time{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var st fileState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if f.key, err = base64.StdEncoding.DecodeString(st.Key); err != nil {
		return nil, fmt.Errorf("read %s: key: %w", path, err)
	}
	if st.Used != nil {
		f.used = st.Used
	}
	return f, nil
}

// Key returns the kept key, making and saving one the first time.
func (f *FileStore) Key(context.Context) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.key == nil {
		f.key = NewKey()
		if err := f.saveLocked(); err != nil {
			f.key = nil
			return nil, err
		}
	}
	return f.key, nil
}

// Use records nonce/action and saves before answering.
func (f *FileStore) Use(_ context.Context, nonce, action string, until time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := nonce + "/" + action
	if !use(f.used, k, until, f.now) {
		return false, nil
	}
	if err := f.saveLocked(); err != nil {
		delete(f.used, k)
		return false, err
	}
	return true, nil
}

func (f *FileStore) saveLocked() error {
	data, err := json.Marshal(fileState{Key: base64.StdEncoding.EncodeToString(f.key), Used: f.used})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(f.path, data); err != nil {
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	return nil
}
