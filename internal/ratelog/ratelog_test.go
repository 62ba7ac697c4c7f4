package ratelog

import (
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{Every: time.Second, Now: func() time.Time { return now }}
	if ok, n := l.Allow("a"); !ok || n != 0 {
		t.Fatalf("first: %v %d", ok, n)
	}
	for range 5 {
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("a second line within the interval went out")
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is held back")
	}
	now = now.Add(time.Second)
	if ok, n := l.Allow("a"); !ok || n != 5 {
		t.Fatalf("after the interval: %v %d, want true 5", ok, n)
	}
}

func TestLimiterBoundsKeys(t *testing.T) {
	l := &Limiter{Every: time.Hour}
	for i := range maxKeys + 10 {
		l.Allow(string(rune(i)))
	}
	if len(l.keys) > maxKeys {
		t.Fatalf("%d keys kept, at most %d", len(l.keys), maxKeys)
	}
}
