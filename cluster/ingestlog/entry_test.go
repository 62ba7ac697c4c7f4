package ingestlog

import (
	"testing"
)

func TestDecode(t *testing.T) {
	good := map[string]any{"k": "tickets", "o": "a1", "n": "a1:7", "d": `[{"id":"X"}]`}
	e, err := Decode("1700000000000-3", good)
	if err != nil || e.Kind != KindTickets || e.Origin != "a1" || e.Nonce != "a1:7" || string(e.Data) != `[{"id":"X"}]` {
		t.Fatalf("Decode = %+v, %v", e, err)
	}
	for name, tc := range map[string]struct {
		id string
		v  map[string]any
	}{
		"bad id":       {"17x-1", good},
		"no kind":      {"1-1", map[string]any{"o": "a", "n": "b", "d": "[]"}},
		"unknown kind": {"1-1", map[string]any{"k": "nope", "o": "a", "n": "b", "d": "[]"}},
		"not a string": {"1-1", map[string]any{"k": "calls", "o": 3, "n": "b", "d": "[]"}},
		"no data":      {"1-1", map[string]any{"k": "calls", "o": "a", "n": "b"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(tc.id, tc.v); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

func TestAfter(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2-0", "1-9", true}, {"1-10", "1-9", true}, {"1-9", "1-9", false}, {"0-0", "1-0", false}, {"1-0", "0-0", true},
	} {
		if got := After(tc.a, tc.b); got != tc.want {
			t.Errorf("After(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add("1700000000000-3", "tickets", "a1", "a1:7", `[{"id":"X"}]`)
	f.Add("0-0", "calls", "", "", "")
	f.Add("x", "readings", "o", "n", "{")
	f.Fuzz(func(t *testing.T, id, k, o, n, d string) {
		e, err := Decode(id, map[string]any{"k": k, "o": o, "n": n, "d": d})
		if err != nil {
			return
		}
		if !e.Kind.valid() || e.ID != id || string(e.Data) != d {
			t.Fatalf("Decode accepted %+v", e)
		}
		if _, _, err := ParseID(e.ID); err != nil {
			t.Fatalf("accepted id %q: %v", id, err)
		}
	})
}
