package stream_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/stream"
)

// TestEveryCutIsCounted: a client the hub cuts off, for whatever reason,
// is counted in citywall_hub_disconnects_total{reason} and logged with the
// reason; one that stopped reading is cut when a write times out, which
// the slow counter alone never showed.
func TestEveryCutIsCounted(t *testing.T) {
	const topic = "heat/8/1h/all"
	for _, tc := range []struct {
		reason string
		opts   stream.Options
		act    func(t *testing.T, f *fixture, c *wsClient)
	}{
		{"slow", stream.Options{QueueBytes: 64 << 10}, func(t *testing.T, f *fixture, c *wsClient) {
			publishUntilCut(t, f, topic, 64<<10)
		}},
		{"write_timeout", stream.Options{QueueBytes: 256 << 20, WriteTimeout: 300 * time.Millisecond}, func(t *testing.T, f *fixture, c *wsClient) {
			publishUntilCut(t, f, topic, 256<<10)
		}},
		{"no_pong", stream.Options{PingPeriod: 100 * time.Millisecond, PongWait: 400 * time.Millisecond}, func(t *testing.T, f *fixture, c *wsClient) {}},
		{"read_limit", stream.Options{ReadLimit: 1024}, func(t *testing.T, f *fixture, c *wsClient) {
			// The server may reset the connection before the write ends.
			_ = c.sendRaw(`{"op":"ping","pad":"` + strings.Repeat("x", 4096) + `"}`)
		}},
	} {
		t.Run(tc.reason, func(t *testing.T) {
			logs := &testkit.SyncBuffer{}
			f := newFixture(t, fixtureConfig{opts: tc.opts, sndbuf: 16 << 10, log: slog.New(slog.NewTextHandler(logs, nil))})
			// This client never reads: nothing answers the server's pings
			// and its socket buffers fill.
			c, _, err := f.dialWith(dialConfig{rcvbuf: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer c.conn.Close()
			if err := c.sendRaw(`{"op":"subscribe","id":1,"topic":"` + topic + `"}`); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the client to subscribe", func() bool { return f.hub.Subscribers(topic) == 1 })
			tc.act(t, f, c)
			waitFor(t, "the cut to be counted", func() bool {
				return metricValue(t, f.reg, "citywall_hub_disconnects_total", "reason", tc.reason) == 1
			})
			waitFor(t, "the cut to be logged", func() bool {
				return strings.Contains(logs.String(), "reason="+tc.reason)
			})
			if tc.reason == "slow" && metricValue(t, f.reg, "citywall_hub_slow_disconnects_total") != 1 {
				t.Error("citywall_hub_slow_disconnects_total no longer counts slow clients")
			}
		})
	}
}

// publishUntilCut publishes deltas of size bytes until the topic has no
// subscriber left (at most a minute).
func publishUntilCut(t *testing.T, f *fixture, topic string, size int) {
	t.Helper()
	pad, _ := json.Marshal(strings.Repeat("x", size))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for f.hub.Subscribers(topic) > 0 && ctx.Err() == nil {
		if err := f.hub.PublishState(ctx, topic, map[string]json.RawMessage{"pad": pad}, nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
