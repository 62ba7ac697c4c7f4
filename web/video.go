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

	"github.com/citywall/citywall/stream/relay"
)

// Error codes of the video endpoint.
const codeUnknownCamera = "unknown_camera"

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
func (s *Server) handleVideo(w http.ResponseWriter, r *http.Request) {
	p, ok := s.auth.authenticate(r)
	if !ok {
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "missing or invalid token")
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
	conn, err := s.video.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	viewer, err := s.video.relay.Watch(id, stream, audio)
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "shutting down"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	s.serveViewer(r.Context(), conn, viewer, p.Name, id)
}

// serveViewer writes the viewer's items to its connection until either
// ends. One goroutine writes (this one); one reads the player's reports and
// pongs; pings go out with WriteControl, which may run beside a write.
func (s *Server) serveViewer(ctx context.Context, conn *websocket.Conn, v *relay.Viewer, who, camera string) {
	ctx, cancel := context.WithCancel(ctx)
	hc := s.cfg.Hub
	log := s.log.With("component", "video", "camera", camera, "name", who)
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
