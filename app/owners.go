package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/cluster/members"
	"github.com/citywall/citywall/stream/relay"
	"github.com/citywall/citywall/web"
)

// memberTTL is how long an instance that stopped renewing its entry (it
// crashed, or lost Redis) still owns its cameras: with the poll and a
// camera's first keyframe, its viewers see a picture again well within
// 10 s.
const memberTTL = 3 * time.Second

// owners gives each camera one owner in the cluster (relay.Peers): the
// instance that wins it by rendezvous hashing over the live instances
// dials the camera; the others read its stream over /internal/video.
type owners struct {
	rdb    redis.UniversalClient
	prefix string
	id     string
	key    string // the cluster's key for /internal/video
	dialer websocket.Dialer

	reg   atomic.Pointer[members.Registry] // nil until started: alone
	relay *relay.Relay                     // set by attach

	// What shareCameras last wrote, and when it last wrote it all; used
	// by the video's one publishing goroutine only.
	shared   map[string]string
	sharedAt time.Time
}

// newOwners reads the cluster's key for instance-to-instance video, making
// it when this is the first instance.
func newOwners(ctx context.Context, rdb redis.UniversalClient, prefix, id string) (*owners, error) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	k := "{" + prefix + "}:peer-key"
	if err := rdb.SetNX(ctx, k, hex.EncodeToString(b), 0).Err(); err != nil {
		return nil, fmt.Errorf("cluster key: %w", err)
	}
	key, err := rdb.Get(ctx, k).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster key: %w", err)
	}
	return &owners{rdb: rdb, prefix: prefix, id: id, key: key,
		dialer: websocket.Dialer{HandshakeTimeout: 3 * time.Second, ReadBufferSize: 32 << 10}}, nil
}

// cameraOwners is the cluster's camera owners; nil alone.
func cameraOwners(c *clusterMode) *owners {
	if c == nil {
		return nil
	}
	return c.owners
}

// start joins the instances under the advertised URL and keeps the view
// until ctx ends; a change of owners reroutes the relay's streams.
func (o *owners) start(ctx context.Context, wg *sync.WaitGroup, advertise string, log func(string, ...any)) {
	reg := members.New(o.rdb, members.Options{Key: "{" + o.prefix + "}:instances", ID: o.id, URL: advertise, TTL: memberTTL,
		OnChange: func() {
			if o.relay != nil {
				o.relay.Reroute()
			}
		}})
	o.reg.Store(reg)
	log("camera owners: this instance is reachable at", "url", advertise)
	wg.Go(func() { reg.Run(ctx) })
}

// Owner implements relay.Peers: "" when this instance owns the camera.
func (o *owners) Owner(camera string) string {
	reg := o.reg.Load()
	if reg == nil {
		return ""
	}
	m := reg.Owner(camera)
	if m.ID == o.id || m.ID == "" {
		return ""
	}
	return m.ID
}

// Dial implements relay.Peers.
func (o *owners) Dial(ctx context.Context, owner, camera, stream string) (relay.PeerConn, error) {
	reg := o.reg.Load()
	if reg == nil {
		return nil, errors.New("not in a cluster")
	}
	var base string
	for _, m := range reg.View().Members {
		if m.ID == owner {
			base = m.URL
		}
	}
	if base == "" {
		return nil, fmt.Errorf("instance %s left", owner)
	}
	u := "ws" + strings.TrimPrefix(base, "http") + "/internal/video/" + url.PathEscape(camera) + "?stream=" + url.QueryEscape(stream)
	h := http.Header{}
	h.Set(web.PeerKeyHeader, o.key)
	conn, resp, err := o.dialer.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("%s: %d %s", base, resp.StatusCode, strings.TrimSpace(string(b)))
		}
		return nil, fmt.Errorf("%s: %w", base, err)
	}
	return &peerConn{conn: conn}, nil
}

// peerConn is one read of another instance's camera stream.
type peerConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex
}

func (p *peerConn) Next() ([]byte, error) {
	for {
		// The owner pings every hub.ping_period; a silent one is gone.
		_ = p.conn.SetReadDeadline(time.Now().Add(time.Minute))
		typ, b, err := p.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		if typ == websocket.BinaryMessage {
			return b, nil
		}
	}
}

func (p *peerConn) Report(r relay.Remote) error {
	b, _ := json.Marshal(r)
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_ = p.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return p.conn.WriteMessage(websocket.TextMessage, b)
}

func (p *peerConn) Close() error { return p.conn.Close() }

// advertiseURL is where the others reach this instance: redis.advertise_url,
// else the address it listens on, with the host's name in place of an
// unspecified address.
func advertiseURL(configured, listening string, tls bool) string {
	if configured != "" {
		return strings.TrimSuffix(configured, "/")
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(listening)
	if err == nil {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		listening = net.JoinHostPort(host, port)
	}
	return scheme + "://" + listening
}

// cameraShare is one instance's part of a camera's view, kept in Redis.
type cameraShare struct {
	State      string     `json:"s"`
	Reason     string     `json:"r,omitempty"`
	Codec      string     `json:"c,omitempty"`
	Viewers    int        `json:"v,omitempty"`
	Frozen     int        `json:"f,omitempty"`
	Transcoded int        `json:"t,omitempty"`
	Checked    *time.Time `json:"k,omitempty"`
}

// shareRewrite is how often an instance writes its whole part again (in
// between, only what changed), so a part lost with a Redis restart comes
// back.
const shareRewrite = 10 * time.Second

func (o *owners) shareKey(id string) string { return "{" + o.prefix + "}:cameras:" + id }

// shareCameras writes this instance's view of its cameras to Redis and
// returns the cluster's: each camera as its owner sees it (the owner holds
// the only session and hears every instance's viewers, frozen tiles and
// transcodes over the hop), with the owner named. Alone, or when Redis
// does not answer, or before the owner has written its part, the local
// view is the answer.
func (o *owners) shareCameras(ctx context.Context, local []cameraView) []cameraView {
	reg := o.reg.Load()
	if reg == nil {
		return local
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	now := time.Now()
	full := now.Sub(o.sharedAt) >= shareRewrite
	if o.shared == nil {
		o.shared = map[string]string{}
	}
	key := o.shareKey(o.id)
	pipe := o.rdb.Pipeline()
	var fields []any
	for _, c := range local {
		b, _ := json.Marshal(cameraShare{State: c.State, Reason: c.Reason, Codec: c.Codec, Viewers: c.Viewers,
			Frozen: c.Frozen, Transcoded: c.Transcoded, Checked: c.Checked})
		if full || o.shared[c.ID] != string(b) {
			fields = append(fields, c.ID, string(b))
		}
	}
	if len(fields) > 0 {
		pipe.HSet(ctx, key, fields...)
	}
	pipe.PExpire(ctx, key, 2*memberTTL)
	members := reg.View().Members
	reads := map[string]*redis.MapStringStringCmd{}
	for _, m := range members {
		if m.ID != o.id {
			reads[m.ID] = pipe.HGetAll(ctx, o.shareKey(m.ID))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return local
	}
	for i := 0; i < len(fields); i += 2 {
		o.shared[fields[i].(string)] = fields[i+1].(string)
	}
	if full {
		o.sharedAt = now
	}
	parts := map[string]map[string]string{}
	for id, cmd := range reads {
		parts[id] = cmd.Val()
	}
	out := make([]cameraView, len(local))
	for i, c := range local {
		owner := reg.Owner(c.ID).ID
		if owner == "" {
			owner = o.id
		}
		c.Owner = owner
		// The owner counts the viewers of every instance already: the
		// others report theirs over the hop (relay.Remote).
		var sh cameraShare
		if part, ok := parts[owner]; ok && json.Unmarshal([]byte(part[c.ID]), &sh) == nil {
			c.State, c.Reason, c.Codec, c.Checked = sh.State, sh.Reason, sh.Codec, sh.Checked
			c.Viewers, c.Frozen, c.Transcoded = sh.Viewers, sh.Frozen, sh.Transcoded
		}
		out[i] = c
	}
	return out
}
