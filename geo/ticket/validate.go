package ticket

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits Normalize enforces.
const (
	MaxIDLen      = 64   // runes in a ticket id
	MaxLabelLen   = 64   // runes in a category, subcategory, district, grid or department
	MaxSummaryLen = 2000 // runes in a summary or an event note

	// MaxFuture is how far after the server's clock a time may lie: clocks
	// of intake systems drift a little, a later time is a wrong one.
	MaxFuture = 5 * time.Minute
)

// earliest is the first valid ticket or event time; anything before is a
// broken clock or an unset field in the system that sent it.
var earliest = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Valid reports whether c is one of Channels.
func (c Channel) Valid() bool {
	for _, v := range Channels {
		if c == v {
			return true
		}
	}
	return false
}

// Valid reports whether t is one of the lifecycle steps.
func (t EventType) Valid() bool {
	switch t {
	case EventReceived, EventDispatched, EventResponded, EventResolved, EventVisited:
		return true
	}
	return false
}

// Valid reports whether s is one of the ratings.
func (s Satisfaction) Valid() bool {
	switch s {
	case Satisfied, BasicSatisfied, Unsatisfied:
		return true
	}
	return false
}

// Normalize checks a ticket received from outside and brings it to the form
// the store keeps: text trimmed, channel and CRS lower case, the point
// converted to WGS84 (CRS becomes wgs84). now is the server's clock, for
// the future check; historic tickets are valid. The error is a *FieldError
// for the first field at fault.
func (t *Ticket) Normalize(now time.Time) error {
	t.ID = strings.TrimSpace(t.ID)
	if err := checkID("id", t.ID); err != nil {
		return err
	}
	t.Channel = Channel(lowerTrim(string(t.Channel)))
	if t.Channel == "" {
		return &FieldError{Field: "channel", Reason: "required"}
	}
	if !t.Channel.Valid() {
		return &FieldError{Field: "channel", Value: shown(string(t.Channel)), Reason: "not one of " + joinChannels()}
	}
	t.Category = strings.TrimSpace(t.Category)
	if t.Category == "" {
		return &FieldError{Field: "category", Reason: "required"}
	}
	fields := []struct {
		name string
		s    *string
		max  int
		text bool // free text: line breaks and tabs allowed
	}{
		{"category", &t.Category, MaxLabelLen, false},
		{"subcategory", &t.Subcategory, MaxLabelLen, false},
		{"summary", &t.Summary, MaxSummaryLen, true},
		{"district", &t.District, MaxLabelLen, false},
		{"grid", &t.Grid, MaxLabelLen, false},
	}
	for _, f := range fields {
		*f.s = strings.TrimSpace(*f.s)
		if err := checkText(f.name, *f.s, f.max, f.text); err != nil {
			return err
		}
	}
	if err := t.normalizePoint(); err != nil {
		return err
	}
	return checkTime("created", t.Created, now)
}

// normalizePoint checks lat/lng in the posted CRS and converts them to WGS84.
func (t *Ticket) normalizePoint() error {
	crs := CRS(lowerTrim(string(t.CRS)))
	switch crs {
	case "", WGS84, GCJ02, BD09:
	default:
		return &FieldError{Field: "crs", Value: shown(string(t.CRS)), Reason: "not one of wgs84, gcj02, bd09"}
	}
	if err := checkCoord("lat", t.Lat, 90); err != nil {
		return err
	}
	if err := checkCoord("lng", t.Lng, 180); err != nil {
		return err
	}
	if t.Lat == 0 && t.Lng == 0 {
		// What a client sends when it has no location: a point in the
		// Gulf of Guinea where no 12345 ticket can be.
		return &FieldError{Field: "lat,lng", Value: "0,0", Reason: "is no location (null island)"}
	}
	t.Lat, t.Lng = toWGS84(crs, t.Lat, t.Lng)
	t.CRS = WGS84
	return nil
}

// Normalize checks an event received from outside, like Ticket.Normalize:
// ticket id, a known type, its time, and a satisfaction rating only with a
// visit back. The error is a *FieldError.
func (e *Event) Normalize(now time.Time) error {
	e.Ticket = strings.TrimSpace(e.Ticket)
	if err := checkID("ticket", e.Ticket); err != nil {
		return err
	}
	e.Type = EventType(lowerTrim(string(e.Type)))
	if e.Type == "" {
		return &FieldError{Field: "type", Reason: "required"}
	}
	if !e.Type.Valid() {
		return &FieldError{Field: "type", Value: shown(string(e.Type)), Reason: "not one of received, dispatched, responded, resolved, visited"}
	}
	if err := checkTime("time", e.Time, now); err != nil {
		return err
	}
	e.Department = strings.TrimSpace(e.Department)
	if err := checkText("department", e.Department, MaxLabelLen, false); err != nil {
		return err
	}
	e.Note = strings.TrimSpace(e.Note)
	if err := checkText("note", e.Note, MaxSummaryLen, true); err != nil {
		return err
	}
	e.Satisfaction = Satisfaction(lowerTrim(string(e.Satisfaction)))
	if e.Satisfaction == "" {
		return nil
	}
	if e.Type != EventVisited {
		return &FieldError{Field: "satisfaction", Value: shown(string(e.Satisfaction)), Reason: "only with type visited"}
	}
	if !e.Satisfaction.Valid() {
		return &FieldError{Field: "satisfaction", Value: shown(string(e.Satisfaction)), Reason: "not one of satisfied, basically-satisfied, unsatisfied"}
	}
	return nil
}

func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func joinChannels() string {
	s := make([]string, len(Channels))
	for i, c := range Channels {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// checkID accepts 1..MaxIDLen printable runes without spaces or '/': ids
// end up in URL paths and log lines.
func checkID(field, id string) error {
	if id == "" {
		return &FieldError{Field: field, Reason: "required"}
	}
	if !utf8.ValidString(id) {
		return &FieldError{Field: field, Reason: "is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(id); n > MaxIDLen {
		return &FieldError{Field: field, Value: shown(id), Reason: fmt.Sprintf("is %d characters, max %d", n, MaxIDLen)}
	}
	for _, r := range id {
		if r == '/' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return &FieldError{Field: field, Value: shown(id), Reason: fmt.Sprintf("has %q: ids are printable, without spaces or '/'", r)}
		}
	}
	return nil
}

// checkText bounds a text field and keeps control characters, which would
// garble the wall's layout, out of it.
func checkText(field, s string, max int, text bool) error {
	if !utf8.ValidString(s) {
		return &FieldError{Field: field, Reason: "is not valid UTF-8"}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return &FieldError{Field: field, Reason: fmt.Sprintf("is %d characters, max %d", n, max)}
	}
	for _, r := range s {
		if text && (r == '\n' || r == '\r' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return &FieldError{Field: field, Value: shown(s), Reason: fmt.Sprintf("has control character %q", r)}
		}
	}
	return nil
}

func checkCoord(field string, v, limit float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return &FieldError{Field: field, Value: strconv.FormatFloat(v, 'g', -1, 64), Reason: "is not a finite number"}
	case v < -limit || v > limit:
		return &FieldError{Field: field, Value: strconv.FormatFloat(v, 'g', -1, 64), Reason: fmt.Sprintf("out of range -%g..%g", limit, limit)}
	}
	return nil
}

func checkTime(field string, t, now time.Time) error {
	switch {
	case t.IsZero():
		return &FieldError{Field: field, Reason: "required"}
	case t.After(now.Add(MaxFuture)):
		return &FieldError{Field: field, Value: t.Format(time.RFC3339), Reason: fmt.Sprintf("is more than %v after the server's clock (%s)", MaxFuture, now.UTC().Format(time.RFC3339))}
	case t.Before(earliest):
		return &FieldError{Field: field, Value: t.Format(time.RFC3339), Reason: "is before 2000-01-01"}
	}
	return nil
}
