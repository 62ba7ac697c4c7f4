package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/stream/relay"
)

// videoClient reads the video endpoint.
type videoClient struct {
	t    testing.TB
	conn *websocket.Conn
}

type videoMsg struct {
	Type   string `json:"type"`
	Codec  string `json:"codec"`
	MIME   string `json:"mime"`
	Video  string `json:"video"`
	Width  int    `json:"width"`
	From   string `json:"transcoded_from"`
	State  string `json:"state"`
	Reason string `json:"reason"`
}

func (s *server) videoURL(camera, query string) string {
	return "ws" + strings.TrimPrefix(s.url, "http") + "/ws/video/" + camera + query
}

// dialVideo opens /ws/video/{camera}; it returns the handshake answer's
// status and body when it is refused.
func (s *server) dialVideo(camera, query string, h http.Header) (*videoClient, int, string) {
	s.t.Helper()
	d := websocket.Dialer{HandshakeTimeout: wait}
	conn, resp, err := d.Dial(s.videoURL(camera, query), h)
	if err != nil {
		status, body := 0, ""
		if resp != nil {
			status = resp.StatusCode
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
		}
		return nil, status, body
	}
	s.t.Cleanup(func() { _ = conn.Close() })
	return &videoClient{t: s.t, conn: conn}, resp.StatusCode, ""
}

// next reads one frame: a text message decoded, or binary data.
func (c *videoClient) next() (videoMsg, []byte) {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	typ, b, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read video: %v", err)
	}
	if typ == websocket.BinaryMessage {
		return videoMsg{}, b
	}
	var m videoMsg
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("text frame is not JSON: %s", b)
	}
	return m, nil
}

// play reads until the codec message, the init segment and n media
// fragments have come, in that order, and returns the codec message.
func (c *videoClient) play(n int) videoMsg {
	c.t.Helper()
	var codec videoMsg
	init := false
	frags := 0
	for frags < n {
		m, b := c.next()
		switch {
		case m.Type == "codec":
			codec, init = m, false
		case m.Type == "state" || m.Type == "":
			if b == nil {
				continue
			}
			if codec.Type == "" {
				c.t.Fatal("binary data before the codec message")
			}
			if !init {
				if !bytes.Equal(b[4:8], []byte("ftyp")) {
					c.t.Fatalf("first binary frame is %q, want the init segment (ftyp)", b[4:8])
				}
				init = true
				continue
			}
			if !bytes.Equal(b[4:8], []byte("moof")) {
				c.t.Fatalf("media frame starts with %q, want moof", b[4:8])
			}
			frags++
		default:
			c.t.Fatalf("unexpected message %+v", m)
		}
	}
	return codec
}

func (c *videoClient) send(v any) {
	b, _ := json.Marshal(v)
	_ = c.conn.SetWriteDeadline(time.Now().Add(wait))
	if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// cameraServer starts an App with one camera served by a test RTSP camera.
func cameraServer(t *testing.T, user, pass string, edit func(*config.Camera)) (*server, *democam.Server) {
	t.Helper()
	cam, err := democam.Start(democam.Options{User: user, Pass: pass})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cam.Close)
	s := startServer(t, func(c *config.Config) {
		cc := config.Camera{ID: "gate-1", Name: "校门", NameEn: "Gate", Lat: 20.02, Lng: 110.34, Tags: []string{"school-gate"},
			Main: cam.URL("main"), Username: user, Password: pass}
		if edit != nil {
			edit(&cc)
		}
		c.Cameras = []config.Camera{cc}
		c.Video.StallTimeout = time.Second
		c.Video.ReconnectMin = 100 * time.Millisecond
		c.Video.ReconnectMax = 500 * time.Millisecond
	})
	return s, cam
}

// TestVideoEndpoint: a wall token plays a camera: the codec string, the
// init segment, then fragments; the camera's state and viewers are on the
// cameras topic; a frozen report shows there and in the metrics.
func TestVideoEndpoint(t *testing.T) {
	s, _ := cameraServer(t, "", "", nil)
	hub := s.connect(s.tokens[config.RoleWall])
	hub.subscribe("cameras")

	c, status, body := s.dialVideo("gate-1", "?stream=main", bearer(s.tokens[config.RoleWall]))
	if c == nil {
		t.Fatalf("dial: %d %s", status, body)
	}
	codec := c.play(30)
	if codec.Codec != "avc1.42C01E" || codec.MIME != `video/mp4; codecs="avc1.42C01E"` || codec.Video != "H.264" || codec.Width != 640 {
		t.Errorf("codec message %+v", codec)
	}
	cam := func() map[string]any {
		var v map[string]any
		_ = json.Unmarshal(hub.state["cameras"]["gate-1"], &v)
		return v
	}
	hub.until("camera live with one viewer", func() bool {
		v := cam()
		return v["state"] == "live" && v["viewers"] == 1.0 && v["codec"] == "avc1.42C01E"
	})
	if v := cam(); v["name"] != "校门" || v["lat"] != 20.02 {
		t.Errorf("camera on the topic: %v", v)
	}

	c.send(map[string]string{"type": "frozen"})
	hub.until("frozen on the topic", func() bool { return cam()["frozen"] == 1.0 })
	eventually(t, "frozen report counted", func() bool {
		n, _ := metric(t, s.reg, "citywall_video_frozen_reports_total", map[string]string{"camera": "gate-1"})
		return n == 1
	})
	c.send(map[string]string{"type": "playing"})
	hub.until("no longer frozen", func() bool { return cam()["frozen"] == 0.0 })

	for _, name := range []string{"citywall_video_bytes_in_total", "citywall_video_bytes_out_total", "citywall_video_viewers", "citywall_video_state"} {
		if v, found := metric(t, s.reg, name, map[string]string{"camera": "gate-1"}); !found || v == 0 {
			t.Errorf("%s = %v (found %v)", name, v, found)
		}
	}
	_ = c.conn.Close()
	hub.until("viewer gone", func() bool { return cam()["viewers"] == 0.0 })
}

// TestVideoTranscode: a player that says it cannot play H.265 gets an
// H.265 camera as H.264 made by ffmpeg (the codec message says so), one
// that can gets the camera's own stream; the cameras topic counts the
// transcoded viewers.
func TestVideoTranscode(t *testing.T) {
	cam := h265Camera(t)
	s := startServer(t, func(c *config.Config) {
		c.Cameras = []config.Camera{{ID: "hevc", Name: "水库", NameEn: "Reservoir", Lat: 20.01, Lng: 110.30, Main: cam.URL("main")}}
	})
	hub := s.connect(s.tokens[config.RoleWall])
	hub.subscribe("cameras")
	plain, status, body := s.dialVideo("hevc", "?decodes=h264", bearer(s.tokens[config.RoleWall]))
	if plain == nil {
		t.Fatalf("dial: %d %s", status, body)
	}
	if m := plain.play(25); m.Video != "H.264" || m.From != "H.265" || !strings.HasPrefix(m.Codec, "avc1.") {
		t.Errorf("a player without H.265 got %+v", m)
	}
	hevc, _, _ := s.dialVideo("hevc", "?decodes=h264,h265", bearer(s.tokens[config.RoleWall]))
	if m := hevc.play(10); m.Video != "H.265" || m.From != "" || !strings.HasPrefix(m.Codec, "hvc1.") {
		t.Errorf("a player with H.265 got %+v", m)
	}
	hub.until("one transcoded viewer of two on the topic", func() bool {
		var v map[string]any
		_ = json.Unmarshal(hub.state["cameras"]["hevc"], &v)
		return v["viewers"] == 2.0 && v["transcoded"] == 1.0
	})
	if cam.Readers() != 1 {
		t.Errorf("%d sessions to the camera, want 1", cam.Readers())
	}
}

// TestVideoRefused: the endpoint's refusals say what is wrong, before any
// upgrade.
func TestVideoRefused(t *testing.T) {
	s, _ := cameraServer(t, "", "", nil)
	for _, tc := range []struct {
		name, camera, query, token string
		status                     int
		code                       string
	}{
		{"no token", "gate-1", "", "", 401, "unauthorized"},
		{"ingest token", "gate-1", "", s.tokens[config.RoleIngest], 403, "forbidden"},
		{"unknown camera", "gate-9", "", s.tokens[config.RoleWall], 404, "unknown_camera"},
		{"bad stream", "gate-1", "?stream=side", s.tokens[config.RoleWall], 400, "bad_request"},
		{"bad decodes", "gate-1", "?decodes=h264,vp9", s.tokens[config.RoleWall], 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.token != "" {
				h = bearer(tc.token)
			}
			c, status, body := s.dialVideo(tc.camera, tc.query, h)
			if c != nil {
				t.Fatal("upgraded")
			}
			checkError(t, tc.name, status, []byte(body), tc.status, tc.code)
			if tc.code == "unknown_camera" && !strings.Contains(body, "gate-9") {
				t.Errorf("the error does not name the camera: %s", body)
			}
		})
	}
	// Another site's page may not open a camera.
	h := bearer(s.tokens[config.RoleWall])
	h.Set("Origin", "http://evil.example")
	if c, status, _ := s.dialVideo("gate-1", "", h); c != nil || status != 403 {
		t.Errorf("foreign origin: status %d", status)
	}
}

// TestVideoCredentialsNeverShown: a camera's password reaches no HTTP
// body, hub message, video message, log line or metric, whether the camera
// accepts it or refuses a wrong one.
func TestVideoCredentialsNeverShown(t *testing.T) {
	const user, pass = "viewer", "Pa55-w0rd-on-the-wire"
	for _, tc := range []struct {
		name string
		edit func(*config.Camera)
		want string
	}{
		{"in the URL", func(c *config.Camera) {
			c.Main = strings.Replace(c.Main, "rtsp://", "rtsp://"+user+":"+url.PathEscape(pass)+"@", 1)
			c.Username, c.Password = "", ""
		}, "live"},
		{"separate", nil, "live"},
		{"wrong", func(c *config.Camera) { c.Password = "x" + pass }, "offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := cameraServer(t, user, pass, tc.edit)
			hub := s.connect(s.tokens[config.RoleWall])
			hub.subscribe("cameras")
			c, status, body := s.dialVideo("gate-1", "", bearer(s.tokens[config.RoleWall]))
			if c == nil {
				t.Fatalf("dial %d %s", status, body)
			}
			var seen []string
			var state videoMsg
			for state.State != tc.want {
				m, b := c.next()
				if b == nil {
					raw, _ := json.Marshal(m)
					seen = append(seen, string(raw))
					if m.Type == "state" {
						state = m
					}
				}
			}
			hub.until("camera "+tc.want, func() bool {
				return strings.Contains(string(hub.state["cameras"]["gate-1"]), `"state":"`+tc.want+`"`)
			})
			for _, m := range hub.state["cameras"] {
				seen = append(seen, string(m))
			}
			_, _, metrics := s.do("GET", "/metrics", s.tokens[config.RoleAdmin], "", nil)
			_, _, public := s.do("GET", "/api/v1/public", s.tokens[config.RoleWall], "", nil)
			seen = append(seen, string(metrics), string(public), s.logs.String())
			for _, out := range seen {
				for _, secret := range []string{pass, url.PathEscape(pass), "x" + pass} {
					if strings.Contains(out, secret) {
						t.Errorf("a credential shows in:\n%s", out)
					}
				}
			}
			if tc.want == "offline" {
				t.Logf("reason: %s", state.Reason)
			}
		})
	}
}

// TestDemoCameras: the demo city serves its cameras from the in-process
// RTSP camera, through the relay like real ones.
func TestDemoCameras(t *testing.T) {
	cfg := config.DemoCity()
	cfg.Server.Listen = "127.0.0.1:0"
	cfg, tokens := withTokens(t, cfg)
	s := startWith(t, cfg, tokens)
	hub := s.connect(tokens[config.RoleWall])
	hub.subscribe("cameras")
	hub.until("the demo city's cameras", func() bool { return len(hub.state["cameras"]) == len(city.Cameras()) })
	for id, v := range hub.state["cameras"] {
		if strings.Contains(string(v), "rtsp") || !strings.Contains(string(v), `"state":"idle"`) {
			t.Errorf("camera %s on the topic: %s", id, v)
		}
	}
	for _, id := range []string{"road-binhai", "school-longhua-1"} {
		for _, stream := range []string{"main", "sub"} {
			c, status, body := s.dialVideo(id, "?stream="+stream, bearer(tokens[config.RoleWall]))
			if c == nil {
				t.Fatalf("dial %s: %d %s", id, status, body)
			}
			if codec := c.play(10); codec.Codec == "" {
				t.Errorf("%s %s: no codec", id, stream)
			}
			_ = c.conn.Close()
		}
	}
}

// fakeAlerter records what the video side tells the alerting.
type fakeAlerter struct {
	mu     sync.Mutex
	events []string
}

func (f *fakeAlerter) CameraDown(_ context.Context, c config.Camera, state, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "down "+c.ID+" "+state)
	return nil
}

func (f *fakeAlerter) CameraUp(_ context.Context, c config.Camera) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "up "+c.ID)
	return nil
}

func (f *fakeAlerter) seen() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.events, ", ")
}

// TestCameraAlerts: an always-on camera that disappears is reported down
// once it has been down for twice the stall timeout, and up when it is
// back.
func TestCameraAlerts(t *testing.T) {
	addr := func() string {
		cam, err := democam.Start(democam.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a := cam.Addr()
		cam.Close()
		return a
	}()
	cam, err := democam.Start(democam.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cam.Close() }()
	cfg, tokens := testConfig(t)
	cfg.Cameras = []config.Camera{{ID: "dam", Name: "大坝", Lat: 19.98, Lng: 110.30, Main: "rtsp://" + addr + "/dam", AlwaysOn: true}}
	cfg.Video.StallTimeout = time.Second
	cfg.Video.ReconnectMin = 100 * time.Millisecond
	cfg.Video.ReconnectMax = 300 * time.Millisecond
	al := &fakeAlerter{}
	s := startWithSetup(t, cfg, tokens, func(a *app.App) { a.SetCameraAlerter(al) })
	_ = s
	time.Sleep(1500 * time.Millisecond)
	if got := al.seen(); got != "" {
		t.Fatalf("alerts while the camera is fine: %s", got)
	}
	cam.Close()
	eventually(t, "camera reported down", func() bool { return strings.HasPrefix(al.seen(), "down dam offline") })
	cam = restartCamera(t, addr)
	eventually(t, "camera reported up", func() bool { return al.seen() == "down dam offline, up dam" })
}

// TestCameraChecks: a camera nobody watches is checked; found down, it
// shows offline (state and metric) without an alert; watched while down,
// it raises one; a check that finds it back, once nobody watches, clears
// the alert.
func TestCameraChecks(t *testing.T) {
	cam, err := democam.Start(democam.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := cam.Addr()
	defer func() { cam.Close() }()
	cfg, tokens := testConfig(t)
	cfg.Cameras = []config.Camera{{ID: "gate", Name: "校门", Lat: 19.98, Lng: 110.30, Main: "rtsp://" + addr + "/gate"}}
	cfg.Video.StallTimeout = time.Second
	cfg.Video.ReconnectMin = 100 * time.Millisecond
	cfg.Video.ReconnectMax = 300 * time.Millisecond
	cfg.Video.IdleTimeout = 0
	cfg.Video.CheckInterval = time.Second
	al := &fakeAlerter{}
	s := startWithSetup(t, cfg, tokens, func(a *app.App) { a.SetCameraAlerter(al) })
	sample := func(name, label, value string) float64 {
		mfs, err := s.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label && l.GetValue() == value {
						if m.Gauge != nil {
							return m.Gauge.GetValue()
						}
						return m.GetCounter().GetValue()
					}
				}
			}
		}
		return -1
	}
	eventually(t, "a good check", func() bool { return sample("citywall_video_checks_total", "result", "ok") >= 1 })
	if st := sample("citywall_video_state", "camera", "gate"); st != float64(relay.Idle) {
		t.Fatalf("state %v after a good check", st)
	}

	cam.Close()
	eventually(t, "offline by a check", func() bool { return sample("citywall_video_state", "camera", "gate") == float64(relay.Offline) })
	time.Sleep(2500 * time.Millisecond) // past the alerting's grace of twice the stall timeout
	if got := al.seen(); got != "" {
		t.Fatalf("a camera nobody watches raised %q", got)
	}

	v, status, body := s.dialVideo("gate", "", bearer(s.tokens[config.RoleWall]))
	if v == nil {
		t.Fatalf("watch: %d %s", status, body)
	}
	if m, _ := v.next(); m.Type != "state" || m.State != "offline" || !strings.HasPrefix(m.Reason, "check: ") {
		t.Errorf("a viewer of a camera known down is first told %+v", m)
	}
	eventually(t, "watched and down: an alert", func() bool { return al.seen() == "down gate offline" })
	_ = v.conn.Close()

	cam = restartCamera(t, addr)
	eventually(t, "cleared by a check", func() bool { return al.seen() == "down gate offline, up gate" })
}

// restartCamera starts a demo camera again on addr, which the one before
// it has just left.
func restartCamera(t *testing.T, addr string) *democam.Server {
	t.Helper()
	var err error
	for range 50 {
		var cam *democam.Server
		if cam, err = democam.Start(democam.Options{Addr: addr}); err == nil {
			return cam
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
	return nil
}

// startWithSetup is startWith with a hook between New and Run.
func startWithSetup(t *testing.T, cfg config.Config, tokens map[config.Role]string, setup func(*app.App)) *server {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	cw, err := app.New(cfg, app.Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	setup(cw)
	if _, err := cw.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{t: t, app: cw, url: cw.URL(), reg: reg, logs: logs, tokens: tokens, cancel: cancel, done: make(chan error, 1),
		client: &http.Client{Timeout: wait, Transport: &http.Transport{}}}
	go func() { s.done <- cw.Run(ctx) }()
	t.Cleanup(func() { _ = s.stop() })
	s.waitReady()
	return s
}
