package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/cluster/ingestlog"
)

// CodeRedisUnavailable answers an ingest while Redis cannot take it.
const CodeRedisUnavailable = "redis_unavailable"

// redisApplyWait bounds how long a submit waits for its own entry to come
// back from the stream and be applied.
const redisApplyWait = 10 * time.Second

// RedisOptions configure the Redis backend.
type RedisOptions struct {
	Client    redis.UniversalClient
	Key       string        // the ingest stream's key
	Retention time.Duration // how long the stream keeps entries
	Instance  string        // this instance's id, unique among those sharing the stream
	// EmitTimeout bounds an Emit's append.
	EmitTimeout time.Duration
	Now         func() time.Time
	Log         *slog.Logger
	Registerer  prometheus.Registerer
}

// Redis shares the ingest of several instances through one Redis Stream:
// every accepted batch is appended to it and applied from it, on every
// instance alike (the submitting one included, so the order, and with it
// which of two conflicting posts wins, is the same everywhere).
type Redis struct {
	o     RedisOptions
	log   *ingestlog.Log
	apply ApplyFunc

	nonce   atomic.Uint64
	mu      sync.Mutex
	waiters map[string]chan Result

	up       atomic.Bool // the ingest stream answered last time
	caughtUp atomic.Bool // read up to where the stream ended at start
	lagNanos atomic.Int64

	entries     *prometheus.CounterVec
	unavailable prometheus.Counter
}

// NewRedis returns the Redis backend; apply is the Pipeline's Apply.
func NewRedis(o RedisOptions, apply ApplyFunc) *Redis {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	r := &Redis{
		o:       o,
		log:     ingestlog.New(o.Client, o.Key, o.Retention, o.Now),
		apply:   apply,
		waiters: map[string]chan Result{},
	}
	r.entries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "citywall_cluster_ingest_entries_total",
		Help: "Ingest stream entries applied by this instance, by kind (bad: did not decode)."}, []string{"kind"})
	r.unavailable = prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_cluster_ingest_unavailable_total",
		Help: "Ingest requests answered 503 because Redis could not take them."})
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.entries, r.unavailable,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "citywall_cluster_ingest_lag_seconds",
				Help: "How far behind the ingest stream this instance reads (0 when at its end)."},
				func() float64 { return time.Duration(r.lagNanos.Load()).Seconds() }))
	}
	return r
}

// Up says whether the ingest stream answered last time.
func (r *Redis) Up() bool { return r.up.Load() }

// NotReady: unreachable, or not caught up with the stream.
func (r *Redis) NotReady() string {
	switch {
	case !r.up.Load():
		return "redis unreachable"
	case !r.caughtUp.Load():
		return "catching up with the ingest stream"
	}
	return ""
}

// Run reads the ingest stream from its start (what retention kept) and
// applies every entry. It is caught up once it has applied what the
// stream held when it started; after a Redis outage it resumes after the
// last entry it applied.
func (r *Redis) Run(ctx context.Context) {
	var target string
	for ctx.Err() == nil {
		var err error
		if target, err = r.log.Last(ctx); err == nil {
			break
		}
		r.up.Store(false)
		sleepCtx(ctx, 250*time.Millisecond)
	}
	last := "0-0"
	if !ingestlog.After(target, last) {
		r.caughtUp.Store(true)
	}
	var wait time.Duration
	for ctx.Err() == nil {
		entries, bad, next, err := r.log.Read(ctx, last, 512, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if r.up.Swap(false) {
				r.o.Log.Warn("ingest stream unreachable", "err", err)
			}
			wait = min(max(2*wait, 50*time.Millisecond), time.Second)
			sleepCtx(ctx, wait)
			continue
		}
		if !r.up.Swap(true) {
			r.o.Log.Info("ingest stream reachable", "resume_after", last)
		}
		wait = 0
		for _, e := range bad {
			r.entries.WithLabelValues("bad").Inc()
			r.o.Log.Warn("ingest entry skipped", "err", e)
		}
		for _, e := range entries {
			r.applyEntry(ctx, e)
		}
		last = next
		if len(entries)+len(bad) == 512 {
			r.lagNanos.Store(int64(r.o.Now().Sub(ingestlog.IDTime(last))))
		} else {
			r.lagNanos.Store(0)
		}
		if !r.caughtUp.Load() && !ingestlog.After(target, last) {
			r.caughtUp.Store(true)
			r.o.Log.Info("ingest stream caught up", "at", last)
		}
	}
}

type entryKey struct{}

// itemSource is the place of item i of the shared stream's entry that ctx
// applies, as a string that sorts in the stream's order ("" outside the
// shared stream): every instance publishes the item's hub event under it,
// and the hub's backplane keeps the first (stream.Publication.Source).
func itemSource(ctx context.Context, i int) string {
	id, _ := ctx.Value(entryKey{}).(string)
	ms, seq, err := ingestlog.ParseID(id)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%020d-%020d-%07d", ms, seq, i)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// applyEntry applies one entry and answers its submitter when it is
// waiting on this instance.
func (r *Redis) applyEntry(ctx context.Context, e ingestlog.Entry) {
	var res Result
	b, err := Decode(e.Kind, e.Data)
	if err != nil {
		r.entries.WithLabelValues("bad").Inc()
		r.o.Log.Warn("ingest entry skipped", "id", e.ID, "kind", e.Kind, "err", err)
	} else {
		res = r.apply(context.WithValue(ctx, entryKey{}, e.ID), b)
		r.entries.WithLabelValues(string(e.Kind)).Inc()
	}
	if e.Origin != r.o.Instance {
		return
	}
	r.mu.Lock()
	ch, ok := r.waiters[e.Nonce]
	delete(r.waiters, e.Nonce)
	r.mu.Unlock()
	if ok {
		ch <- res
	}
}

func (r *Redis) unavailableErr(reason string) error {
	r.unavailable.Inc()
	return &UnavailableError{Code: CodeRedisUnavailable, Reason: reason}
}

// Submit appends the batch as one entry and waits until this instance has
// applied it.
func (r *Redis) Submit(ctx context.Context, b Batch) (Result, error) {
	data, err := Encode(b)
	if err != nil {
		return Result{}, err
	}
	if !r.up.Load() {
		return Result{}, r.unavailableErr("redis unreachable: nothing was accepted; retry later (ids make a retry safe)")
	}
	nonce := r.o.Instance + ":" + strconv.FormatUint(r.nonce.Add(1), 10)
	ch := make(chan Result, 1)
	r.mu.Lock()
	r.waiters[nonce] = ch
	r.mu.Unlock()
	forget := func() {
		r.mu.Lock()
		delete(r.waiters, nonce)
		r.mu.Unlock()
	}
	if _, err := r.log.Append(ctx, ingestlog.Entry{Kind: b.Kind, Origin: r.o.Instance, Nonce: nonce, Data: data}); err != nil {
		forget()
		if notSent(err) {
			return Result{}, r.unavailableErr("redis could not take the batch (" + err.Error() + "): nothing was accepted; retry later (ids make a retry safe)")
		}
		// The append may have reached Redis before the connection failed:
		// the batch may be in the stream and be applied everywhere.
		return Result{}, r.unavailableErr("outcome unknown: redis did not confirm the batch (" + err.Error() + "); it may have been accepted: retry with the same ids (a stored ticket answers duplicate)")
	}
	t := time.NewTimer(redisApplyWait)
	defer t.Stop()
	select {
	case res := <-ch:
		return res, nil
	case <-t.C:
	case <-ctx.Done():
	}
	forget()
	return Result{}, r.unavailableErr("outcome unknown: the batch is in the ingest stream but was not applied here in time; retry with the same ids (a stored ticket answers duplicate)")
}

// notSent says whether err proves the append never took effect: Redis
// answered it with an error, or no connection was made to send it.
func notSent(err error) bool {
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Emit appends the batch without waiting for it, so every instance sees
// the demo city.
func (r *Redis) Emit(ctx context.Context, b Batch) {
	data, err := Encode(b)
	if err != nil {
		return
	}
	if r.o.EmitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.o.EmitTimeout)
		defer cancel()
	}
	if _, err := r.log.Append(ctx, ingestlog.Entry{Kind: b.Kind, Origin: r.o.Instance, Nonce: "demo", Data: data}); err != nil {
		r.o.Log.Debug("demo item not taken", "err", err)
	}
}
