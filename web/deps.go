package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/stream/relay"
	"github.com/citywall/citywall/wall"
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

	Districts  []District             // outlined on the map
	CategoryEn func(zh string) string // English names of categories, "" when unknown

	Store  *ticket.Store
	Engine *geo.Engine
	Hub    *stream.Hub
	Ingest *ingest.Pipeline
	Feed   *feeds.Feed
	KPI    *kpi.Tracker
	Walls  *wall.Manager
	Relay  *relay.Relay
	Alerts *Alerts // nil when alerting is off: its API answers 404

	// NotReady says why /readyz should answer 503 ("" when ready).
	NotReady func() string
}

// Alerts is the alerting as its API serves it.
type Alerts struct {
	Manager *alerts.Manager
	Router  *alerts.Router
	Cluster *alerts.ClusterSource
	// DeadLetters lists the notifications given up on.
	DeadLetters func(context.Context) ([]webhook.DeadLetter, error)
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
	reg        *prometheus.Registry
	build      string
	now        func() time.Time
	loc        *time.Location
	districts  []District
	categoryEn func(string) string

	auth     *authenticator
	bounds   *geo.Boundaries
	store    *ticket.Store
	engine   *geo.Engine
	hub      *stream.Hub
	ingest   *ingest.Pipeline
	feed     *feeds.Feed
	kpi      *kpi.Tracker
	walls    *wall.Manager
	video    *videoEndpoint
	alerting *Alerts
	notReady func() string

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
	if d.NotReady == nil {
		d.NotReady = func() string { return "" }
	}
	s := &Server{
		cfg: d.Config, log: d.Log, reg: d.Registry, build: d.Build, now: d.Now, loc: d.Location,
		districts: d.Districts, categoryEn: d.CategoryEn,
		auth:   newAuthenticator(d.Config.Auth.Tokens),
		bounds: geo.NewBoundaries(200_000),
		store:  d.Store, engine: d.Engine, hub: d.Hub, ingest: d.Ingest, feed: d.Feed, kpi: d.KPI,
		walls: d.Walls, video: newVideoEndpoint(d.Relay, d.Config.Server.Origins), alerting: d.Alerts,
		notReady: d.NotReady,
	}
	s.handler = s.routes()
	return s
}

// Handler is the server's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }
