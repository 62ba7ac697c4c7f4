package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/citywall/citywall/config"
)

// TestMetrics: after some traffic the documented metrics are there with
// plausible values, and neither /metrics nor the log shows a token.
func TestMetrics(t *testing.T) {
	s := startServer(t, nil)
	c := s.connect(s.tokens[config.RoleWall])
	c.subscribe("heat/8/15m/all")
	c.subscribe("tickets")

	var items []tk
	cells := map[string]bool{}
	for i := range 6 {
		lat, lng := spot(t, i)
		items = append(items, newTicket(fmt.Sprintf("MET-%d", i), lat, lng))
		cells[cellOf(t, lat, lng, 8)] = true
	}
	items = append(items, newTicket("MET-BAD", 91, 110))
	if code, res := s.postTickets(array(items...)); code != http.StatusOK || res.Accepted != 6 || res.Rejected != 1 {
		t.Fatalf("post: %d %+v", code, res)
	}
	s.postTickets(items[0].json()) // a duplicate
	c.until("six cells on the wall", func() bool { return len(c.state["heat/8/15m/all"]) == len(cells) })
	c.until("six tickets on the wall", func() bool { return len(c.events["tickets"]) == 6 })

	// Traffic that carries tokens where a careless server might log them.
	s.do("GET", "/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]), "", "", nil)
	s.do("GET", "/wall?token=not-a-valid-token-000000", "", "", nil)
	s.login(s.tokens[config.RoleCommander], "/wall")
	s.do("GET", "/api/v1/public", "not-a-valid-token-000000", "", nil)
	s.do("GET", "/metrics", s.tokens[config.RoleIngest], "", nil)
	h := bearer(s.tokens[config.RolePatrol])
	h.Set("Origin", "http://evil.example")
	_, _, _ = s.dialWS(h)

	checks := []struct {
		name   string
		labels map[string]string
		want   func(float64) bool
		says   string
	}{
		{"citywall_ingest_tickets_total", map[string]string{"result": "accepted"}, func(v float64) bool { return v == 6 }, "6"},
		{"citywall_ingest_tickets_total", map[string]string{"result": "duplicate"}, func(v float64) bool { return v == 1 }, "1"},
		{"citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "lat"}, func(v float64) bool { return v == 1 }, "1"},
		{"citywall_hub_connections", nil, func(v float64) bool { return v == 1 }, "1"},
		{"citywall_hub_messages_sent_total", nil, func(v float64) bool { return v >= 4 }, ">= 4"},
		{"citywall_hub_delivery_latency_seconds", nil, func(v float64) bool { return v > 0 }, "> 0 observations"},
		{"citywall_geo_window_cells", map[string]string{"res": "8", "window": "15m"}, func(v float64) bool { return v == float64(len(cells)) }, fmt.Sprint(len(cells))},
		{"citywall_geo_window_cells", map[string]string{"res": "9", "window": "24h"}, func(v float64) bool { return v == float64(len(cells)) }, fmt.Sprint(len(cells))},
		{"citywall_tickets_stored", nil, func(v float64) bool { return v == 6 }, "6"},
		{"citywall_hub_subscriptions", nil, func(v float64) bool { return v == 2 }, "2"},
	}
	for _, ch := range checks {
		v, ok := metric(t, s.reg, ch.name, ch.labels)
		if !ok || !ch.want(v) {
			t.Errorf("%s%v = %v (found %v), want %s", ch.name, ch.labels, v, ok, ch.says)
		}
	}

	code, hdr, body := s.do("GET", "/metrics", s.tokens[config.RoleAdmin], "", nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("scrape: %d %s", code, hdr.Get("Content-Type"))
	}
	text := string(body)
	for _, name := range []string{
		`citywall_ingest_tickets_total{reason="",result="accepted"} 6`,
		`citywall_ingest_tickets_total{reason="lat",result="rejected"} 1`,
		"citywall_hub_connections 1",
		"citywall_hub_messages_sent_total",
		"citywall_hub_delivery_latency_seconds_count",
		`citywall_geo_window_cells{res="8",window="15m"}`,
		"go_goroutines", "process_",
	} {
		if !strings.Contains(text, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Labels are bounded: no ticket, cell or client in them.
	for cell := range cells {
		if strings.Contains(text, cell) {
			t.Errorf("/metrics names cell %s", cell)
		}
	}
	for _, id := range []string{"MET-0", "wall-1", "127.0.0.1"} {
		if strings.Contains(text, id) {
			t.Errorf("/metrics names %q", id)
		}
	}

	logs := s.logs.String()
	if !strings.Contains(logs, "citywall serving") {
		t.Fatalf("the logger was not used:\n%s", logs)
	}
	for role, tok := range s.tokens {
		if strings.Contains(text, tok) {
			t.Errorf("/metrics shows the %s token", role)
		}
		if strings.Contains(logs, tok) {
			t.Errorf("the log shows the %s token:\n%s", role, logs)
		}
	}
	if strings.Contains(logs, "not-a-valid-token-000000") {
		t.Errorf("the log shows a presented token:\n%s", logs)
	}
}
