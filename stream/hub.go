package stream

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/internal/ratelog"
)

// Options tune a Hub. Zero values take the defaults in brackets.
type Options struct {
	QueueBytes       int           // per-client queue bound [4 MiB]
	History          int           // deltas kept per topic for resume [512]
	MaxEvents        int           // events in an event topic's snapshot [100]
	WriteTimeout     time.Duration // one write [10s]
	PingPeriod       time.Duration // [20s]
	PongWait         time.Duration // [45s]
	ReadLimit        int64         // largest client message [64 KiB]
	MaxSubscriptions int           // per connection [128]
	Build            string        // sent in hello; pages reload when it changes
	// Epoch names the run of topic history; instances that share a
	// backplane share it, so a client may resume on any of them. Empty: a
	// fresh random one.
	Epoch string
	// EpochFor, when set, gives a topic an epoch of its own (a topic that
	// only this instance publishes, such as its cameras). Empty: Epoch.
	EpochFor func(topic string) string

	// CheckOrigin accepts or refuses a browser's Origin; nil accepts the
	// request's own host only (and requests without Origin).
	CheckOrigin func(r *http.Request) bool
	// Resolve says whether a topic may exist and of what kind. Clients may
	// subscribe to a topic before anything is published on it.
	Resolve func(topic string) (Kind, error)
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueBytes, 4<<20)
	def(&o.History, 512)
	def(&o.MaxEvents, 100)
	def(&o.MaxSubscriptions, 128)
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingPeriod <= 0 {
		o.PingPeriod = 20 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 45 * time.Second
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 64 << 10
	}
	if o.Resolve == nil {
		o.Resolve = func(string) (Kind, error) { return 0, ErrUnknownTopic }
	}
}

// Peer is an authenticated connection's identity, decided by the caller of
// ServeWS.
type Peer struct {
	Name         string
	Roles        []string
	CanSubscribe func(topic string) bool
	// Done, if set, is called once when the connection ends, or at once
	// when ServeWS makes none (so a caller can count connections per
	// token).
	Done func()
}

// ErrUnknownTopic is what Resolve returns for a topic that cannot exist.
var ErrUnknownTopic = errors.New("unknown topic")

// ErrClosed is returned once the hub is closed.
var ErrClosed = errors.New("hub closed")

// Hub fans publications out to WebSocket clients.
type Hub struct {
	opts     Options
	broker   Broker
	metrics  *metrics
	log      *slog.Logger
	cutLog   ratelog.Limiter
	epoch    string
	upgrader websocket.Upgrader

	mu      sync.RWMutex
	topics  map[string]*topic
	clients map[*client]struct{}
	closed  bool

	wg sync.WaitGroup
}

// New returns a hub attached to broker. reg may be nil (no metrics exported).
func New(o Options, broker Broker, reg prometheus.Registerer, log *slog.Logger) *Hub {
	o.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		opts:    o,
		broker:  broker,
		metrics: newMetrics(reg),
		log:     log,
		epoch:   o.Epoch,
		topics:  map[string]*topic{},
		clients: map[*client]struct{}{},
	}
	if h.epoch == "" {
		h.epoch = newEpoch()
	}
	h.upgrader = websocket.Upgrader{
		// Clients send a few small requests: a buffer just past the
		// largest control frame (125 bytes) is enough.
		ReadBufferSize: 256,
		// Batches under load run to several KiB; a frame of one write
		// each. The buffer is pooled, so only connections in the middle of
		// a write hold one.
		WriteBufferSize: 16 << 10,
		// Idle connections hold no write buffer: frames of several messages
		// borrow one from the pool for the length of one write.
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      o.CheckOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			code := CodeBadRequest
			if status == http.StatusForbidden {
				code = CodeForbidden
			}
			httpError(w, status, code, reason.Error())
		},
	}
	broker.Attach(h.deliver)
	return h
}

// NewEpoch returns a fresh random epoch name.
func NewEpoch() string { return newEpoch() }

func newEpoch() string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	return base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// Epoch names this hub's run of topic history.
func (h *Hub) Epoch() string { return h.epoch }

// PublishState sets and deletes keys of a state topic.
func (h *Hub) PublishState(ctx context.Context, topic string, set map[string]json.RawMessage, del []string, origin time.Time) error {
	if len(set) == 0 && len(del) == 0 {
		return nil
	}
	return h.broker.Publish(ctx, Publication{Topic: topic, Kind: KindState, Set: set, Del: del, Origin: origin})
}

// PublishEvent appends an event to an event topic.
func (h *Hub) PublishEvent(ctx context.Context, topic string, event json.RawMessage, origin time.Time) error {
	if !json.Valid(event) {
		return fmt.Errorf("publish %q: event is not valid JSON", topic)
	}
	return h.broker.Publish(ctx, Publication{Topic: topic, Kind: KindEvents, Event: event, Origin: origin, Source: SourceOf(ctx)})
}

// deliver applies a publication from the broker.
func (h *Hub) deliver(p Publication) {
	for {
		t, err := h.topic(p.Topic, p.Kind)
		if err != nil {
			h.log.Warn("publication dropped", "topic", p.Topic, "err", err)
			return
		}
		if t.dead.Load() {
			continue // removed between lookup and apply; look it up again
		}
		if ok := t.applyLive(p); ok {
			h.metrics.published.Inc()
			return
		}
	}
}

// topic returns the named topic, creating it.
func (h *Hub) topic(name string, kind Kind) (*topic, error) {
	h.mu.RLock()
	t, ok := h.topics[name]
	h.mu.RUnlock()
	if ok {
		if t.kind != kind {
			return nil, fmt.Errorf("topic %q is %s, not %s", name, t.kind, kind)
		}
		return t, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if t, ok := h.topics[name]; ok {
		if t.kind != kind {
			return nil, fmt.Errorf("topic %q is %s, not %s", name, t.kind, kind)
		}
		return t, nil
	}
	epoch := h.epoch
	if h.opts.EpochFor != nil {
		if e := h.opts.EpochFor(name); e != "" {
			epoch = e
		}
	}
	t = newTopic(name, kind, epoch, h.opts.History, h.opts.MaxEvents)
	h.topics[name] = t
	h.metrics.topics.Set(float64(len(h.topics)))
	return t, nil
}

// release forgets a topic nobody reads and nothing was published on, so
// clients cannot grow the hub by subscribing to made-up names.
func (h *Hub) release(t *topic) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.subs) == 0 && t.seq == 0 && h.topics[t.name] == t {
		t.dead.Store(true)
		delete(h.topics, t.name)
		h.metrics.topics.Set(float64(len(h.topics)))
	}
}

// ServeWS upgrades the request and serves the connection until it ends. The
// caller has authenticated peer.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, peer Peer) {
	served := false
	defer func() {
		if !served && peer.Done != nil {
			peer.Done()
		}
	}()
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		httpError(w, http.StatusServiceUnavailable, "unavailable", "shutting down")
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := newClient(h, conn, peer)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = conn.Close()
		return
	}
	h.clients[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	served = true // drop calls peer.Done
	h.metrics.connections.Inc()

	roles, _ := json.Marshal(peer.Roles)
	c.reply(newEnvelope("hello", 128).str("build", h.opts.Build).str("name", peer.Name).
		raw("roles", roles).str("time", time.Now().UTC().Format(time.RFC3339)).bytes())
	c.startPinging()
	go func() {
		defer h.wg.Done()
		h.readLoop(c)
	}()
}

func (h *Hub) readLoop(c *client) {
	defer h.drop(c)
	conn := c.conn
	conn.SetReadLimit(h.opts.ReadLimit)
	deadline := func() { _ = conn.SetReadDeadline(time.Now().Add(h.opts.PongWait)) }
	deadline()
	conn.SetPongHandler(func(string) error { deadline(); return nil })
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ne net.Error
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ne) && ne.Timeout():
				c.cut(cutNoPong, CloseIdle, "no pong")
			case errors.Is(err, websocket.ErrReadLimit):
				c.cut(cutReadLimit, websocket.CloseMessageTooBig, "message too big")
			case errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
				// The client left (or the hub closed it): not a cut.
				c.close(websocket.CloseNormalClosure, "")
			default:
				if isProtocolError(err) {
					c.cut(cutBadFrame, websocket.CloseProtocolError, "protocol error")
				} else {
					c.close(websocket.CloseNormalClosure, "")
				}
			}
			return
		}
		deadline()
		// Requests are handled on a goroutine of their own, one at a time:
		// decoding JSON and encoding a snapshot take a deep stack, and a
		// stack once grown stays with this goroutine for the life of the
		// connection. Parked in Read it fits in 4 KiB instead of 8.
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.handle(c, data)
		}()
		<-done
	}
}

// isProtocolError tells gorilla/websocket's errors for a frame that breaks
// the protocol (it has no type for them) from a connection that failed.
func isProtocolError(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) {
		return false // the connection failed
	}
	var ne net.Error // gorilla's protocol errors are net.Errors of their own
	return errors.As(err, &ne)
}

func (h *Hub) handle(c *client, data []byte) {
	req, err := DecodeRequest(data)
	if err != nil {
		c.replyError(req.ID, CodeBadRequest, err.Error())
		return
	}
	switch req.Op {
	case "ping":
		c.reply(newEnvelope("pong", 48).id(req.ID).str("time", time.Now().UTC().Format(time.RFC3339Nano)).bytes())
	case "subscribe":
		h.subscribe(c, req)
	case "unsubscribe":
		c.mu.Lock()
		t, ok := c.subs[req.Topic]
		delete(c.subs, req.Topic)
		c.mu.Unlock()
		if !ok {
			c.replyError(req.ID, CodeNotSubscribed, fmt.Sprintf("not subscribed to %q", req.Topic))
			return
		}
		t.unsubscribe(c)
		h.metrics.subscriptions.Dec()
		h.release(t)
		c.reply(newEnvelope("unsubscribed", 64).id(req.ID).raw("topic", t.nameJSON).bytes())
	}
}

func (h *Hub) subscribe(c *client, req Request) {
	kind, err := h.opts.Resolve(req.Topic)
	if err != nil {
		c.replyError(req.ID, CodeUnknownTopic, err.Error())
		return
	}
	if c.peer.CanSubscribe == nil || !c.peer.CanSubscribe(req.Topic) {
		c.replyError(req.ID, CodeForbidden, fmt.Sprintf("not allowed to subscribe to %q", req.Topic))
		return
	}
	c.mu.Lock()
	_, already := c.subs[req.Topic]
	full := !already && len(c.subs) >= h.opts.MaxSubscriptions
	c.mu.Unlock()
	if full {
		c.replyError(req.ID, CodeTooManySubscriptions, fmt.Sprintf("at most %d topics per connection", h.opts.MaxSubscriptions))
		return
	}
	for {
		t, err := h.topic(req.Topic, kind)
		if err != nil {
			c.replyError(req.ID, CodeUnknownTopic, err.Error())
			return
		}
		var since uint64
		if req.Seq != nil {
			since = *req.Seq
		}
		resumed, ok := t.subscribeLive(c, req.ID, req.Seq != nil, req.Epoch, since)
		if !ok {
			continue // topic was released meanwhile
		}
		if resumed {
			h.metrics.resumes.WithLabelValues("resumed").Inc()
		} else {
			h.metrics.resumes.WithLabelValues("snapshot").Inc()
		}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			t.unsubscribe(c)
			h.release(t) // not in c.subs, so drop will not release it
			return
		}
		c.subs[req.Topic] = t
		c.mu.Unlock()
		if !already {
			h.metrics.subscriptions.Inc()
		}
		return
	}
}

// drop removes a finished client from every topic.
func (h *Hub) drop(c *client) {
	c.close(websocket.CloseNormalClosure, "")
	c.mu.Lock()
	subs := c.subs
	c.subs = map[string]*topic{}
	c.mu.Unlock()
	for _, t := range subs {
		t.unsubscribe(c)
		h.release(t)
	}
	h.metrics.subscriptions.Sub(float64(len(subs)))
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.metrics.connections.Dec()
	if c.peer.Done != nil {
		c.peer.Done()
	}
}

// Close disconnects every client with 1001 (going away) and waits for
// their goroutines. Safe to call twice.
func (h *Hub) Close() error {
	h.mu.Lock()
	h.closed = true
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	for _, c := range clients {
		c.cut(cutShutdown, websocket.CloseGoingAway, "server shutting down")
	}
	h.wg.Wait()
	return nil
}

// Stats is a point-in-time view of the hub.
type Stats struct {
	Connections int `json:"connections"`
	Topics      int `json:"topics"`
}

// Stats reports connections and topics.
func (h *Hub) Stats() Stats {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return Stats{Connections: len(h.clients), Topics: len(h.topics)}
}

// Subscribers reports how many clients are on a topic.
func (h *Hub) Subscribers(name string) int {
	h.mu.RLock()
	t, ok := h.topics[name]
	h.mu.RUnlock()
	if !ok {
		return 0
	}
	return t.subscribers()
}

// httpError answers a refused upgrade in the API's {code, reason} form.
func httpError(w http.ResponseWriter, status int, code, reason string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	}{code, reason})
	_, _ = w.Write(b)
}
