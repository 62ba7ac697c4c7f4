package ingest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/stream"
)

// newPipeline is a pipeline over real parts: a store, an engine, a hub on
// the in-memory broker, a feed without stations and a KPI tracker.
func newPipeline(t *testing.T, backend func(ingest.ApplyFunc) (ingest.Backend, error), opts ...func(*ingest.Options)) (*ingest.Pipeline, *ticket.Store) {
	t.Helper()
	now := time.Now()
	eng, err := geo.NewEngine(geo.Options{}, now)
	if err != nil {
		t.Fatal(err)
	}
	hub := stream.New(stream.Options{}, stream.NewMemoryBroker(), prometheus.NewRegistry(), nil)
	t.Cleanup(func() { _ = hub.Close() })
	feed, err := feeds.New(feeds.Options{Publisher: hub})
	if err != nil {
		t.Fatal(err)
	}
	store := ticket.NewStore(ticket.StoreOptions{})
	o := ingest.Options{
		Store: store, Engine: eng, Hub: hub, Readings: feed, Calls: kpi.New(kpi.Options{}),
		Backend:    backend,
		Registerer: prometheus.NewRegistry(),
	}
	for _, f := range opts {
		f(&o)
	}
	p, err := ingest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p, store
}

func tk(t *testing.T, id, category string) ticket.Ticket {
	t.Helper()
	x := ticket.Ticket{ID: id, Channel: ticket.ChannelPhone, Category: category, Lat: 20.03, Lng: 110.33, Created: time.Now().Add(-time.Minute)}
	if err := x.Normalize(time.Now()); err != nil {
		t.Fatal(err)
	}
	return x
}

func TestLocalAppliesAtOnce(t *testing.T) {
	p, store := newPipeline(t, nil)
	ctx := context.Background()
	a := tk(t, "a", "城市管理")
	res, err := p.Submit(ctx, ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{a, a}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 2 || res.Items[0].Status != ticket.StatusAccepted || res.Items[1].Status != ticket.StatusDuplicate {
		t.Fatalf("items = %+v, want accepted then duplicate", res.Items)
	}
	if store.Len() != 1 {
		t.Fatalf("store holds %d tickets, want 1", store.Len())
	}
	if _, n, _ := p.Today(); n != 1 {
		t.Fatalf("today's count = %d, want 1", n)
	}
	ev := ticket.Event{Ticket: "a", Type: ticket.EventDispatched, Time: time.Now(), Department: "水务局"}
	if err := ev.Normalize(time.Now()); err != nil {
		t.Fatal(err)
	}
	res, _ = p.Submit(ctx, ingest.Batch{Kind: ingest.KindEvents, Events: []ticket.Event{ev, {Ticket: "nope", Type: ticket.EventDispatched, Time: time.Now()}}})
	if res.Items[0].Status != ticket.StatusAccepted || res.Items[1].Status != ticket.StatusRejected {
		t.Fatalf("events = %+v, want accepted then rejected (unknown ticket)", res.Items)
	}
	if why := p.NotReady(); why != "" {
		t.Fatalf("local backend not ready: %s", why)
	}
}

// TestFillsDistrict: a ticket without a district gets the one its
// position is in; one with a district keeps it; one outside every
// district stays without.
func TestFillsDistrict(t *testing.T) {
	west := geo.District{Name: "西区", Polygon: [][2]float64{{20, 110}, {20.1, 110}, {20.1, 110.3}, {20, 110.3}}}
	east := geo.District{Name: "东区", Polygon: [][2]float64{{20, 110.3}, {20.1, 110.3}, {20.1, 110.6}, {20, 110.6}}}
	p, store := newPipeline(t, nil, func(o *ingest.Options) { o.Districts = []geo.District{west, east} })
	a, b, c, d := tk(t, "a", "城市管理"), tk(t, "b", "城市管理"), tk(t, "c", "城市管理"), tk(t, "d", "城市管理")
	a.Lng = 110.2
	b.Lng = 110.4
	c.Lng, c.District = 110.4, "西区"
	d.Lat = 19.5
	in := []ticket.Ticket{a, b, c}
	if _, err := p.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: in}); err != nil {
		t.Fatal(err)
	}
	p.EmitTicket(d)
	if in[0].District != "" {
		t.Error("Submit changed the caller's tickets")
	}
	for id, want := range map[string]string{"a": "西区", "b": "东区", "c": "西区", "d": ""} {
		testkit.Eventually(t, "ticket "+id+" stored", 5*time.Second, 5*time.Millisecond, func() bool { _, ok := store.Get(id); return ok })
		st, _ := store.Get(id)
		if st.Ticket.District != want {
			t.Errorf("ticket %s: district %q, want %q", id, st.Ticket.District, want)
		}
	}
}

// TestOutsideTheArea: tickets outside the city's area are rejected before
// they are stored, in their place in the batch, with a reason naming
// lat,lng and, when swapping them would put the point inside, saying so;
// a simulated one outside is dropped too.
func TestOutsideTheArea(t *testing.T) {
	area, err := geo.NewArea([][2]float64{{40, 20}, {40, 21}, {41, 21}, {41, 20}})
	if err != nil {
		t.Fatal(err)
	}
	p, store := newPipeline(t, nil, func(o *ingest.Options) { o.Area = area })
	in, out, swapped, emitted := tk(t, "in", "城市管理"), tk(t, "out", "城市管理"), tk(t, "swapped", "城市管理"), tk(t, "emitted", "城市管理")
	in.Lat, in.Lng = 40.5, 20.5
	out.Lat, out.Lng = 20.03, 110.33
	swapped.Lat, swapped.Lng = 20.5, 40.5
	emitted.Lat, emitted.Lng = 0.5, 0.5
	res, err := p.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{out, in, swapped}})
	if err != nil {
		t.Fatal(err)
	}
	p.EmitTicket(emitted)
	if len(res.Items) != 3 {
		t.Fatalf("%d answers for 3 tickets: %+v", len(res.Items), res)
	}
	for i, want := range []struct {
		id, status, reason string
	}{
		{"out", "rejected", `lat,lng: "20.03,110.33" out of the city's area (a polygon of 4 vertices within lat 40.0000..41.0000, lng 20.0000..21.0000)`},
		{"in", "accepted", ""},
		{"swapped", "rejected", "; lat and lng swapped?"},
	} {
		it := res.Items[i]
		if it.ID != want.id || string(it.Status) != want.status || !strings.Contains(it.Reason, want.reason) || (want.reason == "") != (it.Reason == "") {
			t.Errorf("item %d: %+v, want %s %s %q", i, it, want.id, want.status, want.reason)
		}
	}
	testkit.Eventually(t, "the ticket inside stored", 5*time.Second, 5*time.Millisecond, func() bool { _, ok := store.Get("in"); return ok })
	for _, id := range []string{"out", "swapped", "emitted"} {
		if _, ok := store.Get(id); ok {
			t.Errorf("ticket %s outside the area was stored", id)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	b := ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{tk(t, "x", "城市管理")}}
	data, err := ingest.Encode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ingest.Decode(ingest.KindTickets, data)
	if err != nil || len(got.Tickets) != 1 || got.Tickets[0].ID != "x" {
		t.Fatalf("Decode = %+v, %v", got, err)
	}
	if _, err := ingest.Decode("nonsense", data); err == nil {
		t.Fatal("unknown kind decoded")
	}
	if _, err := ingest.Decode(ingest.KindReadings, []byte("{")); err == nil {
		t.Fatal("malformed readings decoded")
	}
}

// TestRedisSharesOneOrder: two pipelines on one ingest stream apply the
// same batches in the same order, so of two conflicting tickets the same
// one wins on both; a submit answers once its own instance applied it.
func TestRedisSharesOneOrder(t *testing.T) {
	addr := redistest.Addr(t)
	key := "{" + redistest.Prefix(t) + "}:ingest"
	var backends []*ingest.Redis
	var pipes []*ingest.Pipeline
	var stores []*ticket.Store
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, id := range []string{"one", "two"} {
		p, store := newPipeline(t, func(apply ingest.ApplyFunc) (ingest.Backend, error) {
			r := ingest.NewRedis(ingest.RedisOptions{Client: redistest.Client(t, addr), Key: key, Retention: time.Hour, Instance: id}, apply)
			backends = append(backends, r)
			return r, nil
		})
		go p.Run(ctx)
		pipes, stores = append(pipes, p), append(stores, store)
	}
	for _, p := range pipes {
		testkit.Eventually(t, "backend ready", 10*time.Second, 10*time.Millisecond, func() bool { return p.NotReady() == "" })
	}
	res, err := pipes[0].Submit(ctx, ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{tk(t, "c", "城市管理")}})
	if err != nil || res.Items[0].Status != ticket.StatusAccepted {
		t.Fatalf("first post: %+v, %v", res, err)
	}
	res, err = pipes[1].Submit(ctx, ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{tk(t, "c", "环境保护")}})
	if err != nil || res.Items[0].Status != ticket.StatusRejected || !strings.Contains(res.Items[0].Reason, "already used") {
		t.Fatalf("conflicting post: %+v, %v", res, err)
	}
	testkit.Eventually(t, "both hold the first ticket", 10*time.Second, 10*time.Millisecond, func() bool {
		for _, s := range stores {
			st, ok := s.Get("c")
			if !ok || st.Ticket.Category != "城市管理" {
				return false
			}
		}
		return true
	})
	pipes[1].EmitTicket(tk(t, "d", "城市管理"))
	testkit.Eventually(t, "an emitted ticket reaches both", 10*time.Second, 10*time.Millisecond, func() bool {
		_, ok0 := stores[0].Get("d")
		_, ok1 := stores[1].Get("d")
		return ok0 && ok1
	})
	if !backends[0].Up() {
		t.Fatal("backend says Redis is down")
	}
}
