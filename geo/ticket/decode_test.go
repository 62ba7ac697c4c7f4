package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// ticketJSONText is a valid ticket as a client posts it.
func ticketJSONText(id string) string {
	return `{"id":"` + id + `","channel":"wechat","category":"城市管理","subcategory":"道路脏乱",` +
		`"lat":20.03,"lng":110.33,"crs":"gcj02","district":"龙华区","created":"2026-11-22T16:00:00+08:00"}`
}

func TestDecode(t *testing.T) {
	good := ticketJSONText
	tests := []struct {
		name        string
		body        string
		contentType string
		ok          []int          // indices of items without Err
		bad         map[int]string // index -> part of Err's message
		badField    map[int]string // index -> FieldError.Field
		err         error          // errors.Is target of the returned error
		offset      int64          // DecodeError.Offset when err is set, -1 to skip
	}{
		{name: "object", body: good("a"), ok: []int{0}},
		{name: "pretty object", body: "\n  {\n \"id\": \"a\",\n \"channel\": \"app\", \"category\": \"c\", \"lat\": 20, \"lng\": 110,\n \"created\": \"2026-11-22T09:00:00Z\"\n}\n", ok: []int{0}},
		{name: "byte order mark", body: "\uFEFF" + good("a"), ok: []int{0}},
		{name: "array", body: "[" + good("a") + ",\n" + good("b") + "," + good("c") + "]", ok: []int{0, 1, 2}},
		{name: "empty array", body: " [ ] ", ok: nil},
		{name: "ndjson", body: good("a") + "\n" + good("b") + "\r\n\n" + good("c") + "\n", contentType: "application/x-ndjson", ok: []int{0, 1, 2}},
		{name: "ndjson sniffed", body: good("a") + "\n" + good("b") + "\n", contentType: "application/json", ok: []int{0, 1}},
		{name: "ndjson bad line", body: good("a") + "\n{\"id\": nope}\n" + good("c"), contentType: "application/x-ndjson; charset=utf-8",
			ok: []int{0, 2}, bad: map[int]string{1: "line 2 column 9: invalid character 'o'"}},
		{name: "ndjson sniffed bad line", body: good("a") + "\n" + good("b") + " x\n" + good("c"),
			ok: []int{0, 2}, bad: map[int]string{1: "line 2 column"}},
		{name: "sniffed first value bad field", body: `{"id":"a","colour":"red"}` + "\n" + good("b"), ok: []int{1}, badField: map[int]string{0: "colour"}},
		{name: "pretty then ndjson", body: "{\n\"id\": \"a\",\n\"channel\": \"app\", \"category\": \"c\", \"lat\": 20, \"lng\": 110,\n\"created\": \"2026-11-22T09:00:00Z\"\n}\n{bad}\n" + good("c"),
			ok: []int{0, 2}, bad: map[int]string{1: "line 6 column 2"}},
		{name: "object then garbage", body: good("a") + " garbage", ok: []int{0}, bad: map[int]string{1: "invalid character 'g'"}},
		{name: "unknown field", body: "[" + good("a") + `,{"id":"b","colour":"red"},` + good("c") + "]",
			ok: []int{0, 2}, badField: map[int]string{1: "colour"}},
		{name: "wrong type", body: `[{"id":"a","lat":"20.03"},` + good("b") + "]", ok: []int{1}, badField: map[int]string{0: "lat"}, bad: map[int]string{0: "lat: got JSON string, want number"}},
		{name: "invalid value", body: "[" + strings.Replace(good("a"), "20.03", "91.5", 1) + "]", badField: map[int]string{0: "lat"}, bad: map[int]string{0: "lat: 91.5 out of range"}},
		{name: "bad time", body: "[" + strings.Replace(good("a"), "2026-11-22T16:00:00+08:00", "22/11/2026", 1) + "]", badField: map[int]string{0: "created"}},
		{name: "time not string", body: "[" + strings.Replace(good("a"), `"2026-11-22T16:00:00+08:00"`, "1764000000", 1) + "]", badField: map[int]string{0: "created"}},
		{name: "missing time", body: `[{"id":"a","channel":"app","category":"c","lat":20,"lng":110}]`, badField: map[int]string{0: "created"}},
		{name: "element not object", body: "[42," + good("b") + "]", ok: []int{1}, bad: map[int]string{0: "not number"}},
		{name: "null element", body: "[null]", badField: map[int]string{0: "id"}},
		{name: "syntax error in array", body: "[" + good("a") + `,{"id": x},` + good("c") + "]",
			ok: []int{0}, err: errSyntax, offset: int64(len("[" + good("a") + `,{"id": x`))},
		{name: "missing comma", body: "[" + good("a") + " " + good("b") + "]", ok: []int{0}, err: errSyntax, offset: -1},
		{name: "truncated array", body: "[" + good("a") + "," + good("b")[:20], ok: []int{0}, err: io.ErrUnexpectedEOF, offset: int64(len("[" + good("a") + "," + good("b")[:20]))},
		{name: "unclosed array", body: "[" + good("a"), ok: []int{0}, err: io.ErrUnexpectedEOF, offset: -1},
		{name: "garbage after array", body: "[" + good("a") + "] x", ok: []int{0}, err: errSyntax, offset: int64(len("[" + good("a") + "] x"))},
		{name: "second array", body: "[" + good("a") + "] []", ok: []int{0}, err: errAny, offset: -1},
		{name: "syntax error first value", body: `{"id": x}` + "\n" + good("b"), err: errSyntax, offset: 8},
		{name: "empty", body: "", err: ErrEmptyBody},
		{name: "blank", body: " \n\t ", err: ErrEmptyBody},
		{name: "empty ndjson", body: "\n\n", contentType: "application/x-ndjson"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := DecodeOptions{Now: testNow}.Decode(strings.NewReader(tt.body), tt.contentType)
			checkDecodeErr(t, err, tt.err, tt.offset)
			var ok []int
			for i, it := range items {
				if it.Index != i {
					t.Errorf("item %d has Index %d", i, it.Index)
				}
				if it.Err == nil {
					ok = append(ok, i)
					continue
				}
				if want, found := tt.bad[i]; found && !strings.Contains(it.Err.Error(), want) {
					t.Errorf("item %d: err %q, want it to contain %q", i, it.Err, want)
				}
				if want, found := tt.badField[i]; found {
					var fe *FieldError
					if !errors.As(it.Err, &fe) || fe.Field != want {
						t.Errorf("item %d: err %v, want a *FieldError for %q", i, it.Err, want)
					}
				}
				if _, found := tt.bad[i]; !found {
					if _, found := tt.badField[i]; !found {
						t.Errorf("item %d: unexpected err %v", i, it.Err)
					}
				}
			}
			if fmt.Sprint(ok) != fmt.Sprint(tt.ok) {
				t.Errorf("good items %v, want %v", ok, tt.ok)
			}
			if want := len(tt.ok) + len(tt.bad) + len(tt.badField) - overlap(tt.bad, tt.badField); len(items) != want {
				t.Errorf("%d items, want %d", len(items), want)
			}
		})
	}
}

// Markers for checkDecodeErr: any *DecodeError, or one wrapping a JSON
// syntax error.
var (
	errAny    = errors.New("any decode error")
	errSyntax = errors.New("syntax error")
)

func checkDecodeErr(t *testing.T, err, want error, offset int64) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if want == ErrEmptyBody {
		if !errors.Is(err, ErrEmptyBody) {
			t.Fatalf("err = %v, want ErrEmptyBody", err)
		}
		return
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v (%T), want *DecodeError", err, err)
	}
	var se *json.SyntaxError
	switch {
	case want == errSyntax && !errors.As(err, &se):
		t.Errorf("err = %v, want a JSON syntax error", err)
	case want != errSyntax && want != errAny && !errors.Is(err, want):
		t.Errorf("err = %v, want %v", err, want)
	}
	if offset >= 0 && de.Offset != offset {
		t.Errorf("offset %d, want %d (%v)", de.Offset, offset, err)
	}
}

func overlap(a, b map[int]string) int {
	n := 0
	for k := range a {
		if _, ok := b[k]; ok {
			n++
		}
	}
	return n
}

func TestDecodeNormalizes(t *testing.T) {
	items, err := DecodeOptions{Now: testNow}.Decode(strings.NewReader(ticketJSONText(" a ")), "")
	if err != nil || len(items) != 1 || items[0].Err != nil {
		t.Fatalf("items %+v, err %v", items, err)
	}
	tk := items[0].Ticket
	if tk.ID != "a" || tk.CRS != WGS84 || tk.Lat == 20.03 || tk.Created.IsZero() {
		t.Errorf("not normalised: %+v", tk)
	}
}

func TestDecodeKeepsIDOfRejected(t *testing.T) {
	items, _ := DecodeOptions{Now: testNow}.Decode(strings.NewReader(`[{"id":"HK-9","lat":95}]`), "")
	if len(items) != 1 || items[0].Err == nil || items[0].Ticket.ID != "HK-9" {
		t.Fatalf("items %+v", items)
	}
}

func TestDecodeTooMany(t *testing.T) {
	var arr, lines []string
	for i := range 4 {
		arr = append(arr, ticketJSONText(fmt.Sprint(i)))
	}
	lines = arr
	tests := []struct {
		name, body, contentType string
	}{
		{"array", "[" + strings.Join(arr, ",") + "]", ""},
		{"ndjson", strings.Join(lines, "\n"), "application/x-ndjson"},
		{"ndjson sniffed", strings.Join(lines, "\n"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := DecodeOptions{MaxItems: 3, Now: testNow}.Decode(strings.NewReader(tt.body), tt.contentType)
			if !errors.Is(err, ErrTooManyItems) {
				t.Fatalf("err = %v, want ErrTooManyItems", err)
			}
			if len(items) != 3 {
				t.Errorf("%d items, want the 3 read before the limit", len(items))
			}
			items, err = DecodeOptions{MaxItems: 4, Now: testNow}.Decode(strings.NewReader(tt.body), tt.contentType)
			if err != nil || len(items) != 4 {
				t.Errorf("at the limit: %d items, err %v", len(items), err)
			}
		})
	}
}

func TestDecodeBodyLimit(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		b.WriteString(ticketJSONText(fmt.Sprint(i)) + "\n")
	}
	body := b.String()
	tests := []struct{ name, body, contentType string }{
		{"array", "[" + strings.ReplaceAll(strings.TrimSpace(body), "\n", ",") + "]", ""},
		{"ndjson", body, "application/x-ndjson"},
		{"ndjson sniffed", body, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := http.MaxBytesReader(httptest.NewRecorder(), io.NopCloser(strings.NewReader(tt.body)), 5000)
			items, err := DecodeOptions{Now: testNow}.Decode(r, tt.contentType)
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) || mbe.Limit != 5000 {
				t.Fatalf("err = %v, want *http.MaxBytesError", err)
			}
			if len(items) == 0 || len(items) > 5000/len(ticketJSONText("0")) {
				t.Errorf("%d items before the limit", len(items))
			}
			for _, it := range items {
				if it.Err != nil {
					t.Errorf("item %d: %v", it.Index, it.Err)
				}
			}
		})
	}
}

func TestDecodeLongLine(t *testing.T) {
	body := ticketJSONText("a") + "\n" + `{"summary":"` + strings.Repeat("x", maxLineBytes) + `"}` + "\n"
	items, err := Decode(strings.NewReader(body), "application/x-ndjson")
	var de *DecodeError
	if !errors.As(err, &de) || de.Line != 2 || de.Index != 1 {
		t.Fatalf("err = %v, want a *DecodeError at line 2", err)
	}
	if len(items) != 1 {
		t.Errorf("%d items, want 1", len(items))
	}
}

func TestDecodeEvents(t *testing.T) {
	body := `[{"ticket":"HK-1","type":"dispatched","time":"2026-11-22T09:00:00Z","department":"市政局"},` +
		`{"ticket":"HK-1","type":"visited","time":"2026-11-22T09:10:00Z","satisfaction":"satisfied"},` +
		`{"ticket":"HK-1","type":"responded","time":"2026-11-22T09:20:00Z","satisfaction":"satisfied"},` +
		`{"ticket":"HK-1","type":"responded","time":"yesterday"},` +
		`{"ticket":"HK-1","type":"closed","time":"2026-11-22T09:20:00Z","extra":1}]`
	items, err := DecodeOptions{Now: testNow}.DecodeEvents(strings.NewReader(body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	wantField := []string{"", "", "satisfaction", "time", "extra"}
	if len(items) != len(wantField) {
		t.Fatalf("%d items, want %d", len(items), len(wantField))
	}
	for i, want := range wantField {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkFieldError(t, items[i].Err, want, "")
		})
	}
	if e := items[0].Event; e.Type != EventDispatched || e.Department != "市政局" || e.Time.IsZero() {
		t.Errorf("event 0 = %+v", e)
	}
}

func FuzzDecode(f *testing.F) {
	good := ticketJSONText("a")
	for _, s := range []string{
		good,
		"[" + good + "," + ticketJSONText("b") + "]",
		good + "\n" + ticketJSONText("b") + "\n",
		`[{"id":"a","lat":"x"},{"id": x}]`,
		`[1,"s",null,true,[],{}]`,
		"\uFEFF  [ ]",
		`{"id":"b","channel":"phone","category":"c","lat":0,"lng":0,"created":"2026-11-22T09:00:00Z"}`,
		`{"id":"c","channel":"sms","category":"c","lat":39.9,"lng":116.4,"crs":"BD09","created":"2026-11-22T09:00:00Z"} x`,
		"[" + good + "] ]",
		"\n\n{}\n{\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, ndjson bool) {
		ct := "application/json"
		if ndjson {
			ct = "application/x-ndjson"
		}
		o := DecodeOptions{MaxItems: 50, Now: testNow}
		items, _ := o.Decode(bytes.NewReader(body), ct)
		if len(items) > o.MaxItems {
			t.Fatalf("%d items, over the limit %d", len(items), o.MaxItems)
		}
		for i, it := range items {
			if it.Index != i {
				t.Fatalf("item %d has Index %d", i, it.Index)
			}
			if it.Err != nil {
				continue
			}
			again := it.Ticket
			if err := again.Normalize(testNow); err != nil {
				t.Fatalf("item %d accepted but Normalize says %v: %+v", i, err, it.Ticket)
			}
			if !sameTicket(again, it.Ticket) {
				t.Fatalf("item %d changed by a second Normalize:\n%+v\n%+v", i, it.Ticket, again)
			}
		}
		events, _ := o.DecodeEvents(bytes.NewReader(body), ct)
		for _, it := range events {
			if it.Err == nil {
				again := it.Event
				if err := again.Normalize(testNow); err != nil {
					t.Fatalf("event %d accepted but Normalize says %v", it.Index, err)
				}
			}
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	var parts []string
	for i := range 100 {
		parts = append(parts, ticketJSONText(fmt.Sprintf("HK-%d", i)))
	}
	bodies := []struct{ name, body, contentType string }{
		{"array100", "[" + strings.Join(parts, ",") + "]", "application/json"},
		{"ndjson100", strings.Join(parts, "\n"), "application/x-ndjson"},
	}
	for _, bb := range bodies {
		b.Run(bb.name, func(b *testing.B) {
			o := DecodeOptions{Now: testNow}
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.body)))
			for b.Loop() {
				items, err := o.Decode(strings.NewReader(bb.body), bb.contentType)
				if err != nil || len(items) != 100 || items[99].Err != nil {
					b.Fatalf("%d items, err %v", len(items), err)
				}
			}
		})
	}
}
