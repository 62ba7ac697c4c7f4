package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/redisstore"
	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/internal/testkit"
)

// fixedFence is a leader's token as a paused process remembers it.
type fixedFence uint64

func (f fixedFence) Token() uint64 { return uint64(f) }

// TestStoreSharedAndFenced: a save is seen as stale by the other
// instance; the lock serialises; a leader-only save with an old token is
// refused and leaves the saving instance marked stale.
func TestStoreSharedAndFenced(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	rdb := redistest.Client(t, addr)
	ctx := context.Background()
	a, b := redisstore.New(rdb, prefix), redisstore.New(rdb, prefix)
	for _, s := range []*redisstore.Store{a, b} {
		if _, err := s.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Save(ctx, alerts.Snapshot{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	if stale, err := b.Stale(ctx); err != nil || !stale {
		t.Fatalf("b after a's save: stale %v %v", stale, err)
	}
	if stale, _ := a.Stale(ctx); stale {
		t.Fatal("a stale after its own save")
	}
	// The lock: b waits while a holds it.
	unlock, _, err := a.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan time.Time, 1)
	go func() {
		u, stale, err := b.Lock(ctx)
		if err != nil || !stale {
			t.Errorf("b's lock: stale %v %v", stale, err)
		}
		got <- time.Now()
		if u != nil {
			u()
		}
	}()
	time.Sleep(150 * time.Millisecond)
	released := time.Now()
	unlock()
	if at := <-got; at.Before(released) {
		t.Fatal("b took the lock while a held it")
	}

	// Fencing: two leaderships; the first's token is refused.
	tokKey := "{" + prefix + "}:leader:token"
	rdb.Set(ctx, tokKey, 7, 0)
	if err := a.Save(lease.WithFence(ctx, fixedFence(7)), alerts.Snapshot{Seq: 2}); err != nil {
		t.Fatalf("current token: %v", err)
	}
	rdb.Incr(ctx, tokKey) // another instance became the leader
	err = a.Save(lease.WithFence(ctx, fixedFence(7)), alerts.Snapshot{Seq: 99})
	if !lease.IsStale(err) {
		t.Fatalf("old token's save: %v, want stale", err)
	}
	if stale, _ := a.Stale(ctx); !stale {
		t.Fatal("an instance whose save was refused must reload")
	}
	snap, _ := b.Load(ctx)
	if snap.Seq != 2 {
		t.Fatalf("seq %d in Redis, want 2: the stale save went through", snap.Seq)
	}
	if err := a.Save(lease.WithFence(ctx, fixedFence(0)), alerts.Snapshot{}); !lease.IsStale(err) {
		t.Fatalf("leader work after stepping down: %v", err)
	}
}

// sink records deliveries; block makes one notification wait for stop.
type sink struct {
	mu    sync.Mutex
	got   map[string]int
	block string
	in    chan struct{}
}

func (s *sink) deliver(_, stop context.Context, n alerts.Notification) error {
	id := redisstore.Identity(n)
	if id == s.block {
		close(s.in)
		<-stop.Done()
		return errStopped
	}
	s.mu.Lock()
	s.got[id]++
	s.mu.Unlock()
	return nil
}

var errStopped = errors.New("stopped")

func (s *sink) count() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var twice []string
	for id, n := range s.got {
		if n > 1 {
			twice = append(twice, id)
		}
	}
	return len(s.got), twice
}

// TestDispatcherFailover: the leader's dispatcher stops in the middle of
// a delivery; the next leader sends exactly what was not recorded — the
// one in flight and those after it — and nothing twice. A notification of
// an alert that is not in the shared state (queued by an instance whose
// save was refused) is not sent.
func TestDispatcherFailover(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	rdb := redistest.Client(t, addr)
	ctx := context.Background()
	st := redisstore.New(rdb, prefix)
	var open []alerts.Alert
	for i := range 10 {
		open = append(open, alerts.Alert{ID: fmt.Sprintf("A%d", i), Notifications: 1})
	}
	if err := st.Save(ctx, alerts.Snapshot{Open: open}); err != nil {
		t.Fatal(err)
	}
	out := redisstore.NewOutbox(rdb, prefix, nil)
	for _, a := range open {
		out.Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: a})
	}
	out.Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: alerts.Alert{ID: "phantom", Notifications: 1}})

	key := "{" + prefix + "}:leader"
	recv := &sink{got: map[string]int{}, block: "A5/firing/1", in: make(chan struct{})}
	sinks := []redisstore.Sink{{Name: "s", Deliver: recv.deliver, Retry: func(err error) bool { return errors.Is(err, errStopped) }}}

	la := lease.New(redistest.Client(t, addr), lease.Options{Key: key, ID: "a", TTL: 2 * time.Second})
	actx, acancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { la.Run(actx) })
	eventually(t, "a leads", la.IsLeader)
	da := redisstore.NewDispatcher(rdb, prefix, la, sinks, nil)
	wg.Go(func() { da.Run(actx) })
	<-recv.in // A5 in flight
	acancel()
	wg.Wait()
	if n, _ := recv.count(); n < 5 {
		t.Fatalf("%d delivered before the stop, want A0..A4", n)
	}

	recv.block = ""
	lb := lease.New(redistest.Client(t, addr), lease.Options{Key: key, ID: "b", TTL: 2 * time.Second})
	bctx, bcancel := context.WithCancel(ctx)
	defer func() { bcancel(); wg.Wait() }()
	wg.Go(func() { lb.Run(bctx) })
	eventually(t, "b leads", lb.IsLeader)
	db := redisstore.NewDispatcher(rdb, prefix, lb, sinks, nil)
	wg.Go(func() { db.Run(bctx) })
	eventually(t, "all ten delivered", func() bool { n, _ := recv.count(); return n == 10 })
	time.Sleep(300 * time.Millisecond)
	n, twice := recv.count()
	if n != 10 || len(twice) > 0 {
		t.Fatalf("%d delivered, twice: %v", n, twice)
	}
	recv.mu.Lock()
	defer recv.mu.Unlock()
	if recv.got["phantom/firing/1"] != 0 {
		t.Fatal("a notification of an alert not in the state was sent")
	}
	// a's dispatcher with its old token can claim nothing now.
	if la.Token() != 0 {
		t.Fatal("a still leads")
	}
}

// withOpenAlerts is a Redis with n open alerts (A0, A1…) in the shared
// state, whose notifications a dispatcher sends.
func withOpenAlerts(t *testing.T, n int) (addr, prefix string, rdb redis.UniversalClient, open []alerts.Alert) {
	addr, prefix = redistest.Addr(t), redistest.Prefix(t)
	rdb = redistest.Client(t, addr)
	for i := range n {
		open = append(open, alerts.Alert{ID: fmt.Sprintf("A%d", i), Notifications: 1})
	}
	if err := redisstore.New(rdb, prefix).Save(context.Background(), alerts.Snapshot{Open: open}); err != nil {
		t.Fatal(err)
	}
	return addr, prefix, rdb, open
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, 10*time.Second, 20*time.Millisecond, cond)
}

// TestSlowSinkHoldsNoOtherBack: one sink waits (a webhook whose robot's
// minute is used up); the wall's sink still gets every notification at
// once, and the slow one gets them all, in order and in batches, once it
// goes on.
func TestSlowSinkHoldsNoOtherBack(t *testing.T) {
	addr, prefix, rdb, open := withOpenAlerts(t, 8)
	ctx := context.Background()
	wall := &sink{got: map[string]int{}}
	release := make(chan struct{})
	var mu sync.Mutex
	var order []string
	batches := 0
	slow := func(_, stop context.Context, ns []alerts.Notification) []error {
		select {
		case <-release:
		case <-stop.Done():
			return slices.Repeat([]error{errStopped}, len(ns))
		}
		mu.Lock()
		defer mu.Unlock()
		batches++
		for _, n := range ns {
			order = append(order, n.Alert.ID)
		}
		return make([]error, len(ns))
	}
	sinks := []redisstore.Sink{
		{Name: "robot", DeliverMany: slow, Retry: func(err error) bool { return errors.Is(err, errStopped) }},
		{Name: "wall", Deliver: wall.deliver},
	}
	la := lease.New(redistest.Client(t, addr), lease.Options{Key: "{" + prefix + "}:leader", ID: "a", TTL: 2 * time.Second})
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	wg.Go(func() { la.Run(lctx) })
	eventually(t, "a leads", la.IsLeader)
	wg.Go(func() { redisstore.NewDispatcher(rdb, prefix, la, sinks, nil).Run(lctx) })
	out := redisstore.NewOutbox(rdb, prefix, nil)
	for _, a := range open[:4] {
		out.Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: a})
	}
	eventually(t, "the wall has the first four", func() bool { n, _ := wall.count(); return n == 4 })
	for _, a := range open[4:] {
		out.Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: a})
	}
	eventually(t, "the wall has all eight while the robot waits", func() bool { n, _ := wall.count(); return n == 8 })
	close(release)
	eventually(t, "the robot has all eight", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 8 })
	mu.Lock()
	defer mu.Unlock()
	if !slices.IsSorted(order) || batches > 2 {
		t.Fatalf("the robot got %v in %d batches", order, batches)
	}
}

// heldFence is a leadership a test ends at will.
type heldFence struct{ tok atomic.Uint64 }

func (f *heldFence) Token() uint64 { return f.tok.Load() }

// TestDeposedLeaderStopsSending: a leader's sink waits (for its robot's
// pace) with notifications it claimed; the leadership ends. The wait ends
// with it, nothing unsent is recorded, and the next leader sends all of
// them, once.
func TestDeposedLeaderStopsSending(t *testing.T) {
	_, prefix, rdb, open := withOpenAlerts(t, 1)
	a := open[0]
	ctx := context.Background()
	tokKey := "{" + prefix + "}:leader:token"
	rdb.Set(ctx, tokKey, 7, 0)
	f := &heldFence{}
	f.tok.Store(7)
	stopped := make(chan struct{})
	var mu sync.Mutex
	var got []string
	waiting := func(_, stop context.Context, ns []alerts.Notification) []error {
		<-stop.Done()
		close(stopped)
		return slices.Repeat([]error{errStopped}, len(ns))
	}
	sending := func(_, _ context.Context, ns []alerts.Notification) []error {
		mu.Lock()
		defer mu.Unlock()
		for _, n := range ns {
			got = append(got, redisstore.Identity(n))
		}
		return make([]error, len(ns))
	}
	retry := func(err error) bool { return errors.Is(err, errStopped) }
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go redisstore.NewDispatcher(rdb, prefix, f, []redisstore.Sink{{Name: "robot", DeliverMany: waiting, Retry: retry}}, nil).Run(dctx)
	redisstore.NewOutbox(rdb, prefix, nil).Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: a})
	time.Sleep(300 * time.Millisecond) // claimed, waiting
	f.tok.Store(0)                     // deposed (the instance itself runs on)
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the deposed leader's sink is still waiting to send")
	}
	rdb.Set(ctx, tokKey, 8, 0)
	g := &heldFence{}
	g.tok.Store(8)
	go redisstore.NewDispatcher(rdb, prefix, g, []redisstore.Sink{{Name: "robot", DeliverMany: sending, Retry: retry}}, nil).Run(dctx)
	eventually(t, "the next leader sends it", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 })
}

// TestNewSinkStartsNow: a webhook added to a running cluster gets what
// comes from then on, not every notification the outbox still holds.
func TestNewSinkStartsNow(t *testing.T) {
	_, prefix, rdb, open := withOpenAlerts(t, 5)
	ctx := context.Background()
	rdb.Set(ctx, "{"+prefix+"}:leader:token", 7, 0)
	f := &heldFence{}
	f.tok.Store(7)
	out := redisstore.NewOutbox(rdb, prefix, nil)
	old, added := &sink{got: map[string]int{}}, &sink{got: map[string]int{}}
	run := func(sinks ...redisstore.Sink) context.CancelFunc {
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { redisstore.NewDispatcher(rdb, prefix, f, sinks, nil).Run(dctx); close(done) }()
		return func() { cancel(); <-done }
	}
	stop := run(redisstore.Sink{Name: "old", Deliver: old.deliver})
	for _, a := range open[:3] {
		out.Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: a})
	}
	eventually(t, "the old sink has three", func() bool { n, _ := old.count(); return n == 3 })
	stop()
	stop = run(redisstore.Sink{Name: "old", Deliver: old.deliver}, redisstore.Sink{Name: "added", Deliver: added.deliver})
	defer stop()
	time.Sleep(300 * time.Millisecond)
	for _, a := range open[3:] {
		out.Notify(ctx, alerts.Notification{Event: alerts.EventFiring, Alert: a})
	}
	eventually(t, "both have the last two", func() bool { n, _ := old.count(); m, _ := added.count(); return n == 5 && m == 2 })
	time.Sleep(300 * time.Millisecond)
	if m, _ := added.count(); m != 2 {
		t.Fatalf("the added sink got %d, want the 2 sent after it came", m)
	}
}
