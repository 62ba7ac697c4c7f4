package web

import (
	"encoding/json"
	"testing"
)

// FuzzClientVideoMessage: what a player sends on /ws/video is outside
// input; no value may panic, and only the two known types are taken.
func FuzzClientVideoMessage(f *testing.F) {
	for _, s := range []string{`{"type":"frozen"}`, `{"type":"playing"}`, `{"type":1}`, `[]`, `{"type":"frozen","x":[1,2]}`, ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeClientVideoMessage(b)
		if err == nil && m.Type != "frozen" && m.Type != "playing" {
			t.Fatalf("accepted type %q", m.Type)
		}
		if err == nil && !json.Valid(b) {
			t.Fatal("accepted invalid JSON")
		}
	})
}
