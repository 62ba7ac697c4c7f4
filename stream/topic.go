package stream

import (
	"encoding/json"
	"sort"
	"sync"
	"sync/atomic"
)

// topic holds one topic's subscribers, sequence, history and (for state
// topics) the current map. Its mutex orders publication, snapshot and
// subscription, so a subscriber never misses or double-counts a delta.
type topic struct {
	name      string
	nameJSON  []byte
	kind      Kind
	epoch     string
	maxEvents int

	mu      sync.Mutex
	seq     uint64
	state   map[string]json.RawMessage // KindState
	history ring                       // recent deltas, for resume (and event snapshots)
	snap    *message                   // cached snapshot of state at snapSeq
	snapSeq uint64

	subs []*client       // fan-out order; swap-removed
	idx  map[*client]int // position in subs
	dead atomic.Bool     // released by the hub; look the topic up again
}

func newTopic(name string, kind Kind, epoch string, history, maxEvents int) *topic {
	t := &topic{
		name:      name,
		nameJSON:  appendJSONString(nil, name),
		kind:      kind,
		epoch:     epoch,
		maxEvents: maxEvents,
		history:   newRing(history),
		idx:       map[*client]int{},
	}
	if kind == KindState {
		t.state = map[string]json.RawMessage{}
	}
	return t
}

// applyLive records p as the next delta and queues it to every subscriber.
// It returns false if the topic was released and must be looked up again.
func (t *topic) applyLive(p Publication) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead.Load() {
		return false
	}
	if p.Seq != 0 {
		if p.Seq <= t.seq {
			return true // already held
		}
		if p.Seq != t.seq+1 {
			// A gap: what came before cannot be resumed from here.
			t.history = newRing(len(t.history.buf))
		}
		t.seq = p.Seq - 1
	}
	var data []byte
	switch t.kind {
	case KindState:
		for k, v := range p.Set {
			t.state[k] = v
		}
		for _, k := range p.Del {
			delete(t.state, k)
		}
		data = encodeDelta(p.Set, p.Del)
	case KindEvents:
		data = p.Event
	}
	t.seq++
	m := &message{
		data: newEnvelope("delta", len(data)+len(t.nameJSON)+len(t.epoch)).
			raw("topic", t.nameJSON).str("epoch", t.epoch).uint("seq", t.seq).raw("data", data).bytes(),
		seq:    t.seq,
		origin: p.Origin,
	}
	t.history.push(m)
	for _, c := range t.subs {
		c.enqueue(m)
	}
	return true
}

// subscribeLive adds c and queues what it needs to catch up: the missed
// deltas when (epoch, since) can be resumed from history, else a snapshot.
// ok is false if the topic was released and must be looked up again.
func (t *topic) subscribeLive(c *client, id int64, resume bool, epoch string, since uint64) (resumed, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead.Load() {
		return false, false
	}
	if _, ok := t.idx[c]; !ok {
		t.idx[c] = len(t.subs)
		t.subs = append(t.subs, c)
	}
	if resume && epoch == t.epoch && since <= t.seq && t.history.covers(since+1, t.seq) {
		c.enqueue(&message{data: newEnvelope("resumed", 64).id(id).raw("topic", t.nameJSON).
			str("epoch", t.epoch).uint("seq", since).bytes()})
		// Replayed deltas go without their origin: the latency metric is
		// about live delivery, not how long a client was away.
		t.history.each(since+1, func(m *message) { c.enqueue(&message{data: m.data, seq: m.seq}) })
		return true, true
	}
	c.enqueue(t.snapshot())
	return false, true
}

// snapshot encodes the topic's current state. The encoding is cached until
// the next delta, so a reconnect storm of a thousand walls costs one
// encoding; that is also why a snapshot carries no request id.
func (t *topic) snapshot() *message {
	if t.snap != nil && t.snapSeq == t.seq {
		return t.snap
	}
	var data []byte
	switch t.kind {
	case KindState:
		data = encodeState(t.state)
	case KindEvents:
		data = []byte{'['}
		n := 0
		t.history.last(t.maxEvents, func(m *message) {
			if n > 0 {
				data = append(data, ',')
			}
			data = append(data, eventData(m.data)...)
			n++
		})
		data = append(data, ']')
	}
	m := &message{data: newEnvelope("snapshot", len(data)+64).raw("topic", t.nameJSON).
		str("epoch", t.epoch).uint("seq", t.seq).raw("data", data).bytes(), seq: t.seq}
	t.snap, t.snapSeq = m, t.seq
	return m
}

func (t *topic) unsubscribe(c *client) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	i, ok := t.idx[c]
	if !ok {
		return false
	}
	last := len(t.subs) - 1
	t.subs[i] = t.subs[last]
	t.idx[t.subs[i]] = i
	t.subs[last] = nil
	t.subs = t.subs[:last]
	delete(t.idx, c)
	return true
}

func (t *topic) subscribers() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.subs)
}

// eventData cuts the "data" value out of an encoded delta: event snapshots
// are built from history without keeping a second copy of every event.
// Encoded deltas always end with `,"data":<value>}`. The first occurrence is
// the envelope's own key (the topic before it is an escaped JSON string, the
// epoch base32); searching from the end would stop inside an event that has a
// "data" key of its own.
func eventData(delta []byte) []byte {
	const key = `,"data":`
	for i := 0; i+len(key) <= len(delta); i++ {
		if string(delta[i:i+len(key)]) == key {
			return delta[i+len(key) : len(delta)-1]
		}
	}
	return []byte("null")
}

func encodeDelta(set map[string]json.RawMessage, del []string) []byte {
	n := 16
	for k, v := range set {
		n += len(k) + len(v) + 4
	}
	b := make([]byte, 0, n)
	b = append(b, '{')
	if len(set) > 0 {
		b = append(b, `"set":`...)
		b = appendMap(b, set)
	}
	if len(del) > 0 {
		if len(set) > 0 {
			b = append(b, ',')
		}
		b = append(b, `"del":[`...)
		for i, k := range del {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func encodeState(state map[string]json.RawMessage) []byte {
	n := 2
	for k, v := range state {
		n += len(k) + len(v) + 4
	}
	return appendMap(make([]byte, 0, n), state)
}

// appendMap writes keys in sorted order so equal states encode equally.
func appendMap(b []byte, m map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = append(b, m[k]...)
	}
	return append(b, '}')
}

// ring keeps the last n deltas of a topic.
type ring struct {
	buf   []*message
	start int // index of the oldest
	n     int
}

func newRing(size int) ring { return ring{buf: make([]*message, size)} }

func (r *ring) push(m *message) {
	if r.n < len(r.buf) {
		r.buf[(r.start+r.n)%len(r.buf)] = m
		r.n++
		return
	}
	r.buf[r.start] = m
	r.start = (r.start + 1) % len(r.buf)
}

// covers reports whether the deltas from..to are all held (to < from means
// nothing is missing).
func (r *ring) covers(from, to uint64) bool {
	if to < from {
		return true
	}
	if r.n == 0 {
		return false
	}
	return r.buf[r.start].seq <= from
}

// each calls f for every held delta with seq ≥ from, oldest first.
func (r *ring) each(from uint64, f func(*message)) {
	for i := 0; i < r.n; i++ {
		if m := r.buf[(r.start+i)%len(r.buf)]; m.seq >= from {
			f(m)
		}
	}
}

// last calls f for the newest k deltas, oldest first.
func (r *ring) last(k int, f func(*message)) {
	skip := max(r.n-k, 0)
	for i := skip; i < r.n; i++ {
		f(r.buf[(r.start+i)%len(r.buf)])
	}
}
