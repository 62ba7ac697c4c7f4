// Package authlimit slows down the guessing of credentials from one source
// address without shutting out the holders of the right ones.
//
// Each address has a budget of failures (Options.Burst) that refills at one
// per Options.Interval. While it lasts, every credential is checked at once.
// Once it is spent the address is slowed: a credential not seen to succeed
// from that address before waits for its turn, one turn per Interval, and is
// refused outright (Decision.Refuse, to be answered 429 with Retry-After)
// when its turn is more than Options.MaxWait away. The right credential
// waits its turn like a wrong one: were it answered at once, the speed of
// the answer would tell a guesser that he had guessed right. A credential
// that has succeeded from the address before (a wall's or an ingest
// system's, in use when the guessing started) is checked at once: it is no
// guess.
//
// Addresses are remembered up to Options.MaxAddresses, the least recently
// seen forgotten first, and forgotten anyway once quiet for an hour (or for
// a whole budget's refill, when longer). IPv6 addresses count by their /64,
// which one host usually holds whole.
package authlimit

import (
	"container/list"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// knownPerAddress bounds the credentials remembered as good per address.
const knownPerAddress = 8

// Options tune a Limiter.
type Options struct {
	Burst        int           // failures an address may make before it is slowed; at least 1
	Interval     time.Duration // the address earns one more failure, and a slowed one one turn, this often
	MaxWait      time.Duration // longest wait for a turn; past it the credential is refused unchecked (0: no wait)
	MaxAddresses int           // addresses remembered; at least 1
	Now          func() time.Time
}

// Decision is what to do with a credential about to be checked.
type Decision struct {
	// Slowed: the address has spent its failures; a failure now is
	// answered 429, not 401.
	Slowed bool
	// Wait before checking the credential (0: check at once).
	Wait time.Duration
	// Refuse: do not check it; answer 429 with RetryAfter.
	Refuse     bool
	RetryAfter time.Duration
}

// Limiter keeps the failure budgets of source addresses. Safe for
// concurrent use.
type Limiter struct {
	o      Options
	expire time.Duration

	mu    sync.Mutex
	addrs map[string]*entry
	lru   *list.List // of *entry, most recently seen first
}

type entry struct {
	key    string
	tokens float64   // failures still allowed at once, as of at
	at     time.Time //
	next   time.Time // the next free turn of a slowed address
	seen   time.Time
	known  []string // credentials that succeeded from here, newest last
	elem   *list.Element
}

// New returns a Limiter; zero fields of o take defaults (10 failures, one
// more every 6 s, 10,000 addresses), except MaxWait: 0 refuses every
// credential new to a slowed address instead of holding it.
func New(o Options) *Limiter {
	if o.Burst <= 0 {
		o.Burst = 10
	}
	if o.Interval <= 0 {
		o.Interval = 6 * time.Second
	}
	o.MaxWait = max(o.MaxWait, 0)
	if o.MaxAddresses <= 0 {
		o.MaxAddresses = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Limiter{
		o: o, expire: max(time.Hour, time.Duration(o.Burst)*o.Interval),
		addrs: map[string]*entry{}, lru: list.New(),
	}
}

// Key is the address a budget is kept for: the IP address itself, or an
// IPv6 address's /64.
func Key(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// Admit decides on a credential from addr; cred identifies it (a digest,
// never the credential itself) so that one that succeeded from addr before
// passes at once. A Decision with Wait takes a turn: the caller waits, then
// checks.
func (l *Limiter) Admit(addr, cred string) Decision {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(Key(addr), now)
	if e == nil {
		return Decision{}
	}
	l.refillLocked(e, now)
	if !l.slowedLocked(e, now) {
		return Decision{}
	}
	if cred != "" && slices.Contains(e.known, cred) {
		return Decision{Slowed: true}
	}
	turn := l.turnLocked(e, now)
	wait := turn.Sub(now)
	if wait > l.o.MaxWait {
		return Decision{Slowed: true, Refuse: true, RetryAfter: wait}
	}
	e.next = turn.Add(l.o.Interval)
	return Decision{Slowed: true, Wait: wait}
}

// Slowed reports whether addr has spent its failures, taking no turn.
func (l *Limiter) Slowed(addr string) bool {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(Key(addr), now)
	if e == nil {
		return false
	}
	l.refillLocked(e, now)
	return l.slowedLocked(e, now)
}

// Fail spends one of addr's failures.
func (l *Limiter) Fail(addr string) {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(Key(addr), now)
	l.refillLocked(e, now)
	e.tokens = max(e.tokens-1, 0)
}

// Succeed notes that cred succeeded from addr: it passes at once from
// there while the address is slowed.
func (l *Limiter) Succeed(addr, cred string) {
	if cred == "" {
		return
	}
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entryLocked(Key(addr), now)
	if i := slices.Index(e.known, cred); i >= 0 {
		e.known = slices.Delete(e.known, i, i+1)
	} else if len(e.known) >= knownPerAddress {
		e.known = slices.Delete(e.known, 0, 1)
	}
	e.known = append(e.known, cred)
}

// RetryAfter is how long until addr's next turn (0: it is not slowed).
func (l *Limiter) RetryAfter(addr string) time.Duration {
	now := l.o.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.lookupLocked(Key(addr), now)
	if e == nil {
		return 0
	}
	l.refillLocked(e, now)
	if !l.slowedLocked(e, now) {
		return 0
	}
	return l.turnLocked(e, now).Sub(now)
}

// Len is the number of addresses remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.addrs)
}

// slowedLocked: no failure left, or others already wait for their turn.
func (l *Limiter) slowedLocked(e *entry, now time.Time) bool {
	return e.tokens < 1 || e.next.After(now)
}

// turnLocked is the next free turn: when a failure has been earned back,
// and after the turns already taken.
func (l *Limiter) turnLocked(e *entry, now time.Time) time.Time {
	turn := now
	if e.tokens < 1 {
		turn = now.Add(time.Duration((1 - e.tokens) * float64(l.o.Interval)))
	}
	if e.next.After(turn) {
		turn = e.next
	}
	return turn
}

func (l *Limiter) refillLocked(e *entry, now time.Time) {
	if d := now.Sub(e.at); d > 0 {
		e.tokens = min(float64(l.o.Burst), e.tokens+float64(d)/float64(l.o.Interval))
		e.at = now
	}
}

// lookupLocked finds key's entry and marks it seen; nil when there is none.
func (l *Limiter) lookupLocked(key string, now time.Time) *entry {
	l.expireLocked(now)
	e := l.addrs[key]
	if e != nil {
		e.seen = now
		l.lru.MoveToFront(e.elem)
	}
	return e
}

// entryLocked finds or makes key's entry, forgetting the least recently
// seen address when the table is full.
func (l *Limiter) entryLocked(key string, now time.Time) *entry {
	if e := l.lookupLocked(key, now); e != nil {
		return e
	}
	for len(l.addrs) >= l.o.MaxAddresses {
		l.removeLocked(l.lru.Back().Value.(*entry))
	}
	e := &entry{key: key, tokens: float64(l.o.Burst), at: now, seen: now}
	e.elem = l.lru.PushFront(e)
	l.addrs[key] = e
	return e
}

// expireLocked forgets the addresses quiet for l.expire: their budget is
// whole again by then.
func (l *Limiter) expireLocked(now time.Time) {
	for b := l.lru.Back(); b != nil; b = l.lru.Back() {
		e := b.Value.(*entry)
		if now.Sub(e.seen) < l.expire || e.next.After(now) {
			return
		}
		l.removeLocked(e)
	}
}

func (l *Limiter) removeLocked(e *entry) {
	l.lru.Remove(e.elem)
	delete(l.addrs, e.key)
}
