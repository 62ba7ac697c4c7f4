package ticket

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestReadOpen311(t *testing.T) {
	f, err := os.Open("testdata/open311_sample.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := ReadOpen311(f)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 8 || len(res.Tickets) != 3 || len(res.Errors) != 3 {
		t.Fatalf("rows %d, tickets %d, errors %v", res.Rows, len(res.Tickets), res.Errors)
	}
	if want := []int{4, 5}; !slices.Equal(res.NoLocation, want) {
		t.Errorf("NoLocation = %v, want %v", res.NoLocation, want)
	}
	wantErr := map[int]string{6: "requested_datetime", 7: "lat", 8: "north"}
	for _, re := range res.Errors {
		if want, ok := wantErr[re.Row]; !ok || !strings.Contains(re.Error(), want) {
			t.Errorf("row error %v, want one of %v", re, wantErr)
		}
	}
	want := []Ticket{
		{ID: "638344", Channel: ChannelWeb, Category: "Sidewalk and Curb Issues", Summary: "8TH AVE and JUDAH ST, San Francisco, CA, 94122",
			Lat: 37.762221815, Lng: -122.4651145, CRS: WGS84, Created: time.Date(2010, 4, 14, 14, 37, 38, 0, time.UTC)},
		{ID: "638349", Channel: ChannelWeb, Category: "Graffiti Removal", Summary: "Graffiti on the north wall of the bus shelter.",
			Lat: 37.7695, Lng: -122.4532, CRS: WGS84, Created: time.Date(2010, 4, 19, 14, 37, 38, 0, time.UTC)},
		{ID: "638350", Channel: ChannelWeb, Category: "008", Summary: "Pothole in the right lane.",
			Lat: 37.7749, Lng: -122.4194, CRS: WGS84, Created: time.Date(2010, 4, 20, 10, 0, 0, 0, time.UTC)},
	}
	for i, w := range want {
		if !sameTicket(res.Tickets[i], w) {
			t.Errorf("ticket %d:\n got %+v\nwant %+v", i, res.Tickets[i], w)
		}
	}
}

func TestReadOpen311Shapes(t *testing.T) {
	one := `{"service_request_id":"1","service_name":"Noise","requested_datetime":"2020-01-01T00:00:00Z","lat":40.7,"long":-74}`
	tests := []struct {
		name    string
		body    string
		tickets int
		fatal   bool
	}{
		{"array", "[" + one + "]", 1, false},
		{"wrapped", `{"service_requests":[` + one + "," + one + "]}", 2, false},
		{"empty", "[]", 0, false},
		{"element not object", `[1,` + one + `]`, 1, false},
		{"not json", "service_request_id,lat", 0, true},
		{"nothing", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ReadOpen311(strings.NewReader(tt.body))
			if (err != nil) != tt.fatal {
				t.Fatalf("err = %v, want fatal %v", err, tt.fatal)
			}
			if err == nil && len(res.Tickets) != tt.tickets {
				t.Errorf("%d tickets, want %d (%v)", len(res.Tickets), tt.tickets, res.Errors)
			}
		})
	}
}

func TestRowErrorUnwraps(t *testing.T) {
	res, err := ReadOpen311(strings.NewReader(`[{"service_request_id":"1","service_name":"Noise","requested_datetime":"2020-01-01T00:00:00Z","lat":91,"long":-74}]`))
	if err != nil || len(res.Errors) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	var fe *FieldError
	if !errors.As(res.Errors[0], &fe) || fe.Field != "lat" || res.Errors[0].Row != 1 {
		t.Errorf("row error %v, want row 1 with a *FieldError for lat", res.Errors[0])
	}
}
