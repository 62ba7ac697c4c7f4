// Package redisstore keeps the alert state of several citywall instances
// in Redis: the snapshot (open alerts, history, silences, held
// conditions — every timer follows from the times in it) with a version,
// a lock that orders changes across instances, and an outbox of
// notifications that only the leader delivers, recording each as sent.
//
// Keys share one hash tag, {prefix}, so the scripts work on a Cluster:
// {prefix}:alerts:state, :version, :lock, :outbox, :outbox:cursor,
// :sent:<notification>|<sink>, :dead, and the leader's {prefix}:leader:token.
package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/cluster/lease"
)

// Keys names the keys under a prefix.
type Keys struct {
	Token, State, Version, Lock, Outbox, Cursor, Sent, Dead string
}

// KeysOf returns the keys of prefix; the leader's lease must be
// "{prefix}:leader" for the token key to match.
func KeysOf(prefix string) Keys {
	p := "{" + prefix + "}:"
	return Keys{Token: p + "leader:token", State: p + "alerts:state", Version: p + "alerts:version",
		Lock: p + "alerts:lock", Outbox: p + "alerts:outbox", Cursor: p + "alerts:outbox:cursor",
		Sent: p + "alerts:sent:", Dead: p + "alerts:dead"}
}

// Store is the alert state in Redis.
type Store struct {
	rdb  redis.UniversalClient
	k    Keys
	sem  chan struct{} // one change at a time in this process
	mu   sync.Mutex
	seen int64 // version last loaded or saved; -1: unknown
	// LockTTL bounds how long a crashed holder blocks the others.
	LockTTL time.Duration
	// LockWait is how long a change waits for the lock.
	LockWait time.Duration
}

var (
	_ alerts.SharedStore = (*Store)(nil)
	_ alerts.OutboxStore = (*Store)(nil)
)

// New returns the store of prefix.
func New(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, k: KeysOf(prefix), sem: make(chan struct{}, 1), seen: -1,
		LockTTL: 5 * time.Second, LockWait: 5 * time.Second}
}

var loadScript = redis.NewScript(`return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0'}`)

// Load implements alerts.Store.
func (s *Store) Load(ctx context.Context) (alerts.Snapshot, error) {
	var snap alerts.Snapshot
	res, err := loadScript.Run(ctx, s.rdb, []string{s.k.State, s.k.Version}).StringSlice()
	if err != nil {
		return snap, fmt.Errorf("redis alert state: %w", err)
	}
	if res[0] != "" {
		if err := json.Unmarshal([]byte(res[0]), &snap); err != nil {
			return snap, fmt.Errorf("redis alert state: %w", err)
		}
	}
	var v int64
	_, _ = fmt.Sscan(res[1], &v)
	s.mu.Lock()
	s.seen = v
	s.mu.Unlock()
	return snap, nil
}

var saveScript = lease.Fence(`
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('INCR', KEYS[3])`)

var saveWithScript = lease.Fence(`
redis.call('SET', KEYS[2], ARGV[2])
local v = redis.call('INCR', KEYS[3])
for i = 3, #ARGV, 2 do
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', '10000', '*', 'id', ARGV[i], 'n', ARGV[i+1])
end
return v`)

// SaveWith implements alerts.OutboxStore: the state and the change's
// notifications go to Redis in one script, fenced like Save.
func (s *Store) SaveWith(ctx context.Context, snap alerts.Snapshot, notes []alerts.Notification) error {
	if len(notes) == 0 {
		return s.Save(ctx, snap)
	}
	fence, err := lease.FenceArg(ctx)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(snap); err == nil {
			args := []any{fence, b}
			for _, n := range notes {
				nb, jerr := json.Marshal(n)
				if jerr != nil {
					err = jerr
					break
				}
				args = append(args, Identity(n), nb)
			}
			if err == nil {
				var v int64
				v, err = saveWithScript.Run(ctx, s.rdb, []string{s.k.Token, s.k.State, s.k.Version, s.k.Outbox}, args...).Int64()
				if err == nil {
					s.mu.Lock()
					s.seen = v
					s.mu.Unlock()
					return nil
				}
			}
		}
	}
	s.mu.Lock()
	s.seen = -1
	s.mu.Unlock()
	return fmt.Errorf("redis alert state: %w", err)
}

// Save implements alerts.Store. A save by leader-only work (a context
// from lease.WithFence) is refused when the token is no longer the
// current one.
func (s *Store) Save(ctx context.Context, snap alerts.Snapshot) error {
	fence, err := lease.FenceArg(ctx)
	if err == nil {
		var b []byte
		if b, err = json.Marshal(snap); err == nil {
			var v int64
			v, err = saveScript.Run(ctx, s.rdb, []string{s.k.Token, s.k.State, s.k.Version}, fence, b).Int64()
			if err == nil {
				s.mu.Lock()
				s.seen = v
				s.mu.Unlock()
				return nil
			}
		}
	}
	// What this instance holds is not what Redis holds: reload next time.
	s.mu.Lock()
	s.seen = -1
	s.mu.Unlock()
	return fmt.Errorf("redis alert state: %w", err)
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

var lockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return -1`)

// Lock implements alerts.SharedStore.
func (s *Store) Lock(ctx context.Context) (func(), bool, error) {
	wctx, cancel := context.WithTimeout(ctx, s.LockWait)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
	case <-wctx.Done():
		return nil, false, fmt.Errorf("alert lock: %w", wctx.Err())
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	wait := time.Millisecond
	for {
		v, err := lockScript.Run(wctx, s.rdb, []string{s.k.Lock, s.k.Version}, tok, s.LockTTL.Milliseconds()).Int64()
		if err == nil && v >= 0 {
			s.mu.Lock()
			stale := v != s.seen && !(v == 0 && s.seen > 0)
			s.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
					_ = unlockScript.Run(uctx, s.rdb, []string{s.k.Lock}, tok).Err()
					cancel()
					<-s.sem
				})
			}, stale, nil
		}
		if err != nil && !errors.Is(err, redis.Nil) {
			<-s.sem
			return nil, false, fmt.Errorf("alert lock: %w", err)
		}
		select {
		case <-wctx.Done():
			<-s.sem
			return nil, false, fmt.Errorf("alert lock: held by another instance past %s", s.LockWait)
		case <-time.After(wait):
		}
		wait = min(wait*2, 20*time.Millisecond)
	}
}

// Stale implements alerts.SharedStore.
func (s *Store) Stale(ctx context.Context) (bool, error) {
	v, err := s.rdb.Get(ctx, s.k.Version).Int64()
	if errors.Is(err, redis.Nil) {
		v, err = 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis alert version: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Version 0 after this instance saw more: Redis lost its data
	// (restarted without persistence). What the instances hold is newer;
	// the leader saves it again (Lost).
	return v != s.seen && !(v == 0 && s.seen > 0), nil
}

// Lost says whether Redis has lost the state this instance saw (it came
// back empty): the leader then saves its own again.
func (s *Store) Lost(ctx context.Context) bool {
	n, err := s.rdb.Exists(ctx, s.k.Version).Result()
	s.mu.Lock()
	defer s.mu.Unlock()
	return err == nil && n == 0 && s.seen > 0
}
