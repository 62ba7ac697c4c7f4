package ticket

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Mapping says which CSV columns hold a ticket's fields and how to read them.
type Mapping struct {
	// Column names, matched case-insensitively. ID, Created, Category, Lat
	// and Lng are required; the others are read when the header has them.
	ID, Created, Category, Subcategory, Summary string
	Lat, Lng, District, Grid, Urgent, Channel   string

	TimeLayout string         // of the Created column; empty means RFC 3339
	TimeZone   *time.Location // for times without an offset; nil means UTC

	// Channels maps values of the Channel column (case-insensitively) to
	// channels; a value mapped to "" takes DefaultChannel. Other values are
	// read as channel names.
	Channels       map[string]Channel
	DefaultChannel Channel // when there is no Channel column or the cell is empty
	CRS            CRS     // of the Lat/Lng columns; empty means WGS84
}

// DefaultMapping reads citywall's own CSV columns: id, created (RFC 3339),
// channel, category, subcategory, summary, lat, lng (WGS84), district, grid,
// urgent.
func DefaultMapping() Mapping {
	return Mapping{
		ID: "id", Created: "created", Channel: "channel",
		Category: "category", Subcategory: "subcategory", Summary: "summary",
		Lat: "lat", Lng: "lng", District: "district", Grid: "grid", Urgent: "urgent",
		TimeLayout: time.RFC3339,
		CRS:        WGS84,
	}
}

// NYC311Mapping reads NYC Open Data's 311 Service Requests export: complaint
// type and descriptor as category and subcategory, borough as district,
// local New York times, and the intake channel where the export has it.
func NYC311Mapping() Mapping {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		// Cannot happen with time/tzdata linked in; standard time is the
		// nearest fixed answer.
		ny = time.FixedZone("EST", -5*60*60)
	}
	return Mapping{
		ID:          "Unique Key",
		Created:     "Created Date",
		Category:    "Complaint Type",
		Subcategory: "Descriptor",
		District:    "Borough",
		Lat:         "Latitude",
		Lng:         "Longitude",
		Channel:     "Open Data Channel Type",
		TimeLayout:  "01/02/2006 03:04:05 PM",
		TimeZone:    ny,
		Channels: map[string]Channel{
			"PHONE":   ChannelPhone,
			"ONLINE":  ChannelWeb,
			"MOBILE":  ChannelApp,
			"UNKNOWN": "",
			"OTHER":   "",
		},
		DefaultChannel: ChannelPhone,
		CRS:            WGS84,
	}
}

// errNoLocation marks a row without coordinates.
var errNoLocation = errors.New("no location")

// columns holds the index of each mapped column in a header, -1 if absent.
type columns struct {
	id, created, category, subcategory, summary int
	lat, lng, district, grid, urgent, channel   int
}

// ReadCSV reads tickets from a CSV file with a header row. Rows without
// coordinates and rows that fail to parse or validate are reported in the
// result; the error is for a file that cannot be read at all (no header, a
// required column missing, a failing reader).
func ReadCSV(r io.Reader, m Mapping) (*ImportResult, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("read csv header: empty file")
	}
	if err != nil {
		return nil, fmt.Errorf("read csv header: %w", err)
	}
	cols, err := m.find(header)
	if err != nil {
		return nil, err
	}
	conv := m.converter()
	now := time.Now()
	res := &ImportResult{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return res, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			res.add(pe.StartLine, Ticket{}, err)
			continue
		}
		if err != nil {
			return res, fmt.Errorf("read csv after row %d: %w", res.Rows, err)
		}
		line, _ := cr.FieldPos(0)
		t, err := conv.ticket(rec, cols)
		if err == nil {
			err = t.Normalize(now)
		}
		res.add(line, t, err)
	}
}

// find locates the mapped columns in a header.
func (m Mapping) find(header []string) (columns, error) {
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\uFEFF") // from spreadsheet exports
	}
	index := func(name string) int {
		if name == "" {
			return -1
		}
		for i, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), name) {
				return i
			}
		}
		return -1
	}
	c := columns{
		id: index(m.ID), created: index(m.Created), category: index(m.Category),
		subcategory: index(m.Subcategory), summary: index(m.Summary),
		lat: index(m.Lat), lng: index(m.Lng), district: index(m.District),
		grid: index(m.Grid), urgent: index(m.Urgent), channel: index(m.Channel),
	}
	required := []struct {
		name string
		i    int
	}{{m.ID, c.id}, {m.Created, c.created}, {m.Category, c.category}, {m.Lat, c.lat}, {m.Lng, c.lng}}
	for _, r := range required {
		if r.i < 0 {
			return c, fmt.Errorf("read csv header: no column %q", r.name)
		}
	}
	return c, nil
}

// converter holds a Mapping prepared for reading many rows.
type converter struct {
	m        Mapping
	layout   string
	zone     *time.Location
	channels map[string]Channel // keys upper case
}

func (m Mapping) converter() converter {
	c := converter{m: m, layout: m.TimeLayout, zone: m.TimeZone, channels: make(map[string]Channel, len(m.Channels))}
	if c.layout == "" {
		c.layout = time.RFC3339
	}
	if c.zone == nil {
		c.zone = time.UTC
	}
	for k, v := range m.Channels {
		c.channels[strings.ToUpper(strings.TrimSpace(k))] = v
	}
	return c
}

// ticket reads one record; the ticket still has to be normalised.
func (c converter) ticket(rec []string, cols columns) (Ticket, error) {
	cell := func(i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	t := Ticket{
		ID:          cell(cols.id),
		Category:    cell(cols.category),
		Subcategory: cell(cols.subcategory),
		Summary:     cell(cols.summary),
		District:    cell(cols.district),
		Grid:        cell(cols.grid),
		CRS:         c.m.CRS,
		Channel:     c.channel(cell(cols.channel)),
	}
	latS, lngS := cell(cols.lat), cell(cols.lng)
	if latS == "" || lngS == "" {
		return t, errNoLocation
	}
	var err error
	if t.Lat, err = parseCoord(c.m.Lat, latS); err != nil {
		return t, err
	}
	if t.Lng, err = parseCoord(c.m.Lng, lngS); err != nil {
		return t, err
	}
	if t.Lat == 0 && t.Lng == 0 {
		return t, errNoLocation // how some exports write a missing point
	}
	if s := cell(cols.created); s != "" {
		if t.Created, err = time.ParseInLocation(c.layout, s, c.zone); err != nil {
			return t, &FieldError{Field: c.m.Created, Value: shown(s), Reason: "does not match the layout " + c.layout}
		}
	}
	if t.Urgent, err = parseFlag(c.m.Urgent, cell(cols.urgent)); err != nil {
		return t, err
	}
	return t, nil
}

func (c converter) channel(v string) Channel {
	if v == "" {
		return c.m.DefaultChannel
	}
	if ch, ok := c.channels[strings.ToUpper(v)]; ok {
		if ch == "" {
			return c.m.DefaultChannel
		}
		return ch
	}
	return Channel(v)
}

func parseCoord(column, s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, &FieldError{Field: column, Value: shown(s), Reason: "is not a number"}
	}
	return v, nil
}

func parseFlag(column, s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "0", "false", "no", "n":
		return false, nil
	case "1", "true", "yes", "y":
		return true, nil
	}
	return false, &FieldError{Field: column, Value: shown(s), Reason: "is not true or false"}
}
