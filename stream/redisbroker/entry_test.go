package redisbroker

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/citywall/citywall/stream"
)

func TestEntryRoundTrip(t *testing.T) {
	for _, p := range []stream.Publication{
		{Topic: "heat/8/1h/all", Kind: stream.KindState, Set: map[string]json.RawMessage{"882a": json.RawMessage("3")}, Del: []string{"882b"}, Origin: time.UnixMilli(1700000000123)},
		{Topic: "tickets", Kind: stream.KindEvents, Event: json.RawMessage(`{"id":"X-1"}`)},
	} {
		t.Run(p.Topic, func(t *testing.T) {
			body, err := encodePayload(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeEntry(map[string]any{"t": p.Topic, "k": kindCode(p.Kind), "s": "42", "d": string(body)})
			if err != nil {
				t.Fatal(err)
			}
			if got.Seq != 42 || got.Topic != p.Topic || got.Kind != p.Kind || !got.Origin.Equal(p.Origin) ||
				string(got.Event) != string(p.Event) || len(got.Set) != len(p.Set) || len(got.Del) != len(p.Del) {
				t.Fatalf("round trip: %+v, want %+v", got, p)
			}
		})
	}
}

func TestDecodeEntryRefuses(t *testing.T) {
	for name, v := range map[string]map[string]any{
		"no topic":          {"k": "s", "s": "1", "d": "{}"},
		"seq zero":          {"t": "x", "k": "s", "s": "0", "d": "{}"},
		"seq not a number":  {"t": "x", "k": "s", "s": "1a", "d": "{}"},
		"unknown kind":      {"t": "x", "k": "q", "s": "1", "d": "{}"},
		"payload not JSON":  {"t": "x", "k": "s", "s": "1", "d": "{"},
		"state with event":  {"t": "x", "k": "s", "s": "1", "d": `{"event":1}`},
		"events without":    {"t": "x", "k": "e", "s": "1", "d": `{}`},
		"events with a set": {"t": "x", "k": "e", "s": "1", "d": `{"event":1,"set":{"a":1}}`},
		"not strings":       {"t": 5, "k": "s", "s": "1", "d": "{}"},
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := DecodeEntry(v); err == nil {
				t.Fatalf("decoded %+v", p)
			}
		})
	}
}

func TestContiguous(t *testing.T) {
	ps := []stream.Publication{{Seq: 3}, {Seq: 5}, {Seq: 6}, {Seq: 7}}
	if got := contiguous(ps, 7); len(got) != 3 || got[0].Seq != 5 {
		t.Fatalf("contiguous = %v", got)
	}
	if got := contiguous(ps, 9); len(got) != 0 {
		t.Fatalf("contiguous up to a missing seq = %v", got)
	}
}

// FuzzDecodeEntry: whatever an entry holds, decoding never panics, and
// what it accepts is valid JSON where the hub copies it into frames.
func FuzzDecodeEntry(f *testing.F) {
	f.Add("heat/8/1h/all", "s", "7", `{"set":{"882a":3},"del":["882b"],"o":1700000000000}`)
	f.Add("tickets", "e", "1", `{"event":{"id":"X"}}`)
	f.Add("x", "e", "18446744073709551615", `{"event":null}`)
	f.Fuzz(func(t *testing.T, topic, kind, seq, d string) {
		p, err := DecodeEntry(map[string]any{"t": topic, "k": kind, "s": seq, "d": d})
		if err != nil {
			return
		}
		if p.Seq == 0 || p.Topic == "" {
			t.Fatalf("accepted %+v", p)
		}
		for k, v := range p.Set {
			if !json.Valid(v) {
				t.Fatalf("set %q: invalid JSON %q", k, v)
			}
		}
		if p.Kind == stream.KindEvents && !json.Valid(p.Event) {
			t.Fatalf("invalid event %q", p.Event)
		}
	})
}
