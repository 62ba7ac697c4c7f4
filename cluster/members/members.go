// Package members keeps the list of live citywall instances in Redis and
// picks, for any key (a camera), the one instance that owns it.
//
// Each instance renews its entry in a sorted set scored by the Redis
// server's clock plus a TTL, so instances need no clocks in step; an
// instance that stops renewing (crashed, cut off) drops out of every view
// at most TTL later, and one that stops cleanly leaves at once. Owner is
// rendezvous (highest random weight) hashing over the live instances: every
// instance with the same view picks the same owner, and a join or a leave
// moves only the keys the newcomer wins or the leaver held.
package members

import (
	"context"
	"hash/fnv"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Member is one live instance.
type Member struct {
	ID  string
	URL string // where the others reach it (cluster.advertise_url)
}

// Options configure a Registry. Zero values take the defaults.
type Options struct {
	Key string // the sorted set; Key + ":url" holds the addresses [{citywall}:instances]
	ID  string // this instance; required
	URL string // this instance's address
	TTL time.Duration
	// Poll is how often the view is read again [TTL/6, at most 500ms].
	Poll     time.Duration
	OnChange func() // the view changed; called in the registry's goroutine, must not block
	Logger   *slog.Logger
}

// Registry is this instance's entry and its view of the others.
type Registry struct {
	rdb  redis.UniversalClient
	opt  Options
	log  *slog.Logger
	view atomic.Pointer[View]

	paused atomic.Bool

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{}
	started bool
	closed  bool
}

// View is the live instances as one instance last read them, ordered by
// id.
type View struct {
	Members []Member
	Self    string
}

// New returns a registry; Run joins and keeps the view fresh.
func New(rdb redis.UniversalClient, o Options) *Registry {
	if o.Key == "" {
		o.Key = "{citywall}:instances"
	}
	if o.TTL <= 0 {
		o.TTL = 3 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = min(o.TTL/6, 500*time.Millisecond)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{rdb: rdb, opt: o, log: o.Logger, done: make(chan struct{})}
	// Alone until the first read: this instance owns everything, as it
	// would without Redis.
	r.view.Store(&View{Members: []Member{{ID: o.ID, URL: o.URL}}, Self: o.ID})
	return r
}

// ID is this instance's id.
func (r *Registry) ID() string { return r.opt.ID }

// View returns the current view; never nil.
func (r *Registry) View() *View { return r.view.Load() }

// Owner is the instance that owns key in the current view.
func (r *Registry) Owner(key string) Member { return r.View().Owner(key) }

// Pause stops (true) or resumes (false) renewals and reads, and makes
// Close leave without removing the entry: the instance drops out only when
// its entry expires, as after a crash. For tests and drills.
func (r *Registry) Pause(p bool) { r.paused.Store(p) }

// joinScript renews an entry: score = the server's time + TTL; entries
// past their time are removed, with their addresses, on the way.
var joinScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(gone) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return now`)

// readScript lists the live entries and their addresses.
var readScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local out = {}
for _, id in ipairs(ids) do
  table.insert(out, id)
  table.insert(out, redis.call('HGET', KEYS[2], id) or '')
end
return out`)

// Run keeps this instance's entry and the view fresh until ctx ends or
// Close, then leaves.
func (r *Registry) Run(ctx context.Context) {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	r.mu.Unlock()
	defer close(r.done)

	keys := []string{r.opt.Key, r.opt.Key + ":url"}
	renew := r.opt.TTL / 3
	var lastRenew time.Time
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if !r.paused.Load() {
				lctx, cancel := context.WithTimeout(context.Background(), time.Second)
				p := r.rdb.TxPipeline()
				p.ZRem(lctx, keys[0], r.opt.ID)
				p.HDel(lctx, keys[1], r.opt.ID)
				_, _ = p.Exec(lctx)
				cancel()
			}
			return
		case <-t.C:
		}
		t.Reset(r.opt.Poll)
		if r.paused.Load() {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, r.opt.TTL/3)
		if time.Since(lastRenew) >= renew-r.opt.Poll/2 {
			if err := joinScript.Run(rctx, r.rdb, keys, r.opt.ID, r.opt.URL, r.opt.TTL.Milliseconds()).Err(); err != nil {
				r.log.Warn("instance entry not renewed", "err", err)
			} else {
				lastRenew = time.Now()
			}
		}
		res, err := readScript.Run(rctx, r.rdb, keys).StringSlice()
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("instances not read", "err", err)
			}
			continue
		}
		v := &View{Self: r.opt.ID}
		for i := 0; i+1 < len(res); i += 2 {
			v.Members = append(v.Members, Member{ID: res[i], URL: res[i+1]})
		}
		if !v.has(r.opt.ID) {
			// Not (yet, or no longer) in Redis: this instance still
			// counts itself, so it serves its own viewers meanwhile.
			v.Members = append(v.Members, Member{ID: r.opt.ID, URL: r.opt.URL})
		}
		slices.SortFunc(v.Members, func(a, b Member) int {
			if a.ID < b.ID {
				return -1
			}
			if a.ID > b.ID {
				return 1
			}
			return 0
		})
		if old := r.view.Load(); !old.equal(v) {
			r.view.Store(v)
			r.log.Info("instances changed", "instances", len(v.Members))
			if r.opt.OnChange != nil {
				r.opt.OnChange()
			}
		}
	}
}

// Close leaves (unless paused) and waits for Run to return. Safe twice.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	cancel, started := r.cancel, r.started
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if started {
		<-r.done
	}
}

func (v *View) has(id string) bool {
	for _, m := range v.Members {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (v *View) equal(o *View) bool {
	return o != nil && v.Self == o.Self && slices.Equal(v.Members, o.Members)
}

// Owner is the member that owns key: the one with the highest weight of
// key and its id.
func (v *View) Owner(key string) Member {
	return Owner(key, v.Members)
}

// Owner picks the member of ms with the highest weight(key, id); the zero
// Member when ms is empty.
func Owner(key string, ms []Member) Member {
	var best Member
	var bw uint64
	for i, m := range ms {
		w := weight(key, m.ID)
		if i == 0 || w > bw || (w == bw && m.ID < best.ID) {
			best, bw = m, w
		}
	}
	return best
}

// weight is FNV-1a of key and id, finished with a 64-bit mixer so that
// ids that differ in one character still spread evenly.
func weight(key, id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(id))
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
