package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/actionlink"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/analysis"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/internal/authlimit"
	"github.com/citywall/citywall/internal/logkit"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/stream/relay"
	"github.com/citywall/citywall/wall"
	"github.com/citywall/citywall/web/session"
)

// Deps is everything the HTTP server serves from; the composition root
// (package app) builds the parts and hands them over here.
type Deps struct {
	Config   config.Config // server, auth, city, map, geo, tickets, feeds, hub
	Log      *slog.Logger
	Registry *prometheus.Registry // served on /metrics
	Build    string               // build id shown to pages; they reload when it changes
	Now      func() time.Time
	Location *time.Location // the city's

	Districts []District // outlined on the map
	// Land is the land around the city as [lat, lng] rings, a point on land
	// when an odd number hold it: the builtin basemap draws the sea around
	// it. Nil: no sea is drawn.
	Land       [][][2]float64
	CategoryEn func(zh string) string // English names of categories, "" when unknown

	Store  *ticket.Store
	Engine *geo.Engine
	Hub    *stream.Hub
	Ingest *ingest.Pipeline
	Feed   *feeds.Feed
	KPI    *kpi.Tracker
	// Analysis holds the tickets of the days kept for the analysis view;
	// nil: an empty one (the view shows nothing).
	Analysis *analysis.History
	Walls    *wall.Manager
	Relay    *relay.Relay
	Alerts   *Alerts // nil when alerting is off: its API answers 404

	// Sessions keeps the browsers' sign-ins; nil: in memory, lost on a
	// restart.
	Sessions session.Store

	// Backup writes a backup of the data directory; nil: the instance has
	// none, and the backup API says so.
	Backup func(io.Writer) error

	// NotReady says why /readyz should answer 503 ("" when ready).
	NotReady func() string
	// PeerKey is the cluster's key other instances present to read this
	// one's cameras (/internal/video); "" alone: no such endpoint.
	PeerKey string
}

// Alerts is the alerting as its API serves it.
type Alerts struct {
	Manager *alerts.Manager
	Router  *alerts.Router
	Cluster *alerts.ClusterSource
	// DeadLetters lists the notifications given up on.
	DeadLetters func(context.Context) ([]webhook.DeadLetter, error)
	// Links checks the links alert messages carry; nil: no links (no
	// server.public_url), and the link API answers 404.
	Links *actionlink.Links
}

// District is a district outlined on the map.
type District struct {
	Name    string       `json:"name"`
	NameEn  string       `json:"name_en,omitempty"`
	Polygon [][2]float64 `json:"polygon"`
}

// Server is citywall's HTTP side: the API, the hub and video WebSocket
// endpoints, the pages and their embedded files.
type Server struct {
	cfg        config.Config
	log        *slog.Logger
	httpLog    *slog.Logger // component http: request lines and request failures
	reg        *prometheus.Registry
	build      string
	now        func() time.Time
	loc        *time.Location
	districts  []District
	land       [][][2]float64
	categoryEn func(string) string

	auth     *authenticator
	authGate *authGate
	wsLimits *wsLimits
	bounds   *geo.Boundaries
	store    *ticket.Store
	engine   *geo.Engine
	hub      *stream.Hub
	ingest   *ingest.Pipeline
	feed     *feeds.Feed
	kpi      *kpi.Tracker
	analysis *analysis.History
	walls    *wall.Manager
	video    *videoEndpoint
	alerting *Alerts
	notReady func() string
	backup   func(io.Writer) error
	peerKey  string

	handler http.Handler
}

// New builds the server's handler over d.
func New(d Deps) *Server {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.CategoryEn == nil {
		d.CategoryEn = func(string) string { return "" }
	}
	if d.Sessions == nil {
		d.Sessions = &session.File{Now: d.Now}
	}
	if d.Analysis == nil {
		d.Analysis = analysis.New(analysis.Options{Location: d.Location, Now: d.Now})
	}
	if d.NotReady == nil {
		d.NotReady = func() string { return "" }
	}
	s := &Server{
		cfg: d.Config, log: d.Log, httpLog: d.Log.With(logkit.Component, "http"), reg: d.Registry, build: d.Build, now: d.Now, loc: d.Location,
		districts: d.Districts, land: d.Land, categoryEn: d.CategoryEn,
		auth: newAuthenticator(d.Config.Auth.Tokens, session.New(d.Sessions, session.Options{
			Idle: d.Config.Auth.SessionIdle, Max: d.Config.Auth.SessionMax, Now: d.Now}), d.Log),
		bounds: geo.NewBoundaries(200_000),
		store:  d.Store, engine: d.Engine, hub: d.Hub, ingest: d.Ingest, feed: d.Feed, kpi: d.KPI, analysis: d.Analysis,
		walls: d.Walls, video: newVideoEndpoint(d.Relay, d.Config.Server.Origins), alerting: d.Alerts,
		notReady: d.NotReady, backup: d.Backup, peerKey: d.PeerKey,
	}
	a := d.Config.Auth
	s.authGate = newAuthGate(authlimit.New(authlimit.Options{
		Burst: a.FailureBurst, Interval: a.FailureInterval, MaxWait: a.FailureMaxWait,
		MaxAddresses: a.FailureAddresses, Now: d.Now,
	}), d.Log.With(logkit.Component, "auth"), d.Registry)
	s.wsLimits = newWSLimits(d.Config.Hub.MaxConnectionsPerToken, d.Config.Video.MaxViewersPerToken,
		d.Log.With(logkit.Component, "http"), d.Registry)
	s.handler = s.routes()
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }
