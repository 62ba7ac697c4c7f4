package city

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		backfill time.Duration
		live     time.Duration
	}{
		{"backfill and live", 2 * time.Hour, time.Hour},
		{"no backfill", -1, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const perDay = 20000
				s := New(Options{Seed: 1, PerDay: perDay, Backfill: tt.backfill})
				r := &recorder{}
				ctx, cancel := context.WithCancel(t.Context())
				start := time.Now()
				done := make(chan error, 1)
				go func() { done <- s.Run(ctx, nil, r) }()
				synctest.Wait()

				back, _ := r.snapshot()
				for _, tk := range back {
					if tk.Created.After(start) || tk.Created.Before(start.Add(-max(tt.backfill, 0))) {
						t.Fatalf("backfill ticket created at %v, start %v", tk.Created, start)
					}
				}
				if tt.backfill > 0 && len(back) < 100 {
					t.Errorf("backfill of %v gave %d tickets", tt.backfill, len(back))
				}
				if tt.backfill < 0 && len(back) != 0 {
					t.Errorf("%d tickets without backfill", len(back))
				}

				time.Sleep(tt.live)
				cancel()
				stopped := time.Now()
				if err := <-done; err != nil {
					t.Fatalf("Run: %v", err)
				}
				if d := time.Since(stopped); d > 0 {
					t.Errorf("Run took %v to stop", d)
				}
				all, events := r.snapshot()
				live := all[len(back):]
				for _, tk := range live {
					if !tk.Created.After(start) || tk.Created.After(stopped) {
						t.Fatalf("live ticket created at %v, outside (%v, %v]", tk.Created, start, stopped)
					}
				}
				if len(live) == 0 || len(events) < len(all) {
					t.Errorf("%d live tickets, %d events", len(live), len(events))
				}
				if err := s.Run(t.Context(), nil, r); err == nil {
					t.Error("second Run did not fail")
				}
				if err := New(Options{}).Run(t.Context(), nil, nil); err == nil {
					t.Error("Run without an emitter did not fail")
				}
			})
		})
	}
}

func TestRunCancelDuringBackfill(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &recorder{onTick: func(n int) {
		if n == 10 {
			cancel()
		}
	}}
	s := New(Options{Seed: 1, Backfill: 30 * 24 * time.Hour})
	if err := s.Run(ctx, nil, r); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if tickets, _ := r.snapshot(); len(tickets) > 200 {
		t.Errorf("%d tickets emitted after cancel during backfill", len(tickets))
	}
}

func TestRunFakeClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A clock that is not the wall clock is still followed: Run polls it.
		var mu sync.Mutex
		fake := time.Date(2026, 11, 23, 9, 0, 0, 0, cst)
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return fake
		}
		s := New(Options{Seed: 2, Backfill: time.Hour})
		r := &recorder{}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, now, r) }()
		synctest.Wait()
		before, _ := r.snapshot()

		time.Sleep(time.Minute) // the fake clock stands still
		if still, _ := r.snapshot(); len(still) != len(before) {
			t.Errorf("tickets appeared while the clock stood still: %d → %d", len(before), len(still))
		}

		mu.Lock()
		fake = fake.Add(time.Hour)
		mu.Unlock()
		time.Sleep(2 * maxWait)
		after, _ := r.snapshot()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(after) <= len(before) {
			t.Errorf("no tickets after the clock moved on an hour")
		}
		for _, tk := range after {
			if tk.Created.After(now()) {
				t.Errorf("ticket created at %v, after the clock %v", tk.Created, now())
			}
		}
	})
}
