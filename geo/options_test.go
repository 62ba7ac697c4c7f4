package geo

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name  string
		o     Options
		field string // "" for valid
		msg   string
	}{
		{"zero means defaults", Options{}, "", ""},
		{"custom", Options{Resolutions: []int{0, 15}, Windows: []time.Duration{time.Minute, 2 * time.Hour}, Buckets: 60, MaxCategories: 5}, "", ""},
		{"resolution high", Options{Resolutions: []int{7, 16}}, "resolution", "resolution 16 out of range 0..15"},
		{"resolution negative", Options{Resolutions: []int{-1}}, "resolution", "resolution -1 out of range 0..15"},
		{"resolution repeated", Options{Resolutions: []int{8, 9, 8}}, "resolution", "resolution 8 repeated"},
		{"window unsorted", Options{Windows: []time.Duration{time.Hour, 15 * time.Minute}}, "window", "window 15m not after 1h: windows must be sorted ascending without repeats"},
		{"window repeated", Options{Windows: []time.Duration{time.Hour, time.Hour}}, "window", "window 1h not after 1h: windows must be sorted ascending without repeats"},
		{"window negative", Options{Windows: []time.Duration{-time.Second}}, "window", "window -1s must be positive"},
		{"window too short", Options{Windows: []time.Duration{10 * time.Millisecond}}, "window", "window 10ms too short for 30 buckets of at least 1ms"},
		{"too many windows", Options{Windows: manyWindows(33)}, "windows", "windows 33 more than 32"},
		{"buckets negative", Options{Buckets: -2}, "buckets", "buckets -2 out of range 1..3600"},
		{"buckets huge", Options{Buckets: 100000}, "buckets", "buckets 100000 out of range 1..3600"},
		{"categories negative", Options{MaxCategories: -1}, "max categories", "max categories -1 out of range 1..1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var oe *OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("got %v, want *OptionError", err)
			}
			if oe.Field != tt.field || err.Error() != tt.msg {
				t.Errorf("got %q (field %q), want %q (field %q)", err, oe.Field, tt.msg, tt.field)
			}
		})
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	in := Options{Resolutions: []int{9}}
	o := in.WithDefaults()
	if !slices.Equal(o.Windows, DefaultWindows()) || o.Buckets != DefaultBuckets || o.MaxCategories != DefaultMaxCategories {
		t.Errorf("defaults not applied: %+v", o)
	}
	o.Resolutions[0] = 7
	if in.Resolutions[0] != 9 {
		t.Error("WithDefaults aliases the caller's slice")
	}
}

func TestNewEngineRejects(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		now  time.Time
	}{
		{"bad options", Options{Resolutions: []int{16}}, time.Unix(1e9, 0)},
		{"zero clock", Options{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewEngine(tt.o, tt.now); err == nil {
				t.Fatal("got nil error")
			}
		})
	}
	_, err := NewEngine(Options{Buckets: -1}, time.Unix(1e9, 0))
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Field != "buckets" {
		t.Errorf("got %v, want a wrapped *OptionError for buckets", err)
	}
}

func manyWindows(n int) []time.Duration {
	ws := make([]time.Duration, n)
	for i := range ws {
		ws[i] = time.Duration(i+1) * time.Minute
	}
	return ws
}
