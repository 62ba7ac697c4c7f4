package app_test

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
)

// TestGracefulStop: ending Run's context says goodbye to WebSocket clients
// with 1001, closes the listener, returns nil, and leaves no goroutine.
func TestGracefulStop(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, nil)
	addr := s.url[len("http://"):]

	code, _, _ := s.do("GET", "/readyz", "", "", nil)
	if code != http.StatusOK {
		t.Fatalf("/readyz before the stop: %d", code)
	}
	c := s.connect(s.tokens[config.RoleWall])
	c.subscribe("heat/8/15m/all")
	lat, lng := spot(t, 0)
	s.postTickets(newTicket("STOP-1", lat, lng).json())
	c.until("the ticket on the wall", func() bool { return len(c.state["heat/8/15m/all"]) == 1 })

	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()

	// The client learns why the connection ends.
	var closeErr *websocket.CloseError
	deadline := time.Now().Add(wait)
	for {
		err := c.read(deadline)
		if err == nil {
			continue
		}
		if !errors.As(err, &closeErr) {
			t.Fatalf("connection ended with %v, want a close frame", err)
		}
		break
	}
	if closeErr.Code != websocket.CloseGoingAway {
		t.Errorf("close code %d %q, want 1001", closeErr.Code, closeErr.Text)
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return")
	}

	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Run returned", addr)
	}
	if err := s.app.Close(); err != nil {
		t.Errorf("Close after Run: %v", err)
	}
	if err := s.app.Close(); err != nil {
		t.Errorf("Close twice: %v", err)
	}
	_ = c.conn.Close()
	s.client.CloseIdleConnections()
	goroutinesBackTo(t, base)
}

// TestCloseStopsRun: Close from another goroutine ends Run too.
func TestCloseStopsRun(t *testing.T) {
	base := runtime.NumGoroutine()
	s := startServer(t, nil)
	c := s.connect(s.tokens[config.RoleTeam])
	c.subscribe("stats")
	closed := make(chan error, 1)
	go func() { closed <- s.app.Close() }()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
		s.done <- nil // for the cleanup's stop
	case <-time.After(wait):
		t.Fatal("Run did not return after Close")
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.read(time.Now().Add(wait)); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("client read %v, want close 1001", err)
	}
	_ = c.conn.Close()
	s.client.CloseIdleConnections()
	goroutinesBackTo(t, base)
}

// TestCloseWithoutRun: an App that never ran closes cleanly and frees its
// port.
func TestCloseWithoutRun(t *testing.T) {
	base := runtime.NumGoroutine()
	cfg, _ := testConfig(t)
	cw, err := app.New(cfg, app.Options{Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	addr, err := cw.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := cw.Close(); err != nil {
		t.Errorf("Close twice: %v", err)
	}
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		t.Errorf("port not freed: %v", err)
	} else {
		ln.Close()
	}
	goroutinesBackTo(t, base)

	bad := cfg
	bad.Server.Listen = "nowhere"
	if _, err := app.New(bad, app.Options{}); err == nil {
		t.Error("New accepted server.listen \"nowhere\"")
	}
}

// TestDemoCity: the embedded demo fills the wall within seconds.
func TestDemoCity(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)
	c := s.connect(s.tokens[config.RoleWall])
	c.subscribe("heat/8/24h/all")
	c.subscribe("hot/24h")
	c.subscribe("hot/1h")
	// Backfill streams in over a few flushes: wait for a day's volume
	// (Haikou: about 2,700 a day; quieter on a weekend or early in the day).
	total := func() int {
		n := 0
		for _, v := range c.state["heat/8/24h/all"] {
			n += count(t, v)
		}
		return n
	}
	c.until("a day of backfill on the heat map", func() bool { return len(c.state["heat/8/24h/all"]) >= 100 && total() >= 1000 })

	named := func(topic string) int {
		n := 0
		for cat, v := range c.state[topic] {
			var h struct {
				Count int    `json:"count"`
				En    string `json:"en"`
			}
			if err := json.Unmarshal(v, &h); err != nil {
				t.Fatalf("%s %s: %v", topic, v, err)
			}
			if h.Count > 0 && h.En != "" && h.En != cat {
				n++
			}
		}
		return n
	}
	c.until("hot topics with English names", func() bool { return named("hot/24h") >= 3 })
	if n := len(c.state["hot/24h"]); n > cfg.Geo.HotTopics {
		t.Errorf("hot/24h lists %d categories, more than geo.hot_topics %d", n, cfg.Geo.HotTopics)
	}

	var pub struct {
		City struct {
			Name   string `json:"name"`
			NameEn string `json:"name_en"`
		} `json:"city"`
		Categories []struct {
			Name string `json:"name"`
			En   string `json:"en"`
		} `json:"categories"`
	}
	s.getJSON("/api/v1/public", s.tokens[config.RoleWall], &pub)
	if pub.City.NameEn != "Haikou" || len(pub.Categories) < 3 || pub.Categories[0].En == "" {
		t.Errorf("public info: %+v", pub)
	}
	if s.app.CellsLive() == 0 {
		t.Error("CellsLive is 0 with a busy demo city")
	}
}
