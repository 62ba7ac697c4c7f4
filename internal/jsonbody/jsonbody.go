// Package jsonbody cuts a posted body of JSON items into its items: one
// object, an array of them, or a sequence of objects (NDJSON or simply
// concatenated). The decoders of calls and feed readings share it; each
// then judges its items one by one, decoding each with Unmarshal.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/internal/jsoncheck"
)

// ErrTooManyItems: a body holds more items than allowed.
var ErrTooManyItems = errors.New("too many items")

// Split returns the top-level values of a body, at most max of them
// (10,000 when max is 0). A body that is not JSON is an error, and so is
// one with more items than max.
func Split(r io.Reader, max int) ([]json.RawMessage, error) {
	if max <= 0 {
		max = 10_000
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty body")
	}
	if trimmed[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(trimmed, &arr); err != nil {
			return nil, fmt.Errorf("array: %w", err)
		}
		if len(arr) > max {
			return nil, fmt.Errorf("%w: %d items, at most %d", ErrTooManyItems, len(arr), max)
		}
		return arr, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	var out []json.RawMessage
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("item %d (byte %d): %w", len(out), dec.InputOffset(), err)
		}
		if len(out) == max {
			return nil, fmt.Errorf("%w: more than %d", ErrTooManyItems, max)
		}
		out = append(out, v)
	}
	return out, nil
}

// FieldErr is an item's field that is wrong: which, the value (cut to 64
// bytes) and why.
func FieldErr(field, value, reason string) error {
	if len(value) > 64 {
		value = value[:64] + "…"
	}
	return &ticket.FieldError{Field: field, Value: value, Reason: reason}
}

// Unmarshal decodes one item of a body into v, refusing a member named
// twice and invalid UTF-8 (see package jsoncheck); its error is a field
// error naming the field, or the item when it is not an object.
func Unmarshal(raw []byte, v any) error {
	if err := jsoncheck.Check(raw); err != nil {
		var ce *jsoncheck.Error
		if errors.As(err, &ce) {
			field := strings.TrimPrefix(ce.Field, "/")
			if field == "" {
				field = "item"
			}
			return &ticket.FieldError{Field: field, Reason: ce.Reason}
		}
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return FieldErr("item", "", "must be a JSON object: "+err.Error())
	}
	return nil
}
