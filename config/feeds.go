package config

import (
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/citywall/citywall/wall"
)

// Feeds are the live flood and traffic readings and the hotline KPIs.
type Feeds struct {
	History       time.Duration `yaml:"history"`        // readings kept per station for the sparklines and the history API
	StaleFactor   float64       `yaml:"stale_factor"`   // a station or source is stale after this many expected intervals without data
	JamAfter      time.Duration `yaml:"jam_after"`      // congestion level 4 on a key road for this long raises an alert
	ResponseLimit time.Duration `yaml:"response_limit"` // the response rule counted by the KPIs (30m at a 12345 centre)
	HandlingLimit time.Duration `yaml:"handling_limit"` // a ticket not resolved within this of its creation is not completed in time
	Stations      []FeedStation `yaml:"stations"`
	Sources       []FeedSource  `yaml:"sources"`
}

// FeedStation is one reservoir, waterlogging point, rain gauge or road
// segment.
type FeedStation struct {
	ID       string        `yaml:"id"`   // [a-z0-9_-]
	Kind     string        `yaml:"kind"` // reservoir, waterlogging, rain, road
	Name     string        `yaml:"name"`
	NameEn   string        `yaml:"name_en"`
	Lat      float64       `yaml:"lat"` // WGS84; a road's midpoint when omitted
	Lng      float64       `yaml:"lng"`
	District string        `yaml:"district"`
	Interval time.Duration `yaml:"interval"` // how often a reading is expected; 0 means 5m
	// Warn and Limit are the two thresholds, in the kind's unit: a
	// reservoir's warning and flood-limit levels (m), a waterlogging
	// point's warning and danger depths (cm), a rain gauge's heavy-rain and
	// rainstorm intensities (mm/h). Roads use FreeFlow instead.
	Warn       float64      `yaml:"warn"`
	Limit      float64      `yaml:"limit"`
	Hysteresis float64      `yaml:"hysteresis"` // how far below a threshold a value must fall to clear it; default by kind
	Polyline   [][2]float64 `yaml:"polyline"`   // road: [lat, lng] vertices
	FreeFlow   float64      `yaml:"free_flow"`  // road: free-flow speed, km/h
	Key        bool         `yaml:"key"`        // road: a main road whose jams raise alerts
	Cameras    []string     `yaml:"cameras"`    // cameras that watch it, for the alert's video linkage
}

// FeedSource is where readings come from besides HTTP push.
type FeedSource struct {
	Name     string        `yaml:"name"`     // [a-z0-9_-], shown on the wall when the source is down
	Type     string        `yaml:"type"`     // poll or mqtt
	URL      string        `yaml:"url"`      // poll: a JSON URL answering readings; mqtt: mqtt://host:port or mqtts://
	Interval time.Duration `yaml:"interval"` // poll: how often; mqtt: how often data is expected (0: no staleness check)
	Timeout  time.Duration `yaml:"timeout"`  // poll: one request
	Token    string        `yaml:"token"`    // poll: optional bearer token
	Topics   []string      `yaml:"topics"`   // mqtt: topic filters carrying readings
	QoS      int           `yaml:"qos"`      // mqtt: 0, 1 or 2; 1 keeps readings across reconnects
	ClientID string        `yaml:"client_id"`
	Username string        `yaml:"username"`
	Password string        `yaml:"password"`
	// SessionExpiry keeps the MQTT session (and the readings the broker
	// queues for it) while citywall is disconnected.
	SessionExpiry time.Duration `yaml:"session_expiry"`
}

// Kinds of feed station.
var FeedKinds = []string{"reservoir", "waterlogging", "rain", "road"}

func defaultFeeds() Feeds {
	return Feeds{
		History:       24 * time.Hour,
		StaleFactor:   3,
		JamAfter:      10 * time.Minute,
		ResponseLimit: 30 * time.Minute,
		HandlingLimit: 24 * time.Hour,
	}
}

// validateFeeds checks the feeds section.
func (c *Config) validateFeeds(bad func(key string, value any, format string, args ...any)) {
	f := c.Feeds
	if f.History < time.Hour || f.History > 14*24*time.Hour {
		bad("feeds.history", f.History, "must be between 1h and 336h")
	}
	if f.StaleFactor < 1 || f.StaleFactor > 100 {
		bad("feeds.stale_factor", f.StaleFactor, "must be 1..100")
	}
	if f.JamAfter < 0 || f.JamAfter > 24*time.Hour {
		bad("feeds.jam_after", f.JamAfter, "must be between 0 and 24h")
	}
	if f.ResponseLimit <= 0 {
		bad("feeds.response_limit", f.ResponseLimit, "must be positive")
	}
	if f.HandlingLimit <= 0 {
		bad("feeds.handling_limit", f.HandlingLimit, "must be positive")
	}
	ids := map[string]bool{}
	for i, s := range f.Stations {
		key := fmt.Sprintf("feeds.stations[%d]", i)
		if !wall.ValidID(s.ID) {
			bad(key+".id", quote(s.ID), "must be 1..64 of a-z, 0-9, '-' and '_'")
		} else if ids[s.ID] {
			bad(key+".id", quote(s.ID), "listed twice")
		}
		ids[s.ID] = true
		if !slices.Contains(FeedKinds, s.Kind) {
			bad(key+".kind", quote(s.Kind), "must be one of %v", FeedKinds)
		}
		if s.Name == "" {
			bad(key+".name", quote(s.Name), "the wall shows it; set it")
		}
		if s.Interval != 0 && (s.Interval < time.Second || s.Interval > 24*time.Hour) {
			bad(key+".interval", s.Interval, "how often a reading is expected: 1s..24h (0: 5m)")
		}
		if s.Kind == "road" {
			if len(s.Polyline) < 2 {
				bad(key+".polyline", fmt.Sprintf("%d vertices", len(s.Polyline)), "a road segment needs at least 2 vertices")
			}
			for j, v := range s.Polyline {
				if p := latLngProblem(v[0], v[1]); p != "" {
					bad(fmt.Sprintf("%s.polyline[%d]", key, j), v, "%s", p)
				}
			}
			if !(s.FreeFlow > 0 && s.FreeFlow <= 200) {
				bad(key+".free_flow", s.FreeFlow, "free-flow speed in km/h: (0, 200]")
			}
			continue
		}
		if p := latLngProblem(s.Lat, s.Lng); p != "" || (s.Lat == 0 && s.Lng == 0) {
			if p == "" {
				p = "0,0 is not a place; set the station's location"
			}
			bad(key+".lat", fmt.Sprintf("%v,%v", s.Lat, s.Lng), "%s", p)
		}
		if !(s.Warn < s.Limit) {
			bad(key+".limit", s.Limit, "must be above warn (%v)", s.Warn)
		}
		if s.Hysteresis < 0 {
			bad(key+".hysteresis", s.Hysteresis, "must not be negative")
		}
	}
	names := map[string]bool{}
	for i, s := range f.Sources {
		key := fmt.Sprintf("feeds.sources[%d]", i)
		if !wall.ValidID(s.Name) {
			bad(key+".name", quote(s.Name), "must be 1..64 of a-z, 0-9, '-' and '_'")
		} else if names[s.Name] {
			bad(key+".name", quote(s.Name), "listed twice")
		}
		names[s.Name] = true
		u, err := url.Parse(s.URL)
		switch s.Type {
		case "poll":
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(key+".url", quote(RedactURL(s.URL)), "must be an http(s) URL")
			}
			if s.Interval < time.Second {
				bad(key+".interval", s.Interval, "must be at least 1s")
			}
			if s.Timeout <= 0 || s.Timeout > s.Interval {
				bad(key+".timeout", s.Timeout, "must be positive and at most the interval (%s)", s.Interval)
			}
		case "mqtt":
			if err != nil || (u.Scheme != "mqtt" && u.Scheme != "mqtts" && u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "tls") || u.Host == "" {
				bad(key+".url", quote(RedactURL(s.URL)), "must be mqtt://host:port or mqtts://host:port")
			}
			if len(s.Topics) == 0 {
				bad(key+".topics", "[]", "at least one topic filter")
			}
			if s.QoS < 0 || s.QoS > 2 {
				bad(key+".qos", s.QoS, "must be 0, 1 or 2")
			}
			if s.QoS > 0 && s.ClientID == "" {
				bad(key+".client_id", quote(s.ClientID), "QoS 1 and 2 need a fixed client id so the broker keeps the session")
			}
			if s.Interval < 0 {
				bad(key+".interval", s.Interval, "must not be negative")
			}
			if s.SessionExpiry < 0 || s.SessionExpiry > 0xFFFFFFFE*time.Second {
				bad(key+".session_expiry", s.SessionExpiry, "must be between 0 and 136 years")
			}
		default:
			bad(key+".type", quote(s.Type), "must be poll or mqtt (HTTP push needs no source)")
		}
	}
}
