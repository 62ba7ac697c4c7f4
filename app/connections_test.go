package app_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// rawRequest writes head on a new connection and returns what the server
// answers and how long it took to close the connection (ok false: it was
// still open after within).
func rawRequest(t *testing.T, s *server, head string, within time.Duration) (resp *http.Response, closedAfter time.Duration, ok bool) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(start.Add(within))
	br := bufio.NewReader(c)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		return nil, 0, false
	}
	_, _ = io.ReadAll(resp.Body)
	if _, err := br.ReadByte(); err != io.EOF {
		return resp, 0, false
	}
	return resp, time.Since(start), true
}

// TestRefusedBodyIsNotWaitedFor: a request without a token that announces
// a body and never sends it is answered 401 at once and its connection
// closed, instead of being held while the server waits to drain the body.
func TestRefusedBodyIsNotWaitedFor(t *testing.T) {
	s := startServer(t, nil)
	for _, path := range []string{"/api/v1/tickets", "/api/v1/readings", "/api/v1/walls/main/set", "/no/such/path"} {
		head := "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
		resp, took, ok := rawRequest(t, s, head, 5*time.Second)
		if !ok {
			t.Fatalf("%s: no answer and close within 5 s (answer %v)", path, resp != nil)
		}
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
		if !resp.Close {
			t.Errorf("%s: answer without Connection: close", path)
		}
		t.Logf("%s: %d, closed after %s", path, resp.StatusCode, took)
	}
}

// TestSlowBodyTimesOut: an authenticated body that stops arriving is cut
// after server.read_timeout, while a WebSocket connection lives on past it.
func TestSlowBodyTimesOut(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Server.ReadTimeout = time.Second })
	head := "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + s.tokens[config.RoleIngest] +
		"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[{\"id\":"
	resp, took, ok := rawRequest(t, s, head, 5*time.Second)
	if !ok {
		t.Fatal("a stalled body was still held after 5 s (server.read_timeout 1s)")
	}
	if resp.StatusCode != http.StatusBadRequest || !resp.Close {
		t.Errorf("stalled body: %d, close %t; want 400 and close", resp.StatusCode, resp.Close)
	}
	t.Logf("stalled body: %d after %s", resp.StatusCode, took)

	ws := s.connect(s.tokens[config.RoleWall])
	time.Sleep(2500 * time.Millisecond)
	ws.send(map[string]any{"op": "ping", "id": 7})
	ws.waitFor("pong after the read timeout", func(m wsMsg) bool { return m.Type == "pong" })
}
