package jsoncheck

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, in, field, reason string
	}{
		{"plain object", `{"id":"a","lat":20}`, "", ""},
		{"ndjson", "{\"id\":\"a\"}\n{\"id\":\"b\"}\n", "", ""},
		{"array", `[{"id":"a"},{"id":"b"}]`, "", ""},
		{"chinese text", `{"summary":"井盖缺失"}`, "", ""},
		{"syntax error is the decoder's", `{"id":`, "", ""},
		{"duplicate top level", `{"id":"a","id":"b"}`, "/id", ReasonDuplicate},
		{"duplicate nested", `[{"id":"a"},{"id":"b","x":{"k":1,"k":2}}]`, "/1/x/k", ReasonDuplicate},
		{"duplicate in second ndjson value", "{\"id\":\"a\"}\n{\"lat\":1,\"lat\":2}", "/lat", ReasonDuplicate},
		{"invalid utf-8 value", "{\"summary\":\"ab\xffcd\"}", "/summary", ReasonInvalidUTF8},
		{"invalid utf-8 name", "{\"a\xc3\":1}", "", ReasonInvalidUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.in))
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.in, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check(%q) = %v, want *Error", tc.in, err)
			}
			if e.Reason != tc.reason || (tc.field != "" && e.Field != tc.field) {
				t.Fatalf("Check(%q) = field %q reason %q, want field %q reason %q", tc.in, e.Field, e.Reason, tc.field, tc.reason)
			}
		})
	}
}

// FuzzCheck: Check never panics, and whatever it passes that
// encoding/json reads as one value, encoding/json reads without loss: no
// duplicate names and no replaced bytes.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `[{"a":{"b":[1,{"c":2,"c":3}]}}]`, "{\"a\":1}\n{\"b\":2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Reason == "" {
				t.Fatalf("Check(%q) = %v: not an *Error with a reason", b, err)
			}
			return
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		out, merr := json.Marshal(v)
		if merr != nil {
			t.Fatal(merr)
		}
		var w any
		if json.Unmarshal(out, &w) != nil {
			t.Fatalf("re-read of %q failed", out)
		}
	})
}
