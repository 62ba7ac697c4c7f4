package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/cluster/ingestlog"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/demo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/stream/redisbroker"
)

// codeRedisUnavailable answers an ingest while Redis cannot take it.
const codeRedisUnavailable = "redis_unavailable"

// clusterApplyWait bounds how long a post waits for its own entry to come
// back from the stream and be applied.
const clusterApplyWait = 10 * time.Second

// clusterNode joins the App to the other instances on Redis: every
// accepted ingest goes through the ingest stream and is applied from it,
// on every instance alike (the posting one included, so the order, and
// with it which of two conflicting posts wins, is the same everywhere);
// hub publications go through the broker.
type clusterNode struct {
	a      *App
	id     string
	log    *ingestlog.Log
	broker *redisbroker.Broker
	epoch  string // shared by every instance
	local  string // this instance's own topics' epoch

	nonce   atomic.Uint64
	mu      sync.Mutex
	waiters map[string]chan clusterResult

	up       atomic.Bool // the ingest stream answered last time
	caughtUp atomic.Bool // read up to where the stream ended at start
	lastID   atomic.Pointer[string]
	lagNanos atomic.Int64

	upGauge     prometheus.GaugeFunc
	entries     *prometheus.CounterVec
	unavailable prometheus.Counter
}

// clusterResult is what applying one entry gave, in the order of its items.
type clusterResult struct {
	items    []PostItem
	outcomes []feeds.Outcome
}

// clusterLocalTopic: topics this instance alone publishes for its own
// clients. Each instance relays its own cameras, so `cameras` is the state
// of the cameras as seen from the instance a client is on.
func clusterLocalTopic(t string) bool { return t == topicCameras }

// clusterDerivedTopic: topics every instance derives alike from the shared
// ingest; only the producer publishes them.
func clusterDerivedTopic(t string) bool {
	switch {
	case strings.HasPrefix(t, "heat/"), strings.HasPrefix(t, topicHotPre), strings.HasPrefix(t, "feeds/"):
		return true
	}
	return t == topicTickets || t == topicStats || t == topicKPI
}

func newClusterNode(a *App) (*clusterNode, error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	n := &clusterNode{
		a:       a,
		id:      hex.EncodeToString(b[:]),
		local:   stream.NewEpoch(),
		waiters: map[string]chan clusterResult{},
	}
	prefix := "{" + a.cfg.Redis.Prefix + "}:"
	n.log = ingestlog.New(a.redis, prefix+"ingest", a.cfg.Redis.Retention, a.now)
	n.broker = redisbroker.New(redisbroker.Options{
		Client:     a.redis,
		Prefix:     a.cfg.Redis.Prefix,
		Instance:   n.id,
		History:    a.cfg.Hub.History,
		Local:      clusterLocalTopic,
		Derived:    clusterDerivedTopic,
		OnProducer: n.resync,
		Registerer: a.reg,
		Log:        a.log.With("component", "redisbroker"),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*a.cfg.Redis.DialTimeout)
	defer cancel()
	var err error
	if n.epoch, err = n.broker.Epoch(ctx); err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	n.upGauge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "citywall_redis_up",
		Help: "1 when Redis answers this instance's ingest stream and hub stream, else 0."}, func() float64 {
		if n.up.Load() && n.broker.Up() {
			return 1
		}
		return 0
	})
	n.entries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "citywall_cluster_ingest_entries_total",
		Help: "Ingest stream entries applied by this instance, by kind (bad: did not decode)."}, []string{"kind"})
	n.unavailable = prometheus.NewCounter(prometheus.CounterOpts{Name: "citywall_cluster_ingest_unavailable_total",
		Help: "Ingest requests answered 503 because Redis could not take them."})
	a.reg.MustRegister(n.upGauge, n.entries, n.unavailable,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "citywall_cluster_ingest_lag_seconds",
			Help: "How far behind the ingest stream this instance reads (0 when at its end)."},
			func() float64 { return time.Duration(n.lagNanos.Load()).Seconds() }))
	return n, nil
}

// SetProducer chooses which instance publishes the topics derived from
// the shared ingest (heat maps, hot topics, stats, the ticket feed, KPIs,
// feeds). Without it, instances take a short lock in Redis. The leader's
// lease is the intended caller: SetProducer(lease.IsLeader). No-op without
// Redis.
func (a *App) SetProducer(isProducer func() bool) {
	if a.cluster != nil {
		a.cluster.broker.SetProducer(isProducer)
	}
}

// clusterEpoch is the hub's epoch: shared with Redis, fresh without.
func (a *App) clusterEpoch() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.epoch
}

func (a *App) clusterEpochFor(topic string) string {
	if a.cluster != nil && clusterLocalTopic(topic) {
		return a.cluster.local
	}
	return ""
}

// clusterNotReady says why this instance should not get traffic yet, ""
// when it may (always "" without Redis).
func (a *App) clusterNotReady() string {
	n := a.cluster
	switch {
	case n == nil:
		return ""
	case n.broker.EpochLost():
		return "redis lost the hub's history (restart the instances)"
	case !n.up.Load() || !n.broker.Up():
		return "redis unreachable"
	case !n.caughtUp.Load():
		return "catching up with the ingest stream"
	case !n.broker.Ready():
		return "restoring hub topics"
	}
	return ""
}

func (n *clusterNode) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { n.broker.Run(ctx, n.a.hub) })
	wg.Go(func() { n.consume(ctx) })
}

// consume reads the ingest stream from its start (what retention kept)
// and applies every entry. It is caught up once it has applied what the
// stream held when it started; after a Redis outage it resumes after the
// last entry it applied.
func (n *clusterNode) consume(ctx context.Context) {
	var target string
	for ctx.Err() == nil {
		var err error
		if target, err = n.log.Last(ctx); err == nil {
			break
		}
		n.up.Store(false)
		sleepCtx(ctx, 250*time.Millisecond)
	}
	last := "0-0"
	n.lastID.Store(&last)
	if !ingestlog.After(target, last) {
		n.caughtUp.Store(true)
	}
	var wait time.Duration
	for ctx.Err() == nil {
		entries, bad, next, err := n.log.Read(ctx, last, 512, time.Second)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if n.up.Swap(false) {
				n.a.log.Warn("ingest stream unreachable", "err", err)
			}
			wait = min(max(2*wait, 50*time.Millisecond), time.Second)
			sleepCtx(ctx, wait)
			continue
		}
		if !n.up.Swap(true) {
			n.a.log.Info("ingest stream reachable", "resume_after", last)
		}
		wait = 0
		for _, e := range bad {
			n.entries.WithLabelValues("bad").Inc()
			n.a.log.Warn("ingest entry skipped", "err", e)
		}
		for _, e := range entries {
			n.apply(ctx, e)
		}
		last = next
		n.lastID.Store(&last)
		if len(entries)+len(bad) == 512 {
			n.lagNanos.Store(int64(n.a.now().Sub(ingestlog.IDTime(last))))
		} else {
			n.lagNanos.Store(0)
		}
		if !n.caughtUp.Load() && !ingestlog.After(target, last) {
			n.caughtUp.Store(true)
			n.a.log.Info("ingest stream caught up", "at", last)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// apply runs one entry through the same paths a single instance's API uses.
func (n *clusterNode) apply(ctx context.Context, e ingestlog.Entry) {
	a := n.a
	var res clusterResult
	var err error
	switch e.Kind {
	case ingestlog.KindTickets:
		var ts []ticket.Ticket
		if err = json.Unmarshal(e.Data, &ts); err == nil {
			res.items = make([]PostItem, len(ts))
			for i, t := range ts {
				res.items[i].ID = t.ID
				res.items[i].Status, res.items[i].Reason = a.ingest.ticket(ctx, t)
			}
		}
	case ingestlog.KindEvents:
		var es []ticket.Event
		if err = json.Unmarshal(e.Data, &es); err == nil {
			res.items = make([]PostItem, len(es))
			for i, ev := range es {
				res.items[i].ID = ev.Ticket
				_, changed, aerr := a.ingest.event(ev)
				switch {
				case aerr != nil:
					res.items[i].Status, res.items[i].Reason = statusRejected, aerr.Error()
				case changed:
					res.items[i].Status = statusAccepted
				default:
					res.items[i].Status = statusDuplicate
				}
			}
		}
	case ingestlog.KindReadings:
		var items []feeds.Item
		if items, err = feeds.DecodeReadings(bytes.NewReader(e.Data), math.MaxInt32); err == nil {
			for _, o := range a.feeds.feed.Ingest(ctx, "push", items) {
				a.feeds.readings.WithLabelValues(string(o.Status), string(o.Kind())).Inc()
				res.outcomes = append(res.outcomes, o)
			}
		}
	case ingestlog.KindCalls:
		var items []kpi.CallItem
		if items, err = kpi.DecodeCalls(bytes.NewReader(e.Data), math.MaxInt32); err == nil {
			for _, it := range items {
				res.outcomes = append(res.outcomes, clusterCall(a, it))
			}
		}
	}
	if err != nil {
		n.entries.WithLabelValues("bad").Inc()
		a.log.Warn("ingest entry skipped", "id", e.ID, "kind", e.Kind, "err", err)
	} else {
		n.entries.WithLabelValues(string(e.Kind)).Inc()
	}
	if e.Origin != n.id {
		return
	}
	n.mu.Lock()
	ch, ok := n.waiters[e.Nonce]
	delete(n.waiters, e.Nonce)
	n.mu.Unlock()
	if ok {
		ch <- res
	}
}

func clusterCall(a *App, it kpi.CallItem) feeds.Outcome {
	o := feeds.Outcome{Index: it.Index, ID: it.Call.ID}
	if it.Err != nil {
		o.Status, o.Reason = feeds.Rejected, it.Err.Error()
		a.feeds.calls.WithLabelValues(string(o.Status)).Inc()
		return o
	}
	o.Status, o.Reason = callSink{a.feeds}.Call(it.Call)
	return o
}

// errClusterUnavailable is an ingest Redis could not take; nothing of it
// was accepted.
type errClusterUnavailable struct{ reason string }

func (e *errClusterUnavailable) Error() string { return e.reason }

// submit appends an entry and waits until this instance has applied it.
func (n *clusterNode) submit(ctx context.Context, kind ingestlog.Kind, data []byte) (clusterResult, error) {
	if !n.up.Load() {
		return clusterResult{}, &errClusterUnavailable{"redis unreachable: nothing was accepted; retry later (ids make a retry safe)"}
	}
	nonce := n.id + ":" + strconv.FormatUint(n.nonce.Add(1), 10)
	ch := make(chan clusterResult, 1)
	n.mu.Lock()
	n.waiters[nonce] = ch
	n.mu.Unlock()
	forget := func() {
		n.mu.Lock()
		delete(n.waiters, nonce)
		n.mu.Unlock()
	}
	if _, err := n.log.Append(ctx, ingestlog.Entry{Kind: kind, Origin: n.id, Nonce: nonce, Data: data}); err != nil {
		forget()
		return clusterResult{}, &errClusterUnavailable{"redis could not take the batch (" + err.Error() + "): nothing was accepted; retry later (ids make a retry safe)"}
	}
	t := time.NewTimer(clusterApplyWait)
	defer t.Stop()
	select {
	case res := <-ch:
		return res, nil
	case <-t.C:
	case <-ctx.Done():
	}
	forget()
	return clusterResult{}, &errClusterUnavailable{"the batch is in the ingest stream but was not applied here in time; retry (ids make a retry safe)"}
}

func (a *App) clusterUnavailable(w http.ResponseWriter, err error) {
	a.cluster.unavailable.Inc()
	var cu *errClusterUnavailable
	reason := err.Error()
	if !errors.As(err, &cu) {
		reason = "redis: " + reason
	}
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusServiceUnavailable, codeRedisUnavailable, reason)
}

// submitItems sends the items that passed validation to the ingest stream
// as one entry and writes each one's answer at its place in res (at[j] is
// the place of good[j]). false: it answered the request with an error.
func submitItems[T any](a *App, w http.ResponseWriter, r *http.Request, kind ingestlog.Kind, good []T, at []int, res *PostResult) bool {
	if len(good) == 0 {
		return true
	}
	data, err := json.Marshal(good)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "internal", err.Error())
		return false
	}
	cr, err := a.cluster.submit(r.Context(), kind, data)
	if err != nil {
		a.clusterUnavailable(w, err)
		return false
	}
	for j, pi := range cr.items {
		if j < len(at) {
			res.Items[at[j]].Status, res.Items[at[j]].Reason = pi.Status, pi.Reason
		}
	}
	return true
}

// clusterPostTickets is POST /api/v1/tickets with Redis: the items that
// passed validation go to the stream as one entry.
func (a *App) clusterPostTickets(w http.ResponseWriter, r *http.Request, items []ticket.Item) {
	res := PostResult{Items: make([]PostItem, len(items))}
	var good []ticket.Ticket
	var at []int
	for i, it := range items {
		res.Items[i] = PostItem{Index: it.Index, ID: it.Ticket.ID}
		if it.Err != nil {
			a.metrics.rejected(rejectLabel(it.Err))
			res.Items[i].Status, res.Items[i].Reason = statusRejected, it.Err.Error()
			continue
		}
		good = append(good, it.Ticket)
		at = append(at, i)
	}
	if !submitItems(a, w, r, ingestlog.KindTickets, good, at, &res) {
		return
	}
	for _, pi := range res.Items {
		count(&res, pi)
	}
	writeJSON(w, postStatus(res), res)
}

// clusterPostEvents is POST /api/v1/tickets/{id}/events with Redis; items
// are the events already checked against the path.
func (a *App) clusterPostEvents(w http.ResponseWriter, r *http.Request, res PostResult, good []ticket.Event, at []int) {
	if !submitItems(a, w, r, ingestlog.KindEvents, good, at, &res) {
		return
	}
	res.Accepted, res.Duplicates, res.Rejected = 0, 0, 0
	for _, pi := range res.Items {
		count(&res, pi)
	}
	writeJSON(w, postStatus(res), res)
}

// clusterPostFeed is POST /api/v1/readings and /api/v1/calls with Redis:
// the body is checked here and goes to the stream as posted, so every
// instance decodes the same items.
func (a *App) clusterPostFeed(w http.ResponseWriter, r *http.Request, kind ingestlog.Kind) {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		if kind == ingestlog.KindReadings {
			_, err = feeds.DecodeReadings(bytes.NewReader(body), a.cfg.Tickets.MaxBatch)
		} else {
			_, err = kpi.DecodeCalls(bytes.NewReader(body), a.cfg.Tickets.MaxBatch)
		}
	}
	if err != nil {
		a.feedsDecodeFailure(w, err)
		return
	}
	cr, err := a.cluster.submit(r.Context(), kind, body)
	if err != nil {
		a.clusterUnavailable(w, err)
		return
	}
	res := feedsPost{Items: make([]feeds.Outcome, 0, len(cr.outcomes))}
	for _, o := range cr.outcomes {
		res.add(o)
	}
	writeJSON(w, res.status(), res)
}

// resync runs when this instance becomes the producer: it publishes what
// differs between the engine and the hub's topics, so deltas lost while
// nobody produced (a hand-over, a Redis outage) are made good.
func (n *clusterNode) resync() {
	a := n.a
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
		for c, v := range a.engine.Snapshot(key) {
			cur[c.String()] = strconv.AppendInt(nil, int64(v), 10)
		}
		n.publishDiff(ctx, name, a.hub.State(name), cur)
	}
	for _, w := range a.cfg.Geo.Windows {
		name := topicHotPre + geo.WindowName(w)
		cur := map[string]json.RawMessage{}
		for _, t := range a.engine.HotTopics(w, a.cfg.Geo.HotTopics) {
			b, _ := json.Marshal(hotValue{Count: t.Count, Prev: t.Prev, Trend: round3(t.Trend), En: demo.CategoryNameEn(t.Category)})
			cur[t.Category] = b
		}
		n.publishDiff(ctx, name, a.hub.State(name), cur)
	}
	a.pub.statsChanged()
}

func (n *clusterNode) publishDiff(ctx context.Context, name string, have, want map[string]json.RawMessage) {
	set := map[string]json.RawMessage{}
	var del []string
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
	_ = n.a.hub.PublishState(ctx, name, set, del, time.Time{})
}

// TicketsStored is how many tickets the App holds, for load tests.
func (a *App) TicketsStored() int { return a.store.Len() }

// clusterDemo sends a simulated ticket or event through the ingest stream
// (without waiting for it), so every instance sees the demo city. False
// without Redis.
func (a *App) clusterDemo(kind ingestlog.Kind, v any) bool {
	n := a.cluster
	if n == nil {
		return false
	}
	data, err := json.Marshal([]any{v})
	if err != nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Redis.DialTimeout)
	defer cancel()
	if _, err := n.log.Append(ctx, ingestlog.Entry{Kind: kind, Origin: n.id, Nonce: "demo", Data: data}); err != nil {
		a.log.Debug("demo item not taken", "err", err)
	}
	return true
}
