package stream_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/citywall/citywall/stream"
)

func TestDecodeRequest(t *testing.T) {
	seq := func(v uint64) *uint64 { return &v }
	cases := []struct {
		in   string
		want stream.Request
		err  string // substring of the error; "" for none
	}{
		{in: `{"op":"ping"}`, want: stream.Request{Op: "ping"}},
		{in: ` {"op":"ping","id":9} ` + "\n", want: stream.Request{Op: "ping", ID: 9}},
		{in: `{"op":"subscribe","id":1,"topic":"heat/8/1h/all"}`, want: stream.Request{Op: "subscribe", ID: 1, Topic: "heat/8/1h/all"}},
		{in: `{"op":"subscribe","id":2,"topic":"heat/8/1h/城市管理","epoch":"q7k2m9","seq":1234}`,
			want: stream.Request{Op: "subscribe", ID: 2, Topic: "heat/8/1h/城市管理", Epoch: "q7k2m9", Seq: seq(1234)}},
		{in: `{"op":"subscribe","id":2,"topic":"t","epoch":"e","seq":0}`, want: stream.Request{Op: "subscribe", ID: 2, Topic: "t", Epoch: "e", Seq: seq(0)}},
		{in: `{"op":"unsubscribe","id":3,"topic":"hot/1h"}`, want: stream.Request{Op: "unsubscribe", ID: 3, Topic: "hot/1h"}},
		{in: `{"op":"subscribe","topic":"` + strings.Repeat("a", 256) + `"}`, want: stream.Request{Op: "subscribe", Topic: strings.Repeat("a", 256)}},

		{in: `{"op":"subscribe","topic":"` + strings.Repeat("a", 257) + `"}`, err: "longer than 256"},
		{in: ``, err: "invalid json"},
		{in: `null`, err: "missing op"},
		{in: `{"op":"PING"}`, err: `unknown op "PING"`},
		{in: `{"op":"ping"}]`, err: "invalid json"},
		{in: `{"op":"ping"}{}`, err: "more than one value"},
		{in: `{"op":"ping","Op":"x"}`, err: `unknown op "x"`}, // encoding/json matches keys case-insensitively
		{in: `{"op":"ping","seq":1.5}`, err: "seq"},
		{in: `{"op":"unsubscribe","topic":"t","extra":true}`, err: `unknown field "extra"`},
	}
	for _, tc := range cases {
		got, err := stream.DecodeRequest([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("DecodeRequest(%.60q) = %+v, %v; want an error containing %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("DecodeRequest(%.60q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"ping","id":1}`,
		`{"op":"subscribe","id":1,"topic":"heat/8/1h/all"}`,
		`{"op":"subscribe","id":2,"topic":"heat/8/1h/all","epoch":"q7k2m9","seq":1234}`,
		`{"op":"unsubscribe","id":3,"topic":"hot/1h"}`,
		`{"op":"subscribe","topic":"tickets","epoch":"","seq":null}`,
		`{"op":"subscribe","id":-1,"topic":"\u0000\"\\"}`,
		`{"op":"ping"}}`,
		`{"op":"ping"} {"op":"ping"}`,
		`{"op":"ping","id":1e3}`,
		`[{"op":"ping"}]`,
		`null`,
		``,
		"\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := stream.DecodeRequest(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted %q, which is not one JSON value", data)
		}
		switch r.Op {
		case "ping":
		case "subscribe", "unsubscribe":
			if r.Topic == "" || len(r.Topic) > 256 {
				t.Fatalf("accepted %q with topic %q", data, r.Topic)
			}
			if r.Op == "subscribe" && (r.Epoch == "") != (r.Seq == nil) {
				t.Fatalf("accepted %q with epoch %q and seq %v", data, r.Epoch, r.Seq)
			}
		default:
			t.Fatalf("accepted %q with op %q", data, r.Op)
		}
		// What was accepted survives a round trip.
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := stream.DecodeRequest(b)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("%q → %+v → %s → %+v, %v", data, r, b, r2, err)
		}
	})
}
