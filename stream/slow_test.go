package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/stream"
)

// A client that stops reading is disconnected once its queue passes
// QueueBytes, while the publisher never waits and the clients that keep up
// receive every delta in order.
func TestStalledClientIsDisconnected(t *testing.T) {
	const (
		topic  = "heat/8/1h/all"
		normal = 3
		total  = 2000
		size   = 4 << 10 // bytes of padding per delta
		// The publisher keeps at most this many deltas ahead of the slowest
		// reading client, so their queues stay well under QueueBytes however
		// the scheduler runs them; the stalled client is not waited for.
		window = 8
	)
	f := newFixture(t, fixtureConfig{opts: stream.Options{QueueBytes: 64 << 10}, sndbuf: 32 << 10})

	stalled, _, err := f.dialWith(dialConfig{rcvbuf: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.conn.Close()
	if err := stalled.sendRaw(`{"op":"subscribe","id":1,"topic":"` + topic + `"}`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the stalled client to subscribe", func() bool { return f.hub.Subscribers(topic) == 1 })

	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		progress = make([]uint64, normal) // last seq each client received
		failed   bool
	)
	type result struct {
		delays []time.Duration
		err    error
	}
	results := make([]result, normal)
	var readers sync.WaitGroup
	for i := range normal {
		c := f.dial(t)
		snap := c.subscribe(t, topic)
		if snap.Seq != 0 {
			t.Fatalf("snapshot %v, want seq 0", snap)
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			r := &results[i]
			defer func() {
				if r.err != nil {
					mu.Lock()
					failed = true
					cond.Broadcast()
					mu.Unlock()
				}
			}()
			for want := uint64(1); want <= total; want++ {
				m, err := c.read()
				if err != nil {
					r.err = fmt.Errorf("client %d waiting for seq %d: %w", i, want, err)
					return
				}
				if m.Type != "delta" || m.Seq != want {
					r.err = fmt.Errorf("client %d: got %v, want delta seq %d", i, m, want)
					return
				}
				var d struct {
					Set struct {
						Sent int64 `json:"sent"`
					} `json:"set"`
				}
				if err := json.Unmarshal(m.Data, &d); err != nil {
					r.err = fmt.Errorf("client %d: %v", i, err)
					return
				}
				r.delays = append(r.delays, m.Received.Sub(time.Unix(0, d.Set.Sent)))
				mu.Lock()
				progress[i] = m.Seq
				cond.Broadcast()
				mu.Unlock()
			}
			if _, err := c.send(map[string]any{"op": "ping"}); err != nil {
				r.err = err
				return
			}
			if m, err := c.read(); err != nil || m.Type != "pong" {
				r.err = fmt.Errorf("client %d after the last delta: %v %v, want pong", i, m, err)
			}
		}()
	}
	waitFor(t, "everyone to subscribe", func() bool { return f.hub.Subscribers(topic) == normal+1 })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pad := raw(strings.Repeat("x", size))
	var slowest time.Duration
	published := make(chan error, 1)
	go func() {
		for seq := uint64(1); seq <= total; seq++ {
			mu.Lock()
			for !failed && slices.Min(progress)+window < seq {
				cond.Wait()
			}
			stop := failed
			mu.Unlock()
			if stop {
				published <- errors.New("a reading client failed")
				return
			}
			now := time.Now()
			set := map[string]json.RawMessage{"pad": pad, "sent": raw(now.UnixNano())}
			if err := f.hub.PublishState(ctx, topic, set, nil, now); err != nil {
				published <- err
				return
			}
			slowest = max(slowest, time.Since(now))
		}
		published <- nil
	}()
	select {
	case err := <-published:
		if err != nil {
			t.Errorf("publishing: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the publisher did not get through its deltas: it blocked")
	}
	readers.Wait()
	for _, r := range results {
		if r.err != nil {
			t.Error(r.err)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("slowest publish call: %v", slowest)
	for i, r := range results {
		slices.Sort(r.delays)
		t.Logf("client %d: %d deltas, delay p50 %v p99 %v max %v", i, len(r.delays),
			r.delays[len(r.delays)/2], r.delays[len(r.delays)*99/100], r.delays[len(r.delays)-1])
	}

	waitFor(t, "the stalled client to be dropped", func() bool { return f.hub.Stats().Connections == normal })
	if n := f.hub.Subscribers(topic); n != normal {
		t.Errorf("subscribers = %d, want %d", n, normal)
	}
	if v := metricValue(t, f.reg, "citywall_hub_slow_disconnects_total"); v < 1 {
		t.Errorf("slow disconnects = %v, want ≥ 1", v)
	}
	if v := metricValue(t, f.reg, "citywall_hub_messages_dropped_total"); v < 1 {
		t.Errorf("dropped messages = %v, want ≥ 1", v)
	}

	// The stalled client finds, after what had reached it, a close 4001 or
	// the end of the connection; what it got was in order.
	var last uint64
	var end error
	for {
		m, err := stalled.read()
		if err != nil {
			end = err
			break
		}
		if m.Type == "delta" {
			if m.Seq != last+1 {
				t.Fatalf("stalled client: got %v after seq %d", m, last)
			}
			last = m.Seq
		}
	}
	var ne net.Error
	switch code := closeCode(end); {
	case code == stream.CloseSlow, code == 1006:
	case code == 0 && errors.As(end, &ne) && !ne.Timeout():
	default:
		t.Fatalf("stalled client's connection ended with %v, want close %d or EOF", end, stream.CloseSlow)
	}
	t.Logf("stalled client received deltas 1..%d of %d, then: %v", last, total, end)
}
