package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/stream/relay"
)

// Error codes of the video endpoints.
const (
	codeUnknownCamera = "unknown_camera"
	codeNotOwner      = "not_owner"
)

// PeerKeyHeader carries the cluster's key on the instance-to-instance
// video stream (/internal/video/{camera}); browsers never see the key.
const PeerKeyHeader = "X-Citywall-Peer-Key"

// videoEndpoint serves the relay's cameras on /ws/video/{camera}.
type videoEndpoint struct {
	relay    *relay.Relay
	upgrader websocket.Upgrader
}

func newVideoEndpoint(r *relay.Relay, origins []string) *videoEndpoint {
	return &videoEndpoint{relay: r, upgrader: websocket.Upgrader{
		ReadBufferSize:   1024,
		WriteBufferSize:  32 << 10,
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      OriginChecker(origins),
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			code := codeBadRequest
			if status == http.StatusForbidden {
				code = codeForbidden
			}
			writeError(w, status, code, reason.Error())
		},
	}}
}

// videoMessage is a text frame of the video endpoint, server to client.
type videoMessage struct {
	Type   string `json:"type"` // codec, state, error
	Codec  string `json:"codec,omitempty"`
	MIME   string `json:"mime,omitempty"`
	Video  string `json:"video,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
	From   string `json:"transcoded_from,omitempty"` // the camera's codec family, when transcoded
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

// handleVideo serves GET /ws/video/{camera}?stream=main|sub[&audio=1]
// [&decodes=h264,h265]: the camera's stream as a codec message, the init
// segment, then one binary frame per media fragment (see docs/protocol.md).
func (s *Server) handleVideo(w http.ResponseWriter, r *http.Request) {
	p, ok := s.caller(w, r, func() { unauthorized(w) })
	if !ok {
		return
	}
	if !p.has(rolesRead...) {
		writeError(w, http.StatusForbidden, codeForbidden, "this token's roles may not do this")
		return
	}
	id := r.PathValue("camera")
	if !s.video.relay.Has(id) {
		writeError(w, http.StatusNotFound, codeUnknownCamera, fmt.Sprintf("no camera %q; the cameras topic lists them", id))
		return
	}
	stream := r.URL.Query().Get("stream")
	if stream != "" && stream != relay.StreamMain && stream != relay.StreamSub {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("stream %q: want main or sub", stream))
		return
	}
	audio := r.URL.Query().Get("audio") == "1"
	decodes, err := parseDecodes(r.URL.Query()["decodes"])
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	if !s.wsLimits.take(w, r, s.wsLimits.video, p.Name) {
		return
	}
	defer s.wsLimits.video.give(p.Name)
	conn, err := s.video.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	viewer, err := s.video.relay.WatchWith(id, relay.WatchOptions{Stream: stream, Audio: audio, Decodes: decodes})
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	log := s.log.With("component", "video", "camera", id, "name", p.Name)
	s.serveViewer(r.Context(), conn, viewer, log, func(b []byte) {
		m, err := decodeClientVideoMessage(b)
		if err != nil {
			log.DebugContext(r.Context(), "player message ignored", "err", err)
			return
		}
		viewer.Frozen(m.Type == "frozen")
	}, func(it relay.Item) (n int, err error) {
		writeText := func(m videoMessage) error {
			b, _ := json.Marshal(m)
			_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Hub.WriteTimeout))
			return conn.WriteMessage(websocket.TextMessage, b)
		}
		switch it.Kind {
		case relay.KindState:
			err = writeText(videoMessage{Type: "state", State: it.Status.State.String(), Reason: it.Status.Reason})
		case relay.KindHeader:
			h := it.Header
			err = writeText(videoMessage{Type: "codec", Codec: h.Codec, MIME: h.MIME, Video: h.Video, Width: h.Width, Height: h.Height, From: h.From})
			if err == nil {
				_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Hub.WriteTimeout))
				err = conn.WriteMessage(websocket.BinaryMessage, h.Init)
				n = len(h.Init)
			}
		case relay.KindFragment:
			_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Hub.WriteTimeout))
			err = conn.WriteMessage(websocket.BinaryMessage, it.Fragment.Data)
			n = len(it.Fragment.Data)
		}
		return n, err
	})
}

// handlePeerVideo serves GET /internal/video/{camera}?stream=main|sub to
// another instance of the cluster, which holds the cluster's key: the
// stream of a camera this instance owns, one hop message (relay.Item.Hop)
// a binary frame. The other instance says how many viewers it serves in
// text frames ({"viewers":n,"frozen":n,"transcoded":n}). Without a
// cluster, or for a browser, there is no such endpoint (404, 401).
func (s *Server) handlePeerVideo(w http.ResponseWriter, r *http.Request) {
	if s.peerKey == "" {
		writeError(w, http.StatusNotFound, codeNotFound, "no such endpoint")
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(PeerKeyHeader)), []byte(s.peerKey)) != 1 {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "missing or invalid cluster key")
		return
	}
	id := r.PathValue("camera")
	if !s.video.relay.Has(id) {
		writeError(w, http.StatusNotFound, codeUnknownCamera, fmt.Sprintf("no camera %q", id))
		return
	}
	stream := r.URL.Query().Get("stream")
	if stream != "" && stream != relay.StreamMain && stream != relay.StreamSub {
		writeError(w, http.StatusBadRequest, codeBadRequest, fmt.Sprintf("stream %q: want main or sub", stream))
		return
	}
	if !s.video.relay.Owned(id) {
		// Views of the cluster differ for a moment: the caller asks again
		// once its view is this one's.
		writeError(w, http.StatusConflict, codeNotOwner, fmt.Sprintf("this instance does not hold camera %q", id))
		return
	}
	conn, err := s.video.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	viewer, err := s.video.relay.WatchPeer(id, stream)
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	log := s.log.With("component", "video", "camera", id, "name", "peer")
	s.serveViewer(r.Context(), conn, viewer, log, func(b []byte) {
		var rm relay.Remote
		if err := json.Unmarshal(b, &rm); err != nil || rm.Viewers < 0 || rm.Frozen < 0 || rm.Transcoded < 0 {
			log.DebugContext(r.Context(), "peer report ignored", "err", err)
			return
		}
		viewer.SetRemote(rm)
	}, func(it relay.Item) (int, error) {
		b := it.Hop()
		_ = conn.SetWriteDeadline(time.Now().Add(s.cfg.Hub.WriteTimeout))
		return len(b), conn.WriteMessage(websocket.BinaryMessage, b)
	})
}

// serveViewer writes the viewer's items to its connection, with write,
// until either ends. One goroutine writes (this one); one reads the
// client's text messages (to onText) and pongs; pings go out with
// WriteControl, which may run beside a write.
func (s *Server) serveViewer(ctx context.Context, conn *websocket.Conn, v *relay.Viewer, log *slog.Logger,
	onText func([]byte), write func(relay.Item) (int, error)) {
	ctx, cancel := context.WithCancel(ctx)
	hc := s.cfg.Hub
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
			onText(b)
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

	for {
		it, err := v.Next(ctx)
		if err != nil {
			if errors.Is(err, relay.ErrViewerClosed) {
				_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
			}
			return
		}
		n, err := write(it)
		if err != nil {
			if !strings.Contains(err.Error(), "closed") {
				log.DebugContext(ctx, "viewer gone", "err", err)
			}
			return
		}
		v.Sent(it, n)
	}
}

// videoFamilies are the decodes= names of the video families.
var videoFamilies = map[string]string{"h264": "H.264", "h265": "H.265"}

// parseDecodes reads what a player says it plays: decodes=h264,h265 (one
// parameter, comma-separated, or several). Absent: nil, the player did not
// say. Present but empty: it plays neither.
func parseDecodes(vals []string) ([]string, error) {
	if vals == nil {
		return nil, nil
	}
	out := []string{}
	for _, v := range vals {
		for name := range strings.SplitSeq(v, ",") {
			name = strings.TrimSpace(strings.ToLower(name))
			if name == "" {
				continue
			}
			fam, ok := videoFamilies[name]
			if !ok {
				return nil, fmt.Errorf("decodes %q: want a list of h264 and h265", name)
			}
			out = append(out, fam)
		}
	}
	return out, nil
}
