// Package actionredis keeps action links' key and used links in Redis, for
// several instances behind one address: a link used on one is used on all.
package actionredis

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/alerts/actionlink"
)

// Store is an actionlink.Store in Redis under prefix.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ actionlink.Store = (*Store)(nil)

// New returns the store of prefix.
func New(rdb redis.UniversalClient, prefix string) *Store { return &Store{rdb: rdb, prefix: prefix} }

// Key returns the shared key: the first instance to ask sets it (SET NX),
// every other reads that one.
func (s *Store) Key(ctx context.Context) ([]byte, error) {
	k := s.prefix + ":actionlink:key"
	if err := s.rdb.SetNX(ctx, k, actionlink.NewKey(), 0).Err(); err != nil {
		return nil, fmt.Errorf("redis set %s: %w", k, err)
	}
	key, err := s.rdb.Get(ctx, k).Bytes()
	if err != nil {
		return nil, fmt.Errorf("redis get %s: %w", k, err)
	}
	return key, nil
}

// Use records nonce/action with SET NX, kept until the link expires.
func (s *Store) Use(ctx context.Context, nonce, action string, until time.Time) (bool, error) {
	k := s.prefix + ":actionlink:used:" + nonce + "/" + action
	err := s.rdb.SetArgs(ctx, k, 1, redis.SetArgs{Mode: "NX", ExpireAt: until.Add(time.Minute)}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redis set %s: %w", k, err)
	}
	return true, nil
}
