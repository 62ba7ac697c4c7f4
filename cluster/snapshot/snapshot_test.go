package snapshot_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/cluster/snapshot"
)

type token uint64

func (t token) Token() uint64 { return uint64(t) }

func keys(prefix string) snapshot.Keys {
	p := "{" + prefix + "}:"
	return snapshot.Keys{Token: p + "leader:token", State: p + "x:state", Version: p + "x:version", Lock: p + "x:lock"}
}

// TestTwoInstances: what one instance saves the other sees as stale until
// it loads; the lock says so too and orders them; a leader's save with a
// token that is not the current one is refused; Redis come back empty is
// Lost, not stale.
func TestTwoInstances(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix(t)
	ctx := context.Background()
	a := snapshot.New(redistest.Client(t, srv.Addr()), keys(prefix), "test")
	b := snapshot.New(redistest.Client(t, srv.Addr()), keys(prefix), "test")
	for _, s := range []*snapshot.Store{a, b} {
		if got, err := s.Load(ctx); err != nil || got != nil {
			t.Fatalf("empty: %q %v", got, err)
		}
	}
	if err := a.Save(ctx, []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if st, err := a.Stale(ctx); err != nil || st {
		t.Errorf("the saver is stale: %v %v", st, err)
	}
	if st, _ := b.Stale(ctx); !st {
		t.Error("the other instance is not stale after a save")
	}
	unlock, stale, err := b.Lock(ctx)
	if err != nil || !stale {
		t.Fatalf("lock: stale %v, %v", stale, err)
	}
	// The lock is held: the other instance waits, then gives up.
	a.LockWait = 100 * time.Millisecond
	if _, _, err := a.Lock(ctx); err == nil || !strings.Contains(err.Error(), "test lock: held by another instance") {
		t.Errorf("second lock: %v", err)
	}
	if got, _ := b.Load(ctx); string(got) != `{"n":1}` {
		t.Errorf("loaded %q", got)
	}
	unlock()
	unlock() // twice is fine

	// Leader work: fenced by the token the lease keeps in Redis.
	rdb := redistest.Client(t, srv.Addr())
	if err := rdb.Set(ctx, keys(prefix).Token, "7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(lease.WithFence(ctx, token(7)), []byte(`{"n":2}`)); err != nil {
		t.Fatalf("current leader: %v", err)
	}
	err = a.Save(lease.WithFence(ctx, token(6)), []byte(`{"n":3}`))
	if !lease.IsStale(err) {
		t.Fatalf("a deposed leader's save: %v", err)
	}
	if err := a.Save(lease.WithFence(ctx, token(0)), []byte(`{"n":3}`)); !errors.Is(err, lease.ErrStale) {
		t.Fatalf("a save after stepping down: %v", err)
	}
	if got, _ := b.Load(ctx); string(got) != `{"n":2}` {
		t.Errorf("after refused saves: %q", got)
	}

	// Redis restarted without persistence.
	srv.Stop()
	srv.Restart()
	waitUp(t, b)
	if !b.Lost(ctx) {
		t.Error("an empty Redis is not Lost")
	}
	if st, err := b.Stale(ctx); err != nil || st {
		t.Errorf("an empty Redis is stale: %v %v", st, err)
	}
}

func waitUp(t *testing.T, s *snapshot.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := s.Stale(context.Background()); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("redis did not come back")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
