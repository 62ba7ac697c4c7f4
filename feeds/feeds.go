// Package feeds holds the live sensor feeds of the wall: reservoirs,
// waterlogging points and rain gauges (flood), road segments and incidents
// (traffic). Readings arrive by HTTP push, by polling a JSON URL or over
// MQTT (subpackage source); a Feed validates and converts them, keeps each
// station's current value and recent history, derives its state (normal,
// warning, danger, congestion level, stale) and raises and clears threshold
// and staleness alerts through a small Alerter interface. The hotline KPIs
// are in subpackage kpi, the simulated city's sensors and calls in sim.
package feeds

import (
	"context"
	"encoding/json"
	"time"
)

// Kind is what a station measures.
type Kind string

// Station kinds.
const (
	Reservoir    Kind = "reservoir"    // water level, m; inflow and outflow, m³/s
	Waterlogging Kind = "waterlogging" // water depth, cm
	Rain         Kind = "rain"         // intensity, mm/h
	Road         Kind = "road"         // speed, km/h
)

// Unit is the canonical unit of a kind's value.
func (k Kind) Unit() string {
	switch k {
	case Reservoir:
		return "m"
	case Waterlogging:
		return "cm"
	case Rain:
		return "mm/h"
	case Road:
		return "km/h"
	}
	return ""
}

// Topic is the hub topic a kind's stations are published on.
func (k Kind) Topic() string {
	if k == Road {
		return TopicTraffic
	}
	return TopicFlood
}

// Hub topics, both state topics: station, segment, incident or source id →
// its current value.
const (
	TopicFlood   = "feeds/flood"
	TopicTraffic = "feeds/traffic"
)

// Station is one configured measuring point or road segment.
type Station struct {
	ID       string
	Kind     Kind
	Name     string // zh-CN
	NameEn   string
	Lat, Lng float64 // WGS84; a road's midpoint
	District string
	Interval time.Duration // expected time between readings
	// Warn and Limit are the thresholds in the kind's unit (reservoir:
	// warning and flood-limit level; waterlogging: warning and danger
	// depth; rain: heavy rain and rainstorm).
	Warn, Limit float64
	Hysteresis  float64      // a value must fall this far below a threshold to clear it
	Polyline    [][2]float64 // road
	FreeFlow    float64      // road, km/h
	Key         bool         // road: jams raise alerts
	Cameras     []string
}

// Severity of an alert, from low to high.
const (
	SeverityInfo     = "info"
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// Alert is a threshold or staleness alert as the feeds raise it. The same
// Fingerprint is fired again when the severity changes and cleared once
// when the condition ends.
type Alert struct {
	Kind        string // reservoir-warning, reservoir-flood-limit, waterlogging, jam, stale, source-down
	Fingerprint string // stable per condition: feeds/<station>/<condition>
	Severity    string // info, warning, critical
	Title       string // zh-CN
	TitleEn     string
	Detail      string
	Lat, Lng    float64
	District    string
	Category    string // flood or traffic
	Cameras     []string
}

// Alerter takes the alerts a Feed raises and clears. Calls come in order
// from one goroutine at a time and must not block for long.
type Alerter interface {
	Fire(ctx context.Context, a Alert) error
	Clear(ctx context.Context, fingerprint string) error
}

// Publisher sets and deletes keys of a hub state topic; *stream.Hub is one.
type Publisher interface {
	PublishState(ctx context.Context, topic string, set map[string]json.RawMessage, del []string, origin time.Time) error
}

// AlerterFuncs adapts two functions to an Alerter; a nil one does nothing.
type AlerterFuncs struct {
	FireFunc  func(ctx context.Context, a Alert) error
	ClearFunc func(ctx context.Context, fingerprint string) error
}

// Fire calls FireFunc.
func (f AlerterFuncs) Fire(ctx context.Context, a Alert) error {
	if f.FireFunc == nil {
		return nil
	}
	return f.FireFunc(ctx, a)
}

// Clear calls ClearFunc.
func (f AlerterFuncs) Clear(ctx context.Context, fp string) error {
	if f.ClearFunc == nil {
		return nil
	}
	return f.ClearFunc(ctx, fp)
}

var _ Alerter = AlerterFuncs{}
