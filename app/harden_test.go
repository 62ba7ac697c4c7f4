package app_test

import (
	"bufio"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// TestStrictJSONBodies: a member named twice and invalid UTF-8 are refused
// in every posted body, with a reason naming the field, where encoding/json
// alone would keep the last member or replace the bytes.
func TestStrictJSONBodies(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 0)
	good := newTicket("STRICT-GOOD", lat, lng).json()
	dupID := strings.Replace(newTicket("STRICT-A", lat, lng).json(), `"id":"STRICT-A"`, `"id":"STRICT-A","id":"STRICT-B"`, 1)
	badUTF8 := strings.Replace(newTicket("STRICT-U", lat, lng).json(), "人行道上有建筑垃圾", "bad \xff bytes", 1)
	nested := `{"id":"STRICT-N","id":"STRICT-N"}`

	for _, tc := range []struct {
		name, ctype, body, field, reason string
	}{
		{"duplicate id", "application/json", "[" + good + "," + dupID + "]", "id", "duplicate"},
		{"invalid UTF-8", "application/json", "[" + good + "," + badUTF8 + "]", "summary", "UTF-8"},
		{"duplicate in NDJSON", "application/x-ndjson", good + "\n" + nested, "id", "duplicate"},
	} {
		t.Run("tickets/"+tc.name, func(t *testing.T) {
			code, _, b := s.do(http.MethodPost, "/api/v1/tickets", s.tokens[config.RoleIngest], tc.ctype, strings.NewReader(tc.body))
			res := decodeResult(t, code, b)
			if code != http.StatusOK || len(res.Items) != 2 || res.Items[0].Status != "accepted" && res.Items[0].Status != "duplicate" {
				t.Fatalf("answer %d %s", code, b)
			}
			it := res.Items[1]
			if it.Status != "rejected" || !strings.HasPrefix(it.Reason, tc.field+":") || !strings.Contains(it.Reason, tc.reason) {
				t.Fatalf("item 1: %s %q, want rejected naming %q and %q", it.Status, it.Reason, tc.field, tc.reason)
			}
		})
	}

	t.Run("events", func(t *testing.T) {
		ts := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
		code, res := s.postEvents("STRICT-GOOD", `{"type":"dispatched","type":"resolved","time":"`+ts+`"}`)
		if code != http.StatusUnprocessableEntity || len(res.Items) != 1 || !strings.HasPrefix(res.Items[0].Reason, "type:") || !strings.Contains(res.Items[0].Reason, "duplicate") {
			t.Fatalf("answer %d %+v", code, res)
		}
	})

	t.Run("calls", func(t *testing.T) {
		ts := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
		code, b := s.post("/api/v1/calls", `[{"id":"c-1","type":"offered","time":"`+ts+`"},{"id":"c-2","type":"offered","type":"answered","time":"`+ts+`"},{"id":"c-3`+"\xc3"+`","type":"offered","time":"`+ts+`"}]`)
		a := decodeFeeds(t, b)
		if code != http.StatusOK || len(a.Items) != 3 || a.Accepted != 1 {
			t.Fatalf("answer %d %s", code, b)
		}
		for i, want := range []string{"", "type: duplicate", "id: invalid UTF-8"} {
			if want != "" && (a.Items[i].Status != "rejected" || !strings.HasPrefix(a.Items[i].Reason, want)) {
				t.Errorf("item %d: %s %q, want rejected %q", i, a.Items[i].Status, a.Items[i].Reason, want)
			}
		}
	})

	for _, tc := range []struct {
		name, method, path, role, body, mention string
	}{
		{"wall set", "POST", "/api/v1/walls/main/set", "patrol", `{"set":"a","set":"b"}`, "/set"},
		{"wall push", "POST", "/api/v1/walls/main/push", "commander", "{\"slot\":\"s\xff\",\"camera\":\"c\"}", "/slot"},
		{"silence", "POST", "/api/v1/silences", "commander", `{"category":"噪音","comment":"x","duration":"1h","duration":"100h"}`, "/duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := s.do(tc.method, tc.path, s.tokens[config.Role(tc.role)], "application/json", strings.NewReader(tc.body))
			checkError(t, tc.name, code, b, http.StatusBadRequest, "bad_request", tc.mention)
		})
	}
}

// echoingCamera is an RTSP server that asks for Basic authentication and
// then refuses the credentials with a status line that echoes the
// Authorization header back, as some cameras do.
func echoingCamera(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					var cseq, auth string
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						line = strings.TrimRight(line, "\r\n")
						if line == "" {
							break
						}
						if k, v, ok := strings.Cut(line, ":"); ok {
							switch strings.ToLower(k) {
							case "cseq":
								cseq = strings.TrimSpace(v)
							case "authorization":
								auth = strings.TrimSpace(v)
							}
						}
					}
					answer := "RTSP/1.0 401 Unauthorized\r\nCSeq: " + cseq + "\r\nWWW-Authenticate: Basic realm=\"cam\"\r\n\r\n"
					if auth != "" {
						answer = "RTSP/1.0 403 Forbidden (Authorization: " + auth + ")\r\nCSeq: " + cseq + "\r\n\r\n"
					}
					if _, err := conn.Write([]byte(answer)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "rtsp://" + ln.Addr().String() + "/main"
}

// TestCameraEchoingAuthorization: a camera that echoes the Authorization
// header in its status line shows the base64 of user:password nowhere: not
// in the camera's state on the hub, the alert walls read, the metrics or
// the log.
func TestCameraEchoingAuthorization(t *testing.T) {
	const user, pass = "camuser", "S3cretPassA"
	basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	s := startServer(t, func(c *config.Config) {
		c.Cameras = []config.Camera{{ID: "gate-1", Name: "校门", Lat: 20.02, Lng: 110.34,
			Main: echoingCamera(t), Username: user, Password: pass, AlwaysOn: true}}
		c.Video.StallTimeout = time.Second
		c.Video.ReconnectMin = 100 * time.Millisecond
		c.Video.ReconnectMax = 500 * time.Millisecond
	})
	hub := s.connect(s.tokens[config.RoleWall])
	hub.subscribe("cameras")
	hub.until("the camera refused", func() bool {
		return strings.Contains(string(hub.state["cameras"]["gate-1"]), "403")
	})
	var alerts []byte
	eventually(t, "the camera's alert", func() bool {
		_, _, alerts = s.do("GET", "/api/v1/alerts", s.tokens[config.RoleWall], "", nil)
		return strings.Contains(string(alerts), "gate-1")
	})
	_, _, metrics := s.do("GET", "/metrics", s.tokens[config.RoleAdmin], "", nil)
	seen := []string{string(hub.state["cameras"]["gate-1"]), string(alerts), string(metrics), s.logs.String()}
	for _, out := range seen {
		for _, secret := range []string{basic, strings.TrimRight(basic, "="), pass} {
			if strings.Contains(out, secret) {
				t.Errorf("a credential (%s) shows in:\n%s", secret, out)
			}
		}
	}
	t.Logf("state: %s", hub.state["cameras"]["gate-1"])
}

// TestTicketEventCap: past tickets.max_events a ticket's new events are
// rejected with a reason saying so, counted as too_many_events; a repeat
// of a held event is still a duplicate.
func TestTicketEventCap(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Tickets.MaxEvents = 10 })
	lat, lng := spot(t, 0)
	if code, res := s.postTickets(newTicket("CAP-1", lat, lng).json()); code != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("ticket: %d %+v", code, res)
	}
	base := time.Now().Add(-time.Hour).UTC()
	var lines []string
	for i := range 12 {
		lines = append(lines, `{"type":"responded","time":"`+base.Add(time.Duration(i)*time.Second).Format(time.RFC3339)+`"}`)
	}
	code, res := s.postEvents("CAP-1", "["+strings.Join(lines, ",")+"]")
	if code != http.StatusOK || res.Accepted != 10 || res.Rejected != 2 {
		t.Fatalf("answer %d %+v", code, res)
	}
	if r := res.Items[10].Reason; !strings.Contains(r, "too many events") || !strings.Contains(r, "at most 10") {
		t.Errorf("reason %q does not say the ticket is full", r)
	}
	if code, res := s.postEvents("CAP-1", lines[0]); code != http.StatusOK || res.Duplicates != 1 {
		t.Errorf("repeat of a held event: %d %+v", code, res)
	}
	if n, _ := metric(t, s.reg, "citywall_ingest_events_rejected_total", map[string]string{"reason": "too_many_events"}); n != 2 {
		t.Errorf("too_many_events counted %v times, want 2", n)
	}
}

// TestNoOpDeleteIs404: deleting a set, tour, schedule or layout that does
// not exist is 404 and leaves no audit entry, so such calls cannot push a
// real change out of the audit trail; the audit file is only appended to,
// rotated to files that are kept.
func TestNoOpDeleteIs404(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "walls.json")
	s := startServer(t, func(c *config.Config) {
		c.Walls.StateFile = state
		c.Walls.AuditKeep = 50
		c.Walls.AuditMaxBytes = 64 << 10
		c.Cameras = []config.Camera{{ID: "cam-1", Name: "一号", Lat: 20.02, Lng: 110.34, Main: "rtsp://127.0.0.1:9/main"}}
	})
	patrol := s.tokens[config.RolePatrol]
	if code, _, b := s.do("POST", "/api/v1/walls/main/release", patrol, "application/json", nil); code != http.StatusOK {
		t.Fatalf("release: %d %s", code, b)
	}
	for _, path := range []string{"/api/v1/camera-sets/nope", "/api/v1/tours/nope", "/api/v1/schedules/nope", "/api/v1/walls/main/layouts/nope"} {
		for range 60 {
			code, _, b := s.do("DELETE", path, patrol, "", nil)
			if code != http.StatusNotFound {
				t.Fatalf("DELETE %s: %d %s, want 404", path, code, b)
			}
		}
	}
	var audit struct{ Entries []struct{ Action string } }
	s.getJSON("/api/v1/audit?limit=100", patrol, &audit)
	if len(audit.Entries) != 1 || audit.Entries[0].Action != "release" {
		t.Fatalf("audit after 240 no-op deletes: %+v, want the release alone", audit.Entries)
	}

	// Real changes past audit_max_bytes: the file is rotated aside, and
	// every entry is still on disk.
	const set = "a-set-with-a-long-id-so-that-each-entry-fills-the-file-faster"
	body := `{"id":"` + set + `","name":"x","cameras":["cam-1"]}`
	n := 0
	for ; n < 600; n++ {
		if code, _, b := s.do("PUT", "/api/v1/camera-sets/"+set, patrol, "application/json", strings.NewReader(body)); code != http.StatusNoContent {
			t.Fatalf("put set: %d %s", code, b)
		}
	}
	files, _ := filepath.Glob(state + ".audit*")
	if len(files) < 2 {
		t.Fatalf("audit files %v: want the current one and a rotated one", files)
	}
	lines := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += strings.Count(string(b), "\n")
	}
	if lines != n+1 {
		t.Fatalf("%d entries on disk in %v, want %d (none trimmed)", lines, files, n+1)
	}
}

// TestDailyReportStyleIsAFile: the daily report carries no inline style
// (the server's CSP, style-src 'self', blocks it and the report rendered
// unstyled); its stylesheet is a file the server serves.
func TestDailyReportStyleIsAFile(t *testing.T) {
	s := startServer(t, nil)
	code, h, b := s.do(http.MethodGet, "/api/v1/reports/daily", s.tokens[config.RoleWall], "", nil)
	if code != http.StatusOK {
		t.Fatalf("report: %d %s", code, b)
	}
	if !strings.Contains(h.Get("Content-Security-Policy"), "style-src 'self'") {
		t.Fatalf("CSP %q", h.Get("Content-Security-Policy"))
	}
	html := string(b)
	if strings.Contains(html, "<style") || strings.Contains(html, " style=") {
		t.Errorf("the report has inline style, which its CSP blocks:\n%s", html)
	}
	const link = `<link rel="stylesheet" href="/static/css/report.css">`
	if !strings.Contains(html, link) {
		t.Fatalf("the report does not link its stylesheet:\n%s", html)
	}
	code, h, b = s.do(http.MethodGet, "/static/css/report.css", "", "", nil)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/css") || !strings.Contains(string(b), "border-collapse") {
		t.Fatalf("stylesheet: %d %s %.80s", code, h.Get("Content-Type"), b)
	}
}
