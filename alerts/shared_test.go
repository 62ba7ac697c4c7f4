package alerts

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestTimersOnlyOnTheLeader: a follower's manager keeps the deadlines but
// does not act on them; once it leads (Active, Wake), an escalation whose
// time passed while it followed happens at once, and only once.
func TestTimersOnlyOnTheLeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var active atomic.Bool
		var mu sync.Mutex
		var got []Event
		m, err := New(t.Context(), Options{
			Router:        &Router{Escalation: []string{"duty"}},
			Notifiers:     []Notifier{NotifierFunc(func(_ context.Context, n Notification) { mu.Lock(); got = append(got, n.Event); mu.Unlock() })},
			EscalateAfter: 30 * time.Minute, Renotify: 3 * time.Hour, Active: active.Load,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { m.Run(ctx); close(done) }()
		if err := m.Fire(ctx, Signal{Source: "camera", Fingerprint: "cam/1", Title: "离线"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(45 * time.Minute)
		synctest.Wait()
		events := func() []Event { mu.Lock(); defer mu.Unlock(); return slices.Clone(got) }
		if e := events(); !slices.Equal(e, []Event{EventFiring}) {
			t.Fatalf("a follower acted on its timers: %v", e)
		}
		active.Store(true)
		m.Wake()
		synctest.Wait()
		if e := events(); !slices.Equal(e, []Event{EventFiring, EventEscalated}) {
			t.Fatalf("after taking over: %v, want the overdue escalation once", e)
		}
		if a := m.Open(); len(a) != 1 || a[0].Level != 1 || !a[0].EscalatedAt.Equal(time.Now()) {
			t.Fatalf("alert %+v", a)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if e := events(); len(e) != 2 {
			t.Fatalf("%v: the escalation repeated", e)
		}
		cancel()
		<-done
	})
}
