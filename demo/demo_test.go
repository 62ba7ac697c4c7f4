package demo_test

import (
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo"
)

func TestApplyFillsWhatIsMissing(t *testing.T) {
	cfg := config.Default()
	cfg.Demo.Enabled = true
	cfg.Cameras, cfg.City.Districts, cfg.Feeds.Stations = nil, nil, nil
	cfg.Walls.Sets, cfg.Walls.Tours, cfg.Walls.Schedules = nil, nil, nil
	d, err := demo.Apply(&cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(cfg.City.Districts) == 0 || len(cfg.Cameras) == 0 || len(cfg.Walls.Sets) == 0 || len(d.Stations()) == 0 || d.FeedSim() == nil {
		t.Fatalf("not filled in: %d districts, %d cameras, %d sets, %d stations",
			len(cfg.City.Districts), len(cfg.Cameras), len(cfg.Walls.Sets), len(d.Stations()))
	}
	if !strings.HasPrefix(cfg.Cameras[0].Main, "rtsp://127.0.0.1:") {
		t.Fatalf("demo camera %q is not served on loopback", cfg.Cameras[0].Main)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the overlay made an invalid configuration: %v", err)
	}
}

func TestApplyKeepsWhatIsConfigured(t *testing.T) {
	cfg := config.Default()
	cfg.Demo.Enabled = true
	cfg.Cameras = []config.Camera{{ID: "gate", Name: "大门", Lat: 20, Lng: 110.3, Main: "rtsp://10.0.0.9/main"}}
	cfg.Feeds.Stations = []config.FeedStation{{ID: "wl-1"}}
	d, err := demo.Apply(&cfg, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(cfg.Cameras) != 1 || cfg.Cameras[0].ID != "gate" || d.Stations() != nil {
		t.Fatalf("configured cameras or stations replaced: %+v, %d stations", cfg.Cameras, len(d.Stations()))
	}
	off := config.Default()
	off.Demo.Enabled = false
	if d, err := demo.Apply(&off, time.Now()); d != nil || err != nil {
		t.Fatalf("demo off: %v, %v", d, err)
	}
	var none *demo.City
	none.Close() // a nil City is no demo
	if none.Stations() != nil || none.FeedSim() != nil {
		t.Fatal("a nil City has stations or a simulator")
	}
}
