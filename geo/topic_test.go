package geo

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestWindowName(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15m"},
		{time.Hour, "1h"},
		{24 * time.Hour, "24h"},
		{30 * time.Minute, "30m"},
		{2 * time.Hour, "2h"},
		{90 * time.Minute, "90m"},
		{90 * time.Second, "90s"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := WindowName(tt.d); got != tt.want {
				t.Errorf("WindowName(%s) = %q, want %q", tt.d, got, tt.want)
			}
			d, err := ParseWindowName(tt.want)
			if err != nil || d != tt.d {
				t.Errorf("ParseWindowName(%q) = %s, %v", tt.want, d, err)
			}
		})
	}
}

func TestKeyTopic(t *testing.T) {
	tests := []struct {
		k    Key
		want string
	}{
		{Key{8, time.Hour, AllCategories}, "heat/8/1h/all"},
		{Key{7, 15 * time.Minute, "城市管理"}, "heat/7/15m/城市管理"},
		{Key{9, 24 * time.Hour, OtherCategory}, "heat/9/24h/其他"},
		{Key{10, 2 * time.Hour, "交通/停车"}, "heat/10/2h/交通/停车"},
		{Key{0, 30 * time.Minute, "a"}, "heat/0/30m/a"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.k.Topic(); got != tt.want {
				t.Fatalf("Topic() = %q, want %q", got, tt.want)
			}
			k, err := ParseHeatTopic(tt.want)
			if err != nil {
				t.Fatalf("ParseHeatTopic: %v", err)
			}
			if k != tt.k {
				t.Errorf("ParseHeatTopic = %+v, want %+v", k, tt.k)
			}
		})
	}
}

func TestParseHeatTopicErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "not a heat topic"},
		{"alerts/all", "not a heat topic"},
		{"HEAT/8/1h/all", "not a heat topic"},
		{"heat/8/1h", "want heat/<res>/<window>/<category>"},
		{"heat/8", "want heat/<res>/<window>/<category>"},
		{"heat/8/1h/", "empty category"},
		{"heat//1h/all", "resolution"},
		{"heat/16/1h/all", "resolution 16 out of range 0..15"},
		{"heat/08/1h/all", "resolution"},
		{"heat/+8/1h/all", "resolution"},
		{"heat/-1/1h/all", "resolution"},
		{"heat/8/60m/all", "not canonical"},
		{"heat/8/1h0m/all", "not canonical"},
		{"heat/8/0s/all", "must be positive"},
		{"heat/8/-1h/all", "must be positive"},
		{"heat/8/soon/all", "not a duration"},
		{"heat/8/1h/\xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := ParseHeatTopic(tt.in)
			if err == nil {
				t.Fatal("got nil error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to mention %q", err, tt.want)
			}
		})
	}
	if _, err := ParseHeatTopic("alerts/x"); !errors.Is(err, ErrNotHeatTopic) {
		t.Errorf("got %v, want ErrNotHeatTopic", err)
	}
	long := "heat/99/" + strings.Repeat("x", 10000)
	if _, err := ParseHeatTopic(long); err == nil || len(err.Error()) > 200 {
		t.Errorf("error for a long topic is %d bytes", len(err.Error()))
	}
}

func FuzzParseHeatTopic(f *testing.F) {
	for _, s := range []string{
		"heat/8/1h/all", "heat/7/15m/城市管理", "heat/9/24h/交通/停车", "heat/15/90s/x",
		"heat/0/1.5s/a", "heat/8/60m/all", "heat//1h/", "heat/8/1h/\xff", "alerts/1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseHeatTopic(s)
		if err != nil {
			return
		}
		// Only canonical topics parse, so the key prints back the input.
		if got := k.Topic(); got != s {
			t.Fatalf("ParseHeatTopic(%q).Topic() = %q", s, got)
		}
		if k.Res < 0 || k.Res > 15 || k.Window <= 0 || k.Category == "" {
			t.Fatalf("ParseHeatTopic(%q) = %+v", s, k)
		}
	})
}
