package redisbroker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/stream"
)

// Options configure a Broker.
type Options struct {
	Client   redis.UniversalClient
	Prefix   string // keys are {prefix}:hub:…, one hash slot on a Cluster
	Instance string // this instance's name in the producer lock
	History  int    // deltas kept per topic for resume, and events per events topic [512]
	MaxLen   int64  // entries kept in the stream, roughly [100000]
	Queue    int    // publications waiting for Redis [65536]
	// Local topics are published by this instance for its own clients
	// only (give them an epoch of their own: stream.Options.EpochFor).
	Local func(topic string) bool
	// Derived topics are published by the producer only; the others
	// (changes made through one instance's API) by whoever makes them.
	Derived func(topic string) bool
	// OnProducer is called when this instance becomes the producer, so
	// it can publish the full state of what it produces.
	OnProducer func()
	Registerer prometheus.Registerer // nil: not exported
	Log        *slog.Logger
}

// Target is what the broker restores topics into: the hub.
type Target interface {
	Restore(name string, kind stream.Kind, seq uint64, state map[string]json.RawMessage, recent []stream.Publication) error
}

// ErrQueueFull is returned when publications wait for Redis past
// Options.Queue; the publication is dropped and counted.
var ErrQueueFull = errors.New("redis broker: queue full")

// ErrEpochLost means Redis no longer holds this instance's epoch: it lost
// the hub's keys. Instances must restart to agree on a new one.
var ErrEpochLost = errors.New("redis broker: the hub epoch in Redis changed (Redis lost its data?); restart the instances")

// Broker is a stream.Broker on Redis.
type Broker struct {
	o    Options
	keys keys
	out  chan outgoing

	mu      sync.RWMutex
	deliver []func(stream.Publication)

	epoch     string
	producer  atomic.Pointer[func() bool]
	lockHeld  atomic.Bool
	up        atomic.Bool
	ready     atomic.Bool
	epochLost atomic.Bool
	lagNanos  atomic.Int64

	m metrics
}

var _ stream.Broker = (*Broker)(nil)

type keys struct {
	stream, seqs, kinds, epoch, lock, statePre, eventsPre string
	sources                                               string // hash topic → last source published
}

func newKeys(prefix string) keys {
	p := "{" + prefix + "}:hub:"
	return keys{stream: p + "stream", seqs: p + "seq", kinds: p + "kind", epoch: p + "epoch", lock: p + "producer",
		statePre: p + "state:", eventsPre: p + "events:", sources: p + "source"}
}

type outgoing struct {
	topic string
	kind  string
	args  []any // the script's ARGV after topic and kind's fixed part
}

type metrics struct {
	published, dropped, bad, restores prometheus.Counter
	queued                            prometheus.GaugeFunc
}

// New returns a broker. Call Epoch before the hub is built and Run once.
func New(o Options) *Broker {
	if o.History <= 0 {
		o.History = 512
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 100_000
	}
	if o.Queue <= 0 {
		o.Queue = 65536
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	b := &Broker{o: o, keys: newKeys(o.Prefix), out: make(chan outgoing, o.Queue)}
	b.m = metrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_cluster_hub_published_total",
			Help: "Publications written to the Redis hub stream by this instance."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_cluster_hub_dropped_total",
			Help: "Publications dropped because too many waited for Redis."}),
		bad: prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_cluster_hub_bad_entries_total",
			Help: "Hub stream entries that did not decode and were skipped."}),
		restores: prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_cluster_hub_restores_total",
			Help: "Times this instance restored every topic from Redis (start, or a gap in the stream)."}),
	}
	b.m.queued = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "citywall_cluster_hub_queued",
		Help: "Publications waiting to be written to Redis."}, func() float64 { return float64(len(b.out)) })
	if o.Registerer != nil {
		o.Registerer.MustRegister(b.m.published, b.m.dropped, b.m.bad, b.m.restores, b.m.queued,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "citywall_cluster_hub_lag_seconds",
				Help: "How far behind the hub stream this instance reads (0 when at its end)."},
				func() float64 { return time.Duration(b.lagNanos.Load()).Seconds() }))
	}
	return b
}

// Epoch returns the epoch every instance shares, creating it on first use.
func (b *Broker) Epoch(ctx context.Context) (string, error) {
	c := b.o.Client
	if err := c.SetNX(ctx, b.keys.epoch, stream.NewEpoch(), 0).Err(); err != nil {
		return "", fmt.Errorf("hub epoch: %w", err)
	}
	e, err := c.Get(ctx, b.keys.epoch).Result()
	if err != nil {
		return "", fmt.Errorf("hub epoch: %w", err)
	}
	b.epoch = e
	return e, nil
}

// checkEpoch reads the hub epoch from Redis and marks the history lost
// when it is not this instance's (or gone: a Redis restarted without its
// files). It says whether Redis answered.
func (b *Broker) checkEpoch(ctx context.Context) bool {
	e, err := b.o.Client.Get(ctx, b.keys.epoch).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false
	}
	if e != b.epoch && !b.epochLost.Swap(true) {
		b.o.Log.Error("hub stream", "err", ErrEpochLost)
	}
	return true
}

// SetProducer replaces the interim producer lock with the caller's own
// choice (the leader). Safe to call while running.
func (b *Broker) SetProducer(isProducer func() bool) { b.producer.Store(&isProducer) }

// IsProducer says whether this instance publishes derived topics.
func (b *Broker) IsProducer() bool {
	if f := b.producer.Load(); f != nil {
		return (*f)()
	}
	return b.lockHeld.Load()
}

// Up says whether Redis answered the last request.
func (b *Broker) Up() bool { return b.up.Load() }

// Ready says whether every topic has been restored and the stream is read
// up to its end.
func (b *Broker) Ready() bool { return b.ready.Load() && !b.epochLost.Load() }

// EpochLost says whether Redis lost the shared epoch.
func (b *Broker) EpochLost() bool { return b.epochLost.Load() }

// Attach adds a delivery function (the hub's).
func (b *Broker) Attach(deliver func(stream.Publication)) {
	b.mu.Lock()
	b.deliver = append(b.deliver, deliver)
	b.mu.Unlock()
}

func (b *Broker) deliverAll(p stream.Publication) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, d := range b.deliver {
		d(p)
	}
}

// Publish queues p for Redis; it never waits for Redis. Local topics are
// delivered at once; derived topics are dropped unless this instance is
// the producer.
func (b *Broker) Publish(ctx context.Context, p stream.Publication) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.o.Local != nil && b.o.Local(p.Topic) {
		p.Seq = 0
		b.deliverAll(p)
		return nil
	}
	if p.Source == "" && b.o.Derived != nil && b.o.Derived(p.Topic) && !b.IsProducer() {
		return nil
	}
	body, err := encodePayload(p)
	if err != nil {
		return fmt.Errorf("publish %q: %w", p.Topic, err)
	}
	og := outgoing{topic: p.Topic, kind: kindCode(p.Kind)}
	og.args = make([]any, 0, 8+2*len(p.Set)+len(p.Del))
	og.args = append(og.args, p.Topic, og.kind, body, b.o.MaxLen, b.o.History, b.epoch, p.Source, len(p.Set))
	for k, v := range p.Set {
		og.args = append(og.args, k, []byte(v))
	}
	for _, k := range p.Del {
		og.args = append(og.args, k)
	}
	select {
	case b.out <- og:
		return nil
	default:
		b.m.dropped.Inc()
		return ErrQueueFull
	}
}

// Run writes and reads the hub stream until ctx ends. It restores every
// topic into t first.
func (b *Broker) Run(ctx context.Context, t Target) {
	var wg sync.WaitGroup
	wg.Go(func() { b.send(ctx) })
	wg.Go(func() { b.consume(ctx, t) })
	wg.Go(func() { b.holdLock(ctx) })
	wg.Wait()
}

// sleep waits d or until ctx ends; false when it ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func backoff(d time.Duration) time.Duration { return min(max(d*2, 50*time.Millisecond), time.Second) }

// send writes queued publications in order, a pipeline at a time, and
// retries what failed, in order, until Redis takes it.
func (b *Broker) send(ctx context.Context) {
	c := b.o.Client
	var batch []outgoing
	for {
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case og := <-b.out:
				batch = append(batch, og)
			}
		fill:
			for len(batch) < 256 {
				select {
				case og := <-b.out:
					batch = append(batch, og)
				default:
					break fill
				}
			}
		}
		var wait time.Duration
		for len(batch) > 0 {
			pipe := c.Pipeline()
			cmds := make([]*redis.Cmd, len(batch))
			for i, og := range batch {
				target := b.keys.statePre + og.topic
				if og.kind == "e" {
					target = b.keys.eventsPre + og.topic
				}
				cmds[i] = publishScript.EvalSha(ctx, pipe, []string{b.keys.stream, b.keys.seqs, b.keys.kinds, target, b.keys.epoch, b.keys.sources}, og.args...)
			}
			_, _ = pipe.Exec(ctx)
			failed := len(batch)
			var err error
			for i, cmd := range cmds {
				if err = cmd.Err(); err != nil {
					failed = i
					break
				}
			}
			b.m.published.Add(float64(failed))
			batch = batch[failed:]
			if err == nil {
				b.up.Store(true)
				break
			}
			if ctx.Err() != nil {
				return
			}
			switch {
			case strings.HasPrefix(err.Error(), "NOSCRIPT"):
				if lerr := publishScript.Load(ctx, c).Err(); lerr == nil {
					continue
				} else {
					err = lerr
				}
			case strings.Contains(err.Error(), "CITYWALL_EPOCH"):
				if !b.epochLost.Swap(true) {
					b.o.Log.Error("hub publications stopped", "err", ErrEpochLost)
				}
				b.m.dropped.Add(float64(len(batch)))
				batch = batch[:0]
				continue
			}
			if b.up.Swap(false) || wait == 0 {
				b.o.Log.Warn("hub publications wait for redis", "err", err)
			}
			wait = backoff(wait)
			if !sleep(ctx, wait) {
				return
			}
		}
	}
}

// consume restores every topic, then applies the stream's publications as
// they come, restoring again when it finds a gap (it fell further behind
// than the stream keeps).
func (b *Broker) consume(ctx context.Context, t Target) {
	var last string
	seqs := map[string]uint64{}
	var wait time.Duration
	restored := false
	for ctx.Err() == nil {
		if !restored {
			var err error
			if last, err = b.restore(ctx, t, seqs); err != nil {
				if ctx.Err() != nil {
					return
				}
				b.up.Store(false)
				if errors.Is(err, ErrEpochLost) && !b.epochLost.Swap(true) {
					b.o.Log.Error("hub restore", "err", err)
				}
				wait = backoff(wait)
				sleep(ctx, wait)
				continue
			}
			restored, wait = true, 0
			b.up.Store(true)
			b.ready.Store(true)
		}
		res, err := b.o.Client.XRead(ctx, &redis.XReadArgs{Streams: []string{b.keys.stream, last}, Count: 1000, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			// An idle second. Redis answered, so it is up even when
			// nobody publishes (an idle group after a Redis restart
			// stayed unready until someone did); and it must still hold
			// our history: a Redis restarted without its files answers
			// an empty stream just as quietly, and the client's retry
			// hides the broken connection, so nothing else would tell.
			b.lagNanos.Store(0)
			if b.checkEpoch(ctx) && !b.up.Swap(true) {
				b.o.Log.Info("hub stream reachable again", "after", last)
			}
			wait = 0
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if b.up.Swap(false) {
				b.o.Log.Warn("hub stream unreachable", "err", err)
			}
			wait = backoff(wait)
			sleep(ctx, wait)
			// Back: make sure Redis still holds our history.
			b.checkEpoch(ctx)
			continue
		}
		if !b.up.Swap(true) {
			b.o.Log.Info("hub stream reachable again", "after", last)
		}
		wait = 0
		n := 0
		for _, s := range res {
			for _, m := range s.Messages {
				n++
				last = m.ID
				p, derr := DecodeEntry(m.Values)
				if derr != nil {
					b.m.bad.Inc()
					b.o.Log.Warn("hub stream entry skipped", "id", m.ID, "err", derr)
					continue
				}
				prev := seqs[p.Topic]
				if p.Seq <= prev {
					continue
				}
				if p.Seq != prev+1 {
					b.o.Log.Warn("gap in the hub stream; restoring", "topic", p.Topic, "have", prev, "got", p.Seq)
					restored = false
					break
				}
				seqs[p.Topic] = p.Seq
				b.deliverAll(p)
			}
		}
		if n == 1000 {
			b.lagNanos.Store(int64(time.Since(idTime(last))))
		} else {
			b.lagNanos.Store(0)
		}
	}
}

func idTime(id string) time.Time {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Now()
	}
	return time.UnixMilli(n)
}

// restore reads every topic's state at one point of the stream and the
// recent deltas before it, hands them to t, and returns that point.
func (b *Broker) restore(ctx context.Context, t Target, seqs map[string]uint64) (string, error) {
	b.m.restores.Inc()
	raw, err := snapshotScript.Run(ctx, b.o.Client, []string{b.keys.stream, b.keys.seqs, b.keys.kinds, b.keys.epoch},
		b.keys.statePre, b.keys.eventsPre).Slice()
	if err != nil {
		return "", fmt.Errorf("hub snapshot: %w", err)
	}
	if len(raw) < 4 {
		return "", fmt.Errorf("hub snapshot: %d parts", len(raw))
	}
	epoch, _ := raw[0].(string)
	if epoch != b.epoch {
		return "", ErrEpochLost
	}
	last, _ := raw[1].(string)
	kinds := pairs(raw[2])
	seqOf := map[string]uint64{}
	for _, kv := range pairs(raw[3]) {
		n, _ := strconv.ParseUint(kv[1], 10, 64)
		seqOf[kv[0]] = n
	}
	// The recent deltas of state topics, from the stream up to last.
	recent := map[string][]stream.Publication{}
	if last != "0-0" {
		from := "-"
		for {
			msgs, err := b.o.Client.XRangeN(ctx, b.keys.stream, from, last, 2000).Result()
			if err != nil {
				return "", fmt.Errorf("hub history: %w", err)
			}
			for _, m := range msgs {
				p, err := DecodeEntry(m.Values)
				if err != nil || p.Kind != stream.KindState {
					continue
				}
				r := append(recent[p.Topic], p)
				if len(r) > 2*b.o.History {
					r = append(r[:0], r[len(r)-b.o.History:]...)
				}
				recent[p.Topic] = r
			}
			if len(msgs) < 2000 {
				break
			}
			from = "(" + msgs[len(msgs)-1].ID
		}
	}
	for i, kv := range kinds {
		name := kv[0]
		if 4+i >= len(raw) {
			break
		}
		seq := seqOf[name]
		var err error
		if kv[1] == "s" {
			state := map[string]json.RawMessage{}
			for _, f := range pairs(raw[4+i]) {
				if json.Valid([]byte(f[1])) {
					state[f[0]] = json.RawMessage(f[1])
				}
			}
			r := recent[name]
			if len(r) > b.o.History {
				r = r[len(r)-b.o.History:]
			}
			err = t.Restore(name, stream.KindState, seq, state, contiguous(r, seq))
		} else {
			var evs []stream.Publication
			list, _ := raw[4+i].([]any)
			for _, x := range list {
				s, _ := x.(string)
				n, body, ok := strings.Cut(s, " ")
				es, perr := strconv.ParseUint(n, 10, 64)
				if !ok || perr != nil {
					continue
				}
				p := stream.Publication{Topic: name, Kind: stream.KindEvents, Seq: es}
				if decodePayload(&p, []byte(body)) == nil {
					evs = append(evs, p)
				}
			}
			err = t.Restore(name, stream.KindEvents, seq, nil, contiguous(evs, seq))
		}
		if err != nil {
			b.o.Log.Warn("hub restore", "topic", name, "err", err)
			continue
		}
		seqs[name] = seq
	}
	return last, nil
}

// contiguous keeps the run of deltas that ends at seq without a hole, so
// a resume is never answered from a history with one.
func contiguous(ps []stream.Publication, seq uint64) []stream.Publication {
	want := seq
	i := len(ps)
	for i > 0 && ps[i-1].Seq == want && want > 0 {
		i--
		want--
	}
	return ps[i:]
}

func pairs(v any) [][2]string {
	l, _ := v.([]any)
	out := make([][2]string, 0, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		k, _ := l[i].(string)
		val, _ := l[i+1].(string)
		out = append(out, [2]string{k, val})
	}
	return out
}

// holdLock keeps the interim producer lock unless SetProducer chose
// another way. While Redis is away the holder stays producer: its
// publications wait in order for Redis to return.
func (b *Broker) holdLock(ctx context.Context) {
	const ttl = 3 * time.Second
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	pending := false // became producer; OnProducer waits for the topics to be restored
	wasChosen := false
	for {
		if f := b.producer.Load(); f != nil {
			// Chosen from outside (the leader): watch it turn true.
			b.lockHeld.Store(false)
			chosen := (*f)()
			if chosen && !wasChosen {
				b.o.Log.Info("this instance produces the derived topics", "chosen_by", "leader")
				pending = true
			}
			pending = pending && chosen
			wasChosen = chosen
		} else {
			held, err := producerScript.Run(ctx, b.o.Client, []string{b.keys.lock}, b.o.Instance, ttl.Milliseconds()).Int()
			if err == nil {
				was := b.lockHeld.Swap(held == 1)
				if held == 1 && !was {
					b.o.Log.Info("this instance produces the derived topics")
					pending = true
				}
				if held != 1 {
					pending = false
				}
			}
		}
		if pending && b.ready.Load() {
			pending = false
			if b.o.OnProducer != nil {
				b.o.OnProducer()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
