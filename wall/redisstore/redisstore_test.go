package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/wall"
	"github.com/citywall/citywall/wall/redisstore"
)

var cams = []wall.Camera{{ID: "a1", Name: "A1"}, {ID: "b1", Name: "B1"}, {ID: "c1", Name: "C1"}}

// spec is one wall running a tour through three sets, 10 s each.
func spec() wall.Spec {
	return wall.Spec{
		Walls: []wall.Wall{{ID: "w", Name: "W", Rows: 1, Cols: 1, Monitor: [2]int{1920, 1080}, Layout: "l", Tour: "t",
			Layouts: []wall.Layout{{ID: "l", Name: "L", Grid: [2]int{1, 1}, Tiles: []wall.Tile{{ID: "v1", Kind: wall.KindVideo, W: 1, H: 1}}}}}},
		Sets: []wall.Set{{ID: "a", Name: "A", Cameras: []string{"a1"}}, {ID: "b", Name: "B", Cameras: []string{"b1"}},
			{ID: "c", Name: "C", Cameras: []string{"c1"}}},
		Tours: []wall.Tour{{ID: "t", Name: "T", Dwell: 10 * time.Second, Steps: []wall.Step{{Set: "a"}, {Set: "b"}, {Set: "c"}}}},
	}
}

type node struct {
	lease *lease.Lease
	m     *wall.Manager
}

// TestTourSurvivesLeaderChange: two instances share the walls through
// Redis; the leader runs the tour, a patrol skip on the follower is seen
// by the leader, and when the leader goes the other continues the tour
// from the same step and time instead of starting it again.
func TestTourSurvivesLeaderChange(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	var nodes []*node
	for i := range 2 {
		rdb := redistest.Client(t, addr)
		l := lease.New(rdb, lease.Options{Key: "{" + prefix + "}:leader", ID: string(rune('a' + i)), TTL: 2 * time.Second})
		m, err := wall.New(wall.Options{Spec: spec(), Cameras: cams, Store: redisstore.New(rdb, prefix, l, 0), Active: l.IsLeader})
		if err != nil {
			t.Fatal(err)
		}
		n := &node{lease: l, m: m}
		nodes = append(nodes, n)
		wg.Go(func() { l.Run(ctx) })
		wg.Go(func() { m.Run(ctx) })
		wg.Go(func() {
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case g := <-l.Changes():
					if g {
						_ = m.Sync(ctx)
						m.Wake()
					}
				case <-tk.C:
					_ = m.Sync(ctx)
				}
			}
		})
	}
	var leader, follower *node
	eventually(t, "a leader", func() bool {
		for i, n := range nodes {
			if n.lease.IsLeader() {
				leader, follower = n, nodes[1-i]
				return true
			}
		}
		return false
	})
	tourOf := func(n *node) wall.TourView {
		v, err := n.m.View("w")
		if err != nil || v.Tour == nil {
			t.Fatalf("view: %v %+v", err, v)
		}
		return *v.Tour
	}
	eventually(t, "the leader's tour saved and seen by the follower", func() bool {
		return tourOf(follower).ID == "t" && !tourOf(leader).Next.IsZero() && tourOf(follower).Next.Equal(tourOf(leader).Next)
	})
	// A skip on the follower moves the tour for everyone.
	if _, err := follower.m.TourAction(context.Background(), wall.Actor{Name: "patrol-1", Role: "patrol"}, "w", wall.TourSkip, "", 0); err != nil {
		t.Fatal(err)
	}
	want := tourOf(follower)
	eventually(t, "the skip on the leader", func() bool { return tourOf(leader).Step == want.Step })

	// The leader goes; the follower takes over the same position.
	_ = leader.lease.Close()
	eventually(t, "the follower leads", follower.lease.IsLeader)
	time.Sleep(200 * time.Millisecond)
	got := tourOf(follower)
	if got.Step != want.Step || !got.Next.Equal(want.Next) {
		t.Fatalf("after the leader change the tour is at step %d (next %s), want step %d (next %s)", got.Step, got.Next, want.Step, want.Next)
	}
	// And moves it on when the dwell is over.
	deadline := want.Next.Add(3 * time.Second)
	for tourOf(follower).Step == want.Step {
		if time.Now().After(deadline) {
			t.Fatalf("the new leader did not move the tour on at %s", want.Next)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := tourOf(follower).Step; s != (want.Step+1)%3 {
		t.Fatalf("tour at step %d after %d", s, want.Step)
	}
	// The audit trail is shared: the patrol's skip is there for everyone.
	found := false
	for _, e := range follower.m.Audit(wall.AuditQuery{Wall: "w"}) {
		found = found || (e.Who == "patrol-1" && e.Action != "")
	}
	if !found {
		t.Fatal("the patrol's skip is not in the shared audit trail")
	}
}

// TestFencedAutomaticChange: an instance that is not the leader cannot
// save an automatic change, while any instance saves a manual one.
func TestFencedAutomaticChange(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	rdb := redistest.Client(t, addr)
	l := lease.New(rdb, lease.Options{Key: "{" + prefix + "}:leader", TTL: 2 * time.Second})
	s := redisstore.New(rdb, prefix, l, 0)
	if err := s.SaveLeader(&wall.Snapshot{}); !lease.IsStale(err) {
		t.Fatalf("automatic save by a non-leader: %v", err)
	}
	if err := s.Save(&wall.Snapshot{Saved: time.Now()}); err != nil {
		t.Fatalf("manual save: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, 10*time.Second, 20*time.Millisecond, cond)
}
