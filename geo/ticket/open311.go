package ticket

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// open311Request is a service request of Open311 GeoReport v2. Servers
// differ in what they quote, so ids and coordinates may be strings or
// numbers.
type open311Request struct {
	ID          flexString `json:"service_request_id"`
	ServiceName string     `json:"service_name"`
	ServiceCode flexString `json:"service_code"`
	Description string     `json:"description"`
	Requested   string     `json:"requested_datetime"`
	Address     string     `json:"address"`
	Lat         flexFloat  `json:"lat"`
	Long        flexFloat  `json:"long"`
}

// Open311 servers write times in RFC 3339, a few without an offset (UTC).
var open311Layouts = []string{time.RFC3339, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05"}

// ReadOpen311 reads an Open311 GeoReport v2 JSON file: an array of service
// requests, or an object holding it under "service_requests". Service name
// (or code) becomes the category, the description (or address) the
// summary; the channel is web, GeoReport being an API for web and app
// clients. Rows are numbered from 1 in array order.
func ReadOpen311(r io.Reader) (*ImportResult, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read open311: %w", err)
	}
	var list []json.RawMessage
	if b := bytes.TrimLeft(data, " \t\r\n\uFEFF"); len(b) > 0 && b[0] == '{' {
		var wrapped struct {
			Requests []json.RawMessage `json:"service_requests"`
		}
		err = json.Unmarshal(b, &wrapped)
		list = wrapped.Requests
	} else {
		err = json.Unmarshal(b, &list)
	}
	if err != nil {
		return nil, fmt.Errorf("read open311: %w", err)
	}
	now := time.Now()
	res := &ImportResult{}
	for i, raw := range list {
		t, err := open311Ticket(raw)
		if err == nil {
			err = t.Normalize(now)
		}
		res.add(i+1, t, err)
	}
	return res, nil
}

func open311Ticket(raw json.RawMessage) (Ticket, error) {
	var q open311Request
	if err := json.Unmarshal(raw, &q); err != nil {
		return Ticket{}, fmt.Errorf("decode service request: %w", err)
	}
	t := Ticket{
		ID:       string(q.ID),
		Channel:  ChannelWeb,
		Category: strings.TrimSpace(q.ServiceName),
		Summary:  strings.TrimSpace(q.Description),
		CRS:      WGS84,
	}
	if t.Category == "" {
		t.Category = string(q.ServiceCode)
	}
	if t.Summary == "" {
		t.Summary = q.Address
	}
	if !q.Lat.set || !q.Long.set || (q.Lat.v == 0 && q.Long.v == 0) {
		return t, errNoLocation
	}
	t.Lat, t.Lng = q.Lat.v, q.Long.v
	if s := strings.TrimSpace(q.Requested); s != "" {
		var err error
		if t.Created, err = parseOpen311Time(s); err != nil {
			return t, &FieldError{Field: "requested_datetime", Value: shown(s), Reason: "is not an ISO 8601 time"}
		}
	}
	return t, nil
}

func parseOpen311Time(s string) (time.Time, error) {
	var err error
	for _, layout := range open311Layouts {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// flexString reads a JSON string or number as text; null is empty.
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(strings.TrimSpace(v))
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("want a string or a number")
	}
	*s = flexString(n)
	return nil
}

// flexFloat reads a JSON number or a number in a string; null or an empty
// string leaves it unset.
type flexFloat struct {
	v   float64
	set bool
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s = strings.TrimSpace(s); s == "" {
			return nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", shown(s))
	}
	f.v, f.set = v, true
	return nil
}
