package logkit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/citywall/citywall/internal/logkit"
)

func TestWrap(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logkit.Wrap(logkit.Wrap(slog.NewJSONHandler(&buf, nil))))
	ctx := logkit.WithRequestID(context.Background(), "r-1")
	for _, tc := range []struct {
		name      string
		log       func()
		component string
		request   string
	}{
		{"root", func() { log.Info("x") }, "app", ""},
		{"root in a request", func() { log.InfoContext(ctx, "x") }, "app", "r-1"},
		{"named by With", func() { log.With("component", "hub").InfoContext(ctx, "x") }, "hub", "r-1"},
		{"named on the line", func() { log.Info("x", "component", "storage") }, "storage", ""},
		{"With after another With", func() { log.With("camera", "c1").With("component", "video").Warn("x") }, "video", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.log()
			line := buf.String()
			if n := strings.Count(line, `"component"`); n != 1 {
				t.Fatalf("%d component keys: %s", n, line)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if m["component"] != tc.component {
				t.Errorf("component %v, want %s", m["component"], tc.component)
			}
			if got, _ := m["request_id"].(string); got != tc.request {
				t.Errorf("request_id %q, want %q", got, tc.request)
			}
		})
	}
}
