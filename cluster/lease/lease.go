// Package lease elects one leader among citywall instances through a
// lease key in Redis, with a fencing token.
//
// The lease is SET NX PX with the instance's id and its token; it is
// renewed every TTL/3 and released by Lua only while this instance still
// holds it. The token comes from INCR at every new leadership, so it only
// grows. A leader that cannot renew steps down by itself at TTL minus a
// safety margin after the last renewal it sent, which is before the key can
// expire in Redis and before another instance can take it. Writes of
// leader-only work carry the token, and Redis refuses a token older than
// the current one (Fence), so a leader that was paused past its lease
// cannot write after another took over.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrStale is a write refused because its fencing token is not the
// current leader's.
var ErrStale = errors.New("stale fencing token")

// Options configure a Lease. Zero values take the defaults.
type Options struct {
	// Key is the lease's key; the token counter is Key + ":token". Wrap the
	// common part in braces ({citywall}:leader) so that fenced scripts find
	// both in one Cluster slot.
	Key    string
	ID     string        // this instance; random when empty
	TTL    time.Duration // default 6s
	Margin time.Duration // stepped down this long before the lease could expire (default TTL/6)
	// Retry is how often a follower tries to take the lease (default TTL/6,
	// at most 250ms): a dead leader is replaced within TTL + Retry.
	Retry  time.Duration
	OnGain func(token uint64) // called in the lease's goroutine; must not block long
	OnLoss func()
	Logger *slog.Logger
}

// Lease is one instance's part in the election.
type Lease struct {
	rdb redis.UniversalClient
	opt Options
	log *slog.Logger

	token   atomic.Uint64 // 0 while not leader
	paused  atomic.Bool
	changes chan bool

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
	closed  bool
}

// New returns a lease; Run takes part in the election.
func New(rdb redis.UniversalClient, o Options) *Lease {
	if o.Key == "" {
		o.Key = "{citywall}:leader"
	}
	if o.ID == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		o.ID = hex.EncodeToString(b)
	}
	if o.TTL <= 0 {
		o.TTL = 6 * time.Second
	}
	if o.Margin <= 0 {
		o.Margin = o.TTL / 6
	}
	if o.Retry <= 0 {
		o.Retry = min(o.TTL/6, 250*time.Millisecond)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{rdb: rdb, opt: o, log: o.Logger, changes: make(chan bool, 16), done: make(chan struct{})}
}

// ID is this instance's id in the lease.
func (l *Lease) ID() string { return l.opt.ID }

// TTL is the lease's time to live.
func (l *Lease) TTL() time.Duration { return l.opt.TTL }

// IsLeader says whether this instance holds the lease now.
func (l *Lease) IsLeader() bool { return l.token.Load() != 0 }

// Token is the fencing token of this instance's leadership, 0 when it is
// not the leader.
func (l *Lease) Token() uint64 { return l.token.Load() }

// Changes tells of leadership gained (true) and lost (false), in order.
// A reader that falls behind by 16 changes misses some; IsLeader is the
// truth.
func (l *Lease) Changes() <-chan bool { return l.changes }

// TokenKey is the key of the fencing counter.
func (l *Lease) TokenKey() string { return l.opt.Key + ":token" }

// Pause stops (true) or resumes (false) renewals and attempts, as a
// process stopped by the OS or cut off from Redis would: the leader steps
// down by itself when its lease runs out. For tests and drills.
func (l *Lease) Pause(p bool) { l.paused.Store(p) }

var acquireScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('EXISTS', KEYS[2]) == 0 then
    -- A new or emptied Redis: start the counter at the time in ms, so
    -- tokens still grow past those handed out before it was emptied.
    redis.call('SET', KEYS[2], ARGV[3])
  end
  local t = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'NX', 'PX', ARGV[2])
  return t
end
return 0`)

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

func (l *Lease) value(token uint64) string { return l.opt.ID + "|" + strconv.FormatUint(token, 10) }

// Run takes part in the election until ctx ends or Close; a leader then
// releases the lease so another takes over at once.
func (l *Lease) Run(ctx context.Context) {
	l.mu.Lock()
	if l.started || l.closed {
		l.mu.Unlock()
		return
	}
	l.started = true
	ctx, l.cancel = context.WithCancel(ctx)
	l.mu.Unlock()
	defer close(l.done)

	var validUntil time.Time // a leader's own deadline: the last renewal sent + TTL - margin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if tok := l.token.Load(); tok != 0 {
				rctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_ = releaseScript.Run(rctx, l.rdb, []string{l.opt.Key}, l.value(tok)).Err()
				cancel()
				l.stepDown("closed")
			}
			return
		case <-timer.C:
		}
		now := time.Now()
		if tok := l.token.Load(); tok != 0 && !now.Before(validUntil) {
			l.stepDown("lease not renewed in time")
		}
		if l.paused.Load() {
			wait := l.opt.Retry
			if l.token.Load() != 0 {
				wait = min(wait, max(time.Until(validUntil), 0))
			}
			timer.Reset(wait)
			continue
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, l.opt.TTL/3)
		if tok := l.token.Load(); tok != 0 {
			n, err := renewScript.Run(rctx, l.rdb, []string{l.opt.Key}, l.value(tok), l.opt.TTL.Milliseconds()).Int64()
			switch {
			case err == nil && n == 1:
				validUntil = sent.Add(l.opt.TTL - l.opt.Margin)
			case err == nil:
				l.stepDown("lease taken by another instance")
			default:
				l.log.Warn("lease not renewed", "err", err, "steps down in", time.Until(validUntil).Round(time.Millisecond))
			}
		} else {
			t, err := acquireScript.Run(rctx, l.rdb, []string{l.opt.Key, l.TokenKey()}, l.opt.ID, l.opt.TTL.Milliseconds(), time.Now().UnixMilli()).Int64()
			if err == nil && t > 0 {
				validUntil = sent.Add(l.opt.TTL - l.opt.Margin)
				l.token.Store(uint64(t))
				l.log.Info("leader", "id", l.opt.ID, "token", t)
				l.notify(true)
				if l.opt.OnGain != nil {
					l.opt.OnGain(uint64(t))
				}
			} else if err != nil && ctx.Err() == nil {
				l.log.Debug("lease not taken", "err", err)
			}
		}
		cancel()
		wait := l.opt.Retry
		if tok := l.token.Load(); tok != 0 {
			wait = min(l.opt.TTL/3, max(time.Until(validUntil), 0))
		}
		timer.Reset(wait)
	}
}

func (l *Lease) stepDown(why string) {
	if l.token.Swap(0) == 0 {
		return
	}
	l.log.Warn("no longer leader", "id", l.opt.ID, "why", why)
	l.notify(false)
	if l.opt.OnLoss != nil {
		l.opt.OnLoss()
	}
}

func (l *Lease) notify(leader bool) {
	select {
	case l.changes <- leader:
	default:
	}
}

// Close steps down (releasing the lease) and waits for Run to end. Safe
// twice, and before Run.
func (l *Lease) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	started, cancel := l.started, l.cancel
	l.mu.Unlock()
	if !started {
		return nil
	}
	cancel()
	<-l.done
	return nil
}

// Holder reads who holds the lease now: its id and token ("" and 0 when
// nobody does).
func Holder(ctx context.Context, rdb redis.UniversalClient, key string) (string, uint64, error) {
	v, err := rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, err
	}
	id, tok, _ := strings.Cut(v, "|")
	t, _ := strconv.ParseUint(tok, 10, 64)
	return id, t, nil
}

// FenceLua starts a script whose KEYS[1] is the token counter and ARGV[1]
// a fencing token: a token other than the current one is refused with an
// error reply saying STALE. Token 0 (work that is not the leader's) passes.
const FenceLua = `
if ARGV[1] ~= '0' and tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then
  return redis.error_reply('STALE fencing token ' .. ARGV[1])
end
`

// IsStale says whether err is Redis refusing a fenced write.
func IsStale(err error) bool {
	return err != nil && (errors.Is(err, ErrStale) || strings.Contains(err.Error(), "STALE fencing token"))
}

// Fence runs a fenced script: FenceLua is put before body, KEYS[1] is the
// counter, ARGV[1] the token; the caller's keys and args follow.
func Fence(body string) *redis.Script { return redis.NewScript(FenceLua + body) }

// ctxKey carries a fencing source in a context.
type ctxKey struct{}

// Fencer gives the token to write with: the current leader's token, or 0
// when this instance is not the leader (then a fenced write is refused).
type Fencer interface {
	Token() uint64
}

// WithFence marks ctx as leader-only work: stores fence writes made with
// it by f's token at the moment of the write.
func WithFence(ctx context.Context, f Fencer) context.Context {
	return context.WithValue(ctx, ctxKey{}, f)
}

// FenceOf returns whether ctx is leader-only work and its token now. A
// token of 0 with ok means the work is no longer the leader's: refuse it.
func FenceOf(ctx context.Context) (token uint64, ok bool) {
	f, ok := ctx.Value(ctxKey{}).(Fencer)
	if !ok || f == nil {
		return 0, false
	}
	return f.Token(), true
}

// FenceArg is the ARGV[1] for a fenced script from ctx: "0" for work that
// is not the leader's, the token for leader work, and an error when ctx is
// leader work of an instance that is no longer the leader.
func FenceArg(ctx context.Context) (string, error) {
	tok, ok := FenceOf(ctx)
	if !ok {
		return "0", nil
	}
	if tok == 0 {
		return "", fmt.Errorf("leader work after stepping down: %w", ErrStale)
	}
	return strconv.FormatUint(tok, 10), nil
}
