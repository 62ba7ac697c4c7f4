package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// BenchmarkPublishFanout measures one state publication queued to its
// subscribers: the delta encoded once, then appended to every client's
// queue. The clients have no connection: each is marked as having a writer
// running, so enqueue starts none, and the benchmark empties the queues
// itself every few publications, outside the timed part, so that they stay
// under QueueBytes (a slow close would need a connection).
func BenchmarkPublishFanout(b *testing.B) {
	for _, subs := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subs), func(b *testing.B) {
			h := New(Options{}, NewMemoryBroker(), nil, nil)
			const name = "heat/8/1h/all"
			t, err := h.topic(name, KindState)
			if err != nil {
				b.Fatal(err)
			}
			clients := make([]*client, subs)
			for i := range clients {
				c := newClient(h, nil, Peer{Name: "bench"})
				c.writing = true
				t.subscribeLive(c, 0, false, "", 0)
				clients[i] = c
			}
			drain := func() {
				for _, c := range clients {
					c.mu.Lock()
					clear(c.queue)
					c.queue, c.bytes = c.queue[:0], 0
					c.mu.Unlock()
				}
			}
			drain() // the snapshots
			set := map[string]json.RawMessage{"882a1072b59ffff": json.RawMessage("17")}
			ctx := context.Background()
			origin := time.Now()
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if err := h.PublishState(ctx, name, set, nil, origin); err != nil {
					b.Fatal(err)
				}
				if n++; n%256 == 0 {
					b.StopTimer()
					drain()
					b.StartTimer()
				}
			}
			if c := clients[0]; c.closed {
				b.Fatalf("a subscriber was closed (%d %s)", c.code, c.reason)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subs), "ns/subscriber")
		})
	}
}

// BenchmarkEncodeDelta encodes a heat delta of 20 changed cells and 5 that
// went to zero, then wraps it in its envelope as applyLive does.
func BenchmarkEncodeDelta(b *testing.B) {
	set := map[string]json.RawMessage{}
	for i := range 20 {
		set[fmt.Sprintf("882a1072%07x", i)] = json.RawMessage(strconv.Itoa(i * 3))
	}
	var del []string
	for i := range 5 {
		del = append(del, fmt.Sprintf("882a1073%07x", i))
	}
	nameJSON := appendJSONString(nil, "heat/8/1h/all")
	b.ReportAllocs()
	var n int
	for b.Loop() {
		data := encodeDelta(set, del)
		m := newEnvelope("delta", len(data)+len(nameJSON)+8).
			raw("topic", nameJSON).str("epoch", "Q7K2M9AB").uint("seq", 1234).raw("data", data).bytes()
		n = len(m)
	}
	b.SetBytes(int64(n))
}
