package app_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
)

// feedAlerts records the feed alerts an App raises.
type feedAlerts struct {
	mu  sync.Mutex
	log []string
}

func (r *feedAlerts) Fire(_ context.Context, a feeds.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "fire "+a.Fingerprint+" "+a.Severity)
	return nil
}

func (r *feedAlerts) Clear(_ context.Context, fp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "clear "+fp)
	return nil
}

func (r *feedAlerts) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.log {
		if l == s {
			return true
		}
	}
	return false
}

// TestDemoRainstorm runs the demo city on a clock 600 times faster than
// real time and triggers a rainstorm: the waterlogging point at the Nanhai
// Ave underpass turns to danger on feeds/flood and raises a critical alert
// through the App's feed alerter, a key road's jam alert follows, the
// storm's waterlogging tickets reach the tickets topic, and once the water
// has drained the alerts clear.
func TestDemoRainstorm(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	// The feeds' own alerter records what they raise; the cluster scans of
	// the alerting, at 600 times real time, would only load the machine.
	cfg.Alerts.Enabled = false
	cfg, tokens := withTokens(t, cfg)
	base := time.Now()
	fast := func() time.Time { return base.Add(time.Since(base) * 600) }
	cw, err := app.New(cfg, app.Options{Registry: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler), Now: fast})
	if err != nil {
		t.Fatal(err)
	}
	rec := &feedAlerts{}
	cw.SetFeedAlerter(rec)
	if _, err := cw.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cw.Run(ctx) }()
	defer func() { cancel(); <-done }()
	s := &server{t: t, app: cw, url: cw.URL(), tokens: tokens, client: &http.Client{Timeout: wait, Transport: &http.Transport{}}}
	s.waitReady()
	cw.FeedSim().TriggerStorm()

	ws := s.connect(tokens[config.RoleWall])
	ws.subscribe("feeds/flood")
	ws.subscribe("tickets")
	ws.until("the Nanhai underpass in danger", func() bool {
		var v struct{ State string }
		_ = json.Unmarshal(ws.state["feeds/flood"]["wl-nanhai-underpass"], &v)
		return v.State == "danger"
	})
	eventually(t, "the critical waterlogging alert and a jam alert", func() bool {
		return rec.has("fire feeds/wl-nanhai-underpass/threshold critical") && rec.has("fire feeds/road-nanhai/jam warning")
	})
	ws.until("a storm ticket on the tickets topic", func() bool {
		for _, e := range ws.events["tickets"] {
			if strings.Contains(string(e), "-RS") && strings.Contains(string(e), "积水内涝") {
				return true
			}
		}
		return false
	})
	deadline := time.Now().Add(40 * time.Second)
	for !(rec.has("clear feeds/wl-nanhai-underpass/threshold") && rec.has("clear feeds/road-nanhai/jam")) {
		if time.Now().After(deadline) {
			rec.mu.Lock()
			t.Fatalf("alerts not cleared after the storm: %v", rec.log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
