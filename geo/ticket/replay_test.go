package ticket

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// sent is one call of the fake post: when and what.
type sent struct {
	at  time.Duration // since the replay started
	ids []string
}

func TestReplay(t *testing.T) {
	t0 := time.Date(2011, 3, 1, 8, 0, 0, 0, time.UTC)
	// Given out of order: Replay sorts by Created.
	offsets := []time.Duration{10 * time.Minute, 0, 1 * time.Minute, 10 * time.Minute, 40 * time.Minute, 1*time.Minute + 30*time.Second}
	tickets := make([]Ticket, len(offsets))
	for i, d := range offsets {
		tickets[i] = haikou(fmt.Sprint("T", i))
		tickets[i].Created = t0.Add(d)
	}
	tests := []struct {
		name string
		o    ReplayOptions
		want []sent
	}{
		{"fast", ReplayOptions{}, []sent{{0, []string{"T1", "T2", "T5", "T0", "T3", "T4"}}}},
		{"fast batches", ReplayOptions{Batch: 4}, []sent{{0, []string{"T1", "T2", "T5", "T0"}}, {0, []string{"T3", "T4"}}}},
		{"60x", ReplayOptions{Speed: 60}, []sent{
			{0, []string{"T1"}},
			{1 * time.Second, []string{"T2"}},
			{1500 * time.Millisecond, []string{"T5"}},
			{10 * time.Second, []string{"T0", "T3"}},
			{40 * time.Second, []string{"T4"}},
		}},
		// Gaps over 5 minutes (10m-1m30s and 40m-10m) shrink to 5 minutes.
		{"60x max gap", ReplayOptions{Speed: 60, MaxGap: 5 * time.Minute}, []sent{
			{0, []string{"T1"}},
			{1 * time.Second, []string{"T2"}},
			{1500 * time.Millisecond, []string{"T5"}},
			{6500 * time.Millisecond, []string{"T0", "T3"}},
			{11500 * time.Millisecond, []string{"T4"}},
		}},
		{"60x batch 1", ReplayOptions{Speed: 60, Batch: 1}, []sent{
			{0, []string{"T1"}},
			{1 * time.Second, []string{"T2"}},
			{1500 * time.Millisecond, []string{"T5"}},
			{10 * time.Second, []string{"T0"}},
			{10 * time.Second, []string{"T3"}},
			{40 * time.Second, []string{"T4"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var got []sent
				err := Replay(t.Context(), tickets, tt.o, func(_ context.Context, ts []Ticket) error {
					s := sent{at: time.Since(start)}
					for _, tk := range ts {
						s.ids = append(s.ids, tk.ID)
					}
					got = append(got, s)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("sent\n%v\nwant\n%v", got, tt.want)
				}
			})
		})
	}
	if tickets[0].ID != "T0" || !tickets[0].Created.Equal(t0.Add(10*time.Minute)) {
		t.Error("Replay changed its input")
	}
}

func TestReplayRestamp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2011, 3, 1, 8, 0, 0, 0, time.UTC)
		tickets := []Ticket{haikou("a"), haikou("b"), haikou("c")}
		for i := range tickets {
			tickets[i].Created = t0.Add(time.Duration(i) * time.Hour)
		}
		start := time.Now()
		var got []Ticket
		err := Replay(t.Context(), tickets, ReplayOptions{Speed: 3600, Restamp: true}, func(_ context.Context, ts []Ticket) error {
			for _, tk := range ts {
				if tk.Created.After(time.Now()) {
					t.Errorf("%s sent before its time %v", tk.ID, tk.Created)
				}
			}
			got = append(got, ts...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, tk := range got {
			if want := start.Add(time.Duration(i-2) * time.Hour); !tk.Created.Equal(want) {
				t.Errorf("%s created %v, want %v", tk.ID, tk.Created, want)
			}
		}
		if elapsed := time.Since(start); elapsed != 2*time.Second {
			t.Errorf("took %v, want 2s", elapsed)
		}
	})
}

func TestReplayStops(t *testing.T) {
	tickets := []Ticket{haikou("a"), haikou("b")}
	tickets[1].Created = tickets[0].Created.Add(time.Hour)
	boom := errors.New("boom")
	t.Run("post error", func(t *testing.T) {
		err := Replay(t.Context(), tickets, ReplayOptions{}, func(context.Context, []Ticket) error { return boom })
		if !errors.Is(err, boom) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("cancel while waiting", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			posts := 0
			go func() {
				time.Sleep(time.Minute)
				cancel()
			}()
			err := Replay(ctx, tickets, ReplayOptions{Speed: 1}, func(context.Context, []Ticket) error {
				posts++
				return nil
			})
			if !errors.Is(err, context.Canceled) || posts != 1 {
				t.Errorf("err = %v after %d posts, want Canceled after 1", err, posts)
			}
		})
	})
	t.Run("bad options", func(t *testing.T) {
		for _, o := range []ReplayOptions{{Speed: -1}, {Batch: -1}} {
			if err := Replay(t.Context(), tickets, o, func(context.Context, []Ticket) error { return nil }); err == nil {
				t.Errorf("%+v: no error", o)
			}
		}
	})
}
