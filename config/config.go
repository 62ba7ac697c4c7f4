// Package config holds citywall's configuration: one strict YAML file,
// defaults for everything, CITYWALL_* environment overrides, and Validate,
// which runs before anything starts and names the key and value it rejects.
package config

import (
	"time"
)

// Config is the whole configuration. The zero file (no -config flag) is the
// embedded demo city: Default() with the demo switched on.
type Config struct {
	City    City     `yaml:"city"`
	Server  Server   `yaml:"server"`
	Auth    Auth     `yaml:"auth"`
	Hub     Hub      `yaml:"hub"`
	Geo     Geo      `yaml:"geo"`
	Tickets Tickets  `yaml:"tickets"`
	Map     Map      `yaml:"map"`
	Cameras []Camera `yaml:"cameras"`
	Video   Video    `yaml:"video"`
	Alerts  Alerts   `yaml:"alerts"`
	Feeds   Feeds    `yaml:"feeds"`
	Walls   Walls    `yaml:"walls"`
	Redis   Redis    `yaml:"redis"`
	Storage Storage  `yaml:"storage"`
	Demo    Demo     `yaml:"demo"`
	Log     Log      `yaml:"log"`
}

// Camera is one live camera. Its URLs may carry credentials; they never
// leave the server (pages, logs, errors and metrics see Camera.Redacted).
type Camera struct {
	ID       string   `yaml:"id"` // [a-z0-9_-], used in URLs and metrics
	Name     string   `yaml:"name"`
	NameEn   string   `yaml:"name_en"`
	Lat      float64  `yaml:"lat"`
	Lng      float64  `yaml:"lng"`
	Tags     []string `yaml:"tags"`      // e.g. school-gate, kitchen, reservoir
	Main     string   `yaml:"main"`      // rtsp:// or rtsps:// main stream
	Sub      string   `yaml:"sub"`       // optional lower-resolution stream
	Username string   `yaml:"username"`  // if not in the URLs
	Password string   `yaml:"password"`  // if not in the URLs
	AlwaysOn bool     `yaml:"always_on"` // keep the upstream open without viewers
	// Transcode and SubTranscode: when the main (sub) stream's H.265 is
	// turned into H.264 by ffmpeg: auto (for players that cannot play
	// H.265; the default), never, always.
	Transcode    string `yaml:"transcode"`
	SubTranscode string `yaml:"sub_transcode"`
}

// Video tunes the camera relay.
type Video struct {
	IdleTimeout  time.Duration `yaml:"idle_timeout"`  // upstream closes this long after its last viewer
	StallTimeout time.Duration `yaml:"stall_timeout"` // no packets for this long: stalled, reconnect
	ReconnectMin time.Duration `yaml:"reconnect_min"` // first retry delay; doubles with jitter
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	ViewerBytes  int           `yaml:"viewer_bytes"` // per-viewer queue; past it the viewer skips to the next keyframe
	// MaxViewersPerToken bounds the video connections one token holds on
	// this instance (each may queue viewer_bytes); past it 429.
	MaxViewersPerToken int `yaml:"max_viewers_per_token"`
	// CheckInterval: how often a camera nobody watches is dialled to see
	// that it answers and sends video (its state shows on the console);
	// 0: never.
	CheckInterval time.Duration `yaml:"check_interval"`
	CheckParallel int           `yaml:"check_parallel"` // checks at once, across cameras
	// MaxTranscodes bounds the H.265 → H.264 transcodes running at once
	// (one ffmpeg per camera stream, shared by its viewers); 0: none.
	MaxTranscodes int    `yaml:"max_transcodes"`
	Encoder       string `yaml:"encoder"`      // libx264, vaapi or nvenc (libx264 when the device is absent)
	VAAPIDevice   string `yaml:"vaapi_device"` // render node for vaapi, e.g. /dev/dri/renderD128
	FFmpeg        string `yaml:"ffmpeg"`       // the ffmpeg program
}

// Alerts configures cluster detection, the alert lifecycle and who is told.
type Alerts struct {
	Enabled   bool   `yaml:"enabled"`
	StateFile string `yaml:"state_file"` // open alerts, silences and timers; empty: kept in memory only
	// Cluster detection.
	Resolution         int             `yaml:"resolution"`            // H3 resolution of the scan (8 ≈ 0.74 km²)
	Windows            []time.Duration `yaml:"windows"`               // recent windows scanned
	MinCount           int             `yaml:"min_count"`             // fewest tickets in a cluster
	Threshold          float64         `yaml:"threshold"`             // scan score needed; 0: calibrated for false_alarms_per_week
	FalseAlarmsPerWeek float64         `yaml:"false_alarms_per_week"` // calibration target
	CalibrateWeeks     float64         `yaml:"calibrate_weeks"`       // simulated weeks per calibration
	ScanInterval       time.Duration   `yaml:"scan_interval"`
	Quiet              time.Duration   `yaml:"quiet"`       // a cluster unseen this long has subsided: its alert resolves
	MinHistory         time.Duration   `yaml:"min_history"` // no cluster alerts before this much history is learnt
	// BaselineForget: a cell or category of the learnt history not seen
	// for this long is forgotten (a year and a week by default, so that
	// seasonal ones come back before they go).
	BaselineForget    time.Duration `yaml:"baseline_forget"`
	NearestCameras    int           `yaml:"nearest_cameras"`
	CameraMaxDistance int           `yaml:"camera_max_distance"` // H3 grid steps
	// Hot issues: surges over grids, districts and the city, weekly rises
	// and emerging phrases, on the cluster scan's baseline. Their false
	// alerts a week, all kinds together (added to false_alarms_per_week,
	// this is the whole budget); 0: off.
	HotIssueFalseAlarmsPerWeek float64 `yaml:"hot_issue_false_alarms_per_week"`
	// Lifecycle.
	EscalateAfter time.Duration `yaml:"escalate_after"` // unacknowledged this long: to the escalation teams
	Renotify      time.Duration `yaml:"renotify"`       // re-notify an unacknowledged alert this often
	EscalateTo    []string      `yaml:"escalate_to"`    // team ids of the next level (duty commanders)
	SLAResponse   time.Duration `yaml:"sla_response"`   // dispatched but not responded to within this: alert; 0: off
	WallPush      bool          `yaml:"wall_push"`      // push a new cluster's cameras onto the wall's alert slots
	// Who is told.
	Teams          []AlertTeam   `yaml:"teams"`
	Webhooks       []Webhook     `yaml:"webhooks"` // told of every alert (chat robots)
	WebhookRetries int           `yaml:"webhook_retries"`
	WebhookBackoff time.Duration `yaml:"webhook_backoff"` // first retry delay, doubled each time
}

// AlertTeam is an emergency team: alerts in its area and categories are
// routed to it; its members are token names (role team).
type AlertTeam struct {
	ID         string       `yaml:"id"` // [a-z0-9_-]; topic alerts/team/{id}
	Name       string       `yaml:"name"`
	NameEn     string       `yaml:"name_en"`
	Members    []TeamMember `yaml:"members"`
	Districts  []string     `yaml:"districts"`
	Cells      []string     `yaml:"cells"` // H3 cells of any resolution
	Categories []string     `yaml:"categories"`
	Sources    []string     `yaml:"sources"` // cluster, sla, camera, feed
	Webhooks   []Webhook    `yaml:"webhooks"`
}

// City names the centre's city; the wall's title and "today" use it.
type City struct {
	Name     string `yaml:"name"`     // zh-CN, e.g. 海口
	NameEn   string `yaml:"name_en"`  // English, e.g. Haikou
	Timezone string `yaml:"timezone"` // IANA zone that days are counted in
	// Districts are outlined on the wall's map; the demo city brings its
	// own when none are configured.
	Districts []District `yaml:"districts"`
	// Area is where the city's tickets can be, [lat, lng] vertices of a
	// polygon (four for a box); a ticket outside it is rejected. Empty:
	// the districts' bounding box grown by AreaMarginKm; with no districts
	// either, tickets are taken anywhere.
	Area         [][2]float64 `yaml:"area"`
	AreaMarginKm float64      `yaml:"area_margin_km"`
}

// District is one outlined area of the city map.
type District struct {
	Name    string       `yaml:"name"`
	NameEn  string       `yaml:"name_en"`
	Polygon [][2]float64 `yaml:"polygon"` // [lat, lng] vertices, WGS84
}

// Server is the HTTP listener.
type Server struct {
	Listen          string        `yaml:"listen"`           // host:port
	TLSCert         string        `yaml:"tls_cert"`         // PEM file; with tls_key, serve HTTPS
	TLSKey          string        `yaml:"tls_key"`          // PEM file
	Origins         []string      `yaml:"origins"`          // allowed Origin hosts for /ws besides the server's own host
	MaxBodyBytes    int64         `yaml:"max_body_bytes"`   // largest accepted request body
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"` // how long a graceful stop waits for requests
	// ReadTimeout bounds how long a request's body may take to arrive after
	// its headers (which have 10 s); WebSocket connections are exempt once
	// upgraded.
	ReadTimeout    time.Duration `yaml:"read_timeout"`
	MaxHeaderBytes int           `yaml:"max_header_bytes"` // request line and headers
	// MaxConnections bounds the HTTP connections open at once; it is lowered
	// to three quarters of the open-file limit when that is smaller.
	MaxConnections int `yaml:"max_connections"`
	// MaxUnauthenticatedConnections bounds, of those, the connections on
	// which no request has shown a valid token yet; past it the oldest of
	// them is closed for the new one.
	MaxUnauthenticatedConnections int `yaml:"max_unauthenticated_connections"`
	// MaxUnauthenticatedPerAddress bounds those from one source IP address,
	// so that one host cannot push out everyone else's.
	MaxUnauthenticatedPerAddress int `yaml:"max_unauthenticated_per_address"`
	// PublicURL is the address people reach the server at (https://wall.example.gov.cn),
	// used for the links in alert messages; empty: messages carry no link.
	PublicURL string `yaml:"public_url"`
	// BehindTLSProxy: browsers reach the server over HTTPS through a proxy
	// that terminates TLS, so the session cookie is Secure although this
	// server speaks plain HTTP.
	BehindTLSProxy bool `yaml:"behind_tls_proxy"`
}

// Auth maps bearer tokens to roles.
type Auth struct {
	Tokens []Token `yaml:"tokens"`
	// A browser's session ends when unused for SessionIdle, and SessionMax
	// after sign-in in any case; signing out, or removing or changing its
	// token here, ends it at once.
	SessionIdle time.Duration `yaml:"session_idle"`
	SessionMax  time.Duration `yaml:"session_max"`
	// Failed authentication from one source address (IPv6: its /64):
	// FailureBurst wrong credentials are answered 401 at once; past them
	// the address earns one more every FailureInterval, and a credential
	// not used from it before waits for its turn, at most FailureMaxWait,
	// else 429 with Retry-After. FailureAddresses bounds the addresses
	// remembered.
	FailureBurst     int           `yaml:"failure_burst"`
	FailureInterval  time.Duration `yaml:"failure_interval"`
	FailureMaxWait   time.Duration `yaml:"failure_max_wait"`
	FailureAddresses int           `yaml:"failure_addresses"`
}

// Token is one credential. Name is what logs and the audit trail show; the
// token itself never appears in either.
type Token struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	Roles []Role `yaml:"roles"`
}

// Role is what a token may do.
type Role string

// The roles of a command centre.
const (
	RoleWall      Role = "wall"      // a wall display: reads the live topics
	RoleCommander Role = "commander" // duty commander: reads, acknowledges and resolves alerts, drives the wall
	RolePatrol    Role = "patrol"    // video-patrol staff: drives camera sets from the console
	RoleTeam      Role = "team"      // emergency team member: receives and acknowledges alerts
	RoleIngest    Role = "ingest"    // a system that posts tickets, events and readings
	RoleAdmin     Role = "admin"     // everything
)

// Roles lists every role.
var Roles = []Role{RoleWall, RoleCommander, RolePatrol, RoleTeam, RoleIngest, RoleAdmin}

// Hub tunes the WebSocket hub.
type Hub struct {
	QueueBytes       int           `yaml:"queue_bytes"`       // per-client send queue bound; a client past it is disconnected
	History          int           `yaml:"history"`           // messages kept per topic for resume
	WriteTimeout     time.Duration `yaml:"write_timeout"`     // one write to a client
	PingPeriod       time.Duration `yaml:"ping_period"`       // how often the server pings
	PongWait         time.Duration `yaml:"pong_wait"`         // silence after which a client is dropped
	ReadLimit        int64         `yaml:"read_limit"`        // largest client message
	MaxSubscriptions int           `yaml:"max_subscriptions"` // topics per connection
	// MaxConnectionsPerToken bounds the /ws connections one token holds on
	// this instance (a wall's tabs and reconnects); past it 429.
	MaxConnectionsPerToken int `yaml:"max_connections_per_token"`
}

// Geo shapes the heat maps.
type Geo struct {
	Resolutions     []int           `yaml:"resolutions"`      // H3 resolutions counted
	Windows         []time.Duration `yaml:"windows"`          // sliding windows
	Buckets         int             `yaml:"buckets"`          // buckets per window
	MaxCategories   int             `yaml:"max_categories"`   // categories counted separately
	PublishInterval time.Duration   `yaml:"publish_interval"` // heat-map deltas per topic are coalesced to at most one per interval
	HotTopics       int             `yaml:"hot_topics"`       // categories in the hot-topics list
}

// Tickets bounds the ticket store and ingest.
type Tickets struct {
	Retention  time.Duration `yaml:"retention"`   // how long tickets are kept for dedup and lifecycle
	MaxTickets int           `yaml:"max_tickets"` // store bound; the oldest go first
	MaxBatch   int           `yaml:"max_batch"`   // items in one POST
	MaxEvents  int           `yaml:"max_events"`  // lifecycle events of one ticket; past it, rejected as too_many_events
}

// Map is the maps' view and basemap. Every map fits the city's districts
// to its own size unless center and zoom (both set) fix the view.
type Map struct {
	Center  [2]float64 `yaml:"center"`   // lat, lng (WGS84); with zoom, a fixed view
	Zoom    float64    `yaml:"zoom"`     // Web Mercator zoom; 0 fits the districts
	Basemap string     `yaml:"basemap"`  // builtin (sea, land, districts, roads from the city's own data), pmtiles or xyz
	PMTiles string     `yaml:"pmtiles"`  // basemap pmtiles: a PMTiles archive of vector tiles, served to signed-in pages
	TileURL string     `yaml:"tile_url"` // basemap xyz: raster tiles on the closed network, e.g. http://tiles.local/{z}/{x}/{y}.png
	TileCRS string     `yaml:"tile_crs"` // coordinate system of those tiles: wgs84 or gcj02; points are shifted to match
}

// The basemaps of map.basemap.
const (
	BasemapBuiltin = "builtin"
	BasemapPMTiles = "pmtiles"
	BasemapXYZ     = "xyz"
)

// Demo is the built-in simulated city.
type Demo struct {
	Enabled bool    `yaml:"enabled"`
	PerDay  float64 `yaml:"per_day"` // mean requests per day
	Speed   float64 `yaml:"speed"`   // acceleration factor
	Seed    int64   `yaml:"seed"`
}

// Log sets the logger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Default returns a configuration with every default filled in and the demo
// off. The embedded demo (no config file) is DemoCity().
func Default() Config {
	return Config{
		City: City{Name: "海口", NameEn: "Haikou", Timezone: "Asia/Shanghai", AreaMarginKm: 10},
		Server: Server{
			Listen:          "127.0.0.1:8080",
			MaxBodyBytes:    8 << 20,
			ShutdownTimeout: 5 * time.Second,
			ReadTimeout:     30 * time.Second,
			MaxHeaderBytes:  64 << 10,
			MaxConnections:  4096,

			MaxUnauthenticatedConnections: 512,
			MaxUnauthenticatedPerAddress:  64,
		},
		Auth: Auth{
			SessionIdle: 12 * time.Hour, SessionMax: 30 * 24 * time.Hour,
			FailureBurst: 10, FailureInterval: 6 * time.Second, FailureMaxWait: 10 * time.Second,
			FailureAddresses: 10_000,
		},
		Hub: Hub{
			QueueBytes:       4 << 20,
			History:          512,
			WriteTimeout:     10 * time.Second,
			PingPeriod:       20 * time.Second,
			PongWait:         45 * time.Second,
			ReadLimit:        64 << 10,
			MaxSubscriptions: 128,
			// A wall token drives a 4x2 wall from several tabs and
			// reconnects: far from 64 at once.
			MaxConnectionsPerToken: 64,
		},
		Geo: Geo{
			Resolutions:     []int{7, 8, 9},
			Windows:         []time.Duration{15 * time.Minute, time.Hour, 24 * time.Hour},
			Buckets:         30,
			MaxCategories:   48,
			PublishInterval: 250 * time.Millisecond,
			HotTopics:       10,
		},
		Tickets: Tickets{
			Retention:  48 * time.Hour,
			MaxTickets: 1_000_000,
			MaxBatch:   10_000,
			MaxEvents:  1000,
		},
		Map: Map{
			Basemap: BasemapBuiltin,
			TileCRS: "wgs84",
		},
		Video: Video{
			IdleTimeout:  30 * time.Second,
			StallTimeout: 5 * time.Second,
			ReconnectMin: time.Second,
			ReconnectMax: 30 * time.Second,
			ViewerBytes:  8 << 20,
			// 64 viewers of 8 MiB: at most 512 MiB queued for one token.
			MaxViewersPerToken: 64,
			// 7,000 cameras, one in ten unreachable (5 s each), checked
			// 16 at a time: a round takes about 4 minutes (BENCHMARKS.md).
			CheckInterval: 10 * time.Minute,
			CheckParallel: 16,
			// A 1080p transcode with libx264 takes about a core
			// (BENCHMARKS.md).
			MaxTranscodes: 4,
			Encoder:       "libx264",
			VAAPIDevice:   "/dev/dri/renderD128",
			FFmpeg:        "ffmpeg",
		},
		Alerts: Alerts{
			Enabled:                    true,
			Resolution:                 8,
			Windows:                    []time.Duration{30 * time.Minute, time.Hour},
			MinCount:                   5,
			FalseAlarmsPerWeek:         0.25,
			HotIssueFalseAlarmsPerWeek: 0.5,
			CalibrateWeeks:             4,
			ScanInterval:               30 * time.Second,
			Quiet:                      30 * time.Minute,
			MinHistory:                 72 * time.Hour,
			BaselineForget:             53 * 7 * 24 * time.Hour,
			NearestCameras:             3,
			CameraMaxDistance:          3,
			EscalateAfter:              30 * time.Minute,
			Renotify:                   10 * time.Minute,
			SLAResponse:                30 * time.Minute,
			WallPush:                   true,
			WebhookRetries:             5,
			WebhookBackoff:             time.Second,
		},
		Feeds:   defaultFeeds(),
		Redis:   defaultRedis(),
		Storage: defaultStorage(),
		Walls:   defaultWalls(),
		Demo:    Demo{PerDay: 2700, Speed: 1},
		Log:     Log{Level: "info", Format: "text"},
	}
}

// DemoCity returns the embedded demo city: defaults with the simulator on.
// Tokens are added by the caller, which makes them fresh at every start.
func DemoCity() Config {
	c := Default()
	c.Demo.Enabled = true
	return c
}
