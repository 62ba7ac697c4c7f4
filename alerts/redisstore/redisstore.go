// Package redisstore keeps the alert state of several citywall instances
// in Redis: the snapshot (open alerts, history, silences, held
// conditions — every timer follows from the times in it) with a version,
// a lock that orders changes across instances, and an outbox of
// notifications that only the leader delivers, recording each as sent.
//
// Keys share one hash tag, {prefix}, so the scripts work on a Cluster:
// {prefix}:alerts:state, :version, :lock, :outbox, :outbox:cursor:<sink>
// (and :outbox:cursor, the one cursor of earlier releases, read once),
// :sent:<notification>|<sink>, :dead, and the leader's {prefix}:leader:token.
package redisstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/cluster/snapshot"
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

// Store is the alert state in Redis: the shared snapshot (its version,
// lock and fenced saves; LockTTL and LockWait tune the lock) and the
// outbox written with it.
type Store struct {
	*snapshot.Store
	k Keys
}

var (
	_ alerts.SharedStore = (*Store)(nil)
	_ alerts.OutboxStore = (*Store)(nil)
)

// New returns the store of prefix.
func New(rdb redis.UniversalClient, prefix string) *Store {
	k := KeysOf(prefix)
	return &Store{Store: snapshot.New(rdb, snapshot.Keys{Token: k.Token, State: k.State, Version: k.Version, Lock: k.Lock}, "alert"), k: k}
}

// Load implements alerts.Store.
func (s *Store) Load(ctx context.Context) (alerts.Snapshot, error) {
	var snap alerts.Snapshot
	b, err := s.Store.Load(ctx)
	if err != nil || b == nil {
		return snap, err
	}
	if err := json.Unmarshal(b, &snap); err != nil {
		return snap, fmt.Errorf("redis alert state: %w", err)
	}
	return snap, nil
}

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
	b, err := json.Marshal(snap)
	var args []any
	for _, n := range notes {
		if err != nil {
			break
		}
		var nb []byte
		nb, err = json.Marshal(n)
		args = append(args, Identity(n), nb)
	}
	if err != nil {
		s.Forget()
		return fmt.Errorf("redis alert state: %w", err)
	}
	if len(notes) == 0 {
		return s.Store.Save(ctx, b)
	}
	return s.SaveBy(ctx, saveWithScript, b, []string{s.k.Outbox}, args...)
}

// Save implements alerts.Store. A save by leader-only work (a context
// from lease.WithFence) is refused when the token is no longer the
// current one.
func (s *Store) Save(ctx context.Context, snap alerts.Snapshot) error {
	return s.SaveWith(ctx, snap, nil)
}
