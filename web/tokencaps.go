package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/internal/ratelog"
)

const codeTooManyConnections = "too_many_connections"

// WebSocket endpoints and refusal reasons, the labels of
// citywall_ws_refused_total.
const (
	endpointHub   = "hub"   // /ws
	endpointVideo = "video" // /ws/video/{camera}
	refuseCap     = "token_cap"
	refuseNoTopic = "no_topic"
)

// tokenCap counts the connections each token (by name) holds on one
// endpoint, up to a bound. Names are the configured tokens', so the map
// is as small as the configuration.
type tokenCap struct {
	endpoint string
	key      string // the configuration key, named in the refusal
	max      int

	mu   sync.Mutex
	held map[string]int
}

func newTokenCap(endpoint, key string, max int) *tokenCap {
	return &tokenCap{endpoint: endpoint, key: key, max: max, held: map[string]int{}}
}

// take counts one more connection of name; false when it holds max.
func (c *tokenCap) take(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[name] >= c.max {
		return false
	}
	c.held[name]++
	return true
}

// give back one connection of name.
func (c *tokenCap) give(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held[name]--; c.held[name] <= 0 {
		delete(c.held, name)
	}
}

// wsLimits are the per-token caps of the WebSocket endpoints, with their
// refusals' metric and log.
type wsLimits struct {
	hub, video *tokenCap
	refused    *prometheus.CounterVec
	log        *slog.Logger
	logs       ratelog.Limiter // one line per token and endpoint every 10 s
}

func newWSLimits(hubMax, videoMax int, log *slog.Logger, reg prometheus.Registerer) *wsLimits {
	l := &wsLimits{
		hub:   newTokenCap(endpointHub, "hub.max_connections_per_token", hubMax),
		video: newTokenCap(endpointVideo, "video.max_viewers_per_token", videoMax),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_ws_refused_total",
			Help: "WebSocket connections refused before the upgrade to a valid token, by endpoint (hub, video) and reason: token_cap (the token holds hub.max_connections_per_token or video.max_viewers_per_token), no_topic (its roles may subscribe to nothing).",
		}, []string{"endpoint", "reason"}),
		log: log,
	}
	for _, e := range []string{endpointHub, endpointVideo} {
		l.refused.WithLabelValues(e, refuseCap)
	}
	l.refused.WithLabelValues(endpointHub, refuseNoTopic)
	if reg != nil {
		reg.MustRegister(l.refused)
	}
	return l
}

// take counts a connection of the token name on c, or answers 429
// too_many_connections naming the token and the key, counts and logs the
// refusal, and returns false. A browser sees only a failed connection;
// its page learns why from the reason of a later HTTP call, or the log.
func (l *wsLimits) take(w http.ResponseWriter, r *http.Request, c *tokenCap, name string) bool {
	if c.take(name) {
		return true
	}
	l.refused.WithLabelValues(c.endpoint, refuseCap).Inc()
	if ok, held := l.logs.Allow(c.endpoint + " " + name); ok {
		l.log.WarnContext(r.Context(), "websocket refused: the token holds its cap", "endpoint", c.endpoint,
			"name", name, "cap", c.max, "addr", remoteIP(r), "similar_not_logged", held)
	}
	writeError(w, http.StatusTooManyRequests, codeTooManyConnections,
		fmt.Sprintf("token %q already holds %d %s connections on this server (%s)", name, c.max, c.endpoint, c.key))
	return false
}
