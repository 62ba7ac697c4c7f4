package web

import (
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts"
)

// The alert API's bodies are outside input: no value may panic, and what
// is accepted keeps the API's bounds.

func FuzzDecodeAck(f *testing.F) {
	for _, s := range []string{"", "{}", `{"note":"ok"}`, `{"note":1}`, "{", `{"note":"a"} {}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeAck(data)
		if err == nil && len(req.Note) > 2000 {
			t.Fatalf("accepted a note of %d bytes", len(req.Note))
		}
	})
}

func FuzzDecodeResolve(f *testing.F) {
	for _, s := range []string{"", "{}", `{"reason":"fixed"}`, `{"reason":"  "}`, `{"reason":null}`, `{"x":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := decodeResolve(data)
		if err == nil && (strings.TrimSpace(req.Reason) == "" || len(req.Reason) > 2000) {
			t.Fatalf("accepted reason %q", req.Reason)
		}
	})
}

func FuzzDecodeSilence(f *testing.F) {
	for _, s := range []string{
		`{"category":"噪音","duration":"2h","comment":"festival"}`,
		`{"district":"龙华区","ends_at":"2030-01-01T00:00:00Z","comment":"x"}`,
		`{"cells":["88417289abfffff"],"duration":"1h","comment":"x"}`,
		`{"cells":["zz"],"duration":"1h","comment":"x"}`,
		`{"category":"x","duration":"-1h","comment":"x"}`,
		`{"category":"x","duration":"1h","ends_at":"2030-01-01T00:00:00Z","comment":"x"}`,
		`{}`, ``, `{"starts_at":"0001-01-01T00:00:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSilence(data, now)
		if err != nil {
			return
		}
		if !s.EndsAt.After(now) || s.EndsAt.Sub(s.StartsAt) > alerts.MaxSilence || !s.EndsAt.After(s.StartsAt) {
			t.Fatalf("accepted a silence from %v to %v", s.StartsAt, s.EndsAt)
		}
		if s.Category == "" && s.District == "" && len(s.Cells) == 0 {
			t.Fatal("accepted a silence that names nothing")
		}
	})
}
