// Package redisstore keeps the walls' state and audit trail of several
// citywall instances in Redis: the snapshot (each wall's layout, set, tour
// position, override and pushes; alert pushes; the API's edits) with a
// version, a lock that orders changes across instances, and the audit
// trail as a capped list. The leader's automatic changes (tours,
// schedules) are fenced by its lease token.
//
// Keys share the hash tag {prefix}: {prefix}:walls:state, :version, :lock,
// :audit, and the leader's {prefix}:leader:token.
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

	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/wall"
)

// Store is the walls' state in Redis.
type Store struct {
	rdb                                redis.UniversalClient
	lease                              lease.Fencer
	token, state, version, lock, audit string
	keep                               int64
	sem                                chan struct{}

	mu   sync.Mutex
	seen int64 // version last loaded or saved; -1 unknown

	// Timeout bounds each call; LockTTL a crashed holder; LockWait a wait.
	Timeout, LockTTL, LockWait time.Duration
}

var _ wall.SharedStore = (*Store)(nil)

// New returns the store of prefix; f gives the leader's fencing token
// (keep is how many audit entries are kept, 10000 when 0).
func New(rdb redis.UniversalClient, prefix string, f lease.Fencer, keep int) *Store {
	if keep <= 0 {
		keep = 10000
	}
	p := "{" + prefix + "}:"
	return &Store{rdb: rdb, lease: f, token: p + "leader:token", state: p + "walls:state", version: p + "walls:version",
		lock: p + "walls:lock", audit: p + "walls:audit", keep: int64(keep), sem: make(chan struct{}, 1), seen: -1,
		Timeout: 2 * time.Second, LockTTL: 5 * time.Second, LockWait: 5 * time.Second}
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.Timeout)
}

var loadScript = redis.NewScript(`return {redis.call('GET', KEYS[1]) or '', redis.call('GET', KEYS[2]) or '0'}`)

// Load implements wall.Store.
func (s *Store) Load() (*wall.Snapshot, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	res, err := loadScript.Run(ctx, s.rdb, []string{s.state, s.version}).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("redis wall state: %w", err)
	}
	var v int64
	_, _ = fmt.Sscan(res[1], &v)
	s.mu.Lock()
	s.seen = v
	s.mu.Unlock()
	if res[0] == "" {
		return nil, nil
	}
	var snap wall.Snapshot
	if err := json.Unmarshal([]byte(res[0]), &snap); err != nil {
		return nil, fmt.Errorf("redis wall state: %w", err)
	}
	return &snap, nil
}

var saveScript = lease.Fence(`
redis.call('SET', KEYS[2], ARGV[2])
return redis.call('INCR', KEYS[3])`)

func (s *Store) save(snap *wall.Snapshot, fence string) error {
	b, err := json.Marshal(snap)
	if err == nil {
		ctx, cancel := s.ctx()
		defer cancel()
		var v int64
		v, err = saveScript.Run(ctx, s.rdb, []string{s.token, s.state, s.version}, fence, b).Int64()
		if err == nil {
			s.mu.Lock()
			s.seen = v
			s.mu.Unlock()
			return nil
		}
	}
	s.mu.Lock()
	s.seen = -1
	s.mu.Unlock()
	return fmt.Errorf("redis wall state: %w", err)
}

// Save implements wall.Store.
func (s *Store) Save(snap *wall.Snapshot) error { return s.save(snap, "0") }

// SaveLeader implements wall.SharedStore.
func (s *Store) SaveLeader(snap *wall.Snapshot) error {
	tok := s.lease.Token()
	if tok == 0 {
		s.mu.Lock()
		s.seen = -1
		s.mu.Unlock()
		return fmt.Errorf("redis wall state: automatic change after stepping down: %w", lease.ErrStale)
	}
	return s.save(snap, fmt.Sprint(tok))
}

// Append implements wall.Store.
func (s *Store) Append(e wall.Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, s.audit, b)
		p.LTrim(ctx, s.audit, -s.keep, -1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis wall audit: %w", err)
	}
	return nil
}

// Entries implements wall.Store.
func (s *Store) Entries() ([]wall.Entry, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	raw, err := s.rdb.LRange(ctx, s.audit, -s.keep, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("redis wall audit: %w", err)
	}
	out := make([]wall.Entry, 0, len(raw))
	for _, r := range raw {
		var e wall.Entry
		if json.Unmarshal([]byte(r), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

var lockScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
return -1`)

// Lock implements wall.SharedStore.
func (s *Store) Lock() (func(), bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.LockWait)
	defer cancel()
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, errors.New("wall lock: busy in this instance")
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	wait := time.Millisecond
	for {
		v, err := lockScript.Run(ctx, s.rdb, []string{s.lock, s.version}, tok, s.LockTTL.Milliseconds()).Int64()
		if err == nil && v >= 0 {
			s.mu.Lock()
			stale := v != s.seen && !(v == 0 && s.seen > 0)
			s.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					uctx, cancel := s.ctx()
					_ = unlockScript.Run(uctx, s.rdb, []string{s.lock}, tok).Err()
					cancel()
					<-s.sem
				})
			}, stale, nil
		}
		if err != nil {
			<-s.sem
			return nil, false, fmt.Errorf("wall lock: %w", err)
		}
		select {
		case <-ctx.Done():
			<-s.sem
			return nil, false, fmt.Errorf("wall lock: held by another instance past %s", s.LockWait)
		case <-time.After(wait):
		}
		wait = min(wait*2, 20*time.Millisecond)
	}
}

// Stale implements wall.SharedStore.
func (s *Store) Stale() (bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	v, err := s.rdb.Get(ctx, s.version).Int64()
	if errors.Is(err, redis.Nil) {
		v, err = 0, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis wall version: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Version 0 after this instance saw more: Redis came back empty; what
	// the instances hold is newer (see Lost).
	return v != s.seen && !(v == 0 && s.seen > 0), nil
}

// Lost says whether Redis has lost the state this instance saw: the
// leader then saves its own again.
func (s *Store) Lost() bool {
	ctx, cancel := s.ctx()
	defer cancel()
	n, err := s.rdb.Exists(ctx, s.version).Result()
	s.mu.Lock()
	defer s.mu.Unlock()
	return err == nil && n == 0 && s.seen > 0
}
