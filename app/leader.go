package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/actionlink"
	"github.com/citywall/citywall/alerts/actionlink/actionredis"
	alertredis "github.com/citywall/citywall/alerts/redisstore"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/wall"
	wallredis "github.com/citywall/citywall/wall/redisstore"
)

// leaderSyncInterval is how often an instance looks for changes the others
// made to the shared alert and wall state (one GET of each version).
const leaderSyncInterval = 200 * time.Millisecond

// leaderNode is the App's part in a group of instances sharing one Redis:
// the lease that makes one of them the leader, the shared stores, the
// outbox of notifications that only the leader delivers, and the loop
// that brings every instance's hub up to date with the others' changes.
type leader struct {
	prefix string
	lease  *lease.Lease
	alerts *alertredis.Store
	walls  *wallredis.Store       // set by leaderWallStore
	disp   *alertredis.Dispatcher // set by leaderAlerting

	mu     sync.Mutex
	gained time.Time // when this instance last became the leader

	isLeader prometheus.GaugeFunc
	changes  prometheus.Counter
}

// newLeader makes the lease and the shared alert store; onClose
// registers the lease's release for when the App stops.
func (n *clusterMode) newLeader(onClose func(func())) {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id := fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	n.prefix = n.cfg.Prefix
	n.lease = lease.New(n.redis, lease.Options{Key: "{" + n.prefix + "}:leader", ID: id, TTL: n.cfg.LeaseTTL,
		Logger: n.log.With("component", "lease")})
	n.alerts = alertredis.New(n.redis, n.prefix)
	n.isLeader = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "citywall_leader_is_leader", Help: "1 while this instance holds the leader lease.",
	}, func() float64 {
		if n.lease.IsLeader() {
			return 1
		}
		return 0
	})
	n.changes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "citywall_leader_changes_total", Help: "Leadership gained or lost by this instance.",
	})
	n.reg.MustRegister(n.isLeader, n.changes)
	onClose(n.closeLease)
}

// leaderActive is the Active option of leader-only work: nil (always
// active) alone.
func (n *clusterMode) leaderActive() func() bool {
	if n == nil {
		return nil
	}
	return n.lease.IsLeader
}

// wallStore is the walls' store with Redis.
func (n *clusterMode) wallStore(keep int) wall.Store {
	n.walls = wallredis.New(n.redis, n.prefix, n.lease, keep)
	return n.walls
}

// leaderAlerting puts the shared store and the outbox in place of the
// file store and the direct notifiers, and sends what the notifiers would
// have sent through the leader's dispatcher.
func (n *clusterMode) sharedAlerting(al *alerting, store *alerts.Store, notifiers *[]alerts.Notifier) {
	*store = n.alerts
	var sinks []alertredis.Sink
	for _, t := range al.hooks.Targets() {
		sinks = append(sinks, alertredis.Sink{
			Name:  "webhook:" + t.Name,
			Wants: func(x alerts.Notification) bool { return webhook.Concerns(t, x) },
			DeliverMany: func(ctx, stop context.Context, xs []alerts.Notification) []error {
				return al.hooks.DeliverMany(ctx, stop, t, xs)
			},
			Retry: func(err error) bool { return errors.Is(err, webhook.ErrStopped) },
		})
	}
	if al.wall != nil {
		sinks = append(sinks, alertredis.Sink{Name: "wall", Deliver: func(ctx, _ context.Context, x alerts.Notification) error {
			al.wall.Notify(ctx, x)
			return nil
		}})
	}
	n.disp = alertredis.NewDispatcher(n.redis, n.prefix, n.lease, sinks, n.log.With("component", "dispatch"))
	// The store appends each change's notifications to the outbox in the
	// same script as the state: nothing is notified directly.
	*notifiers = nil
}

// linkStore keeps the alert links' key and used links in Redis.
func (n *clusterMode) linkStore() actionlink.Store { return actionredis.New(n.redis, n.prefix) }

// deadLetters are the notifications the leaders gave up on.
func (n *clusterMode) deadLetters(ctx context.Context) ([]webhook.DeadLetter, error) {
	list, err := alertredis.DeadLetters(ctx, n.redis, n.prefix)
	if err != nil {
		return nil, err
	}
	out := make([]webhook.DeadLetter, 0, len(list))
	for _, d := range list {
		out = append(out, webhook.DeadLetter{Target: d.Sink, Event: d.Event, AlertID: d.AlertID, Error: d.Error, Time: d.Time})
	}
	return out, nil
}

// leaderCtx marks ctx as leader-only work: the stores fence what it
// writes with the lease's token.
func (n *clusterMode) leaderCtx(ctx context.Context) context.Context {
	if n == nil {
		return ctx
	}
	return lease.WithFence(ctx, n.lease)
}

// runLeader starts the lease, the dispatcher and the sync loop under wg.
func (n *clusterMode) runLeader(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { n.lease.Run(ctx) })
	if n.disp != nil {
		wg.Go(func() { n.disp.Run(ctx) })
	}
	wg.Go(func() { n.follow(ctx) })
}

// Gained is when this instance last became the leader (zero: never).
func (n *leader) Gained() time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gained
}

// follow keeps this instance's alerts and walls up to date with what the
// others change, and hands the singleton work over when leadership moves.
func (n *clusterMode) follow(ctx context.Context) {
	a := n.parts
	t := time.NewTicker(leaderSyncInterval)
	defer t.Stop()
	syncState := func() {
		if a.alerting != nil {
			if err := a.alerting.mgr.Sync(ctx); err != nil && ctx.Err() == nil {
				n.log.Debug("alert state not synced", "err", err)
			}
		}
		if err := a.walls.Sync(ctx); err != nil && ctx.Err() == nil {
			n.log.Debug("wall state not synced", "err", err)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case leader := <-n.lease.Changes():
			n.changes.Inc()
			if !leader {
				continue
			}
			n.mu.Lock()
			n.gained = time.Now()
			n.mu.Unlock()
			// Take over from the state as the last leader left it: open
			// alerts and their timers, tour positions.
			syncState()
			if a.alerting != nil {
				a.alerting.cluster.Resume(n.now())
				if a.alerting.hot != nil {
					a.alerting.hot.Resume(n.now())
				}
				a.alerting.mgr.Wake()
			}
			a.walls.Wake()
		case <-t.C:
			syncState()
			if n.lease.IsLeader() {
				n.reseed(ctx)
			}
		}
	}
}

// reseed saves the leader's alerts and walls again when Redis came back
// without them (restarted without persistence), so instances that start
// later load them.
func (n *clusterMode) reseed(ctx context.Context) {
	a := n.parts
	if a.alerting != nil && n.alerts.Lost(ctx) {
		n.log.Warn("alert state missing in Redis; saving this leader's")
		_ = a.alerting.mgr.Resave(ctx)
	}
	if n.walls != nil && n.walls.Lost() {
		n.log.Warn("wall state missing in Redis; saving this leader's")
		_ = a.walls.Resave()
	}
}

// closeLease releases the lease so another instance takes over at once.
func (n *leader) closeLease() { _ = n.lease.Close() }
