package ticket

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)

// haikou is a valid ticket near Haikou's centre.
func haikou(id string) Ticket {
	return Ticket{
		ID:       id,
		Channel:  ChannelPhone,
		Category: "城市管理",
		Lat:      20.03,
		Lng:      110.33,
		Created:  testNow.Add(-time.Hour),
	}
}

func TestTicketNormalize(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Ticket)
		field  string // "" when valid
		reason string // part of the error message
	}{
		{"valid", func(*Ticket) {}, "", ""},
		{"id missing", func(t *Ticket) { t.ID = "  " }, "id", "required"},
		{"id too long", func(t *Ticket) { t.ID = strings.Repeat("a", 65) }, "id", "max 64"},
		{"id 64 runes", func(t *Ticket) { t.ID = strings.Repeat("号", 64) }, "", ""},
		{"id with space", func(t *Ticket) { t.ID = "a b" }, "id", "without spaces"},
		{"id with slash", func(t *Ticket) { t.ID = "a/b" }, "id", "'/'"},
		{"id with control", func(t *Ticket) { t.ID = "a\x01" }, "id", "printable"},
		{"id bad utf8", func(t *Ticket) { t.ID = "a\xff" }, "id", "UTF-8"},
		{"channel missing", func(t *Ticket) { t.Channel = "" }, "channel", "required"},
		{"channel unknown", func(t *Ticket) { t.Channel = "fax" }, "channel", `"fax" not one of phone`},
		{"channel case", func(t *Ticket) { t.Channel = " WeChat " }, "", ""},
		{"category missing", func(t *Ticket) { t.Category = " " }, "category", "required"},
		{"category too long", func(t *Ticket) { t.Category = strings.Repeat("路", 65) }, "category", "65 characters, max 64"},
		{"category control", func(t *Ticket) { t.Category = "a\nb" }, "category", "control character"},
		{"subcategory too long", func(t *Ticket) { t.Subcategory = strings.Repeat("x", 65) }, "subcategory", "max 64"},
		{"summary too long", func(t *Ticket) { t.Summary = strings.Repeat("水", 2001) }, "summary", "max 2000"},
		{"summary lines", func(t *Ticket) { t.Summary = "line one\nline two\tend" }, "", ""},
		{"summary escape", func(t *Ticket) { t.Summary = "bell\a" }, "summary", "control character"},
		{"district too long", func(t *Ticket) { t.District = strings.Repeat("x", 65) }, "district", "max 64"},
		{"grid control", func(t *Ticket) { t.Grid = "g\x00" }, "grid", "control character"},
		{"lat high", func(t *Ticket) { t.Lat = 91.5 }, "lat", "91.5 out of range -90..90"},
		{"lat low", func(t *Ticket) { t.Lat = -90.01 }, "lat", "out of range"},
		{"lng high", func(t *Ticket) { t.Lng = 180.5 }, "lng", "180.5 out of range -180..180"},
		{"lat NaN", func(t *Ticket) { t.Lat = math.NaN() }, "lat", "not a finite number"},
		{"lng inf", func(t *Ticket) { t.Lng = math.Inf(-1) }, "lng", "not a finite number"},
		{"null island", func(t *Ticket) { t.Lat, t.Lng = 0, 0 }, "lat,lng", "null island"},
		{"equator ok", func(t *Ticket) { t.Lat = 0 }, "", ""},
		{"crs unknown", func(t *Ticket) { t.CRS = "epsg:3857" }, "crs", "not one of wgs84"},
		{"crs upper", func(t *Ticket) { t.CRS = "GCJ02" }, "", ""},
		{"created missing", func(t *Ticket) { t.Created = time.Time{} }, "created", "required"},
		{"created future", func(t *Ticket) { t.Created = testNow.Add(6 * time.Minute) }, "created", "more than 5m0s after"},
		{"created slight skew", func(t *Ticket) { t.Created = testNow.Add(4 * time.Minute) }, "", ""},
		{"created historic", func(t *Ticket) { t.Created = time.Date(2011, 3, 1, 0, 0, 0, 0, time.UTC) }, "", ""},
		{"created ancient", func(t *Ticket) { t.Created = time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC) }, "created", "before 2000-01-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tk := haikou("HK-1")
			tt.edit(&tk)
			err := tk.Normalize(testNow)
			checkFieldError(t, err, tt.field, tt.reason)
		})
	}
}

func checkFieldError(t *testing.T, err error, field, reason string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v (%T), want *FieldError", err, err)
	}
	if fe.Field != field {
		t.Errorf("field = %q, want %q (%v)", fe.Field, field, err)
	}
	if !strings.HasPrefix(err.Error(), field+": ") || !strings.Contains(err.Error(), reason) {
		t.Errorf("message %q, want %q... containing %q", err, field+": ", reason)
	}
}

func TestTicketNormalizeTrimsAndConverts(t *testing.T) {
	tk := haikou(" HK-7 ")
	tk.Channel = " Grid-Patrol"
	tk.Category = " 城市管理 "
	tk.Summary = "  路面积水  "
	tk.CRS = "GCJ02"
	if err := tk.Normalize(testNow); err != nil {
		t.Fatal(err)
	}
	if tk.ID != "HK-7" || tk.Channel != ChannelGridPatrol || tk.Category != "城市管理" || tk.Summary != "路面积水" {
		t.Errorf("not trimmed: %+v", tk)
	}
	if tk.CRS != WGS84 {
		t.Errorf("CRS = %q, want wgs84", tk.CRS)
	}
	again := tk
	if err := again.Normalize(testNow); err != nil || again != tk {
		t.Errorf("second Normalize changed the ticket or failed: %v\n%+v\n%+v", err, again, tk)
	}
}

func TestTicketNormalizeCRS(t *testing.T) {
	tests := []struct {
		crs        CRS
		minM, maxM float64 // expected shift in metres
	}{
		{"", 0, 0},
		{WGS84, 0, 0},
		{GCJ02, 100, 1000}, // GCJ-02 is offset by a few hundred metres in Hainan
		{BD09, 500, 2000},  // BD-09 adds Baidu's own offset on top
	}
	for _, tt := range tests {
		t.Run(string(tt.crs), func(t *testing.T) {
			tk := haikou("HK-2")
			tk.CRS = tt.crs
			if err := tk.Normalize(testNow); err != nil {
				t.Fatal(err)
			}
			d := metres(20.03, 110.33, tk.Lat, tk.Lng)
			if d < tt.minM || d > tt.maxM {
				t.Errorf("moved %.0f m, want %v..%v", d, tt.minM, tt.maxM)
			}
			if tk.CRS != WGS84 {
				t.Errorf("CRS = %q", tk.CRS)
			}
		})
	}
}

// metres is an equirectangular distance, fine over a few kilometres.
func metres(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371e3
	x := (lng2 - lng1) * math.Pi / 180 * math.Cos((lat1+lat2)/2*math.Pi/180)
	y := (lat2 - lat1) * math.Pi / 180
	return r * math.Hypot(x, y)
}

func TestEventNormalize(t *testing.T) {
	valid := func() Event {
		return Event{Ticket: "HK-1", Type: EventDispatched, Time: testNow.Add(-time.Minute), Department: "市政局"}
	}
	tests := []struct {
		name   string
		edit   func(*Event)
		field  string
		reason string
	}{
		{"valid", func(*Event) {}, "", ""},
		{"ticket missing", func(e *Event) { e.Ticket = "" }, "ticket", "required"},
		{"ticket slash", func(e *Event) { e.Ticket = "../x" }, "ticket", "'/'"},
		{"type missing", func(e *Event) { e.Type = "" }, "type", "required"},
		{"type unknown", func(e *Event) { e.Type = "closed" }, "type", `"closed" not one of received`},
		{"type case", func(e *Event) { e.Type = "Resolved" }, "", ""},
		{"time missing", func(e *Event) { e.Time = time.Time{} }, "time", "required"},
		{"time future", func(e *Event) { e.Time = testNow.Add(time.Hour) }, "time", "after the server's clock"},
		{"time ancient", func(e *Event) { e.Time = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC) }, "time", "before 2000"},
		{"department long", func(e *Event) { e.Department = strings.Repeat("局", 65) }, "department", "max 64"},
		{"note long", func(e *Event) { e.Note = strings.Repeat("x", 2001) }, "note", "max 2000"},
		{"satisfaction without visit", func(e *Event) { e.Satisfaction = Satisfied }, "satisfaction", "only with type visited"},
		{"visited satisfied", func(e *Event) { e.Type, e.Satisfaction = EventVisited, Satisfied }, "", ""},
		{"visited no rating", func(e *Event) { e.Type = EventVisited }, "", ""},
		{"visited bad rating", func(e *Event) { e.Type, e.Satisfaction = EventVisited, "meh" }, "satisfaction", `"meh" not one of satisfied`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := valid()
			tt.edit(&e)
			checkFieldError(t, e.Normalize(testNow), tt.field, tt.reason)
		})
	}
}

func TestFieldErrorMessage(t *testing.T) {
	tests := []struct {
		err  FieldError
		want string
	}{
		{FieldError{"lat", "91.5", "out of range -90..90"}, "lat: 91.5 out of range -90..90"},
		{FieldError{"channel", "fax", "not one of phone"}, `channel: "fax" not one of phone`},
		{FieldError{"id", "", "required"}, "id: required"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q", got)
			}
		})
	}
}
