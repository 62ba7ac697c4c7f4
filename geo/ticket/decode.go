package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxItems bounds one body when DecodeOptions.MaxItems is zero.
const DefaultMaxItems = 10_000

// maxLineBytes bounds one NDJSON line; a ticket at its limits is a few KiB.
const maxLineBytes = 1 << 20

// ErrTooManyItems: a body holds more items than DecodeOptions.MaxItems.
var ErrTooManyItems = errors.New("too many items")

// ErrEmptyBody: a body holds no JSON value at all.
var ErrEmptyBody = errors.New("empty body")

// DecodeOptions tunes Decode and DecodeEvents.
type DecodeOptions struct {
	MaxItems int       // items in one body; 0 means DefaultMaxItems
	Now      time.Time // server clock for Normalize; zero means time.Now()
}

// Item is one decoded ticket of a body. Err is the reason it was rejected;
// even then Ticket holds what could be read, so a reply can echo its id.
type Item struct {
	Index  int // position in the body, from 0
	Ticket Ticket
	Err    error
}

// EventItem is one decoded event of a body, like Item.
type EventItem struct {
	Index int
	Event Event
	Err   error
}

// DecodeError ends decoding: input that cannot be read past (a JSON syntax
// error outside NDJSON, truncated input) or a failing reader, such as the
// *http.MaxBytesError of a body over its limit, which errors.As finds.
type DecodeError struct {
	Index  int   // item being read when decoding stopped, from 0
	Line   int   // NDJSON line, from 1; 0 when not reading lines
	Offset int64 // bytes of the body read before the fault
	Err    error
}

func (e *DecodeError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("item %d (line %d) at byte %d: %v", e.Index, e.Line, e.Offset, e.Err)
	}
	return fmt.Sprintf("item %d at byte %d: %v", e.Index, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads tickets with the default options; see DecodeOptions.Decode.
func Decode(r io.Reader, contentType string) ([]Item, error) {
	return DecodeOptions{}.Decode(r, contentType)
}

// DecodeEvents reads events with the default options; see
// DecodeOptions.DecodeEvents.
func DecodeEvents(r io.Reader, contentType string) ([]EventItem, error) {
	return DecodeOptions{}.DecodeEvents(r, contentType)
}

// Decode reads tickets from a body holding one JSON object, a JSON array of
// objects, or NDJSON (content type application/x-ndjson, or more than one
// top-level value). Every item is decoded on its own and normalised: a bad
// item (unknown field, wrong type, invalid value) gets its Err and the rest
// still decode; an NDJSON line that is not JSON is such a bad item too. When
// the rest of the body cannot be read, decoding stops with a *DecodeError and
// the items read so far are returned with it.
func (o DecodeOptions) Decode(r io.Reader, contentType string) ([]Item, error) {
	now := o.now()
	var items []Item
	err := splitBody(r, contentType, o.maxItems(), func(index, line int, w *ticketJSON, err error) {
		t := Ticket(w.ticketFields)
		if err == nil {
			t.Created, err = parseTime("created", w.Created)
		}
		// Without an id, Normalize names that first.
		if err == nil && t.ID != "" {
			t.Lat, err = parseJSONCoord("lat", w.Lat)
		}
		if err == nil && t.ID != "" {
			t.Lng, err = parseJSONCoord("lng", w.Lng)
		}
		if err == nil {
			err = t.Normalize(now)
		}
		items = append(items, Item{Index: index, Ticket: t, Err: itemErr(line, err, "ticket")})
	})
	return items, err
}

// DecodeEvents reads events from a body, in the formats and with the error
// handling of Decode.
func (o DecodeOptions) DecodeEvents(r io.Reader, contentType string) ([]EventItem, error) {
	now := o.now()
	var items []EventItem
	err := splitBody(r, contentType, o.maxItems(), func(index, line int, w *eventJSON, err error) {
		e := Event(w.eventFields)
		if err == nil {
			e.Time, err = parseTime("time", w.Time)
		}
		if err == nil {
			err = e.Normalize(now)
		}
		items = append(items, EventItem{Index: index, Event: e, Err: itemErr(line, err, "event")})
	})
	return items, err
}

// parseJSONCoord reads a required JSON number.
func parseJSONCoord(field string, raw json.RawMessage) (float64, error) {
	v := string(bytes.TrimSpace(raw))
	if v == "" || v == "null" {
		return 0, &FieldError{Field: field, Reason: "required"}
	}
	if v[0] == '"' {
		return 0, &FieldError{Field: field, Reason: "got JSON string, want number"}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, &FieldError{Field: field, Value: shown(string(raw)), Reason: "not a finite number"}
	}
	return f, nil
}

func (o DecodeOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

func (o DecodeOptions) maxItems() int {
	if o.MaxItems <= 0 {
		return DefaultMaxItems
	}
	return o.MaxItems
}

// itemErr turns what encoding/json found wrong with an item into a
// *FieldError where it concerns a field, and puts the NDJSON line into a
// syntax error.
func itemErr(line int, err error, what string) error {
	if err == nil {
		return nil
	}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		if line > 0 {
			return fmt.Errorf("line %d column %d: %w", line, se.Offset, err)
		}
		return err
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Errorf("a %s is a JSON object, not %s", what, te.Value)
		}
		// The path starts with the embedded struct's name; keep the key.
		field := te.Field[strings.LastIndexByte(te.Field, '.')+1:]
		return &FieldError{Field: field, Reason: "got JSON " + te.Value + ", want " + jsonKind(te.Type.Kind())}
	}
	// encoding/json reports an unknown field only as text.
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(rest); uerr == nil {
			return &FieldError{Field: name, Reason: "unknown field"}
		}
	}
	return err
}

// ticketFields is Ticket under another name, so that ticketJSON can embed
// it and shadow its Created field.
type ticketFields Ticket

// ticketJSON reads the created time and the coordinates itself: a missing
// or null coordinate must be an error, not the equator, and the errors name
// the field.
type ticketJSON struct {
	ticketFields
	Created json.RawMessage `json:"created"`
	Lat     json.RawMessage `json:"lat"`
	Lng     json.RawMessage `json:"lng"`
}

type eventFields Event

// eventJSON reads the event time itself, for an error that names it.
type eventJSON struct {
	eventFields
	Time json.RawMessage `json:"time"`
}

// jsonKind names in JSON's words what a Go field takes.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.Float64, reflect.Float32, reflect.Int, reflect.Int64:
		return "number"
	case reflect.Bool:
		return "true or false"
	}
	return k.String()
}

// parseTime reads an RFC 3339 time; null or absent is the zero time, which
// Normalize reports as missing.
func parseTime(field string, raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 {
		s = string(raw[1 : len(raw)-1]) // no escapes: spare the unmarshaller
	} else if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, &FieldError{Field: field, Value: shown(string(raw)), Reason: "is not a string"}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, &FieldError{Field: field, Value: shown(s), Reason: "is not an RFC 3339 time like 2006-01-02T15:04:05+08:00"}
	}
	return t, nil
}
