// Package snapshot keeps one JSON snapshot that several citywall
// instances share in Redis, with what keeps them in step:
//
//   - a version, incremented by every save, so an instance can tell whether
//     what it holds is what Redis holds (Stale);
//   - a lock that orders changes across instances; taking it says whether
//     the instance must reload first;
//   - saves fenced by the leader's lease token, so a leader that stepped
//     down cannot overwrite its successor's automatic changes;
//   - Lost, for a Redis that came back empty (restarted without
//     persistence): the instances then hold newer state than Redis.
//
// The walls (wall/redisstore) and the alerts (alerts/redisstore) keep
// their state this way. All keys share the hash tag of the prefix, so the
// scripts work on a Redis Cluster.
package snapshot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/cluster/lease"
)

// Keys are a snapshot's keys in Redis. Token is the leader lease's fencing
// token key, which the lease keeps.
type Keys struct {
	Token, State, Version, Lock string
}

// Store is one shared snapshot. Its methods are safe for concurrent use;
// this process makes one change at a time.
type Store struct {
	rdb  redis.UniversalClient
	keys Keys
	what string // "wall", "alert": the start of every error

	sem  chan struct{} // one change at a time in this process
	mu   sync.Mutex
	seen int64 // version last loaded or saved; -1: unknown

	// LockTTL bounds how long a crashed holder blocks the others;
	// LockWait is how long a change waits for the lock.
	LockTTL, LockWait time.Duration
	// Timeout bounds the release of the lock.
	Timeout time.Duration
}

// New returns the snapshot at keys; what names it in errors.
func New(rdb redis.UniversalClient, keys Keys, what string) *Store {
	return &Store{rdb: rdb, keys: keys, what: what, sem: make(chan struct{}, 1), seen: -1,
		LockTTL: 5 * time.Second, LockWait: 5 * time.Second, Timeout: 2 * time.Second}
}

var loadScript = redis.NewScript(`return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0'}`)

// Load returns the snapshot's JSON, nil when there is none yet.
func (s *Store) Load(ctx context.Context) ([]byte, error) {
	res, err := loadScript.Run(ctx, s.rdb, []string{s.keys.State, s.keys.Version}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis %s state: %w", s.what, err)
	}
	v, _ := strconv.ParseInt(res[1], 10, 64)
	s.setSeen(v)
	if res[0] == "" {
		return nil, nil
	}
	return []byte(res[0]), nil
}

// SaveLua is the body of a save script after the fence: it sets the state
// and returns the new version. A store's own save script (lease.Fence)
// may do more in the same step, as long as it does this and returns the
// version.
const SaveLua = `
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('INCR', KEYS[3])`

var saveScript = lease.Fence(SaveLua)

// Save writes the snapshot's JSON, fenced by the leader's token when ctx
// is leader work (lease.WithFence).
func (s *Store) Save(ctx context.Context, state []byte) error {
	return s.SaveBy(ctx, saveScript, state, nil)
}

// SaveBy writes the snapshot with script (lease.Fence around SaveLua and
// more): KEYS are the token, state and version keys, then extraKeys; ARGV
// the fence, the state, then extraArgs. When a save fails, the next lock
// says stale: what this instance holds may not be what Redis holds.
func (s *Store) SaveBy(ctx context.Context, script *redis.Script, state []byte, extraKeys []string, extraArgs ...any) error {
	fence, err := lease.FenceArg(ctx)
	if err == nil {
		keys := append([]string{s.keys.Token, s.keys.State, s.keys.Version}, extraKeys...)
		var v int64
		v, err = script.Run(ctx, s.rdb, keys, append([]any{fence, state}, extraArgs...)...).Int64()
		if err == nil {
			s.setSeen(v)
			return nil
		}
	}
	s.Forget()
	return fmt.Errorf("redis %s state: %w", s.what, err)
}

// Forget makes the next lock or Stale say stale.
func (s *Store) Forget() { s.setSeen(-1) }

func (s *Store) setSeen(v int64) {
	s.mu.Lock()
	s.seen = v
	s.mu.Unlock()
}

// staleAt says whether version v in Redis is not what this instance saw.
// Version 0 after this instance saw more is Redis come back empty: what
// the instances hold is newer (see Lost), not stale.
func (s *Store) staleAt(v int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return v != s.seen && !(v == 0 && s.seen > 0)
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

var lockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return -1`)

// Lock takes the lock across instances, waiting up to LockWait. stale
// says whether the snapshot changed since this instance loaded or saved
// it: reload before changing it. unlock is safe to call twice.
func (s *Store) Lock(ctx context.Context) (unlock func(), stale bool, err error) {
	wctx, cancel := context.WithTimeout(ctx, s.LockWait)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
	case <-wctx.Done():
		return nil, false, fmt.Errorf("%s lock: busy in this instance: %w", s.what, wctx.Err())
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	wait := time.Millisecond
	for {
		v, err := lockScript.Run(wctx, s.rdb, []string{s.keys.Lock, s.keys.Version}, tok, s.LockTTL.Milliseconds()).Int64()
		if err == nil && v >= 0 {
			var once sync.Once
			return func() {
				once.Do(func() {
					uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.Timeout)
					_ = unlockScript.Run(uctx, s.rdb, []string{s.keys.Lock}, tok).Err()
					cancel()
					<-s.sem
				})
			}, s.staleAt(v), nil
		}
		if err != nil {
			<-s.sem
			if wctx.Err() != nil {
				return nil, false, fmt.Errorf("%s lock: held by another instance past %s", s.what, s.LockWait)
			}
			return nil, false, fmt.Errorf("%s lock: %w", s.what, err)
		}
		select {
		case <-wctx.Done():
			<-s.sem
			return nil, false, fmt.Errorf("%s lock: held by another instance past %s", s.what, s.LockWait)
		case <-time.After(wait):
		}
		wait = min(wait*2, 20*time.Millisecond)
	}
}

// Stale says whether the snapshot in Redis is not the one this instance
// last loaded or saved.
func (s *Store) Stale(ctx context.Context) (bool, error) {
	v, err := s.rdb.Get(ctx, s.keys.Version).Int64()
	if errors.Is(err, redis.Nil) {
		v, err = 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis %s version: %w", s.what, err)
	}
	return s.staleAt(v), nil
}

// Lost says whether Redis has lost the snapshot this instance saw (it
// came back empty): the leader then saves its own again.
func (s *Store) Lost(ctx context.Context) bool {
	n, err := s.rdb.Exists(ctx, s.keys.Version).Result()
	s.mu.Lock()
	defer s.mu.Unlock()
	return err == nil && n == 0 && s.seen > 0
}
