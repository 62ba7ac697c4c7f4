package stream_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/stream"
)

func TestBadRequests(t *testing.T) {
	f := newFixture(t, fixtureConfig{opts: stream.Options{MaxSubscriptions: 2}})
	long := strings.Repeat("x", 300)
	cases := []struct {
		name   string
		setup  []string // topics to subscribe to first
		req    string
		code   string
		reason string // the reason must contain this
		id     int64  // the error must carry this id (0: not checked)
	}{
		{name: "malformed json", req: `{"op":"ping",`, code: stream.CodeBadRequest, reason: "invalid json"},
		{name: "empty message", req: ``, code: stream.CodeBadRequest, reason: "invalid json"},
		{name: "not an object", req: `[1,2]`, code: stream.CodeBadRequest, reason: "invalid json"},
		{name: "two values", req: `{"op":"ping"} {"op":"ping"}`, code: stream.CodeBadRequest, reason: "more than one value"},
		{name: "trailing brace", req: `{"op":"ping","id":7}}`, code: stream.CodeBadRequest, reason: "invalid json"},
		{name: "missing op", req: `{"id":7}`, code: stream.CodeBadRequest, reason: "missing op"},
		{name: "unknown op", req: `{"op":"publish","id":7}`, code: stream.CodeBadRequest, reason: `unknown op "publish"`},
		{name: "unknown field", req: `{"op":"ping","id":7,"token":"x"}`, code: stream.CodeBadRequest, reason: `unknown field "token"`},
		{name: "id of wrong type", req: `{"op":"ping","id":"7"}`, code: stream.CodeBadRequest, reason: "id"},
		{name: "negative seq", req: `{"op":"subscribe","id":7,"topic":"heat/a","epoch":"e","seq":-1}`, code: stream.CodeBadRequest, reason: "seq"},
		{name: "subscribe without topic", req: `{"op":"subscribe","id":7}`, code: stream.CodeBadRequest, reason: "missing topic"},
		{name: "unsubscribe without topic", req: `{"op":"unsubscribe","id":7,"topic":""}`, code: stream.CodeBadRequest, reason: "missing topic"},
		{name: "epoch without seq", req: `{"op":"subscribe","id":7,"topic":"heat/a","epoch":"e"}`, code: stream.CodeBadRequest, reason: "epoch and seq"},
		{name: "seq without epoch", req: `{"op":"subscribe","id":7,"topic":"heat/a","seq":3}`, code: stream.CodeBadRequest, reason: "epoch and seq"},
		{name: "topic too long", req: `{"op":"subscribe","id":7,"topic":"heat/` + long + `"}`, code: stream.CodeBadRequest, reason: "longer than 256"},
		{name: "unknown topic", req: `{"op":"subscribe","id":7,"topic":"nosuch/x"}`, code: stream.CodeUnknownTopic, reason: `"nosuch/x"`, id: 7},
		{name: "forbidden topic", req: `{"op":"subscribe","id":7,"topic":"heat/secret/1"}`, code: stream.CodeForbidden, reason: `"heat/secret/1"`, id: 7},
		{name: "too many subscriptions", setup: []string{"heat/a", "heat/b"}, req: `{"op":"subscribe","id":7,"topic":"heat/c"}`,
			code: stream.CodeTooManySubscriptions, reason: "at most 2", id: 7},
		{name: "not subscribed", req: `{"op":"unsubscribe","id":7,"topic":"heat/a"}`, code: stream.CodeNotSubscribed, reason: `"heat/a"`, id: 7},
	}
	badRequests := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial(t)
			for _, topic := range tc.setup {
				c.subscribe(t, topic)
			}
			if err := c.sendRaw(tc.req); err != nil {
				t.Fatal(err)
			}
			m := c.expect(t, "error")
			if tc.code == stream.CodeBadRequest {
				badRequests++
			}
			if m.Code != tc.code || !strings.Contains(m.Reason, tc.reason) {
				t.Errorf("got %v, want code %s and a reason containing %q", m, tc.code, tc.reason)
			}
			if tc.id != 0 && m.ID != tc.id {
				t.Errorf("error id %d, want %d", m.ID, tc.id)
			}
			c.ping(t)
		})
	}
	if v := metricValue(t, f.reg, "citywall_hub_request_errors_total", "code", stream.CodeBadRequest); v != float64(badRequests) {
		t.Errorf("bad_request errors counted %v, want %d", v, badRequests)
	}

	// At the limit, subscribing again to a topic one is on is no new topic.
	c := f.dial(t)
	c.subscribe(t, "heat/a")
	c.subscribe(t, "heat/b")
	c.subscribe(t, "heat/a")
}

// docs/protocol.md: "id is any number the client picks; replies and errors
// carry it back". A request that is JSON but is refused must carry its id.
func TestErrorCarriesRequestID(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for _, req := range []string{
		`{"op":"publish","id":7}`,
		`{"op":"subscribe","id":7}`,
		`{"op":"subscribe","id":7,"topic":"heat/a","epoch":"e"}`,
		`{"op":"subscribe","id":7,"topic":"heat/` + strings.Repeat("x", 300) + `"}`,
		`{"op":"ping","id":7,"token":"x"}`,
	} {
		c := f.dial(t)
		if err := c.sendRaw(req); err != nil {
			t.Fatal(err)
		}
		if m := c.expect(t, "error"); m.ID != 7 {
			t.Errorf("%.60s: got %v, want id 7", req, m)
		}
	}
}

func TestReadLimit(t *testing.T) {
	const limit = 1024
	f := newFixture(t, fixtureConfig{opts: stream.Options{ReadLimit: limit}})
	c := f.dial(t)

	ping := `{"op":"ping","id":1}`
	atLimit := ping + strings.Repeat(" ", limit-len(ping))
	if err := c.sendRaw(atLimit); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "pong")

	if err := c.sendRaw(atLimit + " "); err != nil {
		t.Fatal(err)
	}
	err := c.readUntilClose()
	if closeCode(err) != websocket.CloseMessageTooBig {
		t.Fatalf("read after an oversized message: %v, want close %d", err, websocket.CloseMessageTooBig)
	}
	waitFor(t, "the connection to be dropped", func() bool { return f.hub.Stats().Connections == 0 })
}

func TestOriginCheck(t *testing.T) {
	t.Run("default: own host only", func(t *testing.T) {
		f := newFixture(t, fixtureConfig{})
		own := f.srv.Listener.Addr().String()
		cases := []struct {
			origin string
			status int
		}{
			{"", http.StatusSwitchingProtocols},
			{"http://" + own, http.StatusSwitchingProtocols},
			{"https://" + own, http.StatusSwitchingProtocols}, // the default compares hosts only
			{"http://evil.example", http.StatusForbidden},
			{"http://127.0.0.1:1", http.StatusForbidden},
			{"null", http.StatusForbidden},
		}
		for _, tc := range cases {
			assertOrigin(t, f, tc.origin, tc.status)
		}
	})
	t.Run("custom", func(t *testing.T) {
		f := newFixture(t, fixtureConfig{opts: stream.Options{
			CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://wall.example" },
		}})
		assertOrigin(t, f, "https://wall.example", http.StatusSwitchingProtocols)
		assertOrigin(t, f, "http://evil.example", http.StatusForbidden)
	})
}

func assertOrigin(t *testing.T, f *fixture, origin string, status int) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, resp, err := f.dialWith(dialConfig{header: h})
	if resp == nil {
		t.Fatalf("origin %q: no response: %v", origin, err)
	}
	if resp.StatusCode != status {
		t.Errorf("origin %q: status %d (%v), want %d", origin, resp.StatusCode, err, status)
	}
	if c != nil {
		if _, err := c.read(); err != nil {
			t.Errorf("origin %q: %v", origin, err)
		}
		_ = c.conn.Close()
	}
	if status == http.StatusForbidden && !errors.Is(err, websocket.ErrBadHandshake) {
		t.Errorf("origin %q: dial error %v, want a bad handshake", origin, err)
	}
}

func TestClose(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFixture(t, fixtureConfig{opts: stream.Options{QueueBytes: 1 << 20}, sndbuf: 16 << 10})
	publishState(t, f.hub, "heat/a", map[string]any{"k": 1})

	var clients []*wsClient
	for range 3 {
		c := f.dial(t)
		c.subscribe(t, "heat/a")
		clients = append(clients, c)
	}
	// One client has stopped reading with a write pending, so closing must
	// not wait on it.
	stalled, err := f.dialHello(dialConfig{rcvbuf: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.conn.Close()
	stalled.subscribe(t, "heat/a")
	publishState(t, f.hub, "heat/a", map[string]any{"big": strings.Repeat("x", 512<<10)})
	for _, c := range clients {
		c.expect(t, "delta")
	}

	done := make(chan error)
	go func() { done <- f.hub.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(readWait):
		t.Fatal("Close did not return")
	}
	for i, c := range clients {
		if err := c.readUntilClose(); closeCode(err) != websocket.CloseGoingAway {
			t.Errorf("client %d: %v, want close %d", i, err, websocket.CloseGoingAway)
		}
		_ = c.conn.Close()
	}
	if s := f.hub.Stats(); s.Connections != 0 {
		t.Errorf("connections after Close = %d", s.Connections)
	}

	_, resp, err := f.dialWith(dialConfig{})
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v %v, want 503", resp, err)
	}
	if err := f.hub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	_ = stalled.conn.Close()
	f.srv.Close()
	deadline := time.Now().Add(readWait)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			var b bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client that goes away without a close frame is dropped from its topics.
func TestAbruptDisconnect(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	c := f.dial(t)
	c.subscribe(t, "heat/a")
	if err := c.conn.NetConn().Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connection to be dropped", func() bool {
		return f.hub.Stats().Connections == 0 && f.hub.Subscribers("heat/a") == 0
	})
	publishState(t, f.hub, "heat/a", map[string]any{"k": 1}) // nobody to send to
	if v := metricValue(t, f.reg, "citywall_hub_connections"); v != 0 {
		t.Errorf("connections gauge = %v, want 0", v)
	}
}

// A client that answers nothing within PongWait is closed with 4002; one
// that reads (and so answers the server's pings) stays. Only the outcomes
// are asserted, not when they happen.
func TestKeepAlive(t *testing.T) {
	f := newFixture(t, fixtureConfig{opts: stream.Options{PingPeriod: 50 * time.Millisecond, PongWait: 500 * time.Millisecond}})
	alive := f.dial(t)
	alive.subscribe(t, "heat/a")
	// The alive client reads all along; its read returns with the delta
	// published once the idle client is gone, several PongWaits later.
	got := make(chan error, 1)
	go func() {
		m, err := alive.read()
		if err == nil && m.Type != "delta" {
			err = fmt.Errorf("got %v, want a delta", m)
		}
		got <- err
	}()

	idle, _, err := f.dialWith(dialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer idle.conn.Close()
	waitFor(t, "both to connect", func() bool { return f.hub.Stats().Connections == 2 })
	waitFor(t, "the idle client to be dropped", func() bool { return f.hub.Stats().Connections == 1 })
	// Reading now, it must not answer the pings queued before the close:
	// the pong would hit the closed socket first.
	idle.conn.SetPingHandler(func(string) error { return nil })
	if err := idle.readUntilClose(); closeCode(err) != stream.CloseIdle {
		t.Errorf("idle client: %v, want close %d", err, stream.CloseIdle)
	}

	time.Sleep(time.Second) // not a timing assertion: the alive client outlives PongWait
	publishState(t, f.hub, "heat/a", map[string]any{"k": 1})
	if err := <-got; err != nil {
		t.Fatalf("alive client: %v", err)
	}
	alive.ping(t)
	if n := f.hub.Stats().Connections; n != 1 {
		t.Errorf("connections = %d, want 1", n)
	}
}
