package connlimit

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// pair is one connection seen from both ends.
type pair struct {
	client net.Conn
	server *Conn
}

func dial(t *testing.T, l *Listener, accepted <-chan net.Conn) pair {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	select {
	case s := <-accepted:
		return pair{c, s.(*Conn)}
	case <-time.After(5 * time.Second):
		t.Fatal("not accepted")
	}
	return pair{}
}

// closedByServer reports whether the server end of c has been closed.
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func listen(t *testing.T, o Options) (*Listener, <-chan net.Conn, *prometheus.Registry) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	l := New(ln, o, reg)
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l, accepted, reg
}

func TestOldestUnauthenticatedMakesRoom(t *testing.T) {
	l, accepted, _ := listen(t, Options{Max: 10, MaxUnauthenticated: 2})
	a := dial(t, l, accepted)
	b := dial(t, l, accepted)
	c := dial(t, l, accepted) // a, the oldest, goes
	if !closedByServer(a.client) {
		t.Fatal("the oldest unauthenticated connection stayed open past the cap")
	}
	if open, un := l.Counts(); open != 2 || un != 2 {
		t.Fatalf("counts %d open, %d unauthenticated; want 2, 2", open, un)
	}
	// b authenticates: it no longer counts, and c is the oldest now.
	Authenticated(l.ConnContext(context.Background(), b.server))
	d := dial(t, l, accepted)
	if open, un := l.Counts(); open != 3 || un != 2 {
		t.Fatalf("counts %d open, %d unauthenticated; want 3, 2", open, un)
	}
	e := dial(t, l, accepted) // c goes; b stays
	if !closedByServer(c.client) {
		t.Fatal("c stayed open")
	}
	for _, p := range []pair{b, d, e} {
		_ = p.client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := p.client.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("a connection within the caps was closed: %v", err)
		}
	}
	// A closed connection gives its slot back once.
	d.server.Close()
	d.server.Close()
	if open, un := l.Counts(); open != 2 || un != 1 {
		t.Fatalf("counts %d open, %d unauthenticated; want 2, 1", open, un)
	}
}

func TestCapPerAddress(t *testing.T) {
	l, accepted, reg := listen(t, Options{Max: 10, MaxUnauthenticated: 5, MaxUnauthenticatedPerAddress: 2})
	other := dial(t, l, accepted) // from 127.0.0.1
	from2 := func() pair {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		c, err := d.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return pair{c, (<-accepted).(*Conn)}
	}
	a, b := from2(), from2()
	// a is in the middle of a request: b, though younger, goes first.
	l.ConnState(a.server, http.StateActive)
	c := from2()
	if !closedByServer(b.client) {
		t.Fatal("the idle connection of a full address stayed open")
	}
	l.ConnState(c.server, http.StateActive)
	from2()
	if !closedByServer(a.client) {
		t.Fatal("with no idle one left, the oldest active one stayed open")
	}
	_ = other.client.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := other.client.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("another address's connection was closed: %v", err)
	}
	if n := shed(t, reg, ShedPerAddress); n != 2 {
		t.Fatalf("shed address_cap = %v, want 2", n)
	}
}

func TestFullOfAuthenticatedRefusesNew(t *testing.T) {
	l, accepted, reg := listen(t, Options{Max: 2, MaxUnauthenticated: 2})
	for range 2 {
		p := dial(t, l, accepted)
		Authenticated(l.ConnContext(context.Background(), p.server))
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !closedByServer(c) {
		t.Fatal("a connection past max was kept")
	}
	if n := shed(t, reg, ShedFull); n != 1 {
		t.Fatalf("shed full = %v, want 1", n)
	}
	if n := shed(t, reg, ShedUnauthenticated); n != 0 {
		t.Fatalf("shed unauthenticated_cap = %v, want 0", n)
	}
}

func TestConnContextOutsideListener(t *testing.T) {
	// A request that did not come through a Listener (httptest) is left alone.
	Authenticated(context.Background())
}

func shed(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "citywall_http_connections_shed_total" {
			continue
		}
		for _, m := range mf.Metric {
			if labelIs(m, "reason", reason) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no shed series for %q", reason)
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, lp := range m.Label {
		if lp.GetName() == name && lp.GetValue() == value {
			return true
		}
	}
	return false
}
