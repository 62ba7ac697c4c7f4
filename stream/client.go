package stream

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes sent to clients; documented in docs/protocol.md.
const (
	CloseSlow = 4001 // more than Options.QueueBytes waited to be sent
	CloseIdle = 4002 // no pong within Options.PongWait
)

// client is one WebSocket connection. Publishers only ever append to its
// queue; its writer goroutine is the only one that writes to the connection.
// The writer runs only while there is something to send, and pings come
// from a timer rather than a ticker in a goroutine: an idle wall display
// then costs no goroutine but its reader.
type client struct {
	hub  *Hub
	conn *websocket.Conn
	peer Peer

	mu      sync.Mutex
	queue   []*message
	spare   []*message // the writer's previous batch, reused
	bytes   int
	closed  bool
	writing bool // a writer goroutine is running
	ping    bool // a ping is due
	code    int  // close code when closed by the hub
	reason  string
	subs    map[string]*topic
	pinger  *time.Timer
	maxSize int
}

func newClient(h *Hub, conn *websocket.Conn, peer Peer) *client {
	return &client{
		hub:     h,
		conn:    conn,
		peer:    peer,
		subs:    map[string]*topic{},
		maxSize: h.opts.QueueBytes,
	}
}

// startPinging arms the ping timer; each ping re-arms it.
func (c *client) startPinging() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.pinger = time.AfterFunc(c.hub.opts.PingPeriod, c.pingDue)
	}
}

func (c *client) pingDue() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.ping = true
	c.startWriter()
	c.pinger.Reset(c.hub.opts.PingPeriod)
}

// startWriter starts the writer goroutine unless it is running. c.mu is held.
func (c *client) startWriter() {
	if c.writing {
		return
	}
	c.writing = true
	c.hub.wg.Add(1)
	go func() {
		defer c.hub.wg.Done()
		c.writeLoop()
	}()
}

// enqueue never blocks: a client whose queue passes the byte bound is
// disconnected instead of slowing the publisher or anyone else.
func (c *client) enqueue(m *message) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	// The bound is on backlog: one message alone (a large snapshot) always
	// fits, or its subscriber would be cut off at every reconnect.
	if c.bytes > 0 && c.bytes+len(m.data) > c.maxSize {
		dropped := len(c.queue) + 1
		c.mu.Unlock()
		c.hub.metrics.dropped.Add(float64(dropped))
		c.hub.metrics.slow.Inc()
		c.cut(cutSlow, CloseSlow, "client too slow")
		return
	}
	c.queue = append(c.queue, m)
	c.bytes += len(m.data)
	c.startWriter()
	c.mu.Unlock()
}

// Reasons a client is cut off, the label of citywall_hub_disconnects_total.
const (
	cutSlow         = "slow"          // its queue passed Options.QueueBytes
	cutWriteTimeout = "write_timeout" // a write took longer than Options.WriteTimeout
	cutWriteFailed  = "write_failed"  // a write failed otherwise
	cutNoPong       = "no_pong"       // silent for Options.PongWait
	cutReadLimit    = "read_limit"    // sent a message over Options.ReadLimit
	cutBadFrame     = "bad_frame"     // broke the WebSocket protocol
	cutShutdown     = "shutdown"      // the hub closed
)

// writeFailed cuts the client whose write failed: a client that stopped
// reading shows here, as a write that times out once its socket's buffers
// are full.
func (c *client) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.cut(cutWriteTimeout, websocket.CloseGoingAway, "write timed out")
		return
	}
	c.cut(cutWriteFailed, websocket.CloseGoingAway, "write failed")
}

// cut closes the client for reason, counts it and logs it (at most one line
// per reason every few seconds, with how many were held back).
func (c *client) cut(reason string, code int, text string) {
	if !c.close(code, text) {
		return // closed already, for another reason
	}
	c.hub.metrics.disconnects.WithLabelValues(reason).Inc()
	if reason != cutShutdown {
		if ok, held := c.hub.cutLog.Allow(reason); ok {
			c.hub.log.Warn("hub client disconnected", "reason", reason, "client", c.peer.Name,
				"remote", c.conn.RemoteAddr().String(), "close_code", code, "similar_not_logged", held)
		}
	}
}

// close marks the client closed and tells it why. It never blocks the
// caller: the close frame is written from a goroutine, with a deadline, since
// the connection may be the stalled one. false: it was closed already.
func (c *client) close(code int, reason string) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false
	}
	c.closed = true
	c.code, c.reason = code, reason
	c.queue, c.spare, c.bytes = nil, nil, 0
	if c.pinger != nil {
		c.pinger.Stop()
	}
	c.mu.Unlock()
	c.hub.wg.Add(1)
	go func() {
		defer c.hub.wg.Done()
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = c.conn.Close()
	}()
	return true
}

// writeLoop drains the queue and returns once it is empty. Whatever is
// queued when it looks goes out as one frame of newline-separated messages,
// so a burst costs one system call per client rather than one per message.
func (c *client) writeLoop() {
	yielded := false
	for first := true; ; first = false {
		c.mu.Lock()
		// More than one message waiting, or some that came in during the
		// last write, means they arrive faster than they go out: step aside
		// once so the rest of the burst joins this batch. Under a steady
		// trickle (one message, then nothing) this never happens.
		if !yielded && !c.closed && (len(c.queue) > 1 || !first && len(c.queue) > 0) {
			c.mu.Unlock()
			yielded = true
			runtime.Gosched()
			continue
		}
		yielded = false
		batch, ping := c.queue, c.ping
		if c.closed || len(batch) == 0 && !ping {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.queue, c.spare = c.spare[:0], nil
		c.bytes, c.ping = 0, false
		c.mu.Unlock()
		if ping {
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.opts.WriteTimeout)); err != nil {
				c.writeFailed(err)
				return
			}
		}
		if len(batch) == 0 {
			continue
		}
		if err := c.write(batch); err != nil {
			c.writeFailed(err)
			return
		}
		c.hub.metrics.sent.Add(float64(len(batch)))
		now := time.Now()
		for i, m := range batch {
			if !m.origin.IsZero() {
				c.hub.metrics.latency.Observe(now.Sub(m.origin).Seconds())
			}
			batch[i] = nil
		}
		c.mu.Lock()
		if !c.closed {
			c.spare = batch[:0]
		}
		c.mu.Unlock()
	}
}

func (c *client) write(batch []*message) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.hub.opts.WriteTimeout)); err != nil {
		return err
	}
	if len(batch) == 1 {
		pm, err := batch[0].prepared()
		if err != nil {
			return err
		}
		return c.conn.WritePreparedMessage(pm)
	}
	w, err := c.conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	for i, m := range batch {
		if i > 0 {
			if _, err := w.Write(newline); err != nil {
				return err
			}
		}
		if _, err := w.Write(m.data); err != nil {
			return err
		}
	}
	return w.Close()
}

var newline = []byte{'\n'}

// reply queues a message for this client only.
func (c *client) reply(data []byte) { c.enqueue(&message{data: data}) }

func (c *client) replyError(id int64, code, reason string) {
	c.hub.metrics.errors.WithLabelValues(code).Inc()
	c.reply(newEnvelope("error", len(reason)+32).id(id).str("code", code).str("reason", reason).bytes())
}
