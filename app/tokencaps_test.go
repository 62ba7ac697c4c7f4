package app_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/democam"
)

// TestWebSocketCapsPerToken: one token holds at most
// hub.max_connections_per_token /ws connections and
// video.max_viewers_per_token video connections; the next is refused
// before the upgrade with 429 too_many_connections naming the token and
// the key, counted and logged; another token is not concerned; closing
// one frees its slot. An ingest token's /ws is refused before the upgrade
// (403) and counted.
func TestWebSocketCapsPerToken(t *testing.T) {
	cam, err := democam.Start(democam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	s := startServer(t, func(c *config.Config) {
		c.Cameras = []config.Camera{{ID: "gate-1", Name: "校门", Lat: 20.02, Lng: 110.34, Main: cam.URL("main")}}
		c.Hub.MaxConnectionsPerToken = 3
		c.Video.MaxViewersPerToken = 2
	})
	refused := func(endpoint, reason string) float64 {
		v, _ := metric(t, s.reg, "citywall_ws_refused_total", map[string]string{"endpoint": endpoint, "reason": reason})
		return v
	}
	wallTok := s.tokens[config.RoleWall]

	t.Run("hub", func(t *testing.T) {
		var held []*wsClient
		for range 3 {
			held = append(held, s.connect(wallTok))
		}
		conn, resp, err := s.dialWS(bearer(wallTok))
		if err == nil {
			conn.Close()
			t.Fatal("a fourth /ws connection of one token was upgraded")
		}
		b, _ := io.ReadAll(resp.Body)
		checkError(t, "fourth /ws", resp.StatusCode, b, http.StatusTooManyRequests, "too_many_connections",
			"wall-1", "3", "hub.max_connections_per_token")
		if v := refused("hub", "token_cap"); v != 1 {
			t.Errorf("citywall_ws_refused_total{hub,token_cap} %v, want 1", v)
		}
		// Another token is not concerned.
		s.connect(s.tokens[config.RoleCommander]).conn.Close()
		// Closing one frees its slot.
		held[0].conn.Close()
		eventually(t, "a slot freed by a closed connection", func() bool {
			conn, _, err := s.dialWS(bearer(wallTok))
			if err != nil {
				return false
			}
			conn.Close()
			return true
		})
	})

	t.Run("ingest", func(t *testing.T) {
		before := refused("hub", "no_topic")
		conn, resp, err := s.dialWS(bearer(s.tokens[config.RoleIngest]))
		if err == nil {
			conn.Close()
			t.Fatal("an ingest token's /ws was upgraded")
		}
		b, _ := io.ReadAll(resp.Body)
		checkError(t, "ingest /ws", resp.StatusCode, b, http.StatusForbidden, "forbidden", "subscribe to no topic")
		if v := refused("hub", "no_topic"); v != before+1 {
			t.Errorf("citywall_ws_refused_total{hub,no_topic} %v, want %v", v, before+1)
		}
	})

	t.Run("video", func(t *testing.T) {
		var held []*videoClient
		for range 2 {
			c, status, body := s.dialVideo("gate-1", "", bearer(wallTok))
			if c == nil {
				t.Fatalf("viewer: %d %s", status, body)
			}
			c.next() // the camera's state: the viewer is served
			held = append(held, c)
		}
		c, status, body := s.dialVideo("gate-1", "", bearer(wallTok))
		if c != nil {
			t.Fatal("a third viewer of one token was upgraded")
		}
		checkError(t, "third viewer", status, []byte(body), http.StatusTooManyRequests, "too_many_connections",
			"wall-1", "2", "video.max_viewers_per_token")
		if v := refused("video", "token_cap"); v != 1 {
			t.Errorf("citywall_ws_refused_total{video,token_cap} %v, want 1", v)
		}
		if c, status, body := s.dialVideo("gate-1", "", bearer(s.tokens[config.RolePatrol])); c == nil {
			t.Errorf("another token's viewer: %d %s", status, body)
		}
		held[0].conn.Close()
		eventually(t, "a viewer slot freed by a closed viewer", func() bool {
			c, _, _ := s.dialVideo("gate-1", "", bearer(wallTok))
			return c != nil
		})
	})

	logs := s.logs.String()
	if !strings.Contains(logs, "websocket refused: the token holds its cap") || !strings.Contains(logs, "name=wall-1") {
		t.Errorf("no log line for the refusals:\n%s", logs)
	}
	for _, tok := range s.tokens {
		if strings.Contains(logs, tok) {
			t.Error("the log shows a token")
		}
	}
}
