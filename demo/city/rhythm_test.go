package city

import (
	"math"
	"testing"
	"time"
)

// monday is a Monday, 00:00 CST.
var monday = time.Date(2026, 11, 23, 0, 0, 0, 0, cst)

func TestRhythmShape(t *testing.T) {
	r := newRhythm(2700)
	at := func(day, hour, minute int) float64 {
		return r.shape(monday.AddDate(0, 0, day).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute))
	}
	tests := []struct {
		name string
		ok   func() bool
	}{
		{"quiet before dawn", func() bool { return at(1, 3, 30) < 0.2 }},
		{"ramps from 7h", func() bool { return at(1, 6, 30) < at(1, 7, 30) && at(1, 7, 30) < at(1, 8, 30) }},
		{"morning peak", func() bool { return at(1, 10, 30) > 2 && at(1, 10, 30) > at(1, 12, 30) }},
		{"afternoon peak", func() bool { return at(1, 15, 30) > 1.8 && at(1, 15, 30) > at(1, 12, 30) }},
		{"lunch dip", func() bool { return at(1, 12, 30) < at(1, 11, 30) && at(1, 12, 30) < at(1, 14, 30) }},
		{"evening tail", func() bool { return at(1, 20, 0) > at(1, 23, 0) && at(1, 23, 0) > at(1, 3, 0) }},
		{"weekend lower", func() bool { return at(5, 10, 30) < at(0, 10, 30) && at(6, 10, 30) < at(2, 10, 30) }},
		{"continuous at midnight", func() bool { return math.Abs(at(1, 0, 0)-at(0, 23, 59)) < 0.1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.ok() {
				t.Error("shape does not hold")
			}
		})
	}
}

func TestRhythmMean(t *testing.T) {
	r := newRhythm(2700)
	var sum, peak float64
	const step = time.Minute
	for at := monday; at.Before(monday.AddDate(0, 0, 7)); at = at.Add(step) {
		v := r.rate(at)
		sum += v * float64(step)
		peak = max(peak, v)
	}
	if perDay := sum / 7; math.Abs(perDay-2700) > 2700*0.002 {
		t.Errorf("mean %.1f per day, want 2700", perDay)
	}
	if peak > r.max {
		t.Errorf("rate %v exceeds the thinning bound %v", peak, r.max)
	}
}
