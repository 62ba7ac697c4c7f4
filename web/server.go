package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/stream"
)

//go:embed static
var staticFS embed.FS

// Error codes of API error bodies, {"code": ..., "reason": ...}.
const (
	codeUnauthorized    = "unauthorized"
	codeForbidden       = "forbidden"
	codeBadRequest      = "bad_request"
	codeTooLarge        = "body_too_large"
	codeUnsupportedType = "unsupported_media_type"
	codeNotFound        = "not_found"
	codeUnknownTicket   = "unknown_ticket"
	codeUnavailable     = "unavailable"
)

type apiError struct {
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, reason string) {
	writeJSON(w, status, apiError{Code: code, Reason: reason})
}

// unauthorized is the API's answer to missing or wrong credentials; it
// says no more.
func unauthorized(w http.ResponseWriter) {
	writeError(w, http.StatusUnauthorized, codeUnauthorized, "missing or invalid token")
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.FileServerFS(static)

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if why := s.notReady(); why != "" {
			writeError(w, http.StatusServiceUnavailable, codeUnavailable, why)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /api/v1/admin/backup", s.require(rolesAdmin, http.HandlerFunc(s.handleBackup)))
	mux.Handle("GET /metrics", s.require(rolesAdmin, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{Registry: s.reg})))

	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.caller(w, r, func() { unauthorized(w) })
		if !ok {
			return
		}
		if !p.has(rolesRead...) {
			// Refused before the upgrade: a token that may subscribe to
			// nothing (ingest) has no use for a connection.
			s.wsLimits.refused.WithLabelValues(endpointHub, refuseNoTopic).Inc()
			writeError(w, http.StatusForbidden, codeForbidden, "this token's roles may subscribe to no topic")
			return
		}
		if !s.wsLimits.take(w, r, s.wsLimits.hub, p.Name) {
			return
		}
		s.hub.ServeWS(w, r, stream.Peer{
			Name:         p.Name,
			Roles:        p.roleNames(),
			CanSubscribe: func(topic string) bool { return canSubscribe(p, topic) },
			Done:         func() { s.wsLimits.hub.give(p.Name) },
		})
	})

	mux.HandleFunc("GET /ws/video/{camera}", s.handleVideo)
	mux.HandleFunc("GET /internal/video/{camera}", s.handlePeerVideo)
	mux.Handle("GET /api/v1/public", s.require(rolesRead, http.HandlerFunc(s.handlePublic)))
	mux.Handle("GET /api/v1/basemap", s.require(rolesRead, http.HandlerFunc(s.handleBasemap)))
	mux.Handle("GET "+basemapArchivePath, s.require(rolesRead, http.HandlerFunc(s.handleBasemapArchive)))
	mux.Handle("GET /api/v1/cells", s.require(rolesRead, http.HandlerFunc(s.handleCells)))
	mux.Handle("GET /api/v1/heat", s.require(rolesRead, http.HandlerFunc(s.handleHeat)))
	mux.Handle("GET /api/v1/hot", s.require(rolesRead, http.HandlerFunc(s.handleHot)))
	mux.Handle("GET /api/v1/tickets/{id}", s.require(append(rolesRead, rolesIngest...), http.HandlerFunc(s.handleGetTicket)))
	mux.Handle("POST /api/v1/tickets", s.require(rolesIngest, http.HandlerFunc(s.handlePostTickets)))
	mux.Handle("POST /api/v1/tickets/{id}/events", s.require(rolesIngest, http.HandlerFunc(s.handlePostEvents)))
	mux.Handle("GET /api/v1/alerts", s.require(rolesRead, s.withAlerting(s.handleListAlerts)))
	mux.Handle("GET /api/v1/alerts/teams", s.require(rolesRead, s.withAlerting(s.handleAlertTeams)))
	mux.Handle("GET /api/v1/alerts/dead-letters", s.require(rolesSilence, s.withAlerting(s.handleDeadLetters)))
	mux.Handle("GET /api/v1/alerts/{id}", s.require(rolesRead, s.withAlerting(s.handleGetAlert)))
	mux.Handle("POST /api/v1/alerts/{id}/ack", s.require(rolesAlertHandle, s.withAlerting(s.handleAckAlert)))
	mux.Handle("POST /api/v1/alerts/{id}/resolve", s.require(rolesAlertHandle, s.withAlerting(s.handleResolveAlert)))
	mux.Handle("GET /api/v1/silences", s.require(rolesRead, s.withAlerting(s.handleListSilences)))
	mux.Handle("POST /api/v1/silences", s.require(rolesSilence, s.withAlerting(s.handlePostSilence)))
	mux.Handle("DELETE /api/v1/silences/{id}", s.require(rolesSilence, s.withAlerting(s.handleDeleteSilence)))
	mux.Handle("POST /api/v1/readings", s.require(rolesIngest, http.HandlerFunc(s.handlePostReadings)))
	mux.Handle("POST /api/v1/calls", s.require(rolesIngest, http.HandlerFunc(s.handlePostCalls)))
	mux.Handle("GET /api/v1/feeds", s.require(rolesRead, http.HandlerFunc(s.handleFeeds)))
	mux.Handle("GET /api/v1/feeds/{station}/history", s.require(rolesRead, http.HandlerFunc(s.handleFeedHistory)))
	mux.Handle("GET /api/v1/kpi", s.require(rolesRead, http.HandlerFunc(s.handleKPI)))
	mux.Handle("GET /api/v1/reports/daily", s.require(rolesRead, http.HandlerFunc(s.handleDailyReport)))
	s.analysisRoutes(mux)

	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.Handle("GET /wall", s.page(rolesRead, "wall.html", static))
	mux.Handle("GET /camera", s.page(rolesRead, "camera.html", static))
	mux.Handle("GET /team", s.page(rolesTeamPage, "team.html", static))
	mux.Handle("GET /feeds", s.page(rolesRead, "feeds.html", static))
	mux.Handle("GET /analysis", s.page(rolesAnalysis, "analysis.html", static))
	s.wallRoutes(mux, static)
	s.linkRoutes(mux, static)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/wall", http.StatusFound)
	})
	// Assets: /static/js/x.js and, for pages that use paths relative to
	// their own, /js/x.js. They hold no data and need no token.
	mux.Handle("GET /static/", http.StripPrefix("/static", assetHeaders(files)))
	mux.Handle("GET /", assetHeaders(files))
	return s.connGuard(s.withRequestLog(securityHeaders(s.cfg.Map.TileURL, s.guardUnsafe(mux))))
}

// require lets through callers holding one of roles (admin always).
func (s *Server) require(roles []config.Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := s.caller(w, r, func() {
			w.Header().Set("WWW-Authenticate", `Bearer realm="citywall"`)
			unauthorized(w)
		})
		if !ok {
			return
		}
		if !p.has(roles...) {
			writeError(w, http.StatusForbidden, codeForbidden, "this token's roles may not do this")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canSubscribe is the hub's per-topic check.
func canSubscribe(p principal, topic string) bool {
	return p.has(rolesRead...)
}

func assetHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Modules change with the build; pages reload on a new build, and
		// revalidation is cheap on a local network.
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// securityHeaders keeps pages to their own origin: no script, style or
// connection leaves the closed network, and tiles come only from the
// configured tile server (which MapLibre fetches, and its worker from
// 'self' decodes).
func securityHeaders(tileURL string, next http.Handler) http.Handler {
	img := "'self' data: blob:"
	connect := "'self'"
	if u, err := url.Parse(tileURL); err == nil && u.Host != "" {
		img += " " + u.Scheme + "://" + u.Host
		connect += " " + u.Scheme + "://" + u.Host
	}
	csp := strings.Join([]string{
		"default-src 'self'",
		"img-src " + img,
		"media-src 'self' blob:",
		"connect-src " + connect,
		"worker-src 'self'",
		"style-src 'self'",
		"script-src 'self'",
		"frame-ancestors 'self'",
		"base-uri 'none'",
		"form-action 'self'",
	}, "; ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}
