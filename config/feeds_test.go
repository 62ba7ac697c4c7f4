package config

import (
	"strings"
	"testing"
	"time"
)

const feedsYAML = `
feeds:
  jam_after: 15m
  stations:
    - {id: res-a, kind: reservoir, name: 甲水库, lat: 19.98, lng: 110.30, interval: 5m, warn: 18.5, limit: 19.0, cameras: [reservoir-yongzhuang]}
    - id: road-a
      kind: road
      name: 甲大道
      free_flow: 60
      key: true
      polyline: [[20.03, 110.30], [20.03, 110.32]]
  sources:
    - {name: hydro, type: poll, url: "http://10.0.0.5/api/levels", interval: 1m, timeout: 10s}
    - {name: sensors, type: mqtt, url: "mqtt://user:pw@10.0.0.6:1883", topics: [city/sensors/#], qos: 1, client_id: citywall-1, session_expiry: 24h}
`

func TestFeedsDecode(t *testing.T) {
	c := Default()
	if err := Decode(strings.NewReader(feedsYAML), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	f := c.Feeds
	if f.JamAfter != 15*time.Minute || f.History != 24*time.Hour || len(f.Stations) != 2 || f.Stations[1].Polyline[1][1] != 110.32 ||
		f.Sources[1].QoS != 1 || f.Sources[1].SessionExpiry != 24*time.Hour {
		t.Errorf("decoded %+v", f)
	}
	c = Default()
	err := Decode(strings.NewReader("feeds:\n  stations:\n    - {id: a, kind: rain, name: x, lat: 20, lng: 110, warn: 30, limit: 50, treshold: 3}\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "treshold") {
		t.Errorf("misspelt key: %v", err)
	}
}

func TestFeedsValidate(t *testing.T) {
	good := func() Config {
		c := Default()
		if err := Decode(strings.NewReader(feedsYAML), &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	tests := []struct {
		name   string
		change func(*Feeds)
		key    string
	}{
		{"bad id", func(f *Feeds) { f.Stations[0].ID = "Res A" }, "feeds.stations[0].id"},
		{"duplicate id", func(f *Feeds) { f.Stations[1].ID = "res-a" }, "feeds.stations[1].id"},
		{"unknown kind", func(f *Feeds) { f.Stations[0].Kind = "river" }, "feeds.stations[0].kind"},
		{"limit below warn", func(f *Feeds) { f.Stations[0].Limit = 18 }, "feeds.stations[0].limit"},
		{"no location", func(f *Feeds) { f.Stations[0].Lat, f.Stations[0].Lng = 0, 0 }, "feeds.stations[0].lat"},
		{"short road", func(f *Feeds) { f.Stations[1].Polyline = f.Stations[1].Polyline[:1] }, "feeds.stations[1].polyline"},
		{"no free flow", func(f *Feeds) { f.Stations[1].FreeFlow = 0 }, "feeds.stations[1].free_flow"},
		{"tiny interval", func(f *Feeds) { f.Stations[0].Interval = time.Millisecond }, "feeds.stations[0].interval"},
		{"poll ftp", func(f *Feeds) { f.Sources[0].URL = "ftp://x/y" }, "feeds.sources[0].url"},
		{"timeout over interval", func(f *Feeds) { f.Sources[0].Timeout = 2 * time.Minute }, "feeds.sources[0].timeout"},
		{"qos 3", func(f *Feeds) { f.Sources[1].QoS = 3 }, "feeds.sources[1].qos"},
		{"qos 1 without client id", func(f *Feeds) { f.Sources[1].ClientID = "" }, "feeds.sources[1].client_id"},
		{"no topics", func(f *Feeds) { f.Sources[1].Topics = nil }, "feeds.sources[1].topics"},
		{"bad type", func(f *Feeds) { f.Sources[1].Type = "kafka" }, "feeds.sources[1].type"},
		{"stale factor", func(f *Feeds) { f.StaleFactor = 0.5 }, "feeds.stale_factor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.change(&c.Feeds)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), "'"+tt.key+"'") {
				t.Fatalf("err = %v, want one for %s", err, tt.key)
			}
		})
	}
	c := good()
	c.Feeds.Sources[1].URL = "http://user:pw@x"
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), ":pw@") {
		t.Errorf("a password in an error: %v", err)
	}
}
