package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/stream/redisbroker"
	"github.com/citywall/citywall/wall"
	"github.com/citywall/citywall/web"
	"github.com/citywall/citywall/web/session"
)

// clusterMode is everything that differs when instances share one Redis;
// a nil *clusterMode is a single instance, and its methods say so. Every
// accepted ingest goes through the ingest stream (ingest.Redis) and is
// applied from it on every instance alike; hub publications go through
// the broker; the leader's lease picks the instance that does the
// singleton work (leader.go).
type clusterMode struct {
	cfg      config.Redis
	now      func() time.Time
	log      *slog.Logger
	reg      prometheus.Registerer
	parts    clusterParts // set by attach
	redis    redis.UniversalClient
	id       string
	broker   *redisbroker.Broker
	ingest   *ingest.Redis // set by ingestBackend
	hubEpoch string        // shared by every instance
	local    string        // this instance's own topics' epoch
	owners   *owners       // who dials each camera

	leader
}

// clusterLocalTopic: topics this instance alone publishes for its own
// clients. Each instance relays its own cameras, so `cameras` is the state
// of the cameras as seen from the instance a client is on.
func clusterLocalTopic(t string) bool { return t == web.TopicCameras }

// clusterDerivedTopic: topics every instance derives alike from the shared
// ingest; only the producer publishes them.
func clusterDerivedTopic(t string) bool {
	switch {
	case strings.HasPrefix(t, "heat/"), strings.HasPrefix(t, web.TopicHotPrefix), strings.HasPrefix(t, "feeds/"):
		return true
	}
	return t == web.TopicTickets || t == web.TopicStats || t == web.TopicKPI
}

// clusterOptions are what the cluster mode is built from.
type clusterOptions struct {
	Redis      config.Redis
	HubHistory int // hub.history, kept in Redis per topic
	Now        func() time.Time
	Reg        prometheus.Registerer
	Log        *slog.Logger
	// OnClose registers what the App closes when it stops (or a later
	// step of New fails): the Redis client and the lease.
	OnClose func(func())
}

func newClusterMode(o clusterOptions) (*clusterMode, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	c := &clusterMode{cfg: o.Redis, now: o.Now, log: o.Log, reg: o.Reg,
		redis: newRedis(o.Redis), id: hex.EncodeToString(b[:]), local: stream.NewEpoch()}
	o.OnClose(func() { _ = c.redis.Close() })
	c.broker = redisbroker.New(redisbroker.Options{
		Client:     c.redis,
		Prefix:     o.Redis.Prefix,
		Instance:   c.id,
		History:    o.HubHistory,
		Local:      clusterLocalTopic,
		Derived:    clusterDerivedTopic,
		OnProducer: c.resync,
		Registerer: o.Reg,
		Log:        o.Log.With("component", "redisbroker"),
	})
	if err := c.firstContact(); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	o.Reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "citywall_redis_up",
		Help: "1 when Redis answers this instance's ingest stream and hub stream, else 0."}, func() float64 {
		if c.ingest != nil && c.ingest.Up() && c.broker.Up() {
			return 1
		}
		return 0
	}))
	c.newLeader(o.OnClose)
	// The leader publishes the topics derived from the shared ingest, so
	// one instance does all the singleton work and a failover moves it
	// whole.
	c.broker.SetProducer(c.lease.IsLeader)
	return c, nil
}

// redisLoadingWait is how long the first contact waits for a Redis that
// is still loading its data set (a large AOF after a host reboot takes
// minutes); redisLoadingLog is how often the wait is logged.
var (
	redisLoadingWait = 10 * time.Minute
	redisLoadingLog  = 5 * time.Second
)

// firstContact reads the hub epoch and the peer key, both idempotent. A
// Redis that answers LOADING is waited for: a host that restarts starts
// Redis and citywall together, and an instance that exits on LOADING
// would only be restarted into the same answer.
func (c *clusterMode) firstContact() error {
	start := time.Now()
	logged := start
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 3*c.cfg.DialTimeout)
		var err error
		if c.hubEpoch, err = c.broker.Epoch(ctx); err == nil {
			c.owners, err = newOwners(ctx, c.redis, c.cfg.Prefix, c.id)
		}
		cancel()
		if err == nil {
			if time.Since(start) > redisLoadingLog {
				c.log.Info("redis has loaded its data set", "waited", time.Since(start).Round(time.Second).String())
			}
			return nil
		}
		if !isRedisLoading(err) {
			return err
		}
		if time.Since(start) >= redisLoadingWait {
			return fmt.Errorf("still loading its data set after %s: %w", redisLoadingWait, err)
		}
		if time.Since(logged) >= redisLoadingLog {
			logged = time.Now()
			c.log.Warn("redis is loading its data set; waiting", "waited", time.Since(start).Round(time.Second).String(),
				"limit", redisLoadingWait.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// isRedisLoading says whether err is Redis' LOADING answer.
func isRedisLoading(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "LOADING ")
}

// ingestBackend is the pipeline's backend: the shared ingest stream.
func (c *clusterMode) ingestBackend(apply ingest.ApplyFunc) (ingest.Backend, error) {
	c.ingest = ingest.NewRedis(ingest.RedisOptions{
		Client: c.redis, Key: "{" + c.cfg.Prefix + "}:ingest", Retention: c.cfg.Retention,
		Instance: c.id, EmitTimeout: c.cfg.DialTimeout, Now: c.now, Log: c.log, Registerer: c.reg,
	}, apply)
	return c.ingest, nil
}

// clusterParts are what the cluster mode keeps in step with the other
// instances.
type clusterParts struct {
	hub      *stream.Hub
	engine   *geo.Engine
	pub      *publisher
	walls    *wall.Manager
	alerting *alerting // nil when alerting is off
}

// attach gives the cluster mode the parts, once built; nothing alone.
func (c *clusterMode) attach(p clusterParts) {
	if c != nil {
		c.parts = p
	}
}

// sessionStore keeps browsers' sessions in Redis, shared by every
// instance.
func (c *clusterMode) sessionStore() session.Store {
	return session.NewRedis(c.redis, "{"+c.cfg.Prefix+"}")
}

// peerKey is the key of /internal/video; "" alone.
func (c *clusterMode) peerKey() string {
	if c == nil {
		return ""
	}
	return c.owners.key
}

// epoch is the hub's epoch: shared with Redis, fresh without.
func (c *clusterMode) epoch() string {
	if c == nil {
		return ""
	}
	return c.hubEpoch
}

func (c *clusterMode) epochFor(topic string) string {
	if c != nil && clusterLocalTopic(topic) {
		return c.local
	}
	return ""
}

// notReady says why this instance should not get traffic yet, "" when it
// may (always "" alone).
func (c *clusterMode) notReady() string {
	switch {
	case c == nil:
		return ""
	case c.broker.EpochLost():
		return "redis lost the hub's history (restart the instances)"
	case !c.broker.Up():
		return "redis unreachable"
	}
	if why := c.ingest.NotReady(); why != "" {
		return why
	}
	if !c.broker.Ready() {
		return "restoring hub topics"
	}
	return ""
}

// start runs the broker, the leader's work and the camera owners under
// wg; nothing alone. advertise is where the others reach this instance.
func (c *clusterMode) start(ctx context.Context, wg *sync.WaitGroup, advertise string) {
	if c == nil {
		return
	}
	wg.Go(func() { c.broker.Run(ctx, c.parts.hub) })
	c.owners.start(ctx, wg, advertise, c.log.Info)
	c.runLeader(ctx, wg)
}

// resync runs when this instance becomes the producer: it publishes what
// differs between the engine and the hub's topics, so deltas lost while
// nobody produced (a hand-over, a Redis outage) are made good.
func (c *clusterMode) resync() {
	a := c.parts
	ctx := context.Background()
	for _, name := range a.hub.Topics() {
		if !strings.HasPrefix(name, "heat/") {
			continue
		}
		key, err := geo.ParseHeatTopic(name)
		if err != nil {
			continue
		}
		cur := map[string]json.RawMessage{}
		for cell, v := range a.engine.Snapshot(key) {
			cur[cell.String()] = strconv.AppendInt(nil, int64(v), 10)
		}
		set, del := stateDiff(a.hub.State(name), cur)
		_ = a.hub.PublishState(ctx, name, set, del, time.Time{})
	}
	a.pub.resyncHot(ctx)
	a.pub.statsChanged()
}

// stateDiff is what turns have into want: the keys to set and to delete.
func stateDiff(have, want map[string]json.RawMessage) (set map[string]json.RawMessage, del []string) {
	set = map[string]json.RawMessage{}
	for k, v := range want {
		if !bytes.Equal(have[k], v) {
			set[k] = v
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			del = append(del, k)
		}
	}
	return set, del
}
