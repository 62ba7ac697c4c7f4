package stream_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/stream"
)

func TestHelloFirst(t *testing.T) {
	f := newFixture(t, fixtureConfig{opts: stream.Options{Build: "3f9c2a1"}})
	c, _, err := f.dialWith(dialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	m := c.expect(t, "hello")
	if m.Build != "3f9c2a1" || m.Name != "t" || len(m.Roles) != 1 || m.Roles[0] != "wall" {
		t.Errorf("hello = %+v, want build 3f9c2a1, name t, roles [wall]", m)
	}
	if _, err := time.Parse(time.RFC3339, m.Time); err != nil {
		t.Errorf("hello time: %v", err)
	}
}

func TestStateTopicSnapshotThenDeltas(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	const topic = "heat/8/1h/all"
	model := state{}
	pub := func(set map[string]any, del ...string) {
		t.Helper()
		publishState(t, f.hub, topic, set, del...)
		for k, v := range set {
			model[k] = compact(raw(v))
		}
		for _, k := range del {
			delete(model, k)
		}
	}
	pub(map[string]any{"a": 1, "b": 2, "c": 3})
	pub(map[string]any{"a": 10}, "b")

	c := f.dial(t)
	snap := c.subscribe(t, topic)
	if snap.Seq != 2 || snap.Epoch != f.hub.Epoch() {
		t.Fatalf("snapshot %v, want seq 2 epoch %q", snap, f.hub.Epoch())
	}
	got := state{}
	if err := got.applySnapshot(snap.Data); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, model) {
		t.Fatalf("snapshot state %v, want %v", got, model)
	}

	steps := []struct {
		set     map[string]any
		del     []string
		wantSet bool
		wantDel bool
	}{
		{set: map[string]any{"d": map[string]any{"count": 4, "trend": 0.25}}, wantSet: true},
		{del: []string{"a"}, wantDel: true},
		{set: map[string]any{"c": 30, "城市管理": "x"}, del: []string{"d", "missing"}, wantSet: true, wantDel: true},
	}
	for i, s := range steps {
		pub(s.set, s.del...)
		m := c.expect(t, "delta")
		if m.Topic != topic || m.Epoch != snap.Epoch || m.Seq != snap.Seq+uint64(i)+1 {
			t.Fatalf("delta %d: %v, want topic %q epoch %q seq %d", i, m, topic, snap.Epoch, snap.Seq+uint64(i)+1)
		}
		d, err := decodeDelta(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		if (d.Set != nil) != s.wantSet || (d.Del != nil) != s.wantDel {
			t.Errorf("delta %d data %s: want set present %v, del present %v", i, m.Data, s.wantSet, s.wantDel)
		}
		if err := got.applyDelta(m.Data); err != nil {
			t.Fatal(err)
		}
	}
	if !maps.Equal(got, model) {
		t.Errorf("snapshot+deltas = %v, want %v", got, model)
	}

	// A second subscriber's snapshot is the hub's state: the same map.
	c2 := f.dial(t)
	snap2 := c2.subscribe(t, topic)
	if snap2.Seq != snap.Seq+uint64(len(steps)) {
		t.Errorf("second snapshot seq %d, want %d", snap2.Seq, snap.Seq+uint64(len(steps)))
	}
	hubState := state{}
	if err := hubState.applySnapshot(snap2.Data); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, hubState) {
		t.Errorf("snapshot+deltas = %v, hub state %v", got, hubState)
	}

	// Publishing nothing is not a delta.
	publishState(t, f.hub, topic, nil)
	c.ping(t)
}

func TestEmptyStateTopic(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	c := f.dial(t)
	snap := c.subscribe(t, "heat/9/15m/all")
	if snap.Seq != 0 || string(snap.Data) != "{}" {
		t.Fatalf("snapshot of a new topic %v, want seq 0 and {}", snap)
	}
	publishState(t, f.hub, "heat/9/15m/all", map[string]any{"k": 1})
	if m := c.expect(t, "delta"); m.Seq != 1 {
		t.Fatalf("first delta %v, want seq 1", m)
	}
}

type ticketEvent struct {
	N    int            `json:"n"`
	Data map[string]int `json:"data,omitempty"`
}

func TestEventTopic(t *testing.T) {
	const maxEvents = 5
	f := newFixture(t, fixtureConfig{opts: stream.Options{MaxEvents: maxEvents}})

	c0 := f.dial(t)
	if snap := c0.subscribe(t, "events/empty"); snap.Seq != 0 || string(snap.Data) != "[]" {
		t.Fatalf("snapshot of an empty event topic %v, want seq 0 and []", snap)
	}

	for n := 1; n <= 8; n++ {
		publishEvent(t, f.hub, "tickets", ticketEvent{N: n})
	}
	c := f.dial(t)
	snap := c.subscribe(t, "tickets")
	if snap.Seq != 8 {
		t.Fatalf("snapshot seq %d, want 8", snap.Seq)
	}
	var evs []ticketEvent
	if err := json.Unmarshal(snap.Data, &evs); err != nil {
		t.Fatalf("snapshot data %s: %v", snap.Data, err)
	}
	var ns []int
	for _, e := range evs {
		ns = append(ns, e.N)
	}
	if fmt.Sprint(ns) != "[4 5 6 7 8]" {
		t.Fatalf("snapshot events %v, want the last %d oldest first: [4 5 6 7 8]", ns, maxEvents)
	}

	for n := 9; n <= 10; n++ {
		publishEvent(t, f.hub, "tickets", ticketEvent{N: n})
		m := c.expect(t, "delta")
		var e ticketEvent
		if err := json.Unmarshal(m.Data, &e); err != nil {
			t.Fatalf("delta data %s: %v", m.Data, err)
		}
		if m.Seq != uint64(n) || e.N != n || m.Topic != "tickets" {
			t.Fatalf("delta %v, want seq %d carrying event %d", m, n, n)
		}
	}
}

// An event may itself have a "data" key; the event snapshot must still carry
// the whole event.
// So may a topic name.
func TestEventSnapshotWithDataKey(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	want := []ticketEvent{
		{N: 1, Data: map[string]int{"x": 1}},
		{N: 2},
		{N: 3, Data: map[string]int{"y": 2}},
	}
	for _, topic := range []string{"tickets", `events/a,"data":[1]`} {
		for _, e := range want {
			publishEvent(t, f.hub, topic, e)
		}
		c := f.dial(t)
		snap := c.subscribe(t, topic)
		var got []ticketEvent
		if err := json.Unmarshal(snap.Data, &got); err != nil {
			t.Fatalf("%s: snapshot data %s: %v", topic, snap.Data, err)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: snapshot events %v, want %v", topic, got, want)
		}
	}
}

func TestResume(t *testing.T) {
	const history = 8
	f := newFixture(t, fixtureConfig{opts: stream.Options{History: history}})

	cases := []struct {
		name     string
		missed   int // publications while disconnected
		epoch    string
		seqAhead uint64 // resume from a seq past the last one
		resumed  bool
	}{
		{name: "gap within history", missed: 5, resumed: true},
		{name: "nothing missed", missed: 0, resumed: true},
		{name: "gap of exactly history", missed: history, resumed: true},
		{name: "gap beyond history", missed: history + 1},
		{name: "wrong epoch", missed: 2, epoch: "oldepoch"},
		{name: "seq ahead of topic", missed: 1, seqAhead: 3},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			topic := fmt.Sprintf("heat/resume/%d", i)
			model := state{}
			n := 0
			pub := func() {
				n++
				k := fmt.Sprintf("k%d", n%3)
				if n%4 == 0 {
					publishState(t, f.hub, topic, nil, k)
					delete(model, k)
					return
				}
				publishState(t, f.hub, topic, map[string]any{k: n})
				model[k] = compact(raw(n))
			}
			pub()
			pub()

			// A reads up to seq lastSeq and goes away.
			a := f.dial(t)
			snap := a.subscribe(t, topic)
			got := state{}
			if err := got.applySnapshot(snap.Data); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				pub()
			}
			lastSeq := snap.Seq
			for range 3 {
				m := a.expect(t, "delta")
				if m.Seq != lastSeq+1 {
					t.Fatalf("delta %v after seq %d", m, lastSeq)
				}
				lastSeq = m.Seq
				if err := got.applyDelta(m.Data); err != nil {
					t.Fatal(err)
				}
			}
			_ = a.conn.Close()
			waitFor(t, "A to be dropped", func() bool { return f.hub.Subscribers(topic) == 0 })

			for range tc.missed {
				pub()
			}

			b := f.dial(t)
			epoch := snap.Epoch
			if tc.epoch != "" {
				epoch = tc.epoch
			}
			id := b.mustSend(t, map[string]any{"op": "subscribe", "topic": topic, "epoch": epoch, "seq": lastSeq + tc.seqAhead})
			m := b.mustRead(t)
			if tc.resumed {
				if m.Type != "resumed" || m.ID != id || m.Topic != topic || m.Epoch != snap.Epoch || m.Seq != lastSeq {
					t.Fatalf("got %v, want resumed id %d seq %d", m, id, lastSeq)
				}
				for want := lastSeq + 1; want <= lastSeq+uint64(tc.missed); want++ {
					d := b.expect(t, "delta")
					if d.Seq != want || d.Topic != topic {
						t.Fatalf("got %v, want delta seq %d", d, want)
					}
					if err := got.applyDelta(d.Data); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				if m.Type != "snapshot" || m.Topic != topic || m.Epoch != f.hub.Epoch() || m.Seq != uint64(n) {
					t.Fatalf("got %v, want a fresh snapshot at seq %d", m, n)
				}
				if err := got.applySnapshot(m.Data); err != nil {
					t.Fatal(err)
				}
			}
			b.ping(t) // nothing else was queued
			if !maps.Equal(got, model) {
				t.Errorf("state after reconnect %v, want %v", got, model)
			}

			// Live deltas follow on.
			pub()
			if d := b.expect(t, "delta"); d.Seq != uint64(n) {
				t.Fatalf("live delta %v, want seq %d", d, n)
			}
		})
	}
	if v := metricValue(t, f.reg, "citywall_hub_subscribes_total", "start", "resumed"); v != 3 {
		t.Errorf("resumed subscribes = %v, want 3", v)
	}
}

func TestResumeEventTopic(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	for n := 1; n <= 3; n++ {
		publishEvent(t, f.hub, "tickets", ticketEvent{N: n})
	}
	for n := 4; n <= 6; n++ {
		publishEvent(t, f.hub, "tickets", ticketEvent{N: n})
	}
	c := f.dial(t)
	id := c.mustSend(t, map[string]any{"op": "subscribe", "topic": "tickets", "epoch": f.hub.Epoch(), "seq": 3})
	if m := c.expect(t, "resumed"); m.ID != id || m.Seq != 3 {
		t.Fatalf("got %v, want resumed id %d seq 3", m, id)
	}
	for n := 4; n <= 6; n++ {
		m := c.expect(t, "delta")
		var e ticketEvent
		if err := json.Unmarshal(m.Data, &e); err != nil || e.N != n || m.Seq != uint64(n) {
			t.Fatalf("got %v (%v), want event %d", m, err, n)
		}
	}
	c.ping(t)
}

// Subscribing twice to a topic restarts it with a snapshot and does not
// double the deltas.
func TestSubscribeTwice(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	publishState(t, f.hub, "hot/1h", map[string]any{"a": 1})
	c := f.dial(t)
	c.subscribe(t, "hot/1h")
	c.subscribe(t, "hot/1h")
	if n := f.hub.Subscribers("hot/1h"); n != 1 {
		t.Fatalf("subscribers = %d, want 1", n)
	}
	publishState(t, f.hub, "hot/1h", map[string]any{"a": 2})
	if m := c.expect(t, "delta"); m.Seq != 2 {
		t.Fatalf("got %v, want delta seq 2", m)
	}
	c.ping(t)
	if v := metricValue(t, f.reg, "citywall_hub_subscriptions"); v != 1 {
		t.Errorf("subscriptions gauge = %v, want 1", v)
	}
}

func TestTopicRelease(t *testing.T) {
	f := newFixture(t, fixtureConfig{})
	publishState(t, f.hub, "heat/kept", map[string]any{"a": 1})
	base := f.hub.Stats().Topics
	if base != 1 {
		t.Fatalf("topics = %d, want 1", base)
	}

	c := f.dial(t)
	const n = 50
	for i := range n {
		c.subscribe(t, fmt.Sprintf("heat/made-up/%d", i))
	}
	c.subscribe(t, "heat/kept")
	if got := f.hub.Stats().Topics; got != base+n {
		t.Fatalf("topics while subscribed = %d, want %d", got, base+n)
	}
	for i := range n {
		topic := fmt.Sprintf("heat/made-up/%d", i)
		id := c.mustSend(t, map[string]any{"op": "unsubscribe", "topic": topic})
		if m := c.expect(t, "unsubscribed"); m.ID != id || m.Topic != topic {
			t.Fatalf("got %v, want unsubscribed id %d topic %q", m, id, topic)
		}
	}
	c.mustSend(t, map[string]any{"op": "unsubscribe", "topic": "heat/kept"})
	c.expect(t, "unsubscribed")
	if got := f.hub.Stats().Topics; got != base {
		t.Fatalf("topics after unsubscribing = %d, want %d", got, base)
	}

	// A topic published on while subscribed is kept; made-up ones are
	// released when the connection ends without unsubscribing.
	c.subscribe(t, "heat/published-later")
	publishState(t, f.hub, "heat/published-later", map[string]any{"a": 1})
	c.expect(t, "delta")
	for i := range n {
		c.subscribe(t, fmt.Sprintf("heat/made-up/%d", i))
	}
	_ = c.conn.Close()
	waitFor(t, "connection to be dropped", func() bool { return f.hub.Stats().Connections == 0 })
	if got := f.hub.Stats().Topics; got != base+1 {
		t.Errorf("topics after disconnect = %d, want %d (heat/kept, heat/published-later)", got, base+1)
	}
	if v := metricValue(t, f.reg, "citywall_hub_subscriptions"); v != 0 {
		t.Errorf("subscriptions gauge = %v, want 0", v)
	}
	if v := metricValue(t, f.reg, "citywall_hub_topics"); v != float64(base+1) {
		t.Errorf("topics gauge = %v, want %d", v, base+1)
	}

	// The kept topic still has its state.
	c2 := f.dial(t)
	snap := c2.subscribe(t, "heat/kept")
	if snap.Seq != 1 || !strings.Contains(string(snap.Data), `"a":1`) {
		t.Errorf("kept topic snapshot %v, want seq 1 with a=1", snap)
	}
}

// When deltas queue up faster than a client reads, the writer sends them as
// one frame of several messages.
func TestFrameBatching(t *testing.T) {
	f := newFixture(t, fixtureConfig{sndbuf: 16 << 10})
	const topic = "heat/burst"
	c, err := f.dialHello(dialConfig{rcvbuf: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	snap := c.subscribe(t, topic)

	// A large delta fills the socket buffers, so the writer is busy while
	// the small ones queue behind it.
	publishState(t, f.hub, topic, map[string]any{"big": strings.Repeat("x", 1<<20)})
	const burst = 500
	for i := range burst {
		publishState(t, f.hub, topic, map[string]any{"n": i})
	}
	framesBefore := len(c.frames)
	for want := snap.Seq + 1; want <= snap.Seq+burst+1; want++ {
		m := c.expect(t, "delta")
		if m.Seq != want {
			t.Fatalf("got %v, want delta seq %d", m, want)
		}
	}
	frames := c.frames[framesBefore:]
	most := 0
	for _, n := range frames {
		most = max(most, n)
	}
	t.Logf("%d deltas arrived in %d frames, at most %d in one", burst+1, len(frames), most)
	if most < 2 {
		t.Errorf("no frame carried more than one message")
	}
	c.ping(t)
}

// A client closed while its subscribes are still being handled (here: slow,
// its first snapshot overflows QueueBytes, with more subscribes to made-up
// names already sent) must not leave those topics behind. The close races
// with the handling of each subscribe, so several connections try.
func TestTopicReleaseWhenClosedDuringSubscribe(t *testing.T) {
	// A snapshot alone always fits the queue; a large one that the client
	// does not read yet keeps the writer busy, so the made-up topics'
	// snapshots behind it overflow the queue while subscribes go on.
	f := newFixture(t, fixtureConfig{opts: stream.Options{QueueBytes: 2048}, sndbuf: 4096})
	publishState(t, f.hub, "heat/big", map[string]any{"k": strings.Repeat("x", 512<<10)})
	for attempt := range 10 {
		c, _, err := f.dialWith(dialConfig{rcvbuf: 4096})
		if err != nil {
			t.Fatal(err)
		}
		reqs := []string{`{"op":"subscribe","id":1,"topic":"heat/big"}`}
		for i := range 200 {
			reqs = append(reqs, fmt.Sprintf(`{"op":"subscribe","id":%d,"topic":"heat/made-up/%d"}`, i+2, i))
		}
		for _, r := range reqs {
			if err := c.sendRaw(r); err != nil {
				break // closed already
			}
		}
		// The close frame may not get past the unread snapshot: 4001 or an
		// abnormal close are both right.
		if err := c.readUntilClose(); err == nil {
			t.Fatalf("attempt %d: connection not closed", attempt)
		}
		_ = c.conn.Close()
		waitFor(t, "the connection to be dropped", func() bool { return f.hub.Stats().Connections == 0 })
		if n := f.hub.Stats().Topics; n != 1 {
			t.Fatalf("attempt %d: %d topics left, want 1 (heat/big)", attempt, n)
		}
	}
}
