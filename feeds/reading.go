package feeds

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

// Reading is one measurement of a station, as posted. Value is in Unit;
// the Feed converts it to the kind's unit (Kind.Unit).
type Reading struct {
	Station string    `json:"station"`
	Time    time.Time `json:"time"`
	Value   float64   `json:"value"`
	Unit    string    `json:"unit"`
	Inflow  *float64  `json:"inflow,omitempty"`  // reservoir, m³/s
	Outflow *float64  `json:"outflow,omitempty"` // reservoir, m³/s
}

// Incident is a traffic incident: an accident, road works or a closure.
// A report with Cleared ends it.
type Incident struct {
	ID      string    `json:"incident"`
	Type    string    `json:"type"` // accident, roadworks, closure
	Time    time.Time `json:"time"`
	Lat     float64   `json:"lat"`
	Lng     float64   `json:"lng"`
	Road    string    `json:"road,omitempty"` // segment id, when known
	Summary string    `json:"summary,omitempty"`
	Cleared bool      `json:"cleared,omitempty"`
}

// IncidentTypes are the kinds of traffic incident.
var IncidentTypes = []string{"accident", "roadworks", "closure"}

// Item is one decoded item of a body: a reading or an incident. Err is why
// it was rejected; even then the ids hold what could be read.
type Item struct {
	Index    int
	Reading  *Reading
	Incident *Incident
	Err      error
}

// ID is the station or incident the item names, for the answer.
func (it Item) ID() string {
	switch {
	case it.Reading != nil:
		return it.Reading.Station
	case it.Incident != nil:
		return it.Incident.ID
	}
	return ""
}

// ErrTooManyItems: a body holds more items than allowed.
var ErrTooManyItems = jsonbody.ErrTooManyItems

// readingJSON is the wire form: numbers may come as JSON numbers or as
// numeric strings (as some loggers send them), so they are read raw and
// checked one by one.
type readingJSON struct {
	Station  *string         `json:"station"`
	Incident *string         `json:"incident"`
	Time     json.RawMessage `json:"time"`
	Value    json.RawMessage `json:"value"`
	Level    json.RawMessage `json:"level"`
	Depth    json.RawMessage `json:"depth"`
	Rain     json.RawMessage `json:"rain"`
	Speed    json.RawMessage `json:"speed"`
	Unit     *string         `json:"unit"`
	Inflow   json.RawMessage `json:"inflow"`
	Outflow  json.RawMessage `json:"outflow"`
	Type     string          `json:"type"`
	Lat      json.RawMessage `json:"lat"`
	Lng      json.RawMessage `json:"lng"`
	Road     string          `json:"road"`
	Summary  string          `json:"summary"`
	Cleared  bool            `json:"cleared"`
}

var fieldErr = jsonbody.FieldErr

// DecodeReadings reads a body of readings and incidents: one JSON object,
// an array of them, or NDJSON (one per line). A body that is not JSON at
// all is an error and nothing in it counts; a bad item is rejected on its
// own with a reason naming the field.
func DecodeReadings(r io.Reader, max int) ([]Item, error) {
	raws, err := jsonbody.Split(r, max)
	if err != nil {
		return nil, err
	}
	items := make([]Item, len(raws))
	for i, raw := range raws {
		items[i] = decodeItem(i, raw)
	}
	return items, nil
}

func decodeItem(i int, raw json.RawMessage) Item {
	it := Item{Index: i}
	var w readingJSON
	if err := jsonbody.Unmarshal(raw, &w); err != nil {
		it.Err = err
		return it
	}
	switch {
	case w.Incident != nil && w.Station != nil:
		it.Reading = &Reading{Station: *w.Station}
		it.Err = fieldErr("incident", "", "an item is a reading (station) or an incident, not both")
	case w.Incident != nil:
		it.Incident = &Incident{ID: *w.Incident}
		it.Err = decodeIncident(&w, it.Incident)
	case w.Station != nil:
		it.Reading = &Reading{Station: *w.Station}
		it.Err = decodeReading(&w, it.Reading)
	default:
		it.Err = fieldErr("station", "", "required (or incident, for a traffic incident)")
	}
	return it
}

func decodeReading(w *readingJSON, r *Reading) error {
	if r.Station == "" {
		return fieldErr("station", "", "required")
	}
	var err error
	if r.Time, err = parseTime(w.Time); err != nil {
		return err
	}
	var vfield string
	var vraw json.RawMessage
	for _, c := range []struct {
		name string
		raw  json.RawMessage
	}{{"value", w.Value}, {"level", w.Level}, {"depth", w.Depth}, {"rain", w.Rain}, {"speed", w.Speed}} {
		if len(c.raw) == 0 || string(c.raw) == "null" {
			continue
		}
		if vfield != "" {
			return fieldErr(c.name, "", "the measurement is already given as "+vfield+"; give one")
		}
		vfield, vraw = c.name, c.raw
	}
	if vfield == "" {
		return fieldErr("value", "", "required")
	}
	if r.Value, err = parseNumber(vfield, vraw); err != nil {
		return err
	}
	if w.Unit == nil || strings.TrimSpace(*w.Unit) == "" {
		return fieldErr("unit", "", "required: the unit of "+vfield+" (m, cm, mm/h, km/h, …)")
	}
	r.Unit = strings.TrimSpace(*w.Unit)
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  **float64
	}{{"inflow", w.Inflow, &r.Inflow}, {"outflow", w.Outflow, &r.Outflow}} {
		if len(f.raw) == 0 || string(f.raw) == "null" {
			continue
		}
		v, err := parseNumber(f.name, f.raw)
		if err != nil {
			return err
		}
		if v < 0 || v > 1e6 {
			return fieldErr(f.name, strconv.FormatFloat(v, 'g', -1, 64), "out of range 0..1000000 m³/s")
		}
		*f.dst = &v
	}
	return nil
}

func decodeIncident(w *readingJSON, in *Incident) error {
	if in.ID == "" || len(in.ID) > 128 {
		return fieldErr("incident", in.ID, "must be an id of 1..128 characters")
	}
	var err error
	if in.Time, err = parseTime(w.Time); err != nil {
		return err
	}
	in.Type, in.Road, in.Summary, in.Cleared = w.Type, w.Road, w.Summary, w.Cleared
	valid := false
	for _, t := range IncidentTypes {
		valid = valid || t == in.Type
	}
	if !valid {
		return fieldErr("type", in.Type, "not one of accident, roadworks, closure")
	}
	if len(in.Summary) > 500 {
		return fieldErr("summary", "", "longer than 500 bytes")
	}
	if in.Lat, err = parseNumber("lat", w.Lat); err != nil {
		return err
	}
	if in.Lng, err = parseNumber("lng", w.Lng); err != nil {
		return err
	}
	if in.Lat < -90 || in.Lat > 90 {
		return fieldErr("lat", strconv.FormatFloat(in.Lat, 'g', -1, 64), "out of range -90..90")
	}
	if in.Lng < -180 || in.Lng > 180 {
		return fieldErr("lng", strconv.FormatFloat(in.Lng, 'g', -1, 64), "out of range -180..180")
	}
	if in.Lat == 0 && in.Lng == 0 {
		return fieldErr("lat", "0", "0,0 is not a place")
	}
	return nil
}

// parseNumber reads a JSON number or a numeric string; NaN, infinities and
// overflow are rejected, whichever way they are written.
func parseNumber(field string, raw json.RawMessage) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return 0, fieldErr(field, "", "required")
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, fieldErr(field, s, "not a number")
		}
		s = strings.TrimSpace(str)
	}
	v, err := strconv.ParseFloat(s, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange):
		return 0, fieldErr(field, s, "not a number")
	case math.IsNaN(v):
		return 0, fieldErr(field, "NaN", "not a number")
	case math.IsInf(v, 0) || err != nil:
		return 0, fieldErr(field, s, "not a finite number")
	}
	return v, nil
}

// parseTime reads RFC 3339 or Unix seconds (a number; milliseconds when
// it is too large to be seconds).
func parseTime(raw json.RawMessage) (time.Time, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return time.Time{}, fieldErr("time", "", "required (RFC 3339 with a zone, or Unix seconds)")
	}
	if s[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return time.Time{}, fieldErr("time", s, "not a string")
		}
		t, err := time.Parse(time.RFC3339Nano, str)
		if err != nil {
			return time.Time{}, fieldErr("time", str, "not RFC 3339 with a zone, like 2026-11-22T09:30:00+08:00")
		}
		return t, nil
	}
	v, err := parseNumber("time", raw)
	if err != nil {
		return time.Time{}, err
	}
	if v < 0 || v > 1e14 {
		return time.Time{}, fieldErr("time", s, "out of range for Unix seconds or milliseconds")
	}
	if v > 1e11 { // milliseconds
		return time.UnixMilli(int64(v)), nil
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// convert turns a value in unit into kind's unit. It answers false when
// unit is not a unit of that kind's measurement.
func convert(k Kind, v float64, unit string) (float64, bool) {
	u := strings.ToLower(strings.ReplaceAll(unit, " ", ""))
	var f float64
	switch k {
	case Reservoir:
		f = map[string]float64{"m": 1, "cm": 0.01, "mm": 0.001}[u]
	case Waterlogging:
		f = map[string]float64{"cm": 1, "mm": 0.1, "m": 100}[u]
	case Rain:
		f = map[string]float64{"mm/h": 1, "mm/hr": 1, "cm/h": 10, "in/h": 25.4}[u]
	case Road:
		f = map[string]float64{"km/h": 1, "kmh": 1, "kph": 1, "m/s": 3.6, "mph": 1.609344}[u]
	}
	return v * f, f != 0
}

// unitsOf lists the units accepted for a kind, for error messages.
func unitsOf(k Kind) string {
	switch k {
	case Reservoir:
		return "m, cm or mm"
	case Waterlogging:
		return "cm, mm or m"
	case Rain:
		return "mm/h, cm/h or in/h"
	case Road:
		return "km/h, m/s or mph"
	}
	return ""
}
