// Package connlimit bounds the connections an HTTP server holds, so that
// sockets opened by someone without a token cannot use up the process's
// file descriptors and shut out the walls, the ingest systems and the
// health checks.
//
// Every accepted connection starts out unauthenticated; the server marks it
// authenticated (Authenticated) once a request on it shows a valid token.
// When the unauthenticated connections of one source address, or of all
// addresses, reach their cap, the oldest of them that is not in the middle
// of a request is closed to make room for the new one: a slow or silent
// socket has had the longest time to say something, and a real client (a
// health check, a login page) sends its request at once, so it is being
// served before its turn to be closed comes. The cap per address keeps one
// noisy host from pushing out the connections of the others. When all
// connections reach their cap and none is unauthenticated, the new
// connection is closed at once. Authenticated connections are never closed
// to make room.
package connlimit

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Options bound a Listener.
type Options struct {
	Max                int // connections open at once, all kinds; at least 2
	MaxUnauthenticated int // of those, not (yet) authenticated; at least 1, at most Max
	// MaxUnauthenticatedPerAddress bounds those of one source IP address;
	// at least 1, at most MaxUnauthenticated.
	MaxUnauthenticatedPerAddress int
}

// Shed reasons, the label of citywall_http_connections_shed_total.
const (
	ShedUnauthenticated = "unauthenticated_cap" // the oldest unauthenticated connection, closed for a new one
	ShedPerAddress      = "address_cap"         // the same, within one source address
	ShedFull            = "full"                // a new connection, closed because every slot is authenticated
)

// Listener wraps a net.Listener with the bounds of Options.
type Listener struct {
	net.Listener
	o       Options
	metrics *metrics

	mu     sync.Mutex
	total  int
	unauth *list.List     // of *Conn, oldest first
	byAddr map[string]int // unauthenticated connections per source address
}

// New wraps ln. reg may be nil (no metrics exported).
func New(ln net.Listener, o Options, reg prometheus.Registerer) *Listener {
	o.Max = max(o.Max, 2)
	o.MaxUnauthenticated = min(max(o.MaxUnauthenticated, 1), o.Max)
	if o.MaxUnauthenticatedPerAddress <= 0 {
		o.MaxUnauthenticatedPerAddress = o.MaxUnauthenticated
	}
	o.MaxUnauthenticatedPerAddress = min(o.MaxUnauthenticatedPerAddress, o.MaxUnauthenticated)
	return &Listener{Listener: ln, o: o, metrics: newMetrics(reg), unauth: list.New(), byAddr: map[string]int{}}
}

// Options are the bounds in force.
func (l *Listener) Options() Options { return l.o }

// Accept returns the next connection, making room for it first.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.admit(nc); c != nil {
			return c, nil
		}
	}
}

// admit counts nc in, closing the oldest unauthenticated connection when a
// cap is reached; nil: nc was refused and closed.
func (l *Listener) admit(nc net.Conn) *Conn {
	addr := sourceAddr(nc)
	var victim *Conn
	reason := ShedUnauthenticated
	l.mu.Lock()
	switch {
	case l.byAddr[addr] >= l.o.MaxUnauthenticatedPerAddress:
		victim, reason = l.oldestLocked(addr), ShedPerAddress
	case l.unauth.Len() >= l.o.MaxUnauthenticated || l.total >= l.o.Max:
		victim = l.oldestLocked("")
		if victim == nil {
			l.mu.Unlock()
			l.metrics.shed.WithLabelValues(ShedFull).Inc()
			_ = nc.Close()
			return nil
		}
	}
	if victim != nil {
		l.forgetLocked(victim)
	}
	c := &Conn{Conn: nc, l: l, addr: addr}
	c.elem = l.unauth.PushBack(c)
	l.byAddr[addr]++
	l.total++
	l.setGaugesLocked()
	l.mu.Unlock()
	if victim != nil {
		l.metrics.shed.WithLabelValues(reason).Inc()
		_ = victim.Conn.Close()
	}
	return c
}

// oldestLocked is the unauthenticated connection (of addr; "": of any) to
// close first: the oldest that is not reading or answering a request, else
// the oldest. l.mu is held.
func (l *Listener) oldestLocked(addr string) *Conn {
	var first *Conn
	for e := l.unauth.Front(); e != nil; e = e.Next() {
		c := e.Value.(*Conn)
		if addr != "" && c.addr != addr {
			continue
		}
		if !c.active {
			return c
		}
		if first == nil {
			first = c
		}
	}
	return first
}

// sourceAddr is the IP address a connection comes from.
func sourceAddr(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return c.RemoteAddr().String()
}

// forgetLocked takes c out of the counts; l.mu is held.
func (l *Listener) forgetLocked(c *Conn) {
	if c.gone {
		return
	}
	c.gone = true
	l.unlistLocked(c)
	l.total--
	l.setGaugesLocked()
}

// unlistLocked takes c off the unauthenticated list; l.mu is held.
func (l *Listener) unlistLocked(c *Conn) {
	if c.elem == nil {
		return
	}
	l.unauth.Remove(c.elem)
	c.elem = nil
	if l.byAddr[c.addr]--; l.byAddr[c.addr] <= 0 {
		delete(l.byAddr, c.addr)
	}
}

func (l *Listener) setGaugesLocked() {
	l.metrics.open.Set(float64(l.total))
	l.metrics.unauth.Set(float64(l.unauth.Len()))
}

// Counts returns the connections open and, of them, the unauthenticated.
func (l *Listener) Counts() (open, unauthenticated int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.unauth.Len()
}

// ConnContext is for http.Server.ConnContext: it lets Authenticated find
// the connection a request came on.
func (l *Listener) ConnContext(ctx context.Context, nc net.Conn) context.Context {
	if c := unwrap(nc); c != nil {
		return context.WithValue(ctx, connKey{}, c)
	}
	return ctx
}

type connKey struct{}

// Authenticated marks the connection of a request's context as
// authenticated: it no longer counts against the unauthenticated cap and is
// never closed to make room. A context from no Listener is left alone.
func Authenticated(ctx context.Context) {
	c, ok := ctx.Value(connKey{}).(*Conn)
	if !ok {
		return
	}
	l := c.l
	l.mu.Lock()
	l.unlistLocked(c)
	l.setGaugesLocked()
	l.mu.Unlock()
}

// ConnState is for http.Server.ConnState: a connection reading or
// answering a request is closed to make room only when no other can be.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c := unwrap(nc)
	if c == nil {
		return
	}
	l.mu.Lock()
	c.active = st == http.StateActive
	l.mu.Unlock()
}

// unwrap finds the *Conn under a connection net/http hands out (*tls.Conn
// wraps it).
func unwrap(nc net.Conn) *Conn {
	for {
		if c, ok := nc.(*Conn); ok {
			return c
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		nc = u.NetConn()
	}
}

// Conn is a connection a Listener accepted.
type Conn struct {
	net.Conn
	l    *Listener
	addr string // source IP
	// Guarded by l.mu.
	elem   *list.Element // in l.unauth; nil once authenticated or gone
	gone   bool          // no longer counted
	active bool          // reading or answering a request
}

// Close closes the connection and gives its slot back.
func (c *Conn) Close() error {
	c.l.mu.Lock()
	c.l.forgetLocked(c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite half-closes a TCP connection, which net/http does before
// closing so that the client reads the last response instead of a reset.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

type metrics struct {
	open   prometheus.Gauge
	unauth prometheus.Gauge
	shed   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_http_connections", Help: "HTTP connections open (server.max_connections bounds them).",
		}),
		unauth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "citywall_http_connections_unauthenticated",
			Help: "HTTP connections on which no request has shown a valid token yet (server.max_unauthenticated_connections bounds them).",
		}),
		shed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_http_connections_shed_total",
			Help: "HTTP connections closed to stay within the caps, by reason: unauthenticated_cap (the oldest unauthenticated one, for a new one), address_cap (the same within one source address), full (a new one, every slot being authenticated).",
		}, []string{"reason"}),
	}
	for _, r := range []string{ShedUnauthenticated, ShedPerAddress, ShedFull} {
		m.shed.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.open, m.unauth, m.shed)
	}
	return m
}
