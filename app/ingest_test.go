package app_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
)

// cellOf is the H3 cell of a WGS84 point, as the wall keys it.
func cellOf(t testing.TB, lat, lng float64, res int) string {
	t.Helper()
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	if err != nil {
		t.Fatal(err)
	}
	return c.String()
}

// spot is a point near Haikou's centre that every resolution the server
// counts agrees on: the centre of a res-7 cell is also the centre of its
// centre children at res 8 and 9, so the cell H3 puts it in at each
// resolution is also the parent of the one at the finer resolutions.
// Tickets that test something else than cell assignment are placed there.
func spot(t testing.TB, i int) (lat, lng float64) {
	t.Helper()
	c, err := h3.LatLngToCell(h3.LatLng{Lat: 20.03 + 0.02*float64(i%5), Lng: 110.33 + 0.025*float64(i/5)}, 7)
	if err != nil {
		t.Fatal(err)
	}
	ll, err := c.LatLng()
	if err != nil {
		t.Fatal(err)
	}
	return ll.Lat, ll.Lng
}

// heat GETs /api/v1/heat and returns its cells.
func (s *server) heat(res int, window, category string) map[string]int {
	s.t.Helper()
	var body struct {
		Res      int            `json:"res"`
		Window   string         `json:"window"`
		Category string         `json:"category"`
		Cells    map[string]int `json:"cells"`
	}
	path := fmt.Sprintf("/api/v1/heat?res=%d&window=%s", res, window)
	if category != "" {
		path += "&category=" + category
	}
	s.getJSON(path, s.tokens[config.RoleWall], &body)
	if body.Res != res || body.Window != window {
		s.t.Errorf("GET %s answered for res %d window %q", path, body.Res, body.Window)
	}
	return body.Cells
}

// state GETs a ticket's state with the ingest token.
func (s *server) state(id string) (ticket.State, bool) {
	s.t.Helper()
	code, _, b := s.do(http.MethodGet, "/api/v1/tickets/"+id, s.tokens[config.RoleIngest], "", nil)
	if code == http.StatusNotFound {
		return ticket.State{}, false
	}
	if code != http.StatusOK {
		s.t.Fatalf("GET ticket %s: %d %s", id, code, b)
	}
	var st ticket.State
	if err := json.Unmarshal(b, &st); err != nil {
		s.t.Fatalf("GET ticket %s: %v\n%s", id, err, b)
	}
	return st, true
}

func (s *server) stored() int {
	s.t.Helper()
	n, ok := metric(s.t, s.reg, "citywall_tickets_stored", nil)
	if !ok {
		s.t.Fatal("no citywall_tickets_stored gauge")
	}
	return int(n)
}

// TestIngestReachesWall posts tickets and follows them to a wall's
// WebSocket topics and the heat API.
func TestIngestReachesWall(t *testing.T) {
	s := startServer(t, nil)
	c := s.connect(s.tokens[config.RoleWall])
	const heatTopic = "heat/8/15m/all"
	for _, topic := range []string{heatTopic, "hot/1h", "tickets", "stats"} {
		c.subscribe(topic)
	}
	if n := len(c.state[heatTopic]); n != 0 {
		t.Fatalf("heat snapshot of an empty server has %d cells", n)
	}

	aLat, aLng := spot(t, 0)
	dLat, dLng := spot(t, 7)
	a := newTicket("ING-1", aLat, aLng)
	b := newTicket("ING-2", aLat+1e-5, aLng+1e-5) // a metre away: the same cell at every resolution
	d := newTicket("ING-3", dLat, dLng).with("category", "交通出行", "subcategory", "违停挪车", "urgent", true)
	cellA := cellOf(t, aLat, aLng, 8)
	if got := cellOf(t, aLat+1e-5, aLng+1e-5, 8); got != cellA {
		t.Fatalf("test setup: the first two points are in cells %s and %s", cellA, got)
	}
	cellD := cellOf(t, dLat, dLng, 8)
	if cellD == cellA {
		t.Fatal("test setup: the third point shares the first's cell")
	}

	code, res := s.postTickets(array(a, b, d))
	if code != http.StatusOK || res.Accepted != 3 {
		t.Fatalf("post: %d %+v", code, res)
	}
	for i, it := range res.Items {
		want := fmt.Sprintf("ING-%d", i+1)
		if it.Index != i || it.ID != want || it.Status != ticket.StatusAccepted || it.Reason != "" {
			t.Errorf("item %d: %+v, want index %d id %s accepted", i, it, i, want)
		}
	}

	want := map[string]int{cellA: 2, cellD: 1}
	heatIs := func() bool {
		st := c.state[heatTopic]
		if len(st) != len(want) {
			return false
		}
		for cell, n := range want {
			if v, ok := st[cell]; !ok || count(t, v) != n {
				return false
			}
		}
		return true
	}
	c.until("heat deltas with both cells", heatIs)

	type hot struct {
		Count int     `json:"count"`
		Prev  int     `json:"prev"`
		Trend float64 `json:"trend"`
		En    string  `json:"en"`
	}
	hotOf := func(cat string) (hot, bool) {
		v, ok := c.state["hot/1h"][cat]
		if !ok {
			return hot{}, false
		}
		var h hot
		if err := json.Unmarshal(v, &h); err != nil {
			t.Fatalf("hot/1h %s: %v", v, err)
		}
		return h, true
	}
	c.until("hot/1h with both categories", func() bool {
		h1, ok1 := hotOf("城市管理")
		h2, ok2 := hotOf("交通出行")
		return ok1 && ok2 && h1.Count == 2 && h2.Count == 1
	})
	if h, _ := hotOf("城市管理"); h.En != ticket.CategoryNameEn("城市管理") || h.En == "" {
		t.Errorf("hot/1h 城市管理 en = %q, want %q", h.En, ticket.CategoryNameEn("城市管理"))
	}

	c.until("three tickets on the tickets topic", func() bool { return len(c.events["tickets"]) == 3 })
	viewKeys := []string{"id", "channel", "category", "subcategory", "summary", "lat", "lng", "district", "grid", "created"}
	for i, raw := range c.events["tickets"] {
		posted := []tk{a, b, d}[i]
		var got map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		})
		wantKeys := slices.Clone(viewKeys)
		if posted["urgent"] == true {
			wantKeys = append(wantKeys, "urgent")
		}
		slices.Sort(wantKeys)
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("ticket event %d has fields %v, want exactly %v", i, keys, wantKeys)
		}
		for _, k := range []string{"id", "channel", "category", "subcategory", "summary", "district", "grid", "lat", "lng"} {
			if got[k] != posted[k] {
				t.Errorf("ticket event %d: %s = %v, want %v", i, k, got[k], posted[k])
			}
		}
		ct, err := time.Parse(time.RFC3339, fmt.Sprint(got["created"]))
		pt, _ := time.Parse(time.RFC3339, posted["created"].(string))
		if err != nil || !ct.Equal(pt) {
			t.Errorf("ticket event %d: created %v, want %v", i, got["created"], posted["created"])
		}
	}

	type today struct {
		Date    string `json:"date"`
		Tickets int    `json:"tickets"`
		Urgent  int    `json:"urgent"`
	}
	var td today
	c.until("stats today with three tickets", func() bool {
		v, ok := c.state["stats"]["today"]
		if !ok {
			return false
		}
		if err := json.Unmarshal(v, &td); err != nil {
			t.Fatalf("stats today %s: %v", v, err)
		}
		return td.Tickets == 3
	})
	loc, _ := time.LoadLocation("Asia/Shanghai")
	if td.Urgent != 1 || td.Date != time.Now().In(loc).Format(time.DateOnly) {
		t.Errorf("stats today = %+v, want 1 urgent on %s", td, time.Now().In(loc).Format(time.DateOnly))
	}

	// The API and the stream agree, and the category series counts alone.
	api := s.heat(8, "15m", "")
	if len(api) != len(want) || api[cellA] != 2 || api[cellD] != 1 {
		t.Errorf("GET heat = %v, want %v", api, want)
	}
	if got := s.heat(8, "15m", "交通出行"); len(got) != 1 || got[cellD] != 1 {
		t.Errorf("GET heat for 交通出行 = %v, want only %s: 1", got, cellD)
	}
	for _, r := range []int{7, 9} {
		got := s.heat(r, "24h", "")
		total := 0
		for _, n := range got {
			total += n
		}
		if total != 3 || got[cellOf(t, dLat, dLng, r)] != 1 || got[cellOf(t, aLat, aLng, r)] != 2 {
			t.Errorf("GET heat res %d = %v, want 3 tickets in all", r, got)
		}
	}

	// A new subscriber gets the same state in its snapshot.
	c2 := s.connect(s.tokens[config.RoleCommander])
	snap := c2.subscribe(heatTopic)
	var snapCells map[string]int
	if err := json.Unmarshal(snap.Data, &snapCells); err != nil {
		t.Fatal(err)
	}
	if len(snapCells) != 2 || snapCells[cellA] != 2 || snapCells[cellD] != 1 {
		t.Errorf("late snapshot = %s, want %v", snap.Data, want)
	}
	if snap.Seq != c.seq[heatTopic] || snap.Epoch == "" {
		t.Errorf("late snapshot at seq %d epoch %q, first client saw seq %d", snap.Seq, snap.Epoch, c.seq[heatTopic])
	}
	tev := c2.subscribe("tickets")
	var evs []map[string]any
	if err := json.Unmarshal(tev.Data, &evs); err != nil || len(evs) != 3 || evs[0]["id"] != "ING-1" || evs[2]["id"] != "ING-3" {
		t.Errorf("tickets snapshot = %s, want the three tickets oldest first", tev.Data)
	}
}

// TestIngestIsIdempotent: a ticket is counted once however often it is
// posted, and an id cannot be reused for other content.
func TestIngestIsIdempotent(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 1)
	x := newTicket("IDEM-X", lat, lng)
	cell := cellOf(t, lat, lng, 8)
	heatAt := func() int { return s.heat(8, "1h", "")[cell] }

	if code, res := s.postTickets(x.json()); code != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("first post: %d %+v", code, res)
	}
	if n := heatAt(); n != 1 {
		t.Fatalf("heat after one ticket: %d", n)
	}

	t.Run("same ticket again", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postTickets(x.json())
		if code != http.StatusOK || res.Duplicates != 1 || res.Items[0].Status != ticket.StatusDuplicate || res.Items[0].ID != "IDEM-X" {
			t.Errorf("repost: %d %+v", code, res)
		}
	})
	t.Run("same instant in another zone, channel in capitals", func(t *testing.T) {
		s := s.with(t)
		created, _ := time.Parse(time.RFC3339, x["created"].(string))
		y := x.with("created", created.In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339), "channel", " PHONE ")
		code, res := s.postTickets(y.json())
		if code != http.StatusOK || res.Duplicates != 1 {
			t.Errorf("repost in +08:00: %d %+v", code, res)
		}
	})
	t.Run("twice in one batch", func(t *testing.T) {
		s := s.with(t)
		y := newTicket("IDEM-Y", lat, lng)
		code, res := s.postTickets(array(y, y))
		if code != http.StatusOK || res.Accepted != 1 || res.Duplicates != 1 ||
			res.Items[0].Status != ticket.StatusAccepted || res.Items[1].Status != ticket.StatusDuplicate {
			t.Errorf("batch of two copies: %d %+v", code, res)
		}
	})
	if n := heatAt(); n != 2 {
		t.Errorf("heat after X three times and Y twice: %d, want 2", n)
	}
	if n := s.stored(); n != 2 {
		t.Errorf("store holds %d tickets, want 2", n)
	}

	t.Run("same id, other content", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postTickets(x.with("summary", "另一件事").json())
		if code != http.StatusUnprocessableEntity || res.Rejected != 1 {
			t.Fatalf("conflicting post: %d %+v", code, res)
		}
		it := res.Items[0]
		if it.Status != ticket.StatusRejected || !strings.Contains(it.Reason, "IDEM-X") || !strings.Contains(it.Reason, "different ticket") {
			t.Errorf("conflict item: %+v", it)
		}
		st, _ := s.state("IDEM-X")
		if st.Ticket.Summary != x["summary"] {
			t.Errorf("the conflicting post changed the stored ticket: %+v", st.Ticket)
		}
		if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "conflict"}); n != 1 {
			t.Errorf("rejected{reason=conflict} = %v, want 1", n)
		}
	})

	t.Run("retried batch", func(t *testing.T) {
		s := s.with(t)
		batch := array(newTicket("IDEM-A", 20.01, 110.30), newTicket("IDEM-B", 20.02, 110.31), newTicket("IDEM-C", 20.04, 110.35))
		if code, res := s.postTickets(batch); code != http.StatusOK || res.Accepted != 3 {
			t.Fatalf("first: %d %+v", code, res)
		}
		before := s.heat(8, "1h", "")
		code, res := s.postTickets(batch)
		if code != http.StatusOK || res.Duplicates != 3 || res.Accepted != 0 || res.Rejected != 0 {
			t.Errorf("retry: %d %+v", code, res)
		}
		if after := s.heat(8, "1h", ""); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Errorf("heat moved on a retry: %v → %v", before, after)
		}
	})
	if n := s.stored(); n != 5 {
		t.Errorf("store holds %d tickets, want 5", n)
	}
	if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "duplicate"}); n != 6 {
		t.Errorf("duplicate counter = %v, want 6", n)
	}
}

// TestBatchKeepsGoodItems: one bad ticket costs only itself, and its reason
// names the field.
func TestBatchKeepsGoodItems(t *testing.T) {
	s := startServer(t, nil)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	const gLat, gLng = 20.0440, 110.3420 // GCJ-02, as Amap gives it, in Haikou's centre
	items := []struct {
		name   string
		json   string
		status ticket.PostStatus
		reason string // the reason starts with it
	}{
		{"good", newTicket("B-0", 20.03, 110.33).json(), ticket.StatusAccepted, ""},
		{"lat 91", newTicket("B-1", 91, 110.33).json(), ticket.StatusRejected, "lat: 91 out of range"},
		{"lat NaN as a string", newTicket("B-2", 0, 110.33).with("lat", "NaN").json(), ticket.StatusRejected, "lat: "},
		{"lat 1e999", strings.Replace(newTicket("B-3", 12.5, 110.33).json(), `"lat":12.5`, `"lat":1e999`, 1), ticket.StatusRejected, "lat: "},
		{"lng -181", newTicket("B-4", 20.03, -181).json(), ticket.StatusRejected, "lng: -181 out of range"},
		{"no channel", newTicket("B-5", 20.03, 110.33).with("channel", nil).json(), ticket.StatusRejected, "channel: required"},
		{"fax channel", newTicket("B-6", 20.03, 110.33).with("channel", "fax").json(), ticket.StatusRejected, `channel: "fax" not one of`},
		{"unknown field", newTicket("B-7", 20.03, 110.33).with("phone_number", "13800000000").json(), ticket.StatusRejected, "phone_number: unknown field"},
		{"created in an hour", newTicket("B-8", 20.03, 110.33).with("created", future).json(), ticket.StatusRejected, "created: "},
		{"created not a time", newTicket("B-9", 20.03, 110.33).with("created", "yesterday").json(), ticket.StatusRejected, `created: "yesterday"`},
		{"null island", newTicket("B-10", 0, 0).json(), ticket.StatusRejected, "lat,lng: "},
		{"crs gcj02", newTicket("B-11", gLat, gLng).with("crs", "gcj02").json(), ticket.StatusAccepted, ""},
		{"crs unknown", newTicket("B-12", 20.03, 110.33).with("crs", "epsg3857").json(), ticket.StatusRejected, `crs: "epsg3857"`},
		{"not an object", `42`, ticket.StatusRejected, "a ticket is a JSON object"},
		{"no id", newTicket("", 20.03, 110.33).json(), ticket.StatusRejected, "id: required"},
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.json
	}
	code, res := s.postTickets("[" + strings.Join(parts, ",\n") + "]")
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200 since some items were accepted", code)
	}
	if len(res.Items) != len(items) {
		t.Fatalf("%d items in the answer, want %d: %+v", len(res.Items), len(items), res)
	}
	for i, want := range items {
		got := res.Items[i]
		if got.Index != i || got.Status != want.status || !strings.HasPrefix(got.Reason, want.reason) {
			t.Errorf("%s: %+v, want %s with a reason starting %q", want.name, got, want.status, want.reason)
		}
	}
	if res.Accepted != 2 || res.Rejected != len(items)-2 {
		t.Errorf("accepted %d rejected %d", res.Accepted, res.Rejected)
	}
	if n := s.stored(); n != 2 {
		t.Errorf("store holds %d tickets, want 2", n)
	}
	for _, label := range []string{"lat", "lng", "channel", "created", "crs", "id", "invalid"} {
		if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": label}); n < 1 {
			t.Errorf("no rejection counted under reason %q", label)
		}
	}
	if n, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "phone_number"}); n > 0 {
		// Made-up field names must not become label values: a client
		// could grow the metric without bound.
		t.Errorf("an unknown field's name became a metric label")
	}

	// The GCJ-02 point is stored in WGS84, a few hundred metres away.
	st, ok := s.state("B-11")
	if !ok {
		t.Fatal("the gcj02 ticket is not held")
	}
	if st.Ticket.CRS != ticket.WGS84 {
		t.Errorf("stored crs %q, want wgs84", st.Ticket.CRS)
	}
	wLat, wLng := geo.GCJ02ToWGS84(gLat, gLng)
	if math.Abs(st.Ticket.Lat-wLat) > 1e-6 || math.Abs(st.Ticket.Lng-wLng) > 1e-6 {
		t.Errorf("stored %.6f,%.6f, want %.6f,%.6f", st.Ticket.Lat, st.Ticket.Lng, wLat, wLng)
	}
	if d := metres(gLat, gLng, st.Ticket.Lat, st.Ticket.Lng); d < 200 || d > 1000 {
		t.Errorf("converted point is %.0f m from the posted one, want a few hundred", d)
	}
	if got := s.heat(8, "1h", "")[cellOf(t, wLat, wLng, 8)]; got != 1 {
		t.Errorf("the gcj02 ticket is not counted in its WGS84 cell")
	}

	t.Run("all bad", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postTickets(array(newTicket("C-1", 91, 110), newTicket("C-2", 20, 110).with("channel", "fax")))
		if code != http.StatusUnprocessableEntity || res.Rejected != 2 || res.Accepted != 0 {
			t.Errorf("all-bad batch: %d %+v", code, res)
		}
	})
	t.Run("one bad object", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postTickets(newTicket("C-3", 20, 110).with("lat", 95).json())
		if code != http.StatusUnprocessableEntity || len(res.Items) != 1 || !strings.HasPrefix(res.Items[0].Reason, "lat: 95") {
			t.Errorf("bad single ticket: %d %+v", code, res)
		}
	})
}

// TestTicketWithoutLatitude: a ticket whose lat is null or absent has no
// location and must be refused, not placed on the equator.
func TestTicketWithoutLatitude(t *testing.T) {
	s := startServer(t, nil)
	for _, c := range []struct{ name, json string }{
		{"null", newTicket("NOLAT-1", 0, 110.33).with("lat", "null-marker").json()},
		{"absent", newTicket("NOLAT-2", 0, 110.33).with("lat", nil).json()},
		{"lng null", newTicket("NOLAT-3", 20.03, 0).with("lng", "null-marker").json()},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := s.with(t)
			body := strings.Replace(c.json, `"null-marker"`, "null", 1)
			_, res := s.postTickets(body)
			if len(res.Items) != 1 {
				t.Fatalf("answer %+v", res)
			}
			it := res.Items[0]
			field := "lat"
			if strings.HasPrefix(c.name, "lng") {
				field = "lng"
			}
			if it.Status != ticket.StatusRejected || !strings.HasPrefix(it.Reason, field) {
				st, _ := s.state(it.ID)
				t.Errorf("%s: %+v; stored at %.4f,%.4f — a ticket without a %s must be rejected with a reason naming %s",
					body, it, st.Ticket.Lat, st.Ticket.Lng, field, field)
			}
		})
	}
}

// TestTicketStampedAheadIsCounted: a ticket whose clock runs a little
// ahead of the server's is valid (ticket.MaxFuture) and must be counted on
// the map like any other accepted ticket.
func TestTicketStampedAheadIsCounted(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 2)
	ahead := newTicket("AHEAD-1", lat, lng).with("created", time.Now().Add(3*time.Minute).UTC().Format(time.RFC3339))
	if code, res := s.postTickets(ahead.json()); code != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("post: %d %+v", code, res)
	}
	if n := s.heat(8, "15m", "")[cellOf(t, lat, lng, 8)]; n != 1 {
		t.Errorf("an accepted ticket stamped 3 min ahead is not on the heat map (count %d); log:\n%s", n, s.logs)
	}
}

// TestHeatCellContainsTicket: a ticket is counted in the cell that holds
// its point at each resolution, as h3.LatLngToCell gives it, so the wall
// never lights a cell next to where the request came from.
func TestHeatCellContainsTicket(t *testing.T) {
	s := startServer(t, nil)
	const n = 200
	want := map[int]map[string]int{7: {}, 8: {}, 9: {}}
	items := make([]tk, n)
	for i := range n {
		// A deterministic scatter over Haikou's centre.
		lat := 19.98 + 0.1*math.Mod(float64(i)*0.6180339887, 1)
		lng := 110.25 + 0.15*math.Mod(float64(i)*0.7548776662, 1)
		items[i] = newTicket(fmt.Sprintf("CELL-%d", i), lat, lng)
		for r := range want {
			want[r][cellOf(t, lat, lng, r)]++
		}
	}
	if code, res := s.postTickets(array(items...)); code != http.StatusOK || res.Accepted != n {
		t.Fatalf("post: %d accepted %d", code, res.Accepted)
	}
	for _, r := range []int{7, 8, 9} {
		got := s.heat(r, "1h", "")
		wrong := 0
		for cell, k := range want[r] {
			if got[cell] != k {
				wrong++
			}
		}
		for cell := range got {
			if _, ok := want[r][cell]; !ok {
				wrong++
			}
		}
		if wrong > 0 {
			t.Errorf("res %d: %d of %d cells differ from h3.LatLngToCell's (%d tickets)", r, wrong, len(want[r]), n)
		}
	}
}

// metres is the great-circle distance between two points.
func metres(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371000
	rad := math.Pi / 180
	dLat, dLng := (lat2-lat1)*rad, (lng2-lng1)*rad
	h := math.Sin(dLat/2)*math.Sin(dLat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dLng/2)*math.Sin(dLng/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// TestResumeAfterReconnect: a wall that reconnects with its last epoch and
// seq gets exactly the deltas it missed.
func TestResumeAfterReconnect(t *testing.T) {
	s := startServer(t, nil)
	const topic = "heat/9/1h/all"
	c := s.connect(s.tokens[config.RoleWall])
	c.subscribe(topic)
	lat, lng := spot(t, 0)
	s.postTickets(newTicket("RES-1", lat, lng).json())
	c.until("the first ticket", func() bool { return len(c.state[topic]) == 1 })
	epoch, seq := c.seqEpoch(topic)
	_ = c.conn.Close()

	lat2, lng2 := spot(t, 3)
	s.postTickets(newTicket("RES-2", lat2, lng2).json())
	eventually(t, "the second ticket counted", func() bool { return len(s.heat(9, "1h", "")) == 2 })
	// Give the publisher its interval to flush the delta.
	time.Sleep(2 * config.Default().Geo.PublishInterval)

	c2 := s.connect(s.tokens[config.RoleWall])
	c2.send(map[string]any{"op": "subscribe", "id": 5, "topic": topic, "epoch": epoch, "seq": seq})
	m := c2.waitFor("resumed", func(m wsMsg) bool { return m.Type == "resumed" || m.Type == "snapshot" })
	if m.Type != "resumed" || m.ID != 5 || m.Epoch != epoch || m.Seq != seq {
		t.Fatalf("resubscribe with epoch %s seq %d: %s", epoch, seq, m.Raw)
	}
	d := c2.waitFor("the missed delta", func(m wsMsg) bool { return m.Type == "delta" && m.Topic == topic })
	if d.Seq != seq+1 || !strings.Contains(string(d.Data), cellOf(t, lat2, lng2, 9)) {
		t.Errorf("missed delta %s, want seq %d with cell %s", d.Raw, seq+1, cellOf(t, lat2, lng2, 9))
	}

	// A stale epoch gets a fresh snapshot instead.
	c3 := s.connect(s.tokens[config.RoleWall])
	c3.send(map[string]any{"op": "subscribe", "id": 6, "topic": topic, "epoch": "OLDEPOCH", "seq": 3})
	if m := c3.waitFor("snapshot", func(m wsMsg) bool { return m.Type == "resumed" || m.Type == "snapshot" }); m.Type != "snapshot" {
		t.Errorf("stale epoch answered %s", m.Raw)
	}
	if n := len(c3.state[topic]); n != 2 {
		t.Errorf("fresh snapshot has %d cells, want 2", n)
	}
}
