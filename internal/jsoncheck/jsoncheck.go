// Package jsoncheck refuses JSON from outside that encoding/json would
// read silently wrong: an object naming a member twice (encoding/json keeps
// the last, so two readers of one body may disagree) and strings that are
// not valid UTF-8 (encoding/json replaces the bad bytes with U+FFFD). Its
// errors name the field by its JSON Pointer.
//
// The grammar checks are github.com/go-json-experiment/json/jsontext's,
// which rejects both by default (Go 1.26 has it as encoding/json/jsontext
// only under GOEXPERIMENT=jsonv2).
package jsoncheck

import (
	"bytes"
	"errors"
	"io"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Error is a body refused by Check: the field (a JSON Pointer such as
// "/items/0/id", or "" for the whole value) and what is wrong with it.
type Error struct {
	Field  string
	Reason string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// Reasons of an Error.
const (
	ReasonDuplicate   = "duplicate name (an object names this member twice)"
	ReasonInvalidUTF8 = "invalid UTF-8 in a string"
)

// Check reads b, one JSON value or a sequence of them (NDJSON), and
// returns an *Error for the first duplicate member name or invalid UTF-8.
// Other faults of syntax are left to the decoder that reads b next, which
// reports them in its own terms: Check returns nil for them.
func Check(b []byte) error {
	if !mayNeedCheck(b) {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(b))
	for {
		err := dec.SkipValue()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return classify(err)
		}
	}
}

// mayNeedCheck is false for bodies that hold neither an object (no
// member names) nor a byte outside ASCII, the common case of a
// small array of numbers, so such bodies cost one scan.
func mayNeedCheck(b []byte) bool {
	for _, c := range b {
		if c == '{' || c >= 0x80 {
			return true
		}
	}
	return false
}

func classify(err error) error {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return nil
	}
	switch {
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		return &Error{Field: string(se.JSONPointer), Reason: ReasonDuplicate}
	case se.Err != nil && strings.Contains(se.Err.Error(), "invalid UTF-8"):
		return &Error{Field: string(se.JSONPointer), Reason: ReasonInvalidUTF8}
	}
	return nil
}
