package app_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// TestPostBadBodies: bodies that cannot be read at all are refused whole,
// with a {code, reason} that says what is wrong, on both POST endpoints.
func TestPostBadBodies(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Tickets.MaxBatch = 5 })
	lat, lng := spot(t, 0)
	if code, res := s.postTickets(newTicket("EV-1", lat, lng).json()); code != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("setup: %d %+v", code, res)
	}
	ev := func(typ string) string {
		return fmt.Sprintf(`{"type":%q,"time":%q}`, typ, time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
	}
	good := newTicket("BAD-GOOD", lat, lng).json()
	six := make([]tk, 6)
	for i := range six {
		six[i] = newTicket(fmt.Sprintf("SIX-%d", i), lat, lng)
	}
	cases := []struct {
		name    string
		ctype   string
		body    string
		status  int
		code    string
		mention []string
	}{
		{"truncated array", "application/json", "[" + good + `,{"id":"x",`, 400, "bad_request", []string{"malformed body", "nothing was accepted"}},
		{"truncated object", "application/json", `{"id":"x","lat":`, 400, "bad_request", []string{"malformed body"}},
		{"empty", "application/json", "", 400, "bad_request", []string{"empty body"}},
		{"only white space", "application/json", " \n\t ", 400, "bad_request", []string{"empty body"}},
		{"garbage after the array", "application/json", "[" + good + "] x", 400, "bad_request", []string{"malformed body"}},
		{"not JSON", "application/json", "id=1&lat=20", 400, "bad_request", []string{"malformed body"}},
		{"text/xml", "text/xml", "<ticket/>", 415, "unsupported_media_type", []string{"text/xml", "application/json"}},
		{"form", "application/x-www-form-urlencoded", "id=1", 415, "unsupported_media_type", []string{"application/x-www-form-urlencoded"}},
		{"unreadable content type", "application/json; charset", good, 415, "unsupported_media_type", []string{"content type"}},
		{"too many items", "application/json", array(six...), 413, "body_too_large", []string{"at most 5", "nothing was accepted"}},
		{"too many lines", "application/x-ndjson", strings.Join(func() []string {
			l := make([]string, len(six))
			for i, x := range six {
				l[i] = x.json()
			}
			return l
		}(), "\n"), 413, "body_too_large", []string{"at most 5"}},
	}
	for _, path := range []string{"/api/v1/tickets", "/api/v1/tickets/EV-1/events"} {
		for _, c := range cases {
			t.Run(path+"/"+c.name, func(t *testing.T) {
				s := s.with(t)
				body := c.body
				if strings.HasSuffix(path, "/events") && c.body == good {
					body = ev("received")
				}
				code, _, b := s.do(http.MethodPost, path, s.tokens[config.RoleIngest], c.ctype, strings.NewReader(body))
				checkError(t, c.name, code, b, c.status, c.code, c.mention...)
			})
		}
	}
	for i := range six {
		if _, ok := s.state(six[i]["id"].(string)); ok {
			t.Errorf("%s was stored from a body that was refused", six[i]["id"])
		}
	}
	if _, ok := s.state("BAD-GOOD"); ok {
		t.Error("a ticket before the fault of a broken body was stored")
	}
	if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "malformed"}); n < 1 {
		t.Error("no rejection counted as malformed")
	}
	if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "too_many_items"}); n < 1 {
		t.Error("no rejection counted as too_many_items")
	}

	t.Run("no content type", func(t *testing.T) {
		s := s.with(t)
		code, _, b := s.do(http.MethodPost, "/api/v1/tickets", s.tokens[config.RoleIngest], "", strings.NewReader(newTicket("NOCT-1", lat, lng).json()))
		if res := decodeResult(t, code, b); code != 200 || res.Accepted != 1 {
			t.Errorf("a body without a content type: %d %s", code, b)
		}
	})
	t.Run("exactly the batch limit", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postTickets(array(six[:5]...))
		if code != 200 || res.Accepted != 5 {
			t.Errorf("five items with max_batch 5: %d %+v", code, res)
		}
	})
}

// TestPostNDJSON: one bad line in the middle costs only itself.
func TestPostNDJSON(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 0)
	body := strings.Join([]string{
		newTicket("ND-0", lat, lng).json(),
		`{"id":"ND-1","channel":`, // cut short
		"",                        // blank lines are skipped
		newTicket("ND-2", lat, lng).with("lat", 123).json(),
		newTicket("ND-3", lat, lng).json(),
	}, "\n") + "\n"
	code, b := func() (int, []byte) {
		code, _, b := s.do(http.MethodPost, "/api/v1/tickets", s.tokens[config.RoleIngest], "application/x-ndjson", strings.NewReader(body))
		return code, b
	}()
	res := decodeResult(t, code, b)
	if code != http.StatusOK || res.Accepted != 2 || res.Rejected != 2 || len(res.Items) != 4 {
		t.Fatalf("NDJSON: %d %s", code, b)
	}
	want := []struct {
		status ticket.PostStatus
		reason string
	}{
		{ticket.StatusAccepted, ""},
		{ticket.StatusRejected, "line 2"},
		{ticket.StatusRejected, "lat: 123"},
		{ticket.StatusAccepted, ""},
	}
	for i, w := range want {
		it := res.Items[i]
		if it.Index != i || it.Status != w.status || !strings.HasPrefix(it.Reason, w.reason) {
			t.Errorf("item %d: %+v, want %s %q", i, it, w.status, w.reason)
		}
	}
	for _, id := range []string{"ND-0", "ND-3"} {
		if _, ok := s.state(id); !ok {
			t.Errorf("%s, a good line, was not stored", id)
		}
	}
}

// TestPostBodyTooLarge: a body over server.max_body_bytes is refused whole.
func TestPostBodyTooLarge(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Server.MaxBodyBytes = 64 << 10 })
	lat, lng := spot(t, 0)
	var items []tk
	for i := 0; i < 1000; i++ {
		items = append(items, newTicket(fmt.Sprintf("BIG-%04d", i), lat, lng))
	}
	body := array(items...)
	if len(body) < 128<<10 {
		t.Fatalf("test setup: body of %d bytes", len(body))
	}
	for _, ctype := range []string{"application/json", "application/x-ndjson"} {
		b := body
		if ctype == "application/x-ndjson" {
			b = strings.ReplaceAll(strings.Trim(body, "[]"), "},{", "}\n{")
		}
		code, _, ans := s.do(http.MethodPost, "/api/v1/tickets", s.tokens[config.RoleIngest], ctype, strings.NewReader(b))
		checkError(t, ctype, code, ans, http.StatusRequestEntityTooLarge, "body_too_large", "65536", "nothing was accepted")
	}
	if n := s.stored(); n != 0 {
		t.Errorf("%d tickets stored from refused bodies", n)
	}
	if _, ok := s.state("BIG-0000"); ok {
		t.Error("the first ticket of a refused body was stored")
	}
	if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "body_too_large"}); n != 2 {
		t.Errorf("rejected{reason=body_too_large} = %v, want 2", n)
	}
	// Under the limit, the same server takes a batch.
	if code, res := s.postTickets(array(items[:50]...)); code != http.StatusOK || res.Accepted != 50 {
		t.Errorf("a small batch after the big one: %d %+v", code, res)
	}
}

// TestPostBadEvents: events are checked like tickets, and must belong to
// the ticket in the path.
func TestPostBadEvents(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 0)
	if code, res := s.postTickets(newTicket("EVB-1", lat, lng).json()); code != 200 || res.Accepted != 1 {
		t.Fatalf("setup: %d %+v", code, res)
	}
	at := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)

	t.Run("unknown ticket", func(t *testing.T) {
		s := s.with(t)
		code, b := s.post("/api/v1/tickets/NOPE-1/events", fmt.Sprintf(`{"type":"received","time":%q}`, at))
		checkError(t, "events of an unknown ticket", code, b, http.StatusNotFound, "unknown_ticket", "NOPE-1")
	})
	t.Run("unknown ticket, get", func(t *testing.T) {
		s := s.with(t)
		code, _, b := s.do(http.MethodGet, "/api/v1/tickets/NOPE-1", s.tokens[config.RoleIngest], "", nil)
		checkError(t, "GET an unknown ticket", code, b, http.StatusNotFound, "unknown_ticket", "NOPE-1")
	})

	cases := []struct {
		name   string
		body   string
		reason string // the item's reason starts with it
	}{
		{"other ticket in the body", fmt.Sprintf(`{"ticket":"EVB-2","type":"received","time":%q}`, at), `ticket: "EVB-2" does not match`},
		{"unknown type", fmt.Sprintf(`{"type":"escalated","time":%q}`, at), `type: "escalated" not one of`},
		{"no type", fmt.Sprintf(`{"time":%q}`, at), "type: required"},
		{"satisfaction without visited", fmt.Sprintf(`{"type":"resolved","time":%q,"satisfaction":"satisfied"}`, at), `satisfaction: "satisfied" only with type visited`},
		{"unknown satisfaction", fmt.Sprintf(`{"type":"visited","time":%q,"satisfaction":"thrilled"}`, at), `satisfaction: "thrilled" not one of`},
		{"no time", `{"type":"received"}`, "time: required"},
		{"time not RFC 3339", `{"type":"received","time":"12:00"}`, `time: "12:00" is not an RFC 3339 time`},
		{"time in an hour", fmt.Sprintf(`{"type":"received","time":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), "time: "},
		{"unknown field", fmt.Sprintf(`{"type":"received","time":%q,"operator":"Li"}`, at), "operator: unknown field"},
		{"type is a number", fmt.Sprintf(`{"type":3,"time":%q}`, at), "type: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s.with(t)
			code, res := s.postEvents("EVB-1", c.body)
			if code != http.StatusUnprocessableEntity || len(res.Items) != 1 {
				t.Fatalf("%d %+v", code, res)
			}
			it := res.Items[0]
			if it.Status != ticket.StatusRejected || it.ID != "EVB-1" || !strings.HasPrefix(it.Reason, c.reason) {
				t.Errorf("%+v, want rejected with a reason starting %q", it, c.reason)
			}
		})
	}
	if st, _ := s.state("EVB-1"); len(st.Events) != 0 {
		t.Errorf("rejected events were recorded: %+v", st.Events)
	}
	t.Run("good and bad in one batch", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postEvents("EVB-1", "["+cases[1].body+","+fmt.Sprintf(`{"type":"received","time":%q}`, at)+"]")
		if code != http.StatusOK || res.Accepted != 1 || res.Rejected != 1 {
			t.Errorf("%d %+v", code, res)
		}
	})
}

// TestGetBadQueries: the read API names the parameter at fault.
func TestGetBadQueries(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 0)
	c8, _ := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, 8)
	valid := c8.String()
	many := make([]string, 501)
	disk, err := c8.GridDisk(13) // 547 cells
	if err != nil || len(disk) < len(many) {
		t.Fatalf("test setup: grid disk of %d cells: %v", len(disk), err)
	}
	for i := range many {
		many[i] = disk[i].String()
	}
	cases := []struct {
		name    string
		path    string
		mention []string
	}{
		{"cells: no ids", "/api/v1/cells", []string{"ids"}},
		{"cells: empty ids", "/api/v1/cells?ids=", []string{"ids"}},
		{"cells: garbage id", "/api/v1/cells?ids=" + valid + ",zzzz", []string{"ids", "zzzz"}},
		{"cells: empty id in the list", "/api/v1/cells?ids=" + valid + ",", []string{"ids"}},
		{"cells: not a cell", "/api/v1/cells?ids=ffffffffffffffff", []string{"ids"}},
		{"cells: 501 ids", "/api/v1/cells?ids=" + strings.Join(many, ","), []string{"ids", "501", "500"}},
		{"heat: no res", "/api/v1/heat?window=1h", []string{"res"}},
		{"heat: res x", "/api/v1/heat?res=x&window=1h", []string{"res", `"x"`}},
		{"heat: res 5 not counted", "/api/v1/heat?res=5&window=1h", []string{"res", `"5"`, "[7 8 9]"}},
		{"heat: res -1", "/api/v1/heat?res=-1&window=1h", []string{"res"}},
		{"heat: no window", "/api/v1/heat?res=8", []string{"window"}},
		{"heat: window 60m not canonical", "/api/v1/heat?res=8&window=60m", []string{"window", `"60m"`}},
		{"heat: window 2h not counted", "/api/v1/heat?res=8&window=2h", []string{"window", `"2h"`, "15m"}},
		{"heat: window -1h", "/api/v1/heat?res=8&window=-1h", []string{"window"}},
		{"hot: no window", "/api/v1/hot", []string{"window"}},
		{"hot: window 7d", "/api/v1/hot?window=7d", []string{"window", `"7d"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := s.with(t)
			code, _, b := s.do(http.MethodGet, c.path, s.tokens[config.RoleWall], "", nil)
			checkError(t, c.name, code, b, http.StatusBadRequest, "bad_request", c.mention...)
		})
	}

	t.Run("cells: 500 ids", func(t *testing.T) {
		s := s.with(t)
		var out map[string][][2]float64
		s.getJSON("/api/v1/cells?ids="+strings.Join(many[:500], ","), s.tokens[config.RoleWall], &out)
		if len(out) != 500 {
			t.Fatalf("%d outlines for 500 ids", len(out))
		}
		o := out[valid]
		if len(o) < 6 {
			t.Fatalf("outline of %s: %v", valid, o)
		}
		for _, p := range o {
			if metres(p[0], p[1], lat, lng) > 1000 {
				t.Errorf("outline point %v is far from the cell's centre %v,%v: not [lat,lng]?", p, lat, lng)
			}
		}
	})
	t.Run("heat: category with a slash and spaces", func(t *testing.T) {
		s := s.with(t)
		var body struct {
			Category string         `json:"category"`
			Cells    map[string]int `json:"cells"`
		}
		s.getJSON("/api/v1/heat?res=8&window=1h&category="+url.QueryEscape("Noise - Street/Sidewalk"), s.tokens[config.RoleWall], &body)
		if body.Category != "Noise - Street/Sidewalk" || len(body.Cells) != 0 {
			t.Errorf("%+v", body)
		}
	})
}
