package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/internal/testkit"
)

// wait bounds every wait in these tests, so a missing message or a server
// that never answers fails the test instead of hanging it.
const wait = 10 * time.Second

// syncBuffer is a log sink the server's goroutines write to while the test
// reads it.
type syncBuffer = testkit.SyncBuffer

// server is one App serving on loopback for the length of a test.
type server struct {
	t      testing.TB
	app    *app.App
	url    string // http://127.0.0.1:port
	reg    *prometheus.Registry
	logs   *syncBuffer
	tokens map[config.Role]string // one token per role, each holding only that role
	client *http.Client           // follows no redirects
	cancel context.CancelFunc
	done   chan error // Run's result
}

// secret returns a fresh token for role: random, so a test that greps logs
// and metrics for it finds it only where it leaked.
func secret(t testing.TB, role config.Role) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return string(role) + "-tok-" + hex.EncodeToString(b)
}

// testConfig is the default configuration on a free loopback port, demo
// off, with one token per role (named wall-1, ingest-1, ...).
func testConfig(t testing.TB) (config.Config, map[config.Role]string) {
	t.Helper()
	cfg := config.Default()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Demo.Enabled = false
	// Tests present wrong credentials by the hundred from 127.0.0.1; those
	// about slowing failures down (authfail_test.go) set their own budget.
	cfg.Auth.FailureBurst = 1000
	return withTokens(t, cfg)
}

func withTokens(t testing.TB, cfg config.Config) (config.Config, map[config.Role]string) {
	t.Helper()
	if cfg.Storage.Dir == "" {
		cfg.Storage.Dir = t.TempDir() // never the user's own state directory
	}
	tokens := map[config.Role]string{}
	cfg.Auth.Tokens = nil
	for _, r := range config.Roles {
		tok := secret(t, r)
		tokens[r] = tok
		cfg.Auth.Tokens = append(cfg.Auth.Tokens, config.Token{Name: string(r) + "-1", Token: tok, Roles: []config.Role{r}})
	}
	return cfg, tokens
}

// startServer starts an App with the default test configuration, changed
// by edit when it is not nil.
func startServer(t testing.TB, edit func(*config.Config)) *server {
	t.Helper()
	cfg, tokens := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	return startWith(t, cfg, tokens)
}

// startWith starts an App and stops it when the test ends.
func startWith(t testing.TB, cfg config.Config, tokens map[config.Role]string) *server {
	t.Helper()
	return startLogging(t, cfg, tokens, func(w io.Writer) slog.Handler {
		return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
	})
}

// startLogging is startWith logging through the handler logTo makes over
// the server's log buffer.
func startLogging(t testing.TB, cfg config.Config, tokens map[config.Role]string, logTo func(io.Writer) slog.Handler) *server {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	cw, err := app.New(cfg, app.Options{
		Registry: reg,
		Logger:   slog.New(logTo(logs)),
		Build:    "test-build",
		Now:      testClock(t),
	})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	if _, err := cw.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{
		t: t, app: cw, url: cw.URL(), reg: reg, logs: logs, tokens: tokens, cancel: cancel,
		done: make(chan error, 1),
		client: &http.Client{
			Timeout:       wait,
			Transport:     &http.Transport{},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	go func() { s.done <- cw.Run(ctx) }()
	t.Cleanup(func() { s.stop() })
	s.waitReady()
	return s
}

// testClock is the servers' clock: time.Now, or, with CITYWALL_TEST_CLOCK
// set to an RFC 3339 time, a clock that starts there. The demo walls follow
// schedules by the time of day; running the wall tests (-run Wall) at, say,
// CITYWALL_TEST_CLOCK=2026-11-30T17:05:00+08:00 (school gates and kitchens),
// 11:00 (kitchens) or 03:00 (underpasses) shows that none of them depends
// on when it runs. Tests that post tickets stamped with the real time need
// the real clock.
func testClock(t testing.TB) func() time.Time {
	v := os.Getenv("CITYWALL_TEST_CLOCK")
	if v == "" {
		return nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		t.Fatalf("CITYWALL_TEST_CLOCK: %v", err)
	}
	start := time.Now()
	return func() time.Time { return at.Add(time.Since(start)) }
}

// with returns the server with its helpers failing t, for use in a
// subtest.
func (s *server) with(t testing.TB) *server {
	c := *s
	c.t = t
	return &c
}

// waitReady polls /readyz until Run has started everything.
func (s *server) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		resp, err := s.client.Get(s.url + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("%s/readyz never answered 200", s.url)
}

// stop cancels Run and waits for it; safe to call more than once.
func (s *server) stop() error {
	s.cancel()
	s.client.CloseIdleConnections()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(wait):
		s.t.Errorf("Run did not return within %s of its context ending", wait)
		return errors.New("run did not return")
	}
}

// do sends a request with a bearer token (none when token is empty) and
// returns the status, the headers and the whole body.
func (s *server) do(method, path, token, contentType string, body io.Reader) (int, http.Header, []byte) {
	s.t.Helper()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return s.doHeader(method, path, h, body)
}

// doHeader sends a request with the headers h and returns the status, the
// headers and the whole body.
func (s *server) doHeader(method, path string, h http.Header, body io.Reader) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header = h.Clone()
	// The transport, not the client: a client parses a redirect's
	// Location even when it does not follow it, and fails on a bad one.
	resp, err := s.client.Transport.RoundTrip(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, b
}

// post sends a JSON body with the ingest token.
func (s *server) post(path, body string) (int, []byte) {
	s.t.Helper()
	code, _, b := s.do(http.MethodPost, path, s.tokens[config.RoleIngest], "application/json", strings.NewReader(body))
	return code, b
}

// postTickets posts a body of tickets and decodes the per-item answer; an
// answer that is not a PostResult fails the test.
func (s *server) postTickets(body string) (int, ticket.PostResult) {
	s.t.Helper()
	code, b := s.post("/api/v1/tickets", body)
	return code, decodeResult(s.t, code, b)
}

func (s *server) postEvents(id, body string) (int, ticket.PostResult) {
	s.t.Helper()
	code, b := s.post("/api/v1/tickets/"+id+"/events", body)
	return code, decodeResult(s.t, code, b)
}

func decodeResult(t testing.TB, code int, b []byte) ticket.PostResult {
	t.Helper()
	var res ticket.PostResult
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("answer %d is not a post result: %v\n%s", code, err, b)
	}
	if res.Accepted+res.Duplicates+res.Rejected != len(res.Items) {
		t.Errorf("counts %d+%d+%d do not add up to %d items", res.Accepted, res.Duplicates, res.Rejected, len(res.Items))
	}
	return res
}

// getJSON GETs path with token and decodes a 200 answer into v.
func (s *server) getJSON(path, token string, v any) {
	s.t.Helper()
	code, _, b := s.do(http.MethodGet, path, token, "", nil)
	if code != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		s.t.Fatalf("GET %s: %v\n%s", path, err, b)
	}
}

// apiError is the body of every error answer.
type apiError struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// checkError asserts an answer is status with a strict {code, reason} JSON
// body whose reason mentions every one of mention.
func checkError(t testing.TB, what string, gotStatus int, body []byte, status int, code string, mention ...string) apiError {
	t.Helper()
	if gotStatus != status {
		t.Errorf("%s: status %d, want %d; body %s", what, gotStatus, status, body)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Errorf("%s: body is not {code, reason} JSON: %v\n%s", what, err, body)
		return e
	}
	if e.Code != code {
		t.Errorf("%s: code %q, want %q (reason %q)", what, e.Code, code, e.Reason)
	}
	if e.Reason == "" {
		t.Errorf("%s: empty reason", what)
	}
	for _, m := range mention {
		if !strings.Contains(e.Reason, m) {
			t.Errorf("%s: reason %q does not mention %q", what, e.Reason, m)
		}
	}
	return e
}

// tk is a ticket as an intake system posts it.
type tk map[string]any

func (t tk) json() string {
	b, err := json.Marshal(map[string]any(t))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func (t tk) with(kv ...any) tk {
	c := tk{}
	for k, v := range t {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(c, k)
			continue
		}
		c[k] = kv[i+1]
	}
	return c
}

// newTicket is a valid ticket at (lat, lng) created a moment ago.
func newTicket(id string, lat, lng float64) tk {
	return tk{
		"id":          id,
		"channel":     "phone",
		"category":    "城市管理",
		"subcategory": "道路脏乱",
		"summary":     "人行道上有建筑垃圾",
		"lat":         lat,
		"lng":         lng,
		"district":    "龙华区",
		"grid":        "LH-012",
		"created":     time.Now().Add(-time.Second).UTC().Format(time.RFC3339),
	}
}

func array(items ...tk) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.json()
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// wsMsg is any server → client message.
type wsMsg = testkit.Msg

// wsClient is a real WebSocket client of /ws that splits frames into
// messages and keeps the state of the topics it is subscribed to.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	queue  []wsMsg
	nextID int64
	state  map[string]map[string]json.RawMessage // state topics
	events map[string][]json.RawMessage          // event topics
	seq    map[string]uint64
	epoch  map[string]string
	closed error // the error that ended reading, if any
}

func (s *server) wsURL() string { return "ws" + strings.TrimPrefix(s.url, "http") + "/ws" }

// dialWS connects to /ws with the given headers; it returns the handshake
// response either way.
func (s *server) dialWS(h http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: wait}
	conn, resp, err := d.Dial(s.wsURL(), h)
	if resp != nil && resp.Body != nil {
		// Keep the body readable after the dialer returns.
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return conn, resp, err
}

func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

// connect dials /ws with token and reads the hello.
func (s *server) connect(token string) *wsClient {
	s.t.Helper()
	conn, resp, err := s.dialWS(bearer(token))
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		s.t.Fatalf("dial /ws: %v (status %d)", err, status)
	}
	c := newWSClient(s.t, conn)
	hello := c.next()
	if hello.Type != "hello" {
		s.t.Fatalf("first message is %s, want hello", hello.Raw)
	}
	return c
}

func newWSClient(t testing.TB, conn *websocket.Conn) *wsClient {
	c := &wsClient{t: t, conn: conn, nextID: 1,
		state: map[string]map[string]json.RawMessage{}, events: map[string][]json.RawMessage{}, seq: map[string]uint64{}, epoch: map[string]string{}}
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

// read blocks for one frame until deadline and queues its messages.
func (c *wsClient) read(deadline time.Time) error {
	if c.closed != nil {
		return c.closed
	}
	ms, err := testkit.ReadFrame(c.conn, deadline)
	if err != nil {
		c.closed = err
		return err
	}
	for _, m := range ms {
		c.apply(m)
		c.queue = append(c.queue, m)
	}
	return nil
}

// apply keeps topic state and checks the sequence rule of the protocol.
func (c *wsClient) apply(m wsMsg) {
	switch m.Type {
	case "snapshot":
		c.seq[m.Topic] = m.Seq
		c.epoch[m.Topic] = m.Epoch
		if len(m.Data) > 0 && m.Data[0] == '[' {
			var ev []json.RawMessage
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				c.t.Fatalf("snapshot of %s: %v", m.Topic, err)
			}
			c.events[m.Topic] = ev
			return
		}
		st := map[string]json.RawMessage{}
		if len(m.Data) > 0 && string(m.Data) != "null" {
			if err := json.Unmarshal(m.Data, &st); err != nil {
				c.t.Fatalf("snapshot of %s: %v", m.Topic, err)
			}
		}
		c.state[m.Topic] = st
	case "resumed":
		c.seq[m.Topic] = m.Seq
		c.epoch[m.Topic] = m.Epoch
	case "delta":
		if prev, ok := c.seq[m.Topic]; ok && m.Seq != prev+1 {
			c.t.Errorf("%s: delta seq %d after %d", m.Topic, m.Seq, prev)
		}
		c.seq[m.Topic] = m.Seq
		if _, isEvents := c.events[m.Topic]; isEvents {
			c.events[m.Topic] = append(c.events[m.Topic], m.Data)
			return
		}
		var d struct {
			Set map[string]json.RawMessage `json:"set"`
			Del []string                   `json:"del"`
		}
		if err := json.Unmarshal(m.Data, &d); err != nil {
			c.t.Fatalf("delta of %s: %v\n%s", m.Topic, err, m.Raw)
		}
		st := c.state[m.Topic]
		if st == nil {
			st = map[string]json.RawMessage{}
			c.state[m.Topic] = st
		}
		for _, k := range d.Del {
			delete(st, k)
		}
		for k, v := range d.Set {
			st[k] = v
		}
	}
}

// next returns the next message, failing the test after wait.
func (c *wsClient) next() wsMsg {
	c.t.Helper()
	return c.waitFor("any message", func(wsMsg) bool { return true })
}

// waitFor reads until a message satisfies ok and returns it; messages
// before it are consumed (their state is applied).
func (c *wsClient) waitFor(what string, ok func(wsMsg) bool) wsMsg {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		for len(c.queue) > 0 {
			m := c.queue[0]
			c.queue = c.queue[1:]
			if ok(m) {
				return m
			}
		}
		if err := c.read(deadline); err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// until reads until cond holds over the client's state, failing after wait.
func (c *wsClient) until(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		c.queue = c.queue[:0]
		if err := c.read(deadline); err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// seqEpoch is the last epoch and seq applied for topic.
func (c *wsClient) seqEpoch(topic string) (string, uint64) {
	return c.epoch[topic], c.seq[topic]
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// subscribe subscribes to topic and waits for its snapshot.
func (c *wsClient) subscribe(topic string) wsMsg {
	c.t.Helper()
	id := c.nextID
	c.nextID++
	c.send(map[string]any{"op": "subscribe", "id": id, "topic": topic})
	return c.waitFor("snapshot of "+topic, func(m wsMsg) bool {
		if m.Type == "error" && m.ID == id {
			c.t.Fatalf("subscribe %s: %s", topic, m.Raw)
		}
		return m.Type == "snapshot" && m.Topic == topic
	})
}

// count reads a heat-map value (a bare number).
func count(t testing.TB, v json.RawMessage) int {
	t.Helper()
	var n int
	if err := json.Unmarshal(v, &n); err != nil {
		t.Fatalf("count %s: %v", v, err)
	}
	return n
}

// metric sums the samples of a metric family whose labels include labels:
// the value of counters and gauges, the sample count of histograms. found
// is false when no sample matched.
func metric(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) (sum float64, found bool) {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for k, v := range labels {
				if !slices.ContainsFunc(m.GetLabel(), func(p *dto.LabelPair) bool { return p.GetName() == k && p.GetValue() == v }) {
					continue next
				}
			}
			found = true
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			case m.Untyped != nil:
				sum += m.GetUntyped().GetValue()
			}
		}
	}
	return sum, found
}

// eventually polls cond until it holds, failing after wait.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, wait, 20*time.Millisecond, cond)
}

// goroutines waits until the number of goroutines is back to at most base,
// and fails with a dump of them if it is not by the deadline.
func goroutinesBackTo(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		n := runtime.NumGoroutine()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d as before the App started:\n%s", n, base, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
