package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/web/session"
)

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)} }

// TestSessions: every sign-in gets its own id; a session ends when signed
// out, when unused for Idle, and Max after sign-in however much it is used.
func TestSessions(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	m := session.New(&session.File{Now: c.now}, session.Options{Idle: time.Hour, Max: 3 * time.Hour, Now: c.now})
	key := session.TokenKey("wall-token")
	a, err := m.Create(ctx, "wall-1", key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Create(ctx, "wall-1", key)
	if a == b || len(a) != 64 {
		t.Fatalf("ids %q and %q", a, b)
	}
	if s, err := m.Check(ctx, a); err != nil || s.Name != "wall-1" || s.Key != key {
		t.Fatalf("check: %+v %v", s, err)
	}
	if err := m.End(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Check(ctx, a); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("after End: %v", err)
	}
	if _, err := m.Check(ctx, b); err != nil {
		t.Errorf("the other session after End: %v", err)
	}

	// Used every 50 minutes, b lives to Max.
	for range 3 {
		c.add(50 * time.Minute)
		if _, err := m.Check(ctx, b); err != nil {
			t.Fatalf("used at %s: %v", c.now().Format(time.Kitchen), err)
		}
	}
	c.add(40 * time.Minute) // 3h10m after sign-in
	if _, err := m.Check(ctx, b); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("past Max: %v", err)
	}
	// Unused for Idle, a session ends.
	d, _ := m.Create(ctx, "wall-1", key)
	c.add(time.Hour + time.Second)
	if _, err := m.Check(ctx, d); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("idle past Idle: %v", err)
	}
	for _, bad := range []string{"", "x", strings.Repeat("0", 64)} {
		if _, err := m.Check(ctx, bad); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("id %q: %v", bad, err)
		}
	}
	if session.TokenKey("wall-token") == session.TokenKey("wall-token2") || strings.Contains(session.TokenKey("wall-token"), "wall-token") {
		t.Error("TokenKey")
	}
}

// TestFileSurvivesRestart: a session made before a restart opens after it;
// one ended before it does not; the file holds no id.
func TestFileSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	path := filepath.Join(t.TempDir(), "sessions.json")
	opts := session.Options{Idle: time.Hour, Max: 3 * time.Hour, Now: c.now}
	m := session.New(&session.File{Path: path, Now: c.now}, opts)
	kept, _ := m.Create(ctx, "commander-1", "k")
	ended, _ := m.Create(ctx, "commander-1", "k")
	if err := m.End(ctx, ended); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || strings.Contains(string(b), kept) {
		t.Fatalf("file: %v, holds the id: %v", err, strings.Contains(string(b), kept))
	}
	f := &session.File{Path: path, Now: c.now}
	if err := f.Open(); err != nil {
		t.Fatal(err)
	}
	m = session.New(f, opts)
	if s, err := m.Check(ctx, kept); err != nil || s.Name != "commander-1" {
		t.Errorf("after a restart: %+v %v", s, err)
	}
	if _, err := m.Check(ctx, ended); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("ended before the restart: %v", err)
	}
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&session.File{Path: path}).Open(); err == nil {
		t.Error("a damaged file opened")
	}
}

// TestRedisShared: two instances over one Redis see each other's sign-ins
// and sign-outs, and Redis drops a session at its expiry.
func TestRedisShared(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Client(t, redistest.Addr(t))
	prefix := "{" + redistest.Prefix(t) + "}"
	opts := session.Options{Idle: time.Hour, Max: 3 * time.Hour}
	a := session.New(session.NewRedis(rdb, prefix), opts)
	b := session.New(session.NewRedis(rdb, prefix), opts)
	id, err := a.Create(ctx, "team-1", "k")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := b.Check(ctx, id); err != nil || s.Name != "team-1" {
		t.Fatalf("on the other instance: %+v %v", s, err)
	}
	keys, _ := rdb.Keys(ctx, prefix+":session:*").Result()
	if len(keys) != 1 || strings.Contains(keys[0], id) {
		t.Errorf("keys %v", keys)
	}
	if ttl, _ := rdb.TTL(ctx, keys[0]).Result(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl %s, want at most the idle time", ttl)
	}
	if err := b.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Check(ctx, id); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("signed out on the other instance: %v", err)
	}
}
