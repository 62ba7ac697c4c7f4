package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/storage/disklog"
)

func diskPipeline(t *testing.T, dir string, maxBytes int64) (*ingest.Pipeline, *ticket.Store, *disklog.Log) {
	t.Helper()
	l, err := disklog.Open(disklog.Options{Dir: dir, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	p, store := newPipeline(t, func(apply ingest.ApplyFunc) (ingest.Backend, error) {
		return ingest.NewDisk(ingest.DiskOptions{Log: l}, apply), nil
	})
	return p, store, l
}

// runPipeline runs p until the test ends or stop is called.
func runPipeline(t *testing.T, p *ingest.Pipeline) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { p.Run(ctx) })
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	testkit.Eventually(t, "replayed", 5*time.Second, 5*time.Millisecond, func() bool { return p.NotReady() == "" })
	return stop
}

// TestDiskStoresThenApplies: nothing is taken before the replay; what is
// answered is stored and comes back, in its order, after a restart.
func TestDiskStoresThenApplies(t *testing.T) {
	dir := t.TempDir()
	p, store, l := diskPipeline(t, dir, 0)
	if why := p.NotReady(); !strings.Contains(why, "replaying") {
		t.Fatalf("NotReady before Run: %q", why)
	}
	_, err := p.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{tk(t, "early", "城市管理")}})
	var u *ingest.UnavailableError
	if !errors.As(err, &u) || u.Code != ingest.CodeStorageUnavailable || !strings.Contains(u.Reason, "nothing was accepted") {
		t.Fatalf("submit while replaying: %v", err)
	}
	stop := runPipeline(t, p)
	a, b := tk(t, "a", "城市管理"), tk(t, "b", "城市管理")
	res, err := p.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{a, b}})
	if err != nil || res.Items[0].Status != ticket.StatusAccepted {
		t.Fatalf("submit: %+v %v", res, err)
	}
	b2 := b
	b2.Summary = "other"
	if res, _ := p.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{b2}}); res.Items[0].Status != ticket.StatusRejected {
		t.Fatalf("conflict live: %+v", res)
	}
	p.EmitTicket(tk(t, "emitted", "城市管理"))
	testkit.Eventually(t, "the emitted ticket applied", 5*time.Second, 5*time.Millisecond, func() bool {
		_, ok := store.Get("emitted")
		return ok
	})
	stop()
	_ = l.Close()

	p2, store2, _ := diskPipeline(t, dir, 0)
	runPipeline(t, p2)
	for _, id := range []string{"a", "b", "emitted"} {
		if _, ok := store2.Get(id); !ok {
			t.Fatalf("%s not replayed", id)
		}
	}
	if st, _ := store2.Get("b"); st.Ticket.Summary != b.Summary {
		t.Fatalf("replay let the conflicting post win: %+v", st.Ticket)
	}
	if res, _ := p2.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{a}}); res.Items[0].Status != ticket.StatusDuplicate {
		t.Fatalf("retry after restart: %+v", res)
	}
}

// TestDiskFullAnswersUnavailable: a log at its bound refuses with a
// reason and applies nothing.
func TestDiskFullAnswersUnavailable(t *testing.T) {
	p, store, _ := diskPipeline(t, t.TempDir(), 1<<10)
	runPipeline(t, p)
	var err error
	n := 0
	for ; n < 100 && err == nil; n++ {
		_, err = p.Submit(context.Background(), ingest.Batch{Kind: ingest.KindTickets, Tickets: []ticket.Ticket{tk(t, "f"+string(rune('a'+n)), "城市管理")}})
	}
	var u *ingest.UnavailableError
	if !errors.As(err, &u) || !strings.Contains(u.Reason, "storage.max_bytes") || !strings.Contains(u.Reason, "nothing was accepted") {
		t.Fatalf("at the bound: %v", err)
	}
	if store.Len() != n-1 {
		t.Fatalf("store holds %d, %d acknowledged", store.Len(), n-1)
	}
}

// TestDiskEmitAfterStopReturns: once Run has returned (the server is
// stopping), an emit into a full queue returns at once instead of holding
// the caller — and with it the server's shutdown — for emitWait each.
func TestDiskEmitAfterStopReturns(t *testing.T) {
	p, _, _ := diskPipeline(t, t.TempDir(), 0)
	stop := runPipeline(t, p)
	stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 1<<14 + 10 { // past the queue's capacity
			p.EmitTicket(tk(t, fmt.Sprintf("late-%d", i), "城市管理"))
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second): // emitWait is 30 s: one blocked emit exceeds this
		t.Fatal("EmitTicket blocked after the backend stopped")
	}
}
