package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // zones resolve on minimal machines too

	"github.com/citywall/citywall/internal/pmtiles"
	"github.com/citywall/citywall/wall"
)

// Error is a rejected setting: the key as it is written in YAML, the value,
// and why.
type Error struct {
	Key    string
	Value  any
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("'%s' = %v: %s", e.Key, e.Value, e.Reason)
}

// Validate checks every setting and returns all problems found, joined; each
// is an *Error.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key string, value any, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Value: value, Reason: fmt.Sprintf(format, args...)})
	}

	if c.City.Name == "" {
		bad("city.name", quote(c.City.Name), "the wall shows it; set it")
	}
	if _, err := time.LoadLocation(c.City.Timezone); err != nil || c.City.Timezone == "" {
		bad("city.timezone", quote(c.City.Timezone), "unknown time zone (want an IANA name such as Asia/Shanghai)")
	}
	for i, d := range c.City.Districts {
		key := fmt.Sprintf("city.districts[%d]", i)
		if d.Name == "" {
			bad(key+".name", quote(d.Name), "a district needs a name")
		}
		if len(d.Polygon) < 3 || len(d.Polygon) > 10_000 {
			bad(key+".polygon", fmt.Sprintf("%d vertices", len(d.Polygon)), "must have 3..10000 vertices")
		}
		for j, v := range d.Polygon {
			if p := latLngProblem(v[0], v[1]); p != "" {
				bad(fmt.Sprintf("%s.polygon[%d]", key, j), v, "%s", p)
			}
		}
	}
	if n := len(c.City.Area); n != 0 && (n < 3 || n > 10_000) {
		bad("city.area", fmt.Sprintf("%d vertices", n), "must have 3..10000 vertices, or none for the districts' box")
	}
	for j, v := range c.City.Area {
		if p := latLngProblem(v[0], v[1]); p != "" {
			bad(fmt.Sprintf("city.area[%d]", j), v, "%s", p)
		}
	}
	if m := c.City.AreaMarginKm; m < 0 || m > 1000 || math.IsNaN(m) {
		bad("city.area_margin_km", m, "must be 0..1000 (km around the districts' box)")
	}
	if _, port, err := net.SplitHostPort(c.Server.Listen); err != nil || port == "" {
		bad("server.listen", quote(c.Server.Listen), "must be host:port")
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		bad("server.tls_cert", quote(c.Server.TLSCert), "tls_cert and tls_key go together")
	}
	for i, o := range c.Server.Origins {
		if o == "" || strings.ContainsAny(o, " /") {
			bad(fmt.Sprintf("server.origins[%d]", i), quote(o), "must be a host or host:port")
		}
	}
	if c.Server.MaxBodyBytes < 1024 {
		bad("server.max_body_bytes", c.Server.MaxBodyBytes, "must be at least 1024")
	}
	if c.Server.ShutdownTimeout <= 0 {
		bad("server.shutdown_timeout", c.Server.ShutdownTimeout, "must be positive")
	}
	if c.Server.ReadTimeout < time.Second {
		bad("server.read_timeout", c.Server.ReadTimeout, "must be at least 1s")
	}
	if c.Server.MaxHeaderBytes < 4096 {
		bad("server.max_header_bytes", c.Server.MaxHeaderBytes, "must be at least 4096")
	}
	if c.Server.MaxConnections < 16 {
		bad("server.max_connections", c.Server.MaxConnections, "must be at least 16")
	}
	if u := c.Server.MaxUnauthenticatedConnections; u < 1 || u > c.Server.MaxConnections {
		bad("server.max_unauthenticated_connections", u, "must be 1..server.max_connections (%d)", c.Server.MaxConnections)
	}
	if u := c.Server.MaxUnauthenticatedPerAddress; u < 1 || u > c.Server.MaxUnauthenticatedConnections {
		bad("server.max_unauthenticated_per_address", u, "must be 1..server.max_unauthenticated_connections (%d)", c.Server.MaxUnauthenticatedConnections)
	}
	if p := c.Server.PublicURL; p != "" {
		u, err := url.Parse(p)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("server.public_url", quote(p), "must be an http(s) URL such as https://wall.example.gov.cn")
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			bad("server.public_url", quote(u.Scheme+"://"+u.Host+u.Path+"…"), "must be scheme, host and an optional path: no user, query or fragment")
		}
	}

	seen := map[string]string{}
	if c.Auth.SessionIdle < time.Minute {
		bad("auth.session_idle", c.Auth.SessionIdle, "must be at least 1m")
	}
	if c.Auth.SessionMax < c.Auth.SessionIdle {
		bad("auth.session_max", c.Auth.SessionMax, "must be at least auth.session_idle")
	}
	if b := c.Auth.FailureBurst; b < 1 || b > 1000 {
		bad("auth.failure_burst", b, "must be 1..1000")
	}
	if d := c.Auth.FailureInterval; d < 10*time.Millisecond || d > time.Hour {
		bad("auth.failure_interval", d, "must be 10ms..1h")
	}
	if d := c.Auth.FailureMaxWait; d < 0 || d > time.Minute {
		bad("auth.failure_max_wait", d, "must be 0..1m (0: a slowed address's new credentials are refused, not held)")
	}
	if n := c.Auth.FailureAddresses; n < 1 || n > 10_000_000 {
		bad("auth.failure_addresses", n, "must be 1..10000000")
	}
	for i, t := range c.Auth.Tokens {
		key := fmt.Sprintf("auth.tokens[%d]", i)
		if t.Name == "" {
			bad(key+".name", quote(t.Name), "a token needs a name for logs and the audit trail")
		}
		if len(t.Token) < 16 {
			// The value is a secret: never echo it.
			bad(key+".token", "<redacted>", "must be at least 16 characters")
		} else if prev, dup := seen[t.Token]; dup {
			bad(key+".token", "<redacted>", "same token as %q", prev)
		}
		seen[t.Token] = t.Name
		if len(t.Roles) == 0 {
			bad(key+".roles", "[]", "at least one role")
		}
		for j, r := range t.Roles {
			if !slices.Contains(Roles, r) {
				bad(fmt.Sprintf("%s.roles[%d]", key, j), quote(string(r)), "unknown role (want one of %v)", Roles)
			}
		}
	}

	h := c.Hub
	if h.QueueBytes < 64<<10 {
		bad("hub.queue_bytes", h.QueueBytes, "must be at least 65536")
	}
	if h.History < 1 || h.History > 1<<16 {
		bad("hub.history", h.History, "must be 1..65536")
	}
	if h.WriteTimeout <= 0 {
		bad("hub.write_timeout", h.WriteTimeout, "must be positive")
	}
	if h.PingPeriod <= 0 {
		bad("hub.ping_period", h.PingPeriod, "must be positive")
	}
	if h.PongWait <= h.PingPeriod {
		bad("hub.pong_wait", h.PongWait, "must be longer than hub.ping_period (%s)", h.PingPeriod)
	}
	if h.ReadLimit < 512 {
		bad("hub.read_limit", h.ReadLimit, "must be at least 512")
	}
	if h.MaxSubscriptions < 1 {
		bad("hub.max_subscriptions", h.MaxSubscriptions, "must be at least 1")
	}
	if n := h.MaxConnectionsPerToken; n < 1 || n > 100_000 {
		bad("hub.max_connections_per_token", n, "must be 1..100000")
	}

	g := c.Geo
	if len(g.Resolutions) == 0 {
		bad("geo.resolutions", "[]", "at least one resolution")
	}
	for i, r := range g.Resolutions {
		if r < 0 || r > 15 {
			bad(fmt.Sprintf("geo.resolutions[%d]", i), r, "out of range 0..15")
		}
		if slices.Contains(g.Resolutions[:i], r) {
			bad(fmt.Sprintf("geo.resolutions[%d]", i), r, "listed twice")
		}
	}
	if len(g.Windows) == 0 {
		bad("geo.windows", "[]", "at least one window")
	}
	for i, w := range g.Windows {
		if w < time.Minute || w > 7*24*time.Hour {
			bad(fmt.Sprintf("geo.windows[%d]", i), w, "must be between 1m and 168h")
		}
		if i > 0 && w <= g.Windows[i-1] {
			bad(fmt.Sprintf("geo.windows[%d]", i), w, "windows must be in increasing order")
		}
	}
	if g.Buckets < 2 || g.Buckets > 1440 {
		bad("geo.buckets", g.Buckets, "must be 2..1440")
	}
	if g.MaxCategories < 1 || g.MaxCategories > 1024 {
		bad("geo.max_categories", g.MaxCategories, "must be 1..1024")
	}
	if g.PublishInterval < 10*time.Millisecond || g.PublishInterval > 10*time.Second {
		bad("geo.publish_interval", g.PublishInterval, "must be between 10ms and 10s")
	}
	if g.HotTopics < 1 || g.HotTopics > 100 {
		bad("geo.hot_topics", g.HotTopics, "must be 1..100")
	}

	t := c.Tickets
	if t.Retention < time.Hour {
		bad("tickets.retention", t.Retention, "must be at least 1h")
	}
	if len(g.Windows) > 0 && t.Retention < g.Windows[len(g.Windows)-1] {
		bad("tickets.retention", t.Retention, "must cover the longest window (%s) so a retried post is still recognised", g.Windows[len(g.Windows)-1])
	}
	if t.MaxTickets < 1000 {
		bad("tickets.max_tickets", t.MaxTickets, "must be at least 1000")
	}
	if t.MaxBatch < 1 || t.MaxBatch > 1_000_000 {
		bad("tickets.max_batch", t.MaxBatch, "must be 1..1000000")
	}
	if t.MaxEvents < 10 || t.MaxEvents > 100_000 {
		bad("tickets.max_events", t.MaxEvents, "must be 10..100000 (a real ticket has a handful of events)")
	}

	m := c.Map
	if bad2 := latLngProblem(m.Center[0], m.Center[1]); bad2 != "" {
		bad("map.center", m.Center, "%s", bad2)
	}
	switch {
	case m.Zoom == 0 && m.Center != [2]float64{}:
		bad("map.zoom", m.Zoom, "must be set (1..20) with map.center, or both left out to fit the districts")
	case m.Zoom != 0 && (m.Zoom < 1 || m.Zoom > 20):
		bad("map.zoom", m.Zoom, "must be 1..20, or 0 to fit the districts")
	}
	switch m.Basemap {
	case BasemapBuiltin:
	case BasemapPMTiles:
		if msg := pmtilesProblem(m.PMTiles); msg != "" {
			bad("map.pmtiles", quote(m.PMTiles), "%s", msg)
		}
	case BasemapXYZ:
		if m.TileURL == "" {
			bad("map.tile_url", quote(m.TileURL), "must be set with map.basemap: xyz")
		}
	default:
		bad("map.basemap", quote(m.Basemap), "must be builtin, pmtiles or xyz")
	}
	if m.PMTiles != "" && m.Basemap != BasemapPMTiles {
		bad("map.pmtiles", quote(m.PMTiles), "is read only with map.basemap: pmtiles (map.basemap is %q)", m.Basemap)
	}
	if m.TileURL != "" && m.Basemap != BasemapXYZ {
		bad("map.tile_url", quote(m.TileURL), "is read only with map.basemap: xyz (map.basemap is %q)", m.Basemap)
	}
	if m.TileURL != "" {
		u, err := url.Parse(m.TileURL)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("map.tile_url", quote(m.TileURL), "must be an http(s) URL")
		case !strings.Contains(m.TileURL, "{z}") || !strings.Contains(m.TileURL, "{x}") || !strings.Contains(m.TileURL, "{y}"):
			bad("map.tile_url", quote(m.TileURL), "must contain {z}, {x} and {y}")
		}
	}
	if m.TileCRS != "wgs84" && m.TileCRS != "gcj02" {
		bad("map.tile_crs", quote(m.TileCRS), "must be wgs84 or gcj02")
	}

	ids := map[string]bool{}
	for i, cam := range c.Cameras {
		key := fmt.Sprintf("cameras[%d]", i)
		if !wall.ValidID(cam.ID) {
			bad(key+".id", quote(cam.ID), "must be 1..64 of a-z, 0-9, '-' and '_'")
		} else if ids[cam.ID] {
			bad(key+".id", quote(cam.ID), "listed twice")
		}
		ids[cam.ID] = true
		if cam.Name == "" {
			bad(key+".name", quote(cam.Name), "the wall shows it; set it")
		}
		if p := latLngProblem(cam.Lat, cam.Lng); p != "" || (cam.Lat == 0 && cam.Lng == 0) {
			if p == "" {
				p = "0,0 is not a place; set the camera's location"
			}
			bad(key+".lat", fmt.Sprintf("%v,%v", cam.Lat, cam.Lng), "%s", p)
		}
		if cam.Main == "" {
			bad(key+".main", `""`, "a camera needs its main stream URL")
		}
		for _, f := range []struct{ name, v string }{{"main", cam.Main}, {"sub", cam.Sub}} {
			if f.v == "" {
				continue
			}
			if u, err := url.Parse(f.v); err != nil || (u.Scheme != "rtsp" && u.Scheme != "rtsps") || u.Host == "" {
				bad(key+"."+f.name, quote(RedactURL(f.v)), "must be an rtsp:// or rtsps:// URL")
			}
		}
		for _, f := range []struct{ name, v string }{{"transcode", cam.Transcode}, {"sub_transcode", cam.SubTranscode}} {
			switch f.v {
			case "", "auto", "never", "always":
			default:
				bad(key+"."+f.name, quote(f.v), "must be auto, never or always")
			}
		}
	}
	v := c.Video
	if v.IdleTimeout < 0 {
		bad("video.idle_timeout", v.IdleTimeout, "must not be negative")
	}
	if v.StallTimeout < time.Second {
		bad("video.stall_timeout", v.StallTimeout, "must be at least 1s")
	}
	if v.ReconnectMin <= 0 || v.ReconnectMax < v.ReconnectMin {
		bad("video.reconnect_max", v.ReconnectMax, "reconnect_min must be positive and reconnect_max at least reconnect_min (%s)", v.ReconnectMin)
	}
	if v.ViewerBytes < 256<<10 {
		bad("video.viewer_bytes", v.ViewerBytes, "must be at least 262144")
	}
	if n := v.MaxViewersPerToken; n < 1 || n > 100_000 {
		bad("video.max_viewers_per_token", n, "must be 1..100000")
	}
	if v.CheckInterval != 0 && v.CheckInterval < time.Second {
		bad("video.check_interval", v.CheckInterval, "must be 0 (no checks) or at least 1s")
	}
	if v.CheckParallel < 1 || v.CheckParallel > 256 {
		bad("video.check_parallel", v.CheckParallel, "must be between 1 and 256")
	}
	if v.MaxTranscodes < 0 || v.MaxTranscodes > 256 {
		bad("video.max_transcodes", v.MaxTranscodes, "must be between 0 (no transcoding) and 256")
	}
	switch v.Encoder {
	case "libx264", "vaapi", "nvenc":
	default:
		bad("video.encoder", quote(v.Encoder), "must be libx264, vaapi or nvenc")
	}
	if v.MaxTranscodes > 0 && v.FFmpeg == "" {
		bad("video.ffmpeg", `""`, "transcoding needs the ffmpeg program (or set max_transcodes: 0)")
	}

	errs = append(errs, c.validateAlerts()...)
	c.validateFeeds(bad)
	c.validateRedis(bad)
	c.validateStorage(bad)
	errs = append(errs, c.validateWalls()...)

	if c.Demo.PerDay <= 0 || c.Demo.PerDay > 10_000_000 {
		bad("demo.per_day", c.Demo.PerDay, "must be in (0, 10000000]")
	}
	if c.Demo.Speed <= 0 || c.Demo.Speed > 10_000 {
		bad("demo.speed", c.Demo.Speed, "must be in (0, 10000]")
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		bad("log.level", quote(c.Log.Level), "must be debug, info, warn or error")
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", quote(c.Log.Format), "must be text or json")
	}
	return errors.Join(errs...)
}

func latLngProblem(lat, lng float64) string {
	switch {
	case math.IsNaN(lat) || math.IsNaN(lng):
		return "not a number"
	case lat < -90 || lat > 90:
		return "latitude out of range -90..90"
	case lng < -180 || lng > 180:
		return "longitude out of range -180..180"
	}
	return ""
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// RedactURL hides the user part of a URL, name and password (and of one
// that does not parse), so a camera URL can appear in an error or a log.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if at := strings.LastIndex(raw, "@"); at >= 0 {
			return "<redacted>@" + raw[at+1:]
		}
		return raw
	}
	if u.User != nil {
		// The user name is half a credential: it goes too.
		u.User = url.User("xxxxx")
	}
	return u.String()
}

// pmtilesProblem says what is wrong with the archive at path for the
// pmtiles basemap: it must be there, readable, a PMTiles archive of
// version 3, and of vector tiles (the embedded style draws those).
func pmtilesProblem(path string) string {
	if path == "" {
		return "must name the PMTiles archive with map.basemap: pmtiles"
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("cannot be read: %v", err)
	}
	defer f.Close()
	h, err := pmtiles.ReadHeader(f)
	switch {
	case err != nil:
		return fmt.Sprintf("cannot be read: %v", err)
	case h.TileType != pmtiles.TypeMVT:
		return fmt.Sprintf("holds %s tiles; the pmtiles basemap draws vector (mvt) tiles", h.TileType)
	case !browserDecompresses(h.TileCompression) || !browserDecompresses(h.InternalCompression):
		return fmt.Sprintf("is compressed with other than gzip (tiles %d, directories %d), which the maps cannot undo", h.TileCompression, h.InternalCompression)
	}
	return ""
}

func browserDecompresses(c pmtiles.Compression) bool {
	return c == pmtiles.CompressionNone || c == pmtiles.CompressionGzip
}
