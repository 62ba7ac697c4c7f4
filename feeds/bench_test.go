package feeds_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/citywall/citywall/feeds"
)

// BenchmarkIngest takes batches of 100 readings spread over the stations
// of the demo's size (13 flood stations, 11 roads); ns/op is per batch.
func BenchmarkIngest(b *testing.B) {
	var sts []feeds.Station
	for i := range 24 {
		s := feeds.Station{ID: fmt.Sprintf("s%02d", i), Name: "s", Lat: 20, Lng: 110.3, Interval: time.Minute}
		switch i % 3 {
		case 0:
			s.Kind, s.Warn, s.Limit = feeds.Waterlogging, 15, 30
		case 1:
			s.Kind, s.Warn, s.Limit = feeds.Reservoir, 18.5, 19
		default:
			s.Kind, s.FreeFlow, s.Polyline = feeds.Road, 60, [][2]float64{{20, 110.3}, {20, 110.31}}
		}
		sts = append(sts, s)
	}
	now := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	clock := now
	f, err := feeds.New(feeds.Options{Stations: sts, Now: func() time.Time { return clock }, MaxPoints: 2000})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		items := make([]feeds.Item, 100)
		for j := range items {
			s := sts[n%len(sts)]
			v, u := 10.0, "cm"
			switch s.Kind {
			case feeds.Reservoir:
				v, u = 18.2, "m"
			case feeds.Road:
				v, u = 42, "km/h"
			}
			items[j] = feeds.Item{Index: j, Reading: &feeds.Reading{Station: s.ID, Time: now.Add(time.Duration(n) * time.Second), Value: v, Unit: u}}
			n++
		}
		clock = now.Add(time.Duration(n) * time.Second)
		f.Ingest(ctx, "bench", items)
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "readings/s")
}
