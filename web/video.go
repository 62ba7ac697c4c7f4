package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/demo"
	"github.com/citywall/citywall/stream/democam"
	"github.com/citywall/citywall/stream/relay"
)

// topicCameras is the state topic of the cameras: id → cameraView.
const topicCameras = "cameras"

// Error codes of the video endpoint.
const codeUnknownCamera = "unknown_camera"

// video is the camera relay as the App serves it.
type video struct {
	app     *App
	relay   *relay.Relay
	demo    *democam.Server // the demo city's camera, nil otherwise
	cameras []config.Camera // as configured, or the demo city's
	byID    map[string]config.Camera
	changed chan struct{}

	upgrader websocket.Upgrader

	mu        sync.Mutex
	published map[string]string // last value sent per camera, to send changes only

	alerter CameraAlerter // nil: no alerting
	down    map[string]downState
}

// newVideo builds the relay. With the demo on and no camera configured, the
// demo city's cameras are served by an in-process RTSP server on a free
// loopback port, and become cfg.Cameras like configured ones.
func newVideo(a *App) (*video, error) {
	v := &video{app: a, changed: make(chan struct{}, 1), byID: map[string]config.Camera{}, published: map[string]string{}, down: map[string]downState{}}
	cams := a.cfg.Cameras
	if len(cams) == 0 && a.cfg.Demo.Enabled {
		srv, err := democam.Start(democam.Options{Addr: "127.0.0.1:0"})
		if err != nil {
			return nil, fmt.Errorf("demo camera: %w", err)
		}
		v.demo = srv
		for _, c := range demo.Cameras() {
			cams = append(cams, config.Camera{
				ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags,
				Main: srv.URL("cam/" + c.ID + "/main"), Sub: srv.URL("cam/" + c.ID + "/sub"),
			})
		}
		a.cfg.Cameras = cams
	}
	v.cameras = cams
	rcs := make([]relay.Camera, 0, len(cams))
	for _, c := range cams {
		v.byID[c.ID] = c
		rcs = append(rcs, relay.Camera{ID: c.ID, Main: c.Main, Sub: c.Sub, Username: c.Username, Password: c.Password, AlwaysOn: c.AlwaysOn})
	}
	idle := a.cfg.Video.IdleTimeout
	if idle == 0 {
		idle = -1 // close at once
	}
	check := a.cfg.Video.CheckInterval
	if check == 0 {
		check = -1 // never
	}
	var err error
	v.relay, err = relay.New(rcs, relay.Options{
		IdleTimeout:   idle,
		StallTimeout:  a.cfg.Video.StallTimeout,
		ReconnectMin:  a.cfg.Video.ReconnectMin,
		ReconnectMax:  a.cfg.Video.ReconnectMax,
		ViewerBytes:   a.cfg.Video.ViewerBytes,
		CheckInterval: check,
		CheckParallel: a.cfg.Video.CheckParallel,
		OnChange: func() {
			select {
			case v.changed <- struct{}{}:
			default:
			}
		},
	}, a.reg, a.log.With("component", "video"))
	if err != nil {
		if v.demo != nil {
			v.demo.Close()
		}
		return nil, fmt.Errorf("video relay: %w", err)
	}
	v.upgrader = websocket.Upgrader{
		ReadBufferSize:   1024,
		WriteBufferSize:  32 << 10,
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      originChecker(a.cfg.Server.Origins),
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			code := codeBadRequest
			if status == http.StatusForbidden {
				code = codeForbidden
			}
			writeError(w, status, code, reason.Error())
		},
	}
	return v, nil
}

// run starts the relay and publishes the cameras topic until ctx ends:
// every camera at once, then what changed, at most four times a second.
// Once a second it looks for cameras that are down for the alerting.
func (v *video) run(ctx context.Context) {
	v.relay.Run()
	v.publish(ctx)
	last := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.changed:
			if wait := 250*time.Millisecond - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			v.publish(ctx)
			last = time.Now()
		case <-tick.C:
			v.checkDown(ctx)
		}
	}
}

// CameraAlerter hears about cameras that go down (offline, stalled or
// unsupported for longer than twice video.stall_timeout while watched or
// always on) and come back (live, or found good by a check while nobody
// watches); the alerting raises and clears an alert for each. A camera
// nobody watches that a check finds down shows so on the console and in
// citywall_video_state, without an alert: in a city of thousands of
// cameras some are always down, and the wall does not show them.
type CameraAlerter interface {
	CameraDown(ctx context.Context, camera config.Camera, state, reason string) error
	CameraUp(ctx context.Context, camera config.Camera) error
}

// SetCameraAlerter connects the alerting; call it before Run.
func (a *App) SetCameraAlerter(x CameraAlerter) { a.video.alerter = x }

// checkDown tells the alerter about cameras down for a while and about
// those back live.
func (v *video) checkDown(ctx context.Context) {
	if v.alerter == nil {
		return
	}
	grace := 2 * v.app.cfg.Video.StallTimeout
	now := time.Now()
	for _, st := range v.relay.Status() {
		d := v.down[st.ID]
		switch st.State {
		case relay.Offline, relay.Stalled, relay.Unsupported:
			if st.Viewers == 0 && !v.byID[st.ID].AlwaysOn {
				// Known down by a check, or by its last session: an
				// alert already raised stays until the camera is back.
				if !d.reported {
					d = downState{}
				}
				break
			}
			if d.since.IsZero() {
				d.since = now
			}
			if !d.reported && now.Sub(d.since) >= grace {
				if err := v.alerter.CameraDown(ctx, v.byID[st.ID], st.State.String(), st.Reason); err != nil {
					v.app.log.Warn("camera alert not raised", "camera", st.ID, "err", err)
				} else {
					d.reported = true
				}
			}
		case relay.Live:
			if d.reported {
				if err := v.alerter.CameraUp(ctx, v.byID[st.ID]); err != nil {
					v.app.log.Warn("camera alert not cleared", "camera", st.ID, "err", err)
					continue
				}
			}
			d = downState{}
		case relay.Connecting:
			// Between attempts: keep counting.
		default: // idle
			if !d.reported {
				d = downState{}
				break
			}
			// Idle after a check since the camera went down: the check
			// found it good (a failed one leaves it down).
			if st.Checked != nil && st.Checked.After(d.since) {
				if err := v.alerter.CameraUp(ctx, v.byID[st.ID]); err != nil {
					v.app.log.Warn("camera alert not cleared", "camera", st.ID, "err", err)
					continue
				}
				d = downState{}
			}
		}
		v.down[st.ID] = d
	}
}

type downState struct {
	since    time.Time
	reported bool
}

func (v *video) close() {
	v.relay.Close()
	if v.demo != nil {
		v.demo.Close()
	}
}

// cameraView is a camera on the cameras topic: where it is and how it is,
// never its URL or credentials.
type cameraView struct {
	ID      string     `json:"id"`
	Name    string     `json:"name"`
	NameEn  string     `json:"name_en"`
	Lat     float64    `json:"lat"`
	Lng     float64    `json:"lng"`
	Tags    []string   `json:"tags"`
	State   string     `json:"state"`
	Reason  string     `json:"reason"`
	Codec   string     `json:"codec"`
	Viewers int        `json:"viewers"`
	Frozen  int        `json:"frozen"`
	Sub     bool       `json:"sub"` // has a sub stream
	Checked *time.Time `json:"checked,omitempty"`
}

func (v *video) publish(ctx context.Context) {
	set := map[string]json.RawMessage{}
	v.mu.Lock()
	for _, st := range v.relay.Status() {
		c := v.byID[st.ID]
		tags := c.Tags
		if tags == nil {
			tags = []string{}
		}
		b, err := json.Marshal(cameraView{
			ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: tags,
			State: st.State.String(), Reason: st.Reason, Codec: st.Codec, Viewers: st.Viewers, Frozen: st.Frozen,
			Sub: c.Sub != "", Checked: st.Checked,
		})
		if err != nil {
			continue
		}
		if v.published[st.ID] != string(b) {
			v.published[st.ID] = string(b)
			set[st.ID] = b
		}
	}
	v.mu.Unlock()
	if err := v.app.hub.PublishState(ctx, topicCameras, set, nil, time.Now()); err != nil && ctx.Err() == nil {
		v.app.log.Warn("cameras not published", "err", err)
	}
}

// videoMessage is a text frame of the video endpoint, server to client.
type videoMessage struct {
	Type   string `json:"type"` // codec, state, error
	Codec  string `json:"codec,omitempty"`
	MIME   string `json:"mime,omitempty"`
	Video  string `json:"video,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// clientVideoMessage is what a player sends: {"type":"frozen"} when its
// picture has not moved for a while although connected, {"type":"playing"}
// when it moves again.
type clientVideoMessage struct {
	Type string `json:"type"`
}

// decodeClientVideoMessage reads a player's message.
func decodeClientVideoMessage(b []byte) (clientVideoMessage, error) {
	var m clientVideoMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a JSON object: %w", err)
	}
	switch m.Type {
	case "frozen", "playing":
		return m, nil
	}
	return m, fmt.Errorf("unknown message type %q", m.Type)
}

// handleVideo serves GET /ws/video/{camera}?stream=main|sub[&audio=1]: the
// camera's stream as a codec message, the init segment, then one binary
// frame per media fragment (see docs/protocol.md).
func (a *App) handleVideo(w http.ResponseWriter, r *http.Request) {
	p, ok := a.auth.authenticate(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "missing or invalid token")
		return
	}
	if !p.has(rolesRead...) {
		writeError(w, http.StatusForbidden, codeForbidden, "this token's roles may not do this")
		return
	}
	id := r.PathValue("camera")
	if !a.video.relay.Has(id) {
		writeError(w, http.StatusNotFound, codeUnknownCamera, fmt.Sprintf("no camera %q; the cameras topic lists them", id))
		return
	}
	stream := r.URL.Query().Get("stream")
	if stream != "" && stream != relay.StreamMain && stream != relay.StreamSub {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("stream %q: want main or sub", stream))
		return
	}
	audio := r.URL.Query().Get("audio") == "1"
	conn, err := a.video.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	viewer, err := a.video.relay.Watch(id, stream, audio)
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	a.serveViewer(r.Context(), conn, viewer, p.Name, id)
}

// serveViewer writes the viewer's items to its connection until either
// ends. One goroutine writes (this one); one reads the player's reports and
// pongs; pings go out with WriteControl, which may run beside a write.
func (a *App) serveViewer(ctx context.Context, conn *websocket.Conn, v *relay.Viewer, who, camera string) {
	ctx, cancel := context.WithCancel(ctx)
	hc := a.cfg.Hub
	log := a.log.With("component", "video", "camera", camera, "name", who)
	var wg sync.WaitGroup
	defer func() {
		// Stop the pinger and unblock the reader before waiting for them.
		cancel()
		v.Close()
		_ = conn.Close()
		wg.Wait()
	}()
	conn.SetReadLimit(4096)
	_ = conn.SetReadDeadline(time.Now().Add(hc.PongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(hc.PongWait)) })
	wg.Go(func() {
		defer cancel()
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			_ = conn.SetReadDeadline(time.Now().Add(hc.PongWait))
			m, err := decodeClientVideoMessage(b)
			if err != nil {
				log.Debug("player message ignored", "err", err)
				continue
			}
			v.Frozen(m.Type == "frozen")
		}
	})
	wg.Go(func() {
		t := time.NewTicker(hc.PingPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(hc.WriteTimeout)); err != nil {
					cancel()
					return
				}
			}
		}
	})

	writeText := func(m videoMessage) error {
		b, _ := json.Marshal(m)
		_ = conn.SetWriteDeadline(time.Now().Add(hc.WriteTimeout))
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	for {
		it, err := v.Next(ctx)
		if err != nil {
			if errors.Is(err, relay.ErrViewerClosed) {
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
			}
			return
		}
		n := 0
		switch it.Kind {
		case relay.KindState:
			err = writeText(videoMessage{Type: "state", State: it.Status.State.String(), Reason: it.Status.Reason})
		case relay.KindHeader:
			h := it.Header
			err = writeText(videoMessage{Type: "codec", Codec: h.Codec, MIME: h.MIME, Video: h.Video, Width: h.Width, Height: h.Height})
			if err == nil {
				_ = conn.SetWriteDeadline(time.Now().Add(hc.WriteTimeout))
				err = conn.WriteMessage(websocket.BinaryMessage, h.Init)
				n = len(h.Init)
			}
		case relay.KindFragment:
			_ = conn.SetWriteDeadline(time.Now().Add(hc.WriteTimeout))
			err = conn.WriteMessage(websocket.BinaryMessage, it.Fragment.Data)
			n = len(it.Fragment.Data)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "closed") {
				log.Debug("viewer gone", "err", err)
			}
			return
		}
		v.Sent(it, n)
	}
}
