package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/cluster/ingestlog"
	"github.com/citywall/citywall/cluster/lease"
)

// Identity names a notification the same on every instance: the alert,
// the event and the alert's notification count (which grows with each
// firing, re-notification and escalation). A leader that raised the same
// escalation as its stale predecessor produces the same identity, and the
// dispatcher sends it once.
func Identity(n alerts.Notification) string {
	return n.Alert.ID + "/" + string(n.Event) + "/" + strconv.Itoa(n.Alert.Notifications)
}

// Outbox is the manager's notifier with several instances: every
// notification, made on whichever instance changed the alert, is appended
// to a Redis stream for the leader's Dispatcher.
type Outbox struct {
	rdb redis.UniversalClient
	k   Keys
	log *slog.Logger
	// MaxLen caps the stream (approximately); default 10000.
	MaxLen int64
}

var _ alerts.Notifier = (*Outbox)(nil)

// NewOutbox returns the outbox of prefix.
func NewOutbox(rdb redis.UniversalClient, prefix string, log *slog.Logger) *Outbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{rdb: rdb, k: KeysOf(prefix), log: log, MaxLen: 10000}
}

// Notify appends n to the stream.
func (o *Outbox) Notify(ctx context.Context, n alerts.Notification) {
	b, err := json.Marshal(n)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		err = o.rdb.XAdd(ctx, &redis.XAddArgs{Stream: o.k.Outbox, MaxLen: o.MaxLen, Approx: true,
			Values: []any{"id", Identity(n), "n", b}}).Err()
		cancel()
	}
	if err != nil {
		o.log.Error("notification not queued", "alert", n.Alert.ID, "event", n.Event, "err", err)
	}
}

// Sink is one way out: a webhook target, the wall link.
type Sink struct {
	Name string
	// Wants says whether n goes to this sink; nil: every notification.
	Wants func(n alerts.Notification) bool
	// Deliver returns when n was delivered or given up on (nil, or an
	// error that is not Retry), or with an error for which Retry is true
	// when it stopped before either: then it is not recorded, and the next
	// leader sends it. ctx has no deadline: each of its sends must bound
	// itself.
	Deliver func(ctx, stop context.Context, n alerts.Notification) error
	// DeliverMany, when set, takes the place of Deliver: it delivers ns in
	// order (several to a message, if it likes) and returns what became
	// of each, as Deliver would.
	DeliverMany func(ctx, stop context.Context, ns []alerts.Notification) []error
	Retry       func(err error) bool
}

// DeadLetter is a notification a sink gave up on, kept in Redis.
type DeadLetter struct {
	Sink    string    `json:"target"`
	Event   string    `json:"event"`
	AlertID string    `json:"alert_id"`
	Error   string    `json:"error"`
	Time    time.Time `json:"time"`
}

// Dispatcher delivers the outbox while this instance is the leader: each
// notification to each sink once, claimed under the leader's fencing token
// before it is sent and recorded as sent after. Each sink goes at its own
// pace on its own cursor, so a webhook waiting for its robot's rate limit
// holds back neither the wall nor the other webhooks. A new leader starts
// each sink after the last batch its predecessor finished and skips what
// is recorded, so it sends exactly what was not.
type Dispatcher struct {
	rdb   redis.UniversalClient
	k     Keys
	lease lease.Fencer
	sinks []Sink
	log   *slog.Logger
	Poll  time.Duration // default 100ms
	Keep  time.Duration // how long a sent record is kept (default 7 days)
	Dead  int64         // dead letters kept (default 100)

	startMu sync.Mutex

	knownMu  sync.Mutex
	knownAt  string          // the state's version knownIDs is of
	knownIDs map[string]bool // ids of the alerts in the state
}

// NewDispatcher returns a dispatcher for the leader whose token f gives.
func NewDispatcher(rdb redis.UniversalClient, prefix string, f lease.Fencer, sinks []Sink, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dispatcher{rdb: rdb, k: KeysOf(prefix), lease: f, sinks: sinks, log: log,
		Poll: 100 * time.Millisecond, Keep: 7 * 24 * time.Hour, Dead: 100}
}

var claimScript = lease.Fence(`
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
return 1`)

var cursorScript = lease.Fence(`
redis.call('SET', KEYS[2], ARGV[2])
return 1`)

// Run dispatches until ctx ends; it waits for the deliveries in flight,
// which finish their current attempt.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, s := range d.sinks {
		wg.Go(func() { d.run(ctx, s) })
	}
	wg.Wait()
}

// run dispatches to s until ctx ends.
func (d *Dispatcher) run(ctx context.Context, s Sink) {
	t := time.NewTicker(d.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if d.lease.Token() == 0 {
			continue
		}
		for {
			n, err := d.batch(ctx, s)
			if err != nil {
				if ctx.Err() == nil && !lease.IsStale(err) {
					d.log.Warn("notifications not dispatched", "sink", s.Name, "err", err)
				}
				break
			}
			if n == 0 {
				break
			}
		}
	}
}

// cursor is the last entry s finished.
func (d *Dispatcher) cursor(ctx context.Context, s Sink) (string, error) {
	for range 2 {
		cur, err := d.rdb.Get(ctx, d.k.Cursor+":"+s.Name).Result()
		if !errors.Is(err, redis.Nil) {
			return cur, err
		}
		if err := d.startCursors(ctx); err != nil {
			return "", err
		}
	}
	return "0-0", nil
}

// startCursors gives every sink without a cursor one, all at once before
// any of them sends: where the furthest sink is (a sink new to the outbox
// starts with what comes now, not with every entry the stream still
// holds), else where the one cursor all sinks shared before each had its
// own was, else at the stream's start.
func (d *Dispatcher) startCursors(ctx context.Context) error {
	d.startMu.Lock()
	defer d.startMu.Unlock()
	keys := make([]string, len(d.sinks))
	for i, s := range d.sinks {
		keys[i] = d.k.Cursor + ":" + s.Name
	}
	vals, err := d.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return err
	}
	from := ""
	for _, v := range vals {
		if c, ok := v.(string); ok && (from == "" || ingestlog.After(c, from)) {
			from = c
		}
	}
	if from == "" {
		from, err = d.rdb.Get(ctx, d.k.Cursor).Result()
		if errors.Is(err, redis.Nil) {
			from, err = "0-0", nil
		}
		if err != nil {
			return err
		}
	}
	for i, v := range vals {
		if v == nil {
			if err := d.rdb.SetNX(ctx, keys[i], from, 0).Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// trimmed warns when the stream now starts after s's cursor (the first
// entry past the cursor is the stream's head, so the cursor's own entry is
// gone): what was between went unsent (MaxLen trimmed it).
func (d *Dispatcher) trimmed(ctx context.Context, s Sink, cur string, first redis.XMessage) {
	if cur == "0-0" {
		return
	}
	if head, err := d.rdb.XRangeN(ctx, d.k.Outbox, "-", "+", 1).Result(); err == nil && len(head) > 0 && head[0].ID == first.ID {
		d.log.Error("the outbox was trimmed past a sink's cursor: notifications between were not sent", "sink", s.Name, "cursor", cur, "next", first.ID)
	}
}

// watch returns a stop for one batch: ctx's end, or the end of the
// leadership of tok (a deposed leader stops sending what it claimed: the
// next leader sends what it did not record).
func (d *Dispatcher) watch(ctx context.Context, tok uint64) (context.Context, context.CancelFunc) {
	stop, cancel := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(d.Poll)
		defer t.Stop()
		for {
			select {
			case <-stop.Done():
				return
			case <-t.C:
				if d.lease.Token() != tok {
					cancel()
					return
				}
			}
		}
	}()
	return stop, cancel
}

// batch sends s the next notifications after its cursor and moves it on;
// it returns how many stream entries it took.
func (d *Dispatcher) batch(ctx context.Context, s Sink) (int, error) {
	tok := d.lease.Token()
	if tok == 0 {
		return 0, lease.ErrStale
	}
	fence := strconv.FormatUint(tok, 10)
	cur, err := d.cursor(ctx, s)
	if err != nil {
		return 0, err
	}
	msgs, err := d.rdb.XRangeN(ctx, d.k.Outbox, "("+cur, "+", 100).Result()
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	d.trimmed(ctx, s, cur, msgs[0])
	known, err := d.known(ctx, false)
	if err != nil {
		return 0, err
	}
	fresh := false
	var ns []alerts.Notification
	var keys []string
	for _, m := range msgs {
		id, _ := m.Values["id"].(string)
		raw, _ := m.Values["n"].(string)
		var n alerts.Notification
		if err := json.Unmarshal([]byte(raw), &n); err != nil || id == "" {
			d.log.Error("unreadable notification skipped", "entry", m.ID, "err", err)
			continue
		}
		if !known[n.Alert.ID] && !fresh {
			// Not in the state as last read: read it again, once.
			if known, err = d.known(ctx, true); err != nil {
				return 0, err
			}
			fresh = true
		}
		if !known[n.Alert.ID] {
			// Queued by an instance whose save was refused (a leader
			// that had stepped down): the alert never was.
			d.log.Warn("notification of an alert not in the shared state skipped", "sink", s.Name, "alert", n.Alert.ID, "event", n.Event)
			continue
		}
		if s.Wants != nil && !s.Wants(n) {
			continue
		}
		key := d.k.Sent + id + "|" + s.Name
		ok, err := claimScript.Run(ctx, d.rdb, []string{d.k.Token, key}, fence).Int64()
		if err != nil {
			return 0, err
		}
		if ok == 1 { // else sent before
			ns = append(ns, n)
			keys = append(keys, key)
		}
	}
	// What is in flight finishes even when this instance stops: it is
	// then recorded, not sent twice. What waits (for a receiver's pace, or
	// to retry) stops with this instance or its leadership.
	dctx := context.WithoutCancel(ctx)
	stop, cancel := d.watch(ctx, tok)
	defer cancel()
	var errs []error
	if s.DeliverMany != nil && len(ns) > 0 {
		errs = s.DeliverMany(dctx, stop, ns)
		if len(errs) != len(ns) {
			return 0, fmt.Errorf("sink %s answered for %d of %d notifications", s.Name, len(errs), len(ns))
		}
	} else {
		for _, n := range ns {
			err := s.Deliver(dctx, stop, n)
			errs = append(errs, err)
			if err != nil && s.Retry != nil && s.Retry(err) {
				break // stopped: the rest is the next leader's
			}
		}
	}
	var failed error
	rctx, cancelR := context.WithTimeout(dctx, 5*time.Second)
	defer cancelR()
	for i, err := range errs {
		n := ns[i]
		if err != nil && s.Retry != nil && s.Retry(err) {
			if failed == nil {
				failed = fmt.Errorf("%s to %s: %w", Identity(n), s.Name, err)
			}
			continue
		}
		_ = d.rdb.Set(rctx, keys[i], fence, d.Keep).Err()
		if err != nil {
			b, _ := json.Marshal(DeadLetter{Sink: s.Name, Event: string(n.Event), AlertID: n.Alert.ID, Error: err.Error(), Time: n.Time})
			_ = d.rdb.LPush(rctx, d.k.Dead, b).Err()
			_ = d.rdb.LTrim(rctx, d.k.Dead, 0, d.Dead-1).Err()
		}
	}
	if failed != nil {
		return 0, failed
	}
	// Recorded even when this instance stops now: the batch is done.
	last := msgs[len(msgs)-1].ID
	if err := cursorScript.Run(rctx, d.rdb, []string{d.k.Token, d.k.Cursor + ":" + s.Name}, fence, last).Err(); err != nil {
		return 0, err
	}
	return len(msgs), nil
}

// DeadLetters returns the notifications given up on, newest first.
func DeadLetters(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]DeadLetter, error) {
	raw, err := rdb.LRange(ctx, KeysOf(prefix).Dead, 0, -1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(raw))
	for _, r := range raw {
		var dl DeadLetter
		if json.Unmarshal([]byte(r), &dl) == nil {
			out = append(out, dl)
		}
	}
	return out, nil
}

// known returns the ids of the alerts in the shared state (not to be
// changed: the sinks share it). The state, history and all, is read again
// only when its version has moved or fresh asks, not by every sink for
// every batch.
func (d *Dispatcher) known(ctx context.Context, fresh bool) (map[string]bool, error) {
	ver, err := d.rdb.Get(ctx, d.k.Version).Result()
	if errors.Is(err, redis.Nil) {
		ver, err = "0", nil
	}
	if err != nil {
		return nil, err
	}
	d.knownMu.Lock()
	defer d.knownMu.Unlock()
	if !fresh && d.knownIDs != nil && ver == d.knownAt {
		return d.knownIDs, nil
	}
	out := map[string]bool{}
	raw, err := d.rdb.Get(ctx, d.k.State).Bytes()
	switch {
	case errors.Is(err, redis.Nil):
	case err != nil:
		return nil, err
	default:
		var snap alerts.Snapshot
		if err := json.Unmarshal(raw, &snap); err != nil {
			return nil, fmt.Errorf("alert state: %w", err)
		}
		for _, a := range snap.Open {
			out[a.ID] = true
		}
		for _, a := range snap.History {
			out[a.ID] = true
		}
	}
	// Read after the version, the state is at least as new: a later
	// version reads it again. (A Redis come back empty can reach the same
	// version with other alerts: an id missing from the set reads afresh.)
	d.knownAt, d.knownIDs = ver, out
	return out, nil
}
