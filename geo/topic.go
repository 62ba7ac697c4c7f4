package geo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Category keys with a fixed meaning.
const (
	OtherCategory = "其他"  // where categories beyond MaxCategories are counted
	AllCategories = "all" // the key for the total over all categories
)

// heatPrefix starts every heat-map topic.
const heatPrefix = "heat/"

// Key names one heat-map series: counts per cell at one resolution, in one
// window, for one category (AllCategories for the total).
type Key struct {
	Res      int
	Window   time.Duration
	Category string
}

// Topic is the hub topic the series is published on, e.g. "heat/8/1h/all".
func (k Key) Topic() string {
	return heatPrefix + strconv.Itoa(k.Res) + "/" + WindowName(k.Window) + "/" + k.Category
}

// String returns the topic, so keys print readably.
func (k Key) String() string { return k.Topic() }

// WindowName prints a window the short way topics use: "15m", "1h", "24h",
// "90s". Durations that are not whole seconds fall back to
// time.Duration.String, which time.ParseDuration reads back.
func WindowName(d time.Duration) string {
	switch {
	case d <= 0:
		return d.String()
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// ParseWindowName is the inverse of WindowName. Only the canonical form is
// accepted ("60m" is not, "1h" is), so a name maps to one window and back.
func ParseWindowName(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("window %q: not a duration", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("window %q: must be positive", s)
	}
	if c := WindowName(d); c != s {
		return 0, fmt.Errorf("window %q: not canonical, want %q", s, c)
	}
	return d, nil
}

// ErrNotHeatTopic is returned by ParseHeatTopic for a topic of another family.
var ErrNotHeatTopic = errors.New("not a heat topic")

// ParseHeatTopic is the inverse of Key.Topic: "heat/<res>/<window>/<category>".
// The category is everything after the third '/', and may itself contain '/'.
// Only canonical topics parse, so ParseHeatTopic(s).Topic() == s.
func ParseHeatTopic(s string) (Key, error) {
	rest, ok := strings.CutPrefix(s, heatPrefix)
	if !ok {
		return Key{}, fmt.Errorf("topic %q: %w", clip(s), ErrNotHeatTopic)
	}
	resS, rest, ok1 := strings.Cut(rest, "/")
	winS, cat, ok2 := strings.Cut(rest, "/")
	if !ok1 || !ok2 {
		return Key{}, fmt.Errorf("topic %q: want heat/<res>/<window>/<category>", clip(s))
	}
	res, err := parseRes(resS)
	if err != nil {
		return Key{}, fmt.Errorf("topic %q: %w", clip(s), err)
	}
	win, err := ParseWindowName(winS)
	if err != nil {
		return Key{}, fmt.Errorf("topic %q: %w", clip(s), err)
	}
	if cat == "" {
		return Key{}, fmt.Errorf("topic %q: empty category", clip(s))
	}
	if !utf8.ValidString(cat) {
		return Key{}, fmt.Errorf("topic %q: category is not valid UTF-8", clip(s))
	}
	return Key{Res: res, Window: win, Category: cat}, nil
}

// parseRes reads a resolution in canonical decimal: no sign, no leading zero.
func parseRes(s string) (int, error) {
	if s == "" || len(s) > 2 || (len(s) == 2 && s[0] == '0') {
		return 0, fmt.Errorf("resolution %q: want 0..15", s)
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("resolution %q: want 0..15", s)
		}
		n = n*10 + int(c-'0')
	}
	if n > 15 {
		return 0, fmt.Errorf("resolution %d out of range 0..15", n)
	}
	return n, nil
}

// clip shortens outside input quoted in errors, so a huge request cannot
// make a huge log line.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
