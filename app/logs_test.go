package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
)

// logLine is one JSON log line, decoded.
type logLine map[string]any

func (l logLine) str(k string) string { s, _ := l[k].(string); return s }

// jsonLines decodes every line of a JSON log; a line that is not JSON
// fails the test.
func jsonLines(t *testing.T, log string) []logLine {
	t.Helper()
	var out []logLine
	for _, raw := range strings.Split(strings.TrimSpace(log), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, raw)
		}
		out = append(out, l)
	}
	return out
}

// TestLogFields: the JSON log an operator reads from the journal. Every
// line names its component; a request's id is taken from X-Request-Id (or
// made) and echoed, and every line logged while serving it carries it —
// the request line at debug, the alert manager's, and an error with its
// cause; an alert's lines carry its id under "alert"; the query string
// (which may hold a token) is never logged.
func TestLogFields(t *testing.T) {
	stateDir := t.TempDir()
	cfg, tokens := testConfig(t)
	alertConfig(t, "")(&cfg)
	cfg.Alerts.StateFile = filepath.Join(stateDir, "alerts.json")
	s := startLogging(t, cfg, tokens, func(w io.Writer) slog.Handler {
		return slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})
	})
	get := func(path, id string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := s.client.Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	linesOf := func(id string) []logLine {
		var out []logLine
		for _, l := range jsonLines(t, s.logs.String()) {
			if l.str("request_id") == id {
				out = append(out, l)
			}
		}
		return out
	}
	requestLine := func(id string) logLine {
		t.Helper()
		var found logLine
		eventually(t, "the request line of "+id, func() bool {
			for _, l := range linesOf(id) {
				if l.str("msg") == "http request" {
					found = l
					return true
				}
			}
			return false
		})
		return found
	}

	// An id from the client is kept and echoed.
	if got := get("/healthz", "lb-7f3a:42").Header.Get("X-Request-Id"); got != "lb-7f3a:42" {
		t.Fatalf("X-Request-Id echoed %q, want the client's", got)
	}
	l := requestLine("lb-7f3a:42")
	if l.str("component") != "http" || l.str("level") != "DEBUG" || l.str("method") != "GET" || l.str("path") != "/healthz" || l["status"] != float64(200) {
		t.Errorf("request line %v", l)
	}

	// None, or one unfit for a log line: one is made.
	for _, sent := range []string{"", "two words", strings.Repeat("x", 200)} {
		id := get("/readyz", sent).Header.Get("X-Request-Id")
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(id) {
			t.Errorf("sent %q: made id %q, want 16 hex digits", sent, id)
			continue
		}
		requestLine(id)
	}

	// A token in the query reaches no log line.
	wallTok := s.tokens[config.RoleWall]
	id := get("/wall?token="+wallTok, "page-1").Header.Get("X-Request-Id")
	if l := requestLine(id); l.str("path") != "/wall" {
		t.Errorf("page request line %v", l)
	}
	if strings.Contains(s.logs.String(), wallTok) {
		t.Error("a token from the query string is in the log")
	}

	// An alert acknowledged over the API while its state cannot be saved:
	// the manager's line and the error, with its cause, carry the request
	// id; the alert's lines carry its id.
	m := s.app.Manager()
	if err := m.Fire(context.Background(), alerts.Signal{Source: "sla", Kind: "response_overdue", Fingerprint: "sla/log-1",
		Title: "超时", TitleEn: "Overdue", District: "龙华区", Category: "城市管理"}); err != nil {
		t.Fatal(err)
	}
	open := m.Open()
	if len(open) != 1 {
		t.Fatalf("open alerts %v", open)
	}
	alertID := open[0].ID
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/alerts/"+alertID+"/ack", strings.NewReader(`{"note":"on it"}`))
	req.Header.Set("Authorization", "Bearer "+s.tokens[config.RoleCommander])
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "ack-1")
	resp, err := s.client.Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ack: %d", resp.StatusCode)
	}
	requestLine("ack-1")
	var acked, failed logLine
	for _, l := range linesOf("ack-1") {
		switch l.str("msg") {
		case "alert acknowledged":
			acked = l
		case "alert state not saved":
			failed = l
		}
	}
	if acked == nil || acked.str("component") != "alerts" || acked.str("alert") != alertID {
		t.Errorf("acknowledgement line %v, want component alerts and alert %s", acked, alertID)
	}
	if failed == nil || failed.str("level") != "ERROR" || !strings.Contains(failed.str("err"), "no such file") {
		t.Errorf("save failure line %v, want an error with its cause", failed)
	}
	firing := false
	for _, l := range jsonLines(t, s.logs.String()) {
		if l.str("msg") == "alert firing" && l.str("alert") == alertID {
			firing = true
		}
	}
	if !firing {
		t.Error("no 'alert firing' line with the alert's id")
	}

	// Every line names its component.
	for _, l := range jsonLines(t, s.logs.String()) {
		if l.str("component") == "" {
			t.Errorf("line without a component: %v", l)
		}
	}
}
