package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultsValid(t *testing.T) {
	for name, c := range map[string]Config{"default": Default(), "demo": DemoCity()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestDecodeStrict(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top key", "sever:\n  listen: ':1'\n", "field sever not found"},
		{"unknown nested key", "hub:\n  queue: 5\n", "field queue not found"},
		{"wrong type", "geo:\n  resolutions: seven\n", "cannot unmarshal"},
		{"two documents", "log:\n  level: info\n---\nlog:\n  level: warn\n", "more than one document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := Decode(strings.NewReader(tt.yaml), &c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateNamesKeyAndValue(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		key    string
		value  string
	}{
		{"listen", func(c *Config) { c.Server.Listen = "8080" }, "server.listen", `"8080"`},
		{"tls half", func(c *Config) { c.Server.TLSCert = "a.pem" }, "server.tls_cert", `"a.pem"`},
		{"resolution", func(c *Config) { c.Geo.Resolutions = []int{7, 16} }, "geo.resolutions[1]", "16"},
		{"resolution twice", func(c *Config) { c.Geo.Resolutions = []int{8, 8} }, "geo.resolutions[1]", "8"},
		{"windows order", func(c *Config) { c.Geo.Windows = []time.Duration{time.Hour, 15 * time.Minute} }, "geo.windows[1]", "15m0s"},
		{"pong", func(c *Config) { c.Hub.PongWait = time.Second }, "hub.pong_wait", "1s"},
		{"queue", func(c *Config) { c.Hub.QueueBytes = 10 }, "hub.queue_bytes", "10"},
		{"role", func(c *Config) {
			c.Auth.Tokens = []Token{{Name: "w", Token: "0123456789abcdef", Roles: []Role{"boss"}}}
		}, "auth.tokens[0].roles[0]", `"boss"`},
		{"short token", func(c *Config) {
			c.Auth.Tokens = []Token{{Name: "w", Token: "short", Roles: []Role{RoleWall}}}
		}, "auth.tokens[0].token", "<redacted>"},
		{"failure burst", func(c *Config) { c.Auth.FailureBurst = 0 }, "auth.failure_burst", "0"},
		{"failure interval", func(c *Config) { c.Auth.FailureInterval = 2 * time.Hour }, "auth.failure_interval", "2h0m0s"},
		{"failure wait", func(c *Config) { c.Auth.FailureMaxWait = -time.Second }, "auth.failure_max_wait", "-1s"},
		{"failure addresses", func(c *Config) { c.Auth.FailureAddresses = 0 }, "auth.failure_addresses", "0"},
		{"ws per token", func(c *Config) { c.Hub.MaxConnectionsPerToken = 0 }, "hub.max_connections_per_token", "0"},
		{"viewers per token", func(c *Config) { c.Video.MaxViewersPerToken = -1 }, "video.max_viewers_per_token", "-1"},
		{"tile url", func(c *Config) { c.Map.TileURL = "http://tiles/{z}/{x}.png" }, "map.tile_url", `"http://tiles/{z}/{x}.png"`},
		{"center", func(c *Config) { c.Map.Center = [2]float64{95, 110} }, "map.center", "[95 110]"},
		{"retention", func(c *Config) { c.Tickets.Retention = 2 * time.Hour }, "tickets.retention", "2h0m0s"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level", `"loud"`},
		{"check interval", func(c *Config) { c.Video.CheckInterval = 100 * time.Millisecond }, "video.check_interval", "100ms"},
		{"check parallel", func(c *Config) { c.Video.CheckParallel = 0 }, "video.check_parallel", "0"},
		{"max transcodes", func(c *Config) { c.Video.MaxTranscodes = -1 }, "video.max_transcodes", "-1"},
		{"encoder", func(c *Config) { c.Video.Encoder = "x265" }, "video.encoder", `"x265"`},
		{"no ffmpeg", func(c *Config) { c.Video.FFmpeg = "" }, "video.ffmpeg", `""`},
		{"district vertex", func(c *Config) {
			c.City.Districts = []District{{Name: "龙华区", Polygon: [][2]float64{{20, 110}, {20.1, 200}, {20, 110.1}}}}
		}, "city.districts[0].polygon[1]", "[20.1 200]"},
		{"area vertices", func(c *Config) { c.City.Area = [][2]float64{{20, 110}, {20.1, 110}} }, "city.area", "2 vertices"},
		{"area vertex", func(c *Config) { c.City.Area = [][2]float64{{20, 110}, {95, 110}, {20, 111}} }, "city.area[1]", "[95 110]"},
		{"area margin", func(c *Config) { c.City.AreaMarginKm = -1 }, "city.area_margin_km", "-1"},
		{"baseline forget", func(c *Config) { c.Alerts.BaselineForget = 24 * time.Hour }, "alerts.baseline_forget", "24h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			var found bool
			for _, e := range unjoin(err) {
				var ce *Error
				if errors.As(e, &ce) && ce.Key == tt.key {
					found = true
					if got := ce.Error(); !strings.Contains(got, tt.value) {
						t.Errorf("error %q does not show value %s", got, tt.value)
					}
				}
			}
			if !found {
				t.Fatalf("no error for key %s in: %v", tt.key, err)
			}
		})
	}
}

func TestCameras(t *testing.T) {
	good := Camera{ID: "gate-01", Name: "海口一中校门", Lat: 20.03, Lng: 110.33, Main: "rtsp://admin:s3cr3t@10.1.2.3:554/main", Tags: []string{"school-gate"}}
	tests := []struct {
		name   string
		change func(*Camera)
		key    string
	}{
		{"bad id", func(c *Camera) { c.ID = "Gate 1" }, "cameras[1].id"},
		{"duplicate id", func(c *Camera) { c.ID = "gate-01" }, "cameras[1].id"},
		{"no main", func(c *Camera) { c.Main = "" }, "cameras[1].main"},
		{"http url", func(c *Camera) { c.Main = "http://admin:s3cr3t@cam/x" }, "cameras[1].main"},
		{"no location", func(c *Camera) { c.Lat, c.Lng = 0, 0 }, "cameras[1].lat"},
		{"transcode", func(c *Camera) { c.Transcode = "sometimes" }, "cameras[1].transcode"},
		{"sub transcode", func(c *Camera) { c.SubTranscode = "yes" }, "cameras[1].sub_transcode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			other := good
			other.ID = "kitchen-07"
			tt.change(&other)
			c.Cameras = []Camera{good, other}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), "'"+tt.key+"'") {
				t.Fatalf("err = %v, want one for %s", err, tt.key)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("password in error: %v", err)
			}
		})
	}
	c := Default()
	c.Cameras = []Camera{good}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"rtsp://admin:s3cr3t@10.0.0.1:554/h264": "rtsp://xxxxx@10.0.0.1:554/h264",
		"rtsp://admin@10.0.0.1/h264":            "rtsp://xxxxx@10.0.0.1/h264",
		"rtsp://10.0.0.1/h264":                  "rtsp://10.0.0.1/h264",
		"rtsp://a:b%zz@host/x":                  "<redacted>@host/x",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSecretNeverInError(t *testing.T) {
	c := Default()
	c.Auth.Tokens = []Token{{Name: "a", Token: "s3cr3t", Roles: []Role{RoleWall}}}
	if err := c.Validate(); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v", err)
	}
	err := ApplyEnv(&c, []string{"CITYWALL_AUTH_TOKENS=[{name: x, token: \"s3cr3t\", roles: [wall]"})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("env err = %v", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	c := Default()
	env := []string{
		"PATH=/bin",
		"CITYWALL_SERVER_LISTEN=0.0.0.0:9000",
		"CITYWALL_GEO_RESOLUTIONS=[8]",
		"CITYWALL_GEO_PUBLISH_INTERVAL=500ms",
		"CITYWALL_DEMO_ENABLED=true",
		"CITYWALL_AUTH_TOKENS=[{name: wall-1, token: 0123456789abcdef, roles: [wall]}]",
	}
	if err := ApplyEnv(&c, env); err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "0.0.0.0:9000" || len(c.Geo.Resolutions) != 1 || c.Geo.Resolutions[0] != 8 ||
		c.Geo.PublishInterval != 500*time.Millisecond || !c.Demo.Enabled || len(c.Auth.Tokens) != 1 ||
		c.Auth.Tokens[0].Roles[0] != RoleWall {
		t.Fatalf("overrides not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	// Not configuration: the import command's token, test variables.
	if err := ApplyEnv(&c, []string{"CITYWALL_TOKEN=abc", "CITYWALL_ARTIFACTS=/tmp/x"}); err != nil {
		t.Fatalf("non-config variables: %v", err)
	}
	err := ApplyEnv(&c, []string{"CITYWALL_SERVER_LISTN=x"})
	var ee *EnvError
	if !errors.As(err, &ee) || ee.Var != "CITYWALL_SERVER_LISTN" {
		t.Fatalf("unknown variable: err = %v", err)
	}
	err = ApplyEnv(&c, []string{"CITYWALL_HUB_HISTORY=lots"})
	if !errors.As(err, &ee) || ee.Var != "CITYWALL_HUB_HISTORY" {
		t.Fatalf("bad value: err = %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "city.yaml")
	data := "server:\n  listen: 127.0.0.1:9999\ngeo:\n  windows: [30m, 2h]\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Demo.Enabled || c.Server.Listen != "127.0.0.1:9999" || c.Geo.Windows[1] != 2*time.Hour {
		t.Fatalf("got %+v", c)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), nil); err == nil {
		t.Fatal("missing file accepted")
	}
	c, err = Load("", nil)
	if err != nil || !c.Demo.Enabled {
		t.Fatalf("embedded demo: %v %+v", err, c.Demo)
	}
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

func TestBasemap(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	header := func(tileType, tileCompression byte) []byte {
		b := make([]byte, 200)
		copy(b, "PMTiles\x03")
		b[8], b[16] = 127, 10 // the root directory right after the header
		b[97], b[98], b[99] = 2, tileCompression, tileType
		return b
	}
	vector := file("city.pmtiles", header(1, 2))
	raster := file("raster.pmtiles", header(2, 1))
	brotli := file("brotli.pmtiles", header(1, 3))
	geojson := file("city.geojson", []byte(`{"type":"FeatureCollection","features":[]}`+strings.Repeat(" ", 200)))
	ok := []Map{
		{Basemap: "builtin", TileCRS: "wgs84"},
		{Basemap: "pmtiles", PMTiles: vector, TileCRS: "wgs84"},
		{Basemap: "xyz", TileURL: "http://tiles.local/{z}/{x}/{y}.png", TileCRS: "gcj02"},
	}
	for _, m := range ok {
		c := Default()
		c.Map = m
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
	tests := []struct {
		name string
		m    Map
		key  string
		want string
	}{
		{"unknown basemap", Map{Basemap: "osm"}, "map.basemap", "builtin, pmtiles or xyz"},
		{"pmtiles without a file", Map{Basemap: "pmtiles"}, "map.pmtiles", "must name the PMTiles archive"},
		{"missing archive", Map{Basemap: "pmtiles", PMTiles: filepath.Join(dir, "gone.pmtiles")}, "map.pmtiles", "no such file"},
		{"unreadable archive", Map{Basemap: "pmtiles", PMTiles: dir}, "map.pmtiles", "cannot be read"},
		{"not an archive", Map{Basemap: "pmtiles", PMTiles: geojson}, "map.pmtiles", "not a PMTiles version 3 archive"},
		{"raster archive", Map{Basemap: "pmtiles", PMTiles: raster}, "map.pmtiles", "holds png tiles"},
		{"brotli tiles", Map{Basemap: "pmtiles", PMTiles: brotli}, "map.pmtiles", "other than gzip"},
		{"archive without its basemap", Map{Basemap: "builtin", PMTiles: vector}, "map.pmtiles", "only with map.basemap: pmtiles"},
		{"xyz without a url", Map{Basemap: "xyz"}, "map.tile_url", "must be set with map.basemap: xyz"},
		{"url without xyz", Map{Basemap: "builtin", TileURL: "http://t/{z}/{x}/{y}.png"}, "map.tile_url", "only with map.basemap: xyz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.m.TileCRS = "wgs84"
			c.Map = tt.m
			err := c.Validate()
			var found bool
			for _, e := range unjoin(err) {
				var ce *Error
				if errors.As(e, &ce) && ce.Key == tt.key && strings.Contains(ce.Error(), tt.want) {
					found = true
				}
			}
			if !found {
				t.Fatalf("want an error for %s saying %q, got: %v", tt.key, tt.want, err)
			}
		})
	}
}
