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
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/cluster/snapshot"
	"github.com/citywall/citywall/wall"
)

// Store is the walls' state in Redis.
type Store struct {
	*snapshot.Store // the walls' snapshot, version and lock
	rdb             redis.UniversalClient
	lease           lease.Fencer
	audit           string
	keep            int64

	// Timeout bounds each call.
	Timeout time.Duration
}

var _ wall.SharedStore = (*Store)(nil)

// New returns the store of prefix; f gives the leader's fencing token
// (keep is how many audit entries are kept, 10000 when 0).
func New(rdb redis.UniversalClient, prefix string, f lease.Fencer, keep int) *Store {
	if keep <= 0 {
		keep = 10000
	}
	p := "{" + prefix + "}:"
	return &Store{
		Store: snapshot.New(rdb, snapshot.Keys{Token: p + "leader:token", State: p + "walls:state",
			Version: p + "walls:version", Lock: p + "walls:lock"}, "wall"),
		rdb: rdb, lease: f, audit: p + "walls:audit", keep: int64(keep), Timeout: 2 * time.Second,
	}
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.Timeout)
}

// Load implements wall.Store.
func (s *Store) Load() (*wall.Snapshot, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	b, err := s.Store.Load(ctx)
	if err != nil || b == nil {
		return nil, err
	}
	var snap wall.Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		return nil, fmt.Errorf("redis wall state: %w", err)
	}
	return &snap, nil
}

func (s *Store) save(ctx context.Context, snap *wall.Snapshot) error {
	b, err := json.Marshal(snap)
	if err != nil {
		s.Forget()
		return fmt.Errorf("redis wall state: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	return s.Store.Save(ctx, b)
}

// Save implements wall.Store.
func (s *Store) Save(snap *wall.Snapshot) error { return s.save(context.Background(), snap) }

// SaveLeader implements wall.SharedStore: refused once this instance is no
// longer the leader (lease.ErrStale).
func (s *Store) SaveLeader(snap *wall.Snapshot) error {
	return s.save(lease.WithFence(context.Background(), s.lease), snap)
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

// Lock implements wall.SharedStore.
func (s *Store) Lock() (func(), bool, error) { return s.Store.Lock(context.Background()) }

// Stale implements wall.SharedStore.
func (s *Store) Stale() (bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.Store.Stale(ctx)
}

// Lost says whether Redis has lost the state this instance saw: the
// leader then saves its own again.
func (s *Store) Lost() bool {
	ctx, cancel := s.ctx()
	defer cancel()
	return s.Store.Lost(ctx)
}
