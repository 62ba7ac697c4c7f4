package geo

import (
	"slices"
	"testing"
	"time"
)

func TestHotTopics(t *testing.T) {
	e := newTestEngine(t, testOptions())
	add := func(at time.Time, cat string, n int) {
		for range n {
			mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: at, Category: cat})
		}
	}
	const (
		noise = "噪声扰民"
		water = "供水供电"
	)
	// Previous 10 minutes: city management 2, traffic 1, noise 3.
	add(t0, cityMgmt, 2)
	add(t0, traffic, 1)
	add(t0, noise, 3)
	now := t0.Add(10 * time.Minute)
	e.Advance(now)
	// Current 10 minutes: traffic 4, city management 1, water 1.
	add(now, traffic, 4)
	add(now, cityMgmt, 1)
	add(now, water, 1)

	tests := []struct {
		name   string
		window time.Duration
		n      int
		want   []Topic
	}{
		{"top two", 10 * time.Minute, 2, []Topic{
			{traffic, 4, 1, 3},
			{water, 1, 0, 1}, // ties with city management on count, rising faster
		}},
		{"all", 10 * time.Minute, 0, []Topic{
			{traffic, 4, 1, 3},
			{water, 1, 0, 1},
			{cityMgmt, 1, 2, -0.5},
		}},
		{"long window has no previous yet", time.Hour, 3, []Topic{
			{traffic, 5, 0, 5},
			{noise, 3, 0, 3}, // ties by name, in code point order
			{cityMgmt, 3, 0, 3},
		}},
		{"unknown window", 2 * time.Hour, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.HotTopics(tt.window, tt.n); !slices.Equal(got, tt.want) {
				t.Errorf("HotTopics = %v\nwant %v", got, tt.want)
			}
		})
	}

	t.Run("previous window slides out", func(t *testing.T) {
		e.Advance(now.Add(10 * time.Minute))
		if got := e.HotTopics(10*time.Minute, 0); got != nil {
			t.Errorf("nothing in the window, got %v", got)
		}
		e.Advance(now.Add(20 * time.Minute))
		add(now.Add(20*time.Minute), noise, 1)
		want := []Topic{{noise, 1, 0, 1}}
		if got := e.HotTopics(10*time.Minute, 0); !slices.Equal(got, want) {
			t.Errorf("HotTopics = %v, want %v", got, want)
		}
	})

	t.Run("backfill counts into the previous window", func(t *testing.T) {
		e := newTestEngine(t, testOptions())
		add := func(at time.Time, n int) {
			for range n {
				mustAdd(t, e, Point{Lat: hkLat, Lng: hkLng, Time: at, Category: noise})
			}
		}
		add(t0.Add(-15*time.Minute), 4) // previous 10 minutes
		add(t0.Add(-25*time.Minute), 9) // before both: only in the hour
		add(t0, 2)
		if got, want := e.HotTopics(10*time.Minute, 1), []Topic{{noise, 2, 4, -0.5}}; !slices.Equal(got, want) {
			t.Errorf("HotTopics = %v, want %v", got, want)
		}
	})
}
