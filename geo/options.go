package geo

import (
	"fmt"
	"slices"
	"time"
)

// Options configures an Engine. Zero values mean defaults.
type Options struct {
	Resolutions   []int           // H3 resolutions counted, default {7, 8, 9}; each 0..15
	Windows       []time.Duration // sliding windows, default {15m, 1h, 24h}; sorted ascending
	Buckets       int             // buckets per window, default 30: a window slides in window/Buckets steps
	MaxCategories int             // distinct level-1 categories tracked separately, default 48; more fold into OtherCategory
}

// Defaults and limits of Options.
const (
	DefaultBuckets       = 30
	DefaultMaxCategories = 48

	// MaxBuckets and MaxCategoriesLimit bound the per-window rings and
	// per-category arrays, which are allocated up front.
	MaxBuckets         = 3600
	MaxCategoriesLimit = 1024

	// MaxWindows is the number of windows a counter entry has a change bit
	// for.
	MaxWindows = 32

	// minStep keeps a bucket long enough to be meaningful.
	minStep = time.Millisecond
)

// DefaultResolutions are the H3 resolutions counted when Options leaves them
// empty: 7 (~5 km² cells) for the whole city, 8 (~0.7 km²) for districts,
// 9 (~0.1 km²) for streets.
func DefaultResolutions() []int { return []int{7, 8, 9} }

// DefaultWindows are the sliding windows used when Options leaves them empty.
func DefaultWindows() []time.Duration {
	return []time.Duration{15 * time.Minute, time.Hour, 24 * time.Hour}
}

// OptionError reports an invalid Options field and its value.
type OptionError struct {
	Field  string // "resolution", "window", "windows", "buckets", "max categories"
	Value  string
	Reason string
}

func (e *OptionError) Error() string {
	return e.Field + " " + e.Value + " " + e.Reason
}

// WithDefaults returns o with every zero field replaced by its default. The
// slices are copied, so the result does not alias o.
func (o Options) WithDefaults() Options {
	if len(o.Resolutions) == 0 {
		o.Resolutions = DefaultResolutions()
	} else {
		o.Resolutions = slices.Clone(o.Resolutions)
	}
	if len(o.Windows) == 0 {
		o.Windows = DefaultWindows()
	} else {
		o.Windows = slices.Clone(o.Windows)
	}
	if o.Buckets == 0 {
		o.Buckets = DefaultBuckets
	}
	if o.MaxCategories == 0 {
		o.MaxCategories = DefaultMaxCategories
	}
	return o
}

// Validate checks o after defaults are applied. The error is an
// *OptionError naming the field and the bad value.
func (o Options) Validate() error {
	o = o.WithDefaults()
	for i, r := range o.Resolutions {
		if r < 0 || r > 15 {
			return &OptionError{"resolution", fmt.Sprint(r), "out of range 0..15"}
		}
		if slices.Contains(o.Resolutions[:i], r) {
			return &OptionError{"resolution", fmt.Sprint(r), "repeated"}
		}
	}
	if o.Buckets < 1 || o.Buckets > MaxBuckets {
		return &OptionError{"buckets", fmt.Sprint(o.Buckets), fmt.Sprintf("out of range 1..%d", MaxBuckets)}
	}
	if len(o.Windows) > MaxWindows {
		return &OptionError{"windows", fmt.Sprint(len(o.Windows)), fmt.Sprintf("more than %d", MaxWindows)}
	}
	for i, w := range o.Windows {
		switch {
		case w <= 0:
			return &OptionError{"window", w.String(), "must be positive"}
		case i > 0 && w <= o.Windows[i-1]:
			return &OptionError{"window", WindowName(w), "not after " + WindowName(o.Windows[i-1]) + ": windows must be sorted ascending without repeats"}
		case w/time.Duration(o.Buckets) < minStep:
			return &OptionError{"window", WindowName(w), fmt.Sprintf("too short for %d buckets of at least %s", o.Buckets, minStep)}
		}
	}
	if o.MaxCategories < 1 || o.MaxCategories > MaxCategoriesLimit {
		return &OptionError{"max categories", fmt.Sprint(o.MaxCategories), fmt.Sprintf("out of range 1..%d", MaxCategoriesLimit)}
	}
	return nil
}
