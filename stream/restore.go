package stream

import (
	"encoding/json"
	"maps"
)

// Restore sets a topic to what a shared backplane holds: its sequence, its
// whole state (state topics) and its most recent deltas, oldest first, each
// with its Seq (kept for resume; an events topic's snapshot is built from
// them). An instance that joins, or that fell too far behind, calls it
// before it applies the backplane's later publications. Clients already on
// the topic get a fresh snapshot.
func (h *Hub) Restore(name string, kind Kind, seq uint64, state map[string]json.RawMessage, recent []Publication) error {
	t, err := h.topic(name, kind)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.history = newRing(len(t.history.buf))
	for _, p := range recent {
		if p.Seq == 0 || p.Seq > seq {
			continue
		}
		var data []byte
		if kind == KindState {
			data = encodeDelta(p.Set, p.Del)
		} else {
			data = p.Event
		}
		t.history.push(&message{
			data: newEnvelope("delta", len(data)+len(t.nameJSON)+len(t.epoch)).
				raw("topic", t.nameJSON).str("epoch", t.epoch).uint("seq", p.Seq).raw("data", data).bytes(),
			seq: p.Seq,
		})
	}
	if kind == KindState {
		t.state = maps.Clone(state)
		if t.state == nil {
			t.state = map[string]json.RawMessage{}
		}
	}
	t.seq = seq
	t.snap = nil
	if len(t.subs) > 0 {
		m := t.snapshot()
		for _, c := range t.subs {
			c.enqueue(m)
		}
	}
	return nil
}

// Seq reports a topic's current sequence (0 when the hub holds no such
// topic).
func (h *Hub) Seq(name string) uint64 {
	h.mu.RLock()
	t, ok := h.topics[name]
	h.mu.RUnlock()
	if !ok {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.seq
}

// State returns a copy of a state topic's current map (nil when the hub
// holds no such topic).
func (h *Hub) State(name string) map[string]json.RawMessage {
	h.mu.RLock()
	t, ok := h.topics[name]
	h.mu.RUnlock()
	if !ok || t.kind != KindState {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.state)
}

// Topics lists the topics the hub holds.
func (h *Hub) Topics() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.topics))
	for name := range h.topics {
		out = append(out, name)
	}
	return out
}
