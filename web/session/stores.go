package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/internal/atomicfile"
)

// File keeps sessions in memory and, when Path is set, in a file written
// whole (atomically) on every change, read back by Open: sessions survive
// a restart of a single instance. Sessions are few (one per browser), so
// rewriting the file is cheap.
type File struct {
	Path string
	Now  func() time.Time

	mu   sync.Mutex
	m    map[string]fileEntry
	open bool
}

type fileEntry struct {
	Session
	Expires time.Time `json:"expires"`
}

var _ Store = (*File)(nil)

// load reads the file once; a missing file is no sessions.
func (f *File) load() error {
	if f.open {
		return nil
	}
	f.m = map[string]fileEntry{}
	if f.Now == nil {
		f.Now = time.Now
	}
	if f.Path != "" {
		b, err := os.ReadFile(f.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(b, &f.m); err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
		}
	}
	f.open = true
	return nil
}

// Open reads the file, so a damaged one is found at start.
func (f *File) Open() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load()
}

func (f *File) save() error {
	if f.Path == "" {
		return nil
	}
	now := f.Now()
	for k, e := range f.m {
		if !e.Expires.After(now) {
			delete(f.m, k)
		}
	}
	b, err := json.Marshal(f.m)
	if err != nil {
		return err
	}
	return atomicfile.Write(f.Path, b)
}

func (f *File) Get(_ context.Context, key string) (Session, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return Session{}, false, err
	}
	e, ok := f.m[key]
	if !ok || !e.Expires.After(f.Now()) {
		return Session{}, false, nil
	}
	return e.Session, true, nil
}

func (f *File) Put(_ context.Context, key string, s Session, ttl time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return err
	}
	f.m[key] = fileEntry{Session: s, Expires: f.Now().Add(ttl)}
	return f.save()
}

func (f *File) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.load(); err != nil {
		return err
	}
	if _, ok := f.m[key]; !ok {
		return nil
	}
	delete(f.m, key)
	return f.save()
}

// Redis keeps sessions in Redis under PREFIX:session:KEY with their
// expiry, so every instance sees every sign-in and sign-out.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns a store of rdb's keys under prefix.
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	return &Redis{rdb: rdb, prefix: prefix}
}

func (r *Redis) key(k string) string { return r.prefix + ":session:" + k }

func (r *Redis) Get(ctx context.Context, key string) (Session, bool, error) {
	b, err := r.rdb.Get(ctx, r.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	var s Session
	if err := json.Unmarshal(b, &s); err != nil {
		return Session{}, false, err
	}
	return s, true, nil
}

func (r *Redis) Put(ctx context.Context, key string, s Session, ttl time.Duration) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return r.rdb.Set(ctx, r.key(key), b, ttl).Err()
}

func (r *Redis) Delete(ctx context.Context, key string) error {
	return r.rdb.Del(ctx, r.key(key)).Err()
}
