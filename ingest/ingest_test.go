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
func newPipeline(t *testing.T, backend func(ingest.ApplyFunc) (ingest.Backend, error)) (*ingest.Pipeline, *ticket.Store) {
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
	p, err := ingest.New(ingest.Options{
		Store: store, Engine: eng, Hub: hub, Readings: feed, Calls: kpi.New(kpi.Options{}),
		Backend:    backend,
		Registerer: prometheus.NewRegistry(),
	})
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
