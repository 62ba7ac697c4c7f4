package app_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// TestOtherSourcesRaiseAlerts checks the seams between the packages: a
// waterlogging reading over its danger depth and a camera that cannot be
// reached both become alerts of the one lifecycle, and clear through it.
func TestOtherSourcesRaiseAlerts(t *testing.T) {
	// A port nothing listens on: the camera is down from the start.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()

	s := startServer(t, func(c *config.Config) {
		feedStations(c)
		c.Video.StallTimeout = time.Second
		c.Video.ReconnectMin = 100 * time.Millisecond
		c.Video.ReconnectMax = 500 * time.Millisecond
		c.Cameras = []config.Camera{{ID: "gate-1", Name: "一中校门", NameEn: "No.1 School gate", Lat: 20.02, Lng: 110.34,
			Main: "rtsp://" + dead + "/stream", Username: "admin", Password: "s3cret-pass", AlwaysOn: true}}
	})
	ts := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	if code, b := s.post("/api/v1/readings", `{"station":"wl-a","time":"`+ts+`","depth":42,"unit":"cm"}`); code != 200 {
		t.Fatalf("reading: %d %s", code, b)
	}

	type alertList struct {
		Alerts []struct {
			ID, Source, Kind, State, Fingerprint, Title, TitleEn, Detail string
			Cameras                                                      []string
		}
	}
	find := func(source string) (id, state string, raw alertList) {
		s.getJSON("/api/v1/alerts?source="+source, s.tokens[config.RoleCommander], &raw)
		for _, a := range raw.Alerts {
			if a.Source == source {
				return a.ID, a.State, raw
			}
		}
		return "", "", raw
	}
	eventually(t, "a feed alert for the flooded underpass", func() bool {
		id, _, _ := find("feed")
		return id != ""
	})
	eventually(t, "a camera alert for the unreachable camera", func() bool {
		id, _, _ := find("camera")
		return id != ""
	})
	_, _, raw := find("camera")
	dump := fmt.Sprintf("%+v", raw)
	if strings.Contains(dump, "s3cret-pass") || strings.Contains(dump, "admin:") {
		t.Fatalf("a camera alert carries the credential: %s", dump)
	}
	if !strings.Contains(dump, "gate-1") {
		t.Fatalf("the camera alert does not name the camera: %s", dump)
	}

	// Back under the warning depth (with hysteresis): the feed alert ends.
	later := time.Now().UTC().Add(time.Second).Truncate(time.Second).Format(time.RFC3339)
	if code, b := s.post("/api/v1/readings", `{"station":"wl-a","time":"`+later+`","depth":2,"unit":"cm"}`); code != 200 {
		t.Fatalf("reading: %d %s", code, b)
	}
	eventually(t, "the feed alert resolved", func() bool {
		_, state, _ := find("feed")
		return state == "resolved"
	})
	if strings.Contains(s.logs.String(), "s3cret-pass") {
		t.Fatal("the log carries the camera password")
	}
}
