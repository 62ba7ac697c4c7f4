package app_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/geo/ticket"
)

// heapMiB is the live heap after a collection, in MiB.
func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// worldTickets are n tickets at random points of the whole Earth (uniform
// over its surface), created at created, in a batch of JSON.
func worldTickets(rng *rand.Rand, prefix string, n int, created time.Time) string {
	cats := []string{"城市管理", "交通出行", "供水排水", "环境保护", "劳动保障", "住房建设"}
	items := make([]tk, n)
	for i := range items {
		lat := math.Asin(2*rng.Float64()-1) * 180 / math.Pi
		lng := rng.Float64()*360 - 180
		items[i] = newTicket(fmt.Sprintf("%s-%d", prefix, i), lat, lng).with(
			"category", cats[i%len(cats)], "district", nil, "grid", nil,
			"created", created.UTC().Format(time.RFC3339))
	}
	return array(items...)
}

// TestTicketsOutsideTheCityAreRejected: 30,000 tickets at random points of
// the Earth, posted to a city whose area is its districts', are rejected
// with a reason naming lat/lng and the city's area, counted under
// reason="out_of_area", and leave the heat map's res-9 cells and the
// cluster baseline as they were; tickets in the city are still accepted,
// and one just beyond a district's border but within the margin too. The
// heap and cell figures before and after are logged (BENCHMARKS.md).
func TestTicketsOutsideTheCityAreRejected(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		alertConfig(t, "")(c)
		for _, d := range city.Districts() {
			c.City.Districts = append(c.City.Districts, config.District{Name: d.Name, NameEn: d.NameEn, Polygon: d.Polygon})
		}
	})
	inside := func(prefix string, n int, created time.Time) {
		t.Helper()
		items := make([]tk, n)
		for i := range items {
			lat, lng := spot(t, i)
			items[i] = newTicket(fmt.Sprintf("%s-%d", prefix, i), lat, lng).with("created", created.UTC().Format(time.RFC3339))
		}
		code, res := s.postTickets(array(items...))
		if code != http.StatusOK || res.Accepted != n {
			t.Fatalf("%d tickets in the city: %d %+v", n, code, res)
		}
	}
	now := time.Now()
	inside("in-old", 40, now.Add(-90*time.Minute)) // past the alert windows: into the baseline
	inside("in-now", 40, now.Add(-time.Second))
	eventually(t, "the baseline to learn the city's tickets", func() bool { c, _ := s.app.BaselineSize(); return c > 0 })

	cells0, heap0 := s.app.Res9Cells(), heapMiB()
	bc0, bk0 := s.app.BaselineSize()
	held0 := s.app.TicketsHeld()
	t.Logf("before: heap %.1f MiB, res-9 cells %d, baseline %d cells %d categories, %d tickets held", heap0, cells0, bc0, bk0, held0)

	rng := rand.New(rand.NewPCG(13, 5))
	const n, batch = 30_000, 1000
	began := time.Now()
	rejected := 0
	for b := 0; b < n/batch; b++ {
		code, body := s.post("/api/v1/tickets", worldTickets(rng, fmt.Sprintf("w%d", b), batch, now.Add(-90*time.Minute)))
		res := decodeResult(t, code, body)
		for _, it := range res.Items {
			if it.Status != ticket.StatusRejected {
				continue
			}
			rejected++
			if rejected == 1 {
				t.Logf("reason: %s", it.Reason)
			}
			if !strings.Contains(it.Reason, "lat,lng") || !strings.Contains(it.Reason, "out of the city's area") {
				t.Fatalf("%s rejected for %q, want lat,lng out of the city's area", it.ID, it.Reason)
			}
		}
	}
	// The baseline takes what has left the alert windows at its next scan.
	time.Sleep(2 * time.Second)
	cells1, heap1 := s.app.Res9Cells(), heapMiB()
	bc1, bk1 := s.app.BaselineSize()
	held1 := s.app.TicketsHeld()
	t.Logf("after %d tickets at random points of the Earth (%s): heap %.1f MiB, res-9 cells %d, baseline %d cells %d categories, %d tickets held",
		n, time.Since(began).Round(time.Millisecond), heap1, cells1, bc1, bk1, held1)

	// A few may fall in the city's box by chance; none did with this seed.
	if rejected != n {
		t.Errorf("%d of %d tickets at random points of the Earth rejected", rejected, n)
	}
	if got, _ := metric(t, s.reg, "citywall_ingest_tickets_total", map[string]string{"result": "rejected", "reason": "out_of_area"}); got != float64(rejected) {
		t.Errorf("citywall_ingest_tickets_total{result=rejected,reason=out_of_area} = %v, want %d", got, rejected)
	}
	if cells1 != cells0 {
		t.Errorf("res-9 cells %d → %d", cells0, cells1)
	}
	if bc1 != bc0 || bk1 != bk0 {
		t.Errorf("baseline %d cells %d categories → %d cells %d categories", bc0, bk0, bc1, bk1)
	}
	if held1 != held0 {
		t.Errorf("tickets held %d → %d", held0, held1)
	}

	// Tickets in the city are still taken, and so is one a little outside
	// every district (the margin: a district's outline is rough, the sea
	// shore moves).
	inside("in-after", 40, time.Now().Add(-time.Second))
	// A batch mixing both keeps each answer in its place.
	la, lo := spot(t, 3)
	code, res := s.postTickets(array(newTicket("mix-1", la, lo), newTicket("mix-2", 48.8566, 2.3522),
		newTicket("mix-1", la, lo), newTicket("mix-3", la, lo)))
	want := []ticket.PostStatus{ticket.StatusAccepted, ticket.StatusRejected, ticket.StatusDuplicate, ticket.StatusAccepted}
	if code != http.StatusOK || len(res.Items) != len(want) {
		t.Fatalf("mixed batch: %d %+v", code, res)
	}
	for i, w := range want {
		if it := res.Items[i]; it.Status != w || it.Index != i || (w == ticket.StatusRejected) != strings.Contains(it.Reason, "city's area") {
			t.Errorf("mixed batch item %d: %+v, want %s", i, it, w)
		}
	}
	// A ticket without coordinates is answered as before the area: the
	// point is required.
	code, res = s.postTickets(array(newTicket("no-point", 0, 0).with("lat", nil, "lng", nil)))
	if code != http.StatusUnprocessableEntity || len(res.Items) != 1 || res.Items[0].Reason != "lat: required" {
		t.Errorf("a ticket without coordinates: %d %+v", code, res)
	}
	lat, lng := borderPlus(t, 2)
	code, res = s.postTickets(array(newTicket("near-border", lat, lng)))
	if code != http.StatusOK || res.Accepted != 1 {
		t.Errorf("a ticket 2 km beyond the districts' box: %d %+v", code, res)
	}
}

// borderPlus is a point km kilometres north of the districts' northernmost
// vertex.
func borderPlus(t *testing.T, km float64) (lat, lng float64) {
	t.Helper()
	lat = -90.0
	for _, d := range city.Districts() {
		for _, p := range d.Polygon {
			if p[0] > lat {
				lat, lng = p[0], p[1]
			}
		}
	}
	return lat + km/111.2, lng
}
