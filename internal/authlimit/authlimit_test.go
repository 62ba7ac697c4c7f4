package authlimit

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(o Options) (*Limiter, *clock) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	o.Now = c.now
	return New(o), c
}

func TestBudgetThenTurns(t *testing.T) {
	l, c := newTest(Options{Burst: 3, Interval: time.Second, MaxWait: 3 * time.Second})
	const a = "192.0.2.1"
	for i := range 3 {
		if d := l.Admit(a, "x"); d != (Decision{}) {
			t.Fatalf("failure %d within the budget: %+v", i, d)
		}
		l.Fail(a)
	}
	// Spent: guesses take turns a second apart, refused past 3 s.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		d := l.Admit(a, "x")
		if !d.Slowed || d.Refuse || d.Wait != want {
			t.Fatalf("guess %d: %+v, want a wait of %v", i, d, want)
		}
	}
	d := l.Admit(a, "x")
	if !d.Refuse || d.RetryAfter != 4*time.Second {
		t.Fatalf("past the longest wait: %+v, want refused, retry after 4s", d)
	}
	if r := l.RetryAfter(a); r != 4*time.Second {
		t.Fatalf("RetryAfter %v", r)
	}
	// Another address is not concerned.
	if d := l.Admit("192.0.2.2", "x"); d != (Decision{}) {
		t.Fatalf("other address: %+v", d)
	}
	// Quiet for the budget's refill (and the turns taken): whole again.
	c.t = c.t.Add(10 * time.Second)
	if d := l.Admit(a, "x"); d != (Decision{}) || l.Slowed(a) {
		t.Fatalf("after the refill: %+v", d)
	}
}

func TestKnownCredentialPassesAtOnce(t *testing.T) {
	l, _ := newTest(Options{Burst: 2, Interval: time.Minute, MaxWait: time.Second})
	const a = "192.0.2.1"
	l.Succeed(a, "wall")
	for range 5 {
		l.Fail(a)
	}
	if d := l.Admit(a, "wall"); d.Wait != 0 || d.Refuse || !d.Slowed {
		t.Fatalf("known credential: %+v, want at once (slowed)", d)
	}
	if d := l.Admit(a, "new"); !d.Refuse {
		t.Fatalf("unknown credential on a slowed address: %+v, want refused", d)
	}
	// Known from another address only: no help here.
	l.Succeed("192.0.2.9", "other")
	if d := l.Admit(a, "other"); !d.Refuse {
		t.Fatalf("credential known elsewhere: %+v", d)
	}
}

func TestKnownPerAddressBounded(t *testing.T) {
	l, _ := newTest(Options{})
	for i := range 3 * knownPerAddress {
		l.Succeed("192.0.2.1", fmt.Sprint(i))
	}
	if n := len(l.addrs["192.0.2.1"].known); n != knownPerAddress {
		t.Fatalf("%d credentials remembered, want %d", n, knownPerAddress)
	}
}

func TestAddressesBounded(t *testing.T) {
	l, c := newTest(Options{MaxAddresses: 100, Burst: 1, Interval: time.Second})
	for i := range 1000 {
		l.Fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("%d addresses, want 100", n)
	}
	// The most recent are kept.
	if !l.Slowed("10.0.3.231") {
		t.Fatal("the last address is forgotten")
	}
	if l.Slowed("10.0.0.0") {
		t.Fatal("the first address is still remembered")
	}
	c.t = c.t.Add(2 * time.Hour)
	l.Fail("10.9.9.9")
	if n := l.Len(); n != 1 {
		t.Fatalf("%d addresses after two quiet hours, want 1", n)
	}
}

func TestKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := Key(tc.in); got != tc.want {
			t.Errorf("Key(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	l, _ := newTest(Options{Burst: 1, Interval: time.Hour})
	l.Fail("2001:db8:1:2::1")
	if !l.Slowed("2001:db8:1:2::99") {
		t.Fatal("another address of the same /64 is not slowed")
	}
}
