package ticket

import (
	"bytes"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const nycSample = "shared/data/nyc311_sample_2011-03.csv"

// findShared walks up from the test's directory to the checkout that has
// shared/ beside it.
func findShared(t *testing.T, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("%s not found in any parent directory", rel)
		}
		dir = parent
	}
}

func TestReadCSVNYC311(t *testing.T) {
	data, err := os.ReadFile(findShared(t, nycSample))
	if err != nil {
		t.Fatal(err)
	}

	// The expected counts, read independently from the raw file.
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	wantRows, wantNoLoc := len(recs)-1, 0
	wantChannels := map[Channel]int{}
	for _, r := range recs[1:] {
		if r[col["Latitude"]] == "" || r[col["Longitude"]] == "" {
			wantNoLoc++
			continue
		}
		switch r[col["Open Data Channel Type"]] {
		case "ONLINE":
			wantChannels[ChannelWeb]++
		case "MOBILE":
			wantChannels[ChannelApp]++
		default:
			wantChannels[ChannelPhone]++
		}
	}

	res, err := ReadCSV(bytes.NewReader(data), NYC311Mapping())
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != wantRows {
		t.Errorf("Rows = %d, want %d", res.Rows, wantRows)
	}
	if len(res.NoLocation) != wantNoLoc {
		t.Errorf("NoLocation has %d rows, want %d", len(res.NoLocation), wantNoLoc)
	}
	if len(res.Errors) != 0 {
		t.Errorf("errors: %v", res.Errors[:min(5, len(res.Errors))])
	}
	if len(res.Tickets) != wantRows-wantNoLoc {
		t.Errorf("%d tickets, want %d", len(res.Tickets), wantRows-wantNoLoc)
	}
	gotChannels := map[Channel]int{}
	for _, tk := range res.Tickets {
		gotChannels[tk.Channel]++
	}
	for ch, n := range wantChannels {
		if gotChannels[ch] != n {
			t.Errorf("channel %s: %d tickets, want %d", ch, gotChannels[ch], n)
		}
	}
	// The first data row has no location; its line is 2.
	if len(res.NoLocation) == 0 || res.NoLocation[0] != 2 {
		t.Errorf("first row without location is %v, want line 2", res.NoLocation[:min(1, len(res.NoLocation))])
	}

	// 19937901,03/01/2011 10:41:13 AM (EST), Street Sign - Dangling, BROOKLYN
	first := res.Tickets[0]
	want := Ticket{
		ID: "19937901", Channel: ChannelPhone, Category: "Street Sign - Dangling", Subcategory: "Street Cleaning - ASP",
		Lat: 40.660811976282695, Lng: -73.99859430999363, CRS: WGS84, District: "BROOKLYN",
		Created: time.Date(2011, 3, 1, 15, 41, 13, 0, time.UTC),
	}
	if !sameTicket(first, want) {
		t.Errorf("first ticket\n got %+v\nwant %+v", first, want)
	}
}

func TestReadCSVDefaultMapping(t *testing.T) {
	const header = "id,created,channel,category,subcategory,summary,lat,lng,district,grid,urgent\n"
	rows := []struct {
		name  string
		row   string
		field string // "" for a ticket, "-" for no location
	}{
		{"valid", `HK-1,2026-11-22T09:00:00+08:00,wechat,城市管理,道路脏乱,"路面有垃圾, 很脏",20.03,110.33,龙华区,G-12,yes`, ""},
		{"no lat", `HK-2,2026-11-22T09:00:00+08:00,phone,噪音,,,,110.33,,,`, "-"},
		{"zero point", `HK-3,2026-11-22T09:00:00+08:00,phone,噪音,,,0,0,,,`, "-"},
		{"bad lat", `HK-4,2026-11-22T09:00:00+08:00,phone,噪音,,,north,110.33,,,`, "lat"},
		{"bad time", `HK-5,22/11/2026,phone,噪音,,,20.03,110.33,,,`, "created"},
		{"bad channel", `HK-6,2026-11-22T09:00:00+08:00,fax,噪音,,,20.03,110.33,,,`, "channel"},
		{"no channel", `HK-7,2026-11-22T09:00:00+08:00,,噪音,,,20.03,110.33,,,`, "channel"},
		{"bad urgent", `HK-8,2026-11-22T09:00:00+08:00,sms,噪音,,,20.03,110.33,,,maybe`, "urgent"},
		{"out of range", `HK-9,2026-11-22T09:00:00+08:00,sms,噪音,,,20.03,190,,,`, "lng"},
		{"wrong field count", `HK-10,2026-11-22T09:00:00+08:00,sms`, "csv"},
	}
	var b strings.Builder
	b.WriteString("\uFEFF" + header)
	for _, r := range rows {
		b.WriteString(r.row + "\n")
	}
	res, err := ReadCSV(strings.NewReader(b.String()), DefaultMapping())
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != len(rows) || res.Rows != len(res.Tickets)+len(res.NoLocation)+len(res.Errors) {
		t.Fatalf("rows %d, tickets %d, no location %d, errors %d", res.Rows, len(res.Tickets), len(res.NoLocation), len(res.Errors))
	}
	outcome := map[int]string{}
	for _, line := range res.NoLocation {
		outcome[line] = "-"
	}
	for _, re := range res.Errors {
		var fe *FieldError
		var pe *csv.ParseError
		switch {
		case errors.As(re, &fe):
			outcome[re.Row] = fe.Field
		case errors.As(re, &pe):
			outcome[re.Row] = "csv"
		default:
			outcome[re.Row] = re.Error()
		}
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if got := outcome[i+2]; got != r.field {
				t.Errorf("line %d: %q, want %q", i+2, got, r.field)
			}
		})
	}
	tk := res.Tickets[0]
	if tk.ID != "HK-1" || !tk.Urgent || tk.Summary != "路面有垃圾, 很脏" || tk.Grid != "G-12" || !tk.Created.Equal(time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("ticket %+v", tk)
	}
}

func TestReadCSVFatal(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "empty file"},
		{"missing column", "id,created,category,lat\n", `no column "lng"`},
		{"bad header", "id,\"created\n", "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tt.body), DefaultMapping())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestReadCSVChannelColumnAbsent(t *testing.T) {
	body := "Unique Key,Created Date,Complaint Type,Latitude,Longitude\n1,03/14/2011 09:00:00 AM,Noise,40.7,-74.0\n"
	res, err := ReadCSV(strings.NewReader(body), NYC311Mapping())
	if err != nil || len(res.Tickets) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	tk := res.Tickets[0]
	if tk.Channel != ChannelPhone {
		t.Errorf("channel %q, want the default phone", tk.Channel)
	}
	// 14 March 2011 is after the switch to daylight saving time.
	if want := time.Date(2011, 3, 14, 13, 0, 0, 0, time.UTC); !tk.Created.Equal(want) {
		t.Errorf("created %v, want %v", tk.Created.UTC(), want)
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("id,created,channel,category,lat,lng\nA,2026-11-22T09:00:00Z,phone,c,20,110\n"))
	f.Add([]byte("id,created,channel,category,lat,lng\nA,2026-11-22T09:00:00Z,phone,c,,\nB,x,y,z,1,2\n"))
	f.Add([]byte("id,created,category,lat,lng,urgent\n\"A\"\"\",2026-11-22T09:00:00Z,c,NaN,Inf,1\n\"open"))
	f.Add([]byte("\uFEFFID,CREATED,CATEGORY,LAT,LNG\na,b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ReadCSV(bytes.NewReader(data), DefaultMapping())
		if err != nil {
			return
		}
		if res.Rows != len(res.Tickets)+len(res.NoLocation)+len(res.Errors) {
			t.Fatalf("rows %d != %d tickets + %d without location + %d errors", res.Rows, len(res.Tickets), len(res.NoLocation), len(res.Errors))
		}
		for _, tk := range res.Tickets {
			again := tk
			if err := again.Normalize(time.Now()); err != nil {
				t.Fatalf("imported ticket fails Normalize: %v: %+v", err, tk)
			}
		}
	})
}
