package lease_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/cluster/redistest"
)

type group struct {
	t      *testing.T
	leases []*lease.Lease
	wg     sync.WaitGroup
}

func start(t *testing.T, addr, key string, n int, ttl time.Duration) *group {
	g := &group{t: t}
	for i := range n {
		l := lease.New(redistest.Client(t, addr), lease.Options{Key: key, ID: string(rune('a' + i)), TTL: ttl})
		g.leases = append(g.leases, l)
		g.wg.Go(func() { l.Run(context.Background()) })
	}
	t.Cleanup(func() {
		for _, l := range g.leases {
			_ = l.Close()
		}
		g.wg.Wait()
	})
	return g
}

// leaders returns the instances that think they lead.
func (g *group) leaders() []*lease.Lease {
	var out []*lease.Lease
	for _, l := range g.leases {
		if l.IsLeader() {
			out = append(out, l)
		}
	}
	return out
}

// waitLeader waits for exactly one leader other than not, checking all the
// while that there are never two.
func (g *group) waitLeader(within time.Duration, not *lease.Lease) *lease.Lease {
	g.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		ls := g.leaders()
		if len(ls) > 1 {
			g.t.Fatalf("%d leaders at once", len(ls))
		}
		if len(ls) == 1 && ls[0] != not {
			return ls[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	g.t.Fatalf("no new leader within %s", within)
	return nil
}

func TestAcquireRenewRelease(t *testing.T) {
	addr := redistest.Addr(t)
	key := "{" + redistest.Prefix(t) + "}:leader"
	ttl := 1500 * time.Millisecond
	g := start(t, addr, key, 3, ttl)
	first := g.waitLeader(3*time.Second, nil)
	tok := first.Token()
	if tok == 0 {
		t.Fatal("leader without a token")
	}
	// Renewed: still the same leader after several TTLs.
	end := time.Now().Add(3 * ttl)
	for time.Now().Before(end) {
		if ls := g.leaders(); len(ls) != 1 || ls[0] != first || first.Token() != tok {
			t.Fatalf("leadership moved while the leader renews: %d leaders", len(ls))
		}
		time.Sleep(20 * time.Millisecond)
	}
	rdb := redistest.Client(t, addr)
	id, htok, err := lease.Holder(context.Background(), rdb, key)
	if err != nil || id != first.ID() || htok != tok {
		t.Fatalf("holder in Redis %q %d %v, want %q %d", id, htok, err, first.ID(), tok)
	}
	// Released on Close: the next takes over well before the TTL.
	began := time.Now()
	_ = first.Close()
	if first.IsLeader() {
		t.Fatal("closed lease still leads")
	}
	next := g.waitLeader(ttl, first)
	if next.Token() <= tok {
		t.Fatalf("new token %d not above %d", next.Token(), tok)
	}
	t.Logf("released lease taken over in %s", time.Since(began))
}

func TestStoppedHolderReplacedWithinTTL(t *testing.T) {
	addr := redistest.Addr(t)
	key := "{" + redistest.Prefix(t) + "}:leader"
	ttl := 2 * time.Second
	g := start(t, addr, key, 3, ttl)
	first := g.waitLeader(3*time.Second, nil)
	old := first.Token()
	lost := make(chan time.Time, 1)
	go func() {
		for c := range first.Changes() {
			if !c {
				lost <- time.Now()
				return
			}
		}
	}()
	began := time.Now()
	first.Pause(true) // stops renewing, like a frozen process
	next := g.waitLeader(ttl+ttl/2, first)
	took := time.Since(began)
	select {
	case at := <-lost:
		if !at.Before(began.Add(took)) {
			t.Fatal("old leader stepped down after the new one took over")
		}
	case <-time.After(time.Second):
		t.Fatal("old leader never said it stepped down")
	}
	if took > ttl+ttl/3 {
		t.Fatalf("takeover after %s, TTL %s", took, ttl)
	}
	if next.Token() <= old {
		t.Fatalf("token %d not above %d", next.Token(), old)
	}
	t.Logf("stopped leader replaced in %s (TTL %s)", took, ttl)

	// Fencing: a write with the old token is refused, the new token's taken.
	rdb := redistest.Client(t, addr)
	set := lease.Fence(`redis.call('SET', KEYS[2], ARGV[2]); return 1`)
	ctx := context.Background()
	err := set.Run(ctx, rdb, []string{first.TokenKey(), "{" + key + "}:x"}, old, "old").Err()
	if !lease.IsStale(err) {
		t.Fatalf("old token's write: %v, want refused as stale", err)
	}
	if err := set.Run(ctx, rdb, []string{next.TokenKey(), "{" + key + "}:x"}, next.Token(), "new").Err(); err != nil {
		t.Fatalf("current token's write: %v", err)
	}
	// Work marked as the old leader's is refused before it reaches Redis.
	if _, err := lease.FenceArg(lease.WithFence(ctx, first)); !lease.IsStale(err) {
		t.Fatalf("FenceArg of a stepped-down leader: %v", err)
	}
	first.Pause(false)
	time.Sleep(ttl / 2)
	if first.IsLeader() {
		t.Fatal("resumed instance took the lease from a live leader")
	}
}

func TestRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	key := "{" + redistest.Prefix(t) + "}:leader"
	ttl := 1500 * time.Millisecond
	g := start(t, srv.Addr(), key, 2, ttl)
	first := g.waitLeader(3*time.Second, nil)
	before := first.Token()
	srv.Stop()
	// Without Redis nobody can renew: the leader steps down within the TTL.
	deadline := time.Now().Add(ttl + 500*time.Millisecond)
	for first.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("leader still leads with Redis down past its TTL")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(g.leaders()) != 0 {
		t.Fatal("a leader without Redis")
	}
	srv.Restart()
	// An empty Redis: one leader again, with a token above the one before.
	l := g.waitLeader(3*ttl, nil)
	if l.Token() <= before {
		t.Fatalf("token %d after the restart, not above %d from before", l.Token(), before)
	}
	time.Sleep(ttl)
	if len(g.leaders()) != 1 {
		t.Fatalf("%d leaders after restart", len(g.leaders()))
	}
}
