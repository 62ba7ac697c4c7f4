package actionlink_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts/actionlink"
	"github.com/citywall/citywall/alerts/actionlink/linktest"
)

func TestMemoryStore(t *testing.T) {
	st := &actionlink.MemoryStore{}
	linktest.Contract(t, func(t *testing.T) actionlink.Store { return st })
}

func TestFileStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "links.json")
	linktest.Contract(t, func(t *testing.T) actionlink.Store {
		// Each call reads the file again, as a restarted server does.
		s, err := actionlink.NewFileStore(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestRefusals: a link is refused for another alert, for another action,
// when tampered with, and once expired.
func TestRefusals(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ctx := context.Background()
	st := &actionlink.MemoryStore{}
	l, err := actionlink.New(ctx, st, time.Hour, clock)
	if err != nil {
		t.Fatal(err)
	}
	tok := l.Token("A1")
	for _, tc := range []struct {
		name, token, alert, action string
		want                       error
	}{
		{"other alert", tok, "A2", actionlink.ActionAck, actionlink.ErrOtherAlert},
		{"other action", tok, "A1", "silence", actionlink.ErrAction},
		{"tampered", "QTI" + tok[3:], "A1", "", actionlink.ErrInvalid},
		{"signature cut", tok[:len(tok)-2], "A1", actionlink.ActionAck, actionlink.ErrInvalid},
		{"no signature", strings.Split(tok, ".")[0], "A1", actionlink.ActionAck, actionlink.ErrInvalid},
		{"empty", "", "A1", actionlink.ActionAck, actionlink.ErrInvalid},
	} {
		if _, err := l.Check(ctx, tc.token, tc.alert, tc.action); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// Another server's key: invalid.
	other, _ := actionlink.New(ctx, &actionlink.MemoryStore{}, time.Hour, clock)
	if _, err := other.Check(ctx, tok, "A1", ""); !errors.Is(err, actionlink.ErrInvalid) {
		t.Errorf("another key: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := l.Check(ctx, tok, "A1", actionlink.ActionAck); !errors.Is(err, actionlink.ErrExpired) {
		t.Errorf("expired: %v", err)
	}
}

// TestOnceUnderRace: many taps on the same link at once: one succeeds.
func TestOnceUnderRace(t *testing.T) {
	ctx := context.Background()
	st, err := actionlink.NewFileStore(filepath.Join(t.TempDir(), "links.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := actionlink.New(ctx, st, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := l.Token("A1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 16 {
		wg.Go(func() {
			if _, err := l.Check(ctx, tok, "A1", actionlink.ActionAck); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("%d acks through one link, want 1", ok)
	}
}

// FuzzRead: no token from outside makes Read panic, and none but a token
// this key signed is read as valid.
func FuzzRead(f *testing.F) {
	ctx := context.Background()
	l, err := actionlink.New(ctx, &actionlink.MemoryStore{}, time.Hour, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(l.Token("A1"))
	f.Add("")
	f.Add(".")
	f.Add("QTEKMTIzNAp4.sig")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := l.Read(tok)
		if err == nil && l.Token(c.Alert) == tok {
			t.Errorf("a fresh token equals a fuzzed one: %q", tok)
		}
		if err == nil && !strings.Contains(tok, ".") {
			t.Errorf("read %q without a signature", tok)
		}
	})
}
