package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/stream"
)

// readWait bounds every read in these tests, so a missing message fails the
// test instead of hanging it.
const readWait = 10 * time.Second

// fixture is a hub behind a loopback HTTP server.
type fixture struct {
	hub *stream.Hub
	srv *httptest.Server
	reg *prometheus.Registry
	url string // ws://…/ws
}

type fixtureConfig struct {
	opts stream.Options
	// canSubscribe defaults to refusing topics under heat/secret/ only.
	canSubscribe func(topic string) bool
	// sndbuf, when set, shrinks the server's socket send buffer, so a client
	// that stops reading fills it quickly.
	sndbuf int
	log    *slog.Logger // nil: discarded
}

// resolve knows heat/…, hot/… and stats as state topics and tickets and
// events/… as event topics.
func resolve(topic string) (stream.Kind, error) {
	switch {
	case strings.HasPrefix(topic, "heat/"), strings.HasPrefix(topic, "hot/"), topic == "stats":
		return stream.KindState, nil
	case topic == "tickets", strings.HasPrefix(topic, "events/"):
		return stream.KindEvents, nil
	}
	return 0, fmt.Errorf("%w: %q", stream.ErrUnknownTopic, topic)
}

func newFixture(t testing.TB, cfg fixtureConfig) *fixture {
	t.Helper()
	if cfg.opts.Resolve == nil {
		cfg.opts.Resolve = resolve
	}
	can := cfg.canSubscribe
	if can == nil {
		can = func(topic string) bool { return !strings.HasPrefix(topic, "heat/secret/") }
	}
	reg := prometheus.NewRegistry()
	hub := stream.New(cfg.opts, stream.NewMemoryBroker(), reg, cfg.log)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.ServeWS(w, r, stream.Peer{Name: "t", Roles: []string{"wall"}, CanSubscribe: can})
	}))
	if cfg.sndbuf > 0 {
		srv.Listener = sndbufListener{srv.Listener, cfg.sndbuf}
	}
	srv.Start()
	t.Cleanup(func() {
		_ = hub.Close()
		srv.Close()
	})
	return &fixture{hub: hub, srv: srv, reg: reg, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"}
}

type sndbufListener struct {
	net.Listener
	size int
}

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// msg is any server → client message, decoded strictly, so a field the
// protocol does not document fails the test.
type msg = testkit.Msg

// wsClient is a protocol client. Its methods return errors so that it can
// be driven from goroutines other than the test's.
type wsClient struct {
	conn    *websocket.Conn
	pending []msg
	frames  []int // messages per frame received
	nextID  int64
}

type dialConfig struct {
	header http.Header
	rcvbuf int // shrinks the client's socket receive buffer
}

func (f *fixture) dialWith(dc dialConfig) (*wsClient, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: readWait}
	if dc.rcvbuf > 0 {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, dc.rcvbuf)
			})
			return errors.Join(err, serr)
		}}
		d.NetDialContext = nd.DialContext
	}
	conn, resp, err := d.Dial(f.url, dc.header)
	if err != nil {
		return nil, resp, err
	}
	return &wsClient{conn: conn}, resp, nil
}

// dial connects and reads the hello.
func (f *fixture) dial(t testing.TB) *wsClient {
	t.Helper()
	c, err := f.dialHello(dialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.conn.Close() })
	return c
}

func (f *fixture) dialHello(dc dialConfig) (*wsClient, error) {
	c, _, err := f.dialWith(dc)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	m, err := c.read()
	if err != nil {
		_ = c.conn.Close()
		return nil, err
	}
	if m.Type != "hello" {
		_ = c.conn.Close()
		return nil, fmt.Errorf("first message is %v, want hello", m)
	}
	return c, nil
}

// read returns the next message, reading a frame when none is pending.
func (c *wsClient) read() (msg, error) {
	for len(c.pending) == 0 {
		ms, err := testkit.ReadFrame(c.conn, time.Now().Add(readWait))
		if err != nil {
			return msg{}, err
		}
		c.frames = append(c.frames, len(ms))
		c.pending = append(c.pending, ms...)
	}
	m := c.pending[0]
	c.pending = c.pending[1:]
	return m, nil
}

func (c *wsClient) mustRead(t testing.TB) msg {
	t.Helper()
	m, err := c.read()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// expect reads the next message and checks its type.
func (c *wsClient) expect(t testing.TB, typ string) msg {
	t.Helper()
	m := c.mustRead(t)
	if m.Type != typ {
		t.Fatalf("got %v, want a %s", m, typ)
	}
	return m
}

func (c *wsClient) sendRaw(s string) error {
	return c.conn.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *wsClient) send(req map[string]any) (int64, error) {
	c.nextID++
	req["id"] = c.nextID
	b, err := json.Marshal(req)
	if err != nil {
		return 0, err
	}
	return c.nextID, c.sendRaw(string(b))
}

func (c *wsClient) mustSend(t testing.TB, req map[string]any) int64 {
	t.Helper()
	id, err := c.send(req)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// subscribe sends a plain subscribe and returns the snapshot.
func (c *wsClient) subscribe(t testing.TB, topic string) msg {
	t.Helper()
	c.mustSend(t, map[string]any{"op": "subscribe", "topic": topic})
	m := c.expect(t, "snapshot")
	if m.Topic != topic {
		t.Fatalf("snapshot for %q, want %q", m.Topic, topic)
	}
	return m
}

// ping checks that the connection answers and that nothing else was queued
// before the answer.
func (c *wsClient) ping(t testing.TB) {
	t.Helper()
	id := c.mustSend(t, map[string]any{"op": "ping"})
	m := c.expect(t, "pong")
	if m.ID != id {
		t.Fatalf("pong id %d, want %d", m.ID, id)
	}
	if _, err := time.Parse(time.RFC3339Nano, m.Time); err != nil {
		t.Fatalf("pong time: %v", err)
	}
}

// readUntilClose reads until the connection ends and returns the error.
func (c *wsClient) readUntilClose() error {
	for {
		if _, err := c.read(); err != nil {
			return err
		}
	}
}

// state is a client's copy of a state topic.
type state map[string]string

func (s state) applySnapshot(data json.RawMessage) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("snapshot data: %w", err)
	}
	clear(s)
	for k, v := range m {
		s[k] = compact(v)
	}
	return nil
}

type stateDelta struct {
	Set map[string]json.RawMessage `json:"set"`
	Del []string                   `json:"del"`
}

func decodeDelta(data json.RawMessage) (stateDelta, error) {
	var d stateDelta
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("delta data %.200q: %w", data, err)
	}
	return d, nil
}

func (s state) applyDelta(data json.RawMessage) error {
	d, err := decodeDelta(data)
	if err != nil {
		return err
	}
	for k, v := range d.Set {
		s[k] = compact(v)
	}
	for _, k := range d.Del {
		delete(s, k)
	}
	return nil
}

func (s state) String() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s)) {
		fmt.Fprintf(&b, "%s=%s ", k, s[k])
	}
	return b.String()
}

func compact(v []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return "!invalid:" + string(v)
	}
	return b.String()
}

func raw(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// publishState publishes on the test's behalf; publication never fails with
// the memory broker.
func publishState(t testing.TB, h *stream.Hub, topic string, set map[string]any, del ...string) {
	t.Helper()
	s := make(map[string]json.RawMessage, len(set))
	for k, v := range set {
		s[k] = raw(v)
	}
	if err := h.PublishState(context.Background(), topic, s, del, time.Now()); err != nil {
		t.Fatal(err)
	}
}

func publishEvent(t testing.TB, h *stream.Hub, topic string, ev any) {
	t.Helper()
	if err := h.PublishEvent(context.Background(), topic, raw(ev), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// metricValue reads a counter or gauge from the registry; labels select one
// series of a vector. (prometheus/testutil would need a module that go.sum
// does not list, so this gathers by hand.)
func metricValue(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			}
		}
		return 0
	}
	return 0 // a vector with no series yet is not gathered
}

// waitFor polls cond until it holds or a generous limit passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, readWait, 5*time.Millisecond, cond)
}

// closeCode is the close code in err, or 0 when err is not a close.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return 0
}
