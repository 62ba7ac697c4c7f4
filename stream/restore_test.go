package stream

import (
	"context"
	"encoding/json"
	"testing"
)

// TestSharedSequences: publications numbered by a backplane keep their
// numbers; one already held is skipped, one past a gap restarts history.
func TestSharedSequences(t *testing.T) {
	b := NewMemoryBroker()
	h := New(Options{Epoch: "shared", EpochFor: func(topic string) string {
		if topic == "cameras" {
			return "mine"
		}
		return ""
	}}, b, nil, nil)
	ctx := context.Background()
	pub := func(seq uint64, v string) {
		_ = b.Publish(ctx, Publication{Topic: "t", Kind: KindState, Set: map[string]json.RawMessage{"k": json.RawMessage(v)}, Seq: seq})
	}
	pub(1, "1")
	pub(2, "2")
	pub(2, "99") // held already
	if got := h.Seq("t"); got != 2 {
		t.Fatalf("seq %d, want 2", got)
	}
	if st := h.State("t"); string(st["k"]) != "2" {
		t.Fatalf("a publication already held was applied: %s", st["k"])
	}
	pub(5, "5")
	tp, _ := h.topic("t", KindState)
	if tp.history.covers(3, 5) {
		t.Fatal("history claims to cover a gap")
	}
	if !tp.history.covers(5, 5) || tp.epoch != "shared" {
		t.Fatalf("after the gap: covers(5,5) %v, epoch %q", tp.history.covers(5, 5), tp.epoch)
	}
	cam, _ := h.topic("cameras", KindState)
	if cam.epoch != "mine" {
		t.Fatalf("cameras epoch %q", cam.epoch)
	}

	// Restore sets sequence, state and the deltas kept for resume.
	recent := []Publication{
		{Seq: 9, Set: map[string]json.RawMessage{"a": json.RawMessage("1")}},
		{Seq: 10, Del: []string{"b"}},
	}
	if err := h.Restore("r", KindState, 10, map[string]json.RawMessage{"a": json.RawMessage("1")}, recent); err != nil {
		t.Fatal(err)
	}
	tr, _ := h.topic("r", KindState)
	if h.Seq("r") != 10 || !tr.history.covers(9, 10) || tr.history.covers(8, 10) {
		t.Fatalf("restored: seq %d", h.Seq("r"))
	}
}
