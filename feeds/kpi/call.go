// Package kpi computes a hotline centre's key figures from call-centre
// events (offered, answered, abandoned) and ticket lifecycles: answer
// rate, average wait, volume against the same weekday last week, 30-minute
// response compliance, completion, satisfaction and direct resolution, by
// the city's local day; and renders the daily report as HTML and CSV.
package kpi

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/citywall/citywall/internal/jsonbody"
)

// CallType is a step of a call at the call centre.
type CallType string

// Call steps: a call is offered to the queue, then answered by an
// operator or abandoned by the caller.
const (
	Offered   CallType = "offered"
	Answered  CallType = "answered"
	Abandoned CallType = "abandoned"
)

// Call is one call-centre event. Wait is the seconds the caller waited in
// the queue, required with answered and abandoned.
type Call struct {
	ID   string    `json:"id"`
	Type CallType  `json:"type"`
	Time time.Time `json:"time"`
	Wait float64   `json:"wait_s,omitempty"`
}

// CallItem is one decoded call event; Err is why it was rejected.
type CallItem struct {
	Index int
	Call  Call
	Err   error
}

// ErrTooManyItems: a body holds more items than allowed.
var ErrTooManyItems = jsonbody.ErrTooManyItems

type callJSON struct {
	ID   *string         `json:"id"`
	Type *string         `json:"type"`
	Time json.RawMessage `json:"time"`
	Wait json.RawMessage `json:"wait_s"`
}

var fieldErr = jsonbody.FieldErr

// DecodeCalls reads call events: one JSON object, an array, or NDJSON. A
// body that is not JSON is an error and nothing in it counts; a bad item
// is rejected alone, with a reason naming the field.
func DecodeCalls(r io.Reader, max int) ([]CallItem, error) {
	raws, err := jsonbody.Split(r, max)
	if err != nil {
		return nil, err
	}
	out := make([]CallItem, len(raws))
	for i, raw := range raws {
		out[i] = decodeCall(i, raw)
	}
	return out, nil
}

func decodeCall(i int, raw json.RawMessage) CallItem {
	it := CallItem{Index: i}
	var w callJSON
	if err := jsonbody.Unmarshal(raw, &w); err != nil {
		it.Err = err
		return it
	}
	if w.ID == nil || *w.ID == "" || len(*w.ID) > 128 {
		it.Err = fieldErr("id", "", "required: the call's id, 1..128 characters")
		if w.ID != nil {
			it.Call.ID = *w.ID
		}
		return it
	}
	it.Call.ID = *w.ID
	if w.Type == nil {
		it.Err = fieldErr("type", "", "required: offered, answered or abandoned")
		return it
	}
	switch t := CallType(*w.Type); t {
	case Offered, Answered, Abandoned:
		it.Call.Type = t
	default:
		it.Err = fieldErr("type", *w.Type, "not one of offered, answered, abandoned")
		return it
	}
	s := strings.TrimSpace(string(w.Time))
	var str string
	if s == "" || s == "null" || json.Unmarshal(w.Time, &str) != nil {
		it.Err = fieldErr("time", "", "required: RFC 3339 with a zone")
		return it
	}
	t, err := time.Parse(time.RFC3339Nano, str)
	if err != nil {
		it.Err = fieldErr("time", str, "not RFC 3339 with a zone, like 2026-11-22T09:30:00+08:00")
		return it
	}
	it.Call.Time = t
	ws := strings.TrimSpace(string(w.Wait))
	if ws == "" || ws == "null" {
		if it.Call.Type != Offered {
			it.Err = fieldErr("wait_s", "", "required with "+string(it.Call.Type)+": seconds the caller waited")
		}
		return it
	}
	if ws[0] == '"' {
		var q string
		_ = json.Unmarshal(w.Wait, &q)
		ws = q
	}
	v, err := strconv.ParseFloat(ws, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), math.IsNaN(v):
		it.Err = fieldErr("wait_s", ws, "not a number")
	case math.IsInf(v, 0) || err != nil:
		it.Err = fieldErr("wait_s", ws, "not a finite number")
	case v < 0 || v > 86400:
		it.Err = fieldErr("wait_s", ws, "out of range 0..86400 seconds")
	default:
		it.Call.Wait = v
	}
	return it
}
