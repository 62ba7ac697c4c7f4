package alerts

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// State is where an alert is in its life.
type State string

// States, in order: firing → acknowledged → resolved.
const (
	StateFiring       State = "firing"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Sources of alerts.
const (
	SourceCluster = "cluster" // space-time cluster of tickets
	SourceSLA     = "sla"     // ticket dispatched but not responded to within 30 minutes
	SourceCamera  = "camera"  // camera offline
	SourceFeed    = "feed"    // flood, traffic or KPI threshold
	// SourceHotIssue (hotissue.go): a surge beyond one neighbourhood or an
	// emerging phrase.
)

// Severities.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Signal is what a source says about a condition: Fire it while it holds,
// Clear its fingerprint when it ends. The same fingerprint updates the open
// alert instead of raising another.
type Signal struct {
	Source      string   `json:"source"`      // cluster, sla, camera, feed
	Kind        string   `json:"kind"`        // e.g. burst, response_overdue, offline, water_level
	Fingerprint string   `json:"fingerprint"` // same place and category (or same object): same alert
	Severity    string   `json:"severity"`    // critical, warning, info (default warning)
	Title       string   `json:"title"`       // zh-CN
	TitleEn     string   `json:"title_en"`
	Detail      string   `json:"detail,omitempty"`
	Lat         float64  `json:"lat,omitempty"`
	Lng         float64  `json:"lng,omitempty"`
	District    string   `json:"district,omitempty"`
	Category    string   `json:"category,omitempty"`
	Cameras     []string `json:"cameras,omitempty"` // camera ids, nearest first
	// Optional details.
	Cells      []string    `json:"cells,omitempty"`       // H3 cells the alert covers
	CameraInfo []CameraRef `json:"camera_info,omitempty"` // names and places of Cameras
	Cluster    *Cluster    `json:"cluster,omitempty"`     // for source cluster
	HotIssue   *HotIssue   `json:"hot_issue,omitempty"`   // for source hotissue
}

// CameraRef names a camera linked to an alert.
type CameraRef struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	NameEn   string  `json:"name_en,omitempty"`
	Lat      float64 `json:"lat"`
	Lng      float64 `json:"lng"`
	Distance int     `json:"distance"` // H3 grid distance from the alert's nearest cell
}

// Cluster is what the detector found.
type Cluster struct {
	Count         int             `json:"count"`
	Expected      float64         `json:"expected"`
	Score         float64         `json:"score"`
	Threshold     float64         `json:"threshold"`
	Window        string          `json:"window"` // e.g. 30m
	Shape         string          `json:"shape"`  // cell, disk or group
	TopCategories []CategoryCount `json:"top_categories"`
	Tickets       []string        `json:"tickets"` // ids, oldest first
	First         time.Time       `json:"first"`   // oldest ticket
}

// CategoryCount is one category's tickets in a cluster.
type CategoryCount struct {
	Category string `json:"category"`
	En       string `json:"en,omitempty"`
	Count    int    `json:"count"`
}

// Alert is one alert, open or done.
type Alert struct {
	ID string `json:"id"`
	Signal
	State     State     `json:"state"`
	Teams     []string  `json:"teams"` // routed to, escalation teams included once escalated
	Level     int       `json:"level"` // 0 teams, 1 escalated (duty commander)
	Silenced  string    `json:"silenced,omitempty"`
	StartsAt  time.Time `json:"starts_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Updates   int       `json:"updates"`

	NotifiedAt    time.Time `json:"notified_at,omitzero"` // last notification of the firing alert
	Notifications int       `json:"notifications"`
	EscalatedAt   time.Time `json:"escalated_at,omitzero"`

	AckedAt    time.Time `json:"acked_at,omitzero"`
	AckedBy    string    `json:"acked_by,omitempty"`
	AckNote    string    `json:"ack_note,omitempty"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	ResolvedBy string    `json:"resolved_by,omitempty"` // a token name, or "system" when the source cleared it
	Reason     string    `json:"reason,omitempty"`
}

// Open reports whether the alert is not resolved.
func (a *Alert) Open() bool { return a.State != StateResolved }

func (a Alert) clone() Alert {
	c := a
	c.Teams = slices.Clone(a.Teams)
	c.Cameras = slices.Clone(a.Cameras)
	c.Cells = slices.Clone(a.Cells)
	c.CameraInfo = slices.Clone(a.CameraInfo)
	if a.Cluster != nil {
		cl := *a.Cluster
		cl.Tickets = slices.Clone(cl.Tickets)
		cl.TopCategories = slices.Clone(cl.TopCategories)
		c.Cluster = &cl
	}
	if a.HotIssue != nil {
		h := *a.HotIssue
		h.Scales = slices.Clone(h.Scales)
		h.Samples = slices.Clone(h.Samples)
		h.Districts = slices.Clone(h.Districts)
		h.Categories = slices.Clone(h.Categories)
		h.Tickets = slices.Clone(h.Tickets)
		c.HotIssue = &h
	}
	return c
}

// Errors of the lifecycle, checked with errors.Is.
var (
	ErrNotFound       = errors.New("no such alert")
	ErrState          = errors.New("not possible in the alert's state")
	ErrReasonRequired = errors.New("a reason is required")
	ErrBadSignal      = errors.New("bad signal")
	ErrBadSilence     = errors.New("bad silence")
	ErrClosed         = errors.New("alert manager closed")
)

// Limits on text from outside.
const (
	maxText   = 2000
	maxTitle  = 200
	maxCells  = 500
	maxTicket = 500
)

func (s *Signal) validate() error {
	switch {
	case s.Source == "" || len(s.Source) > 32:
		return fmt.Errorf("%w: source: 1..32 characters", ErrBadSignal)
	case s.Fingerprint == "" || len(s.Fingerprint) > 256:
		return fmt.Errorf("%w: fingerprint: 1..256 characters", ErrBadSignal)
	case len(s.Title) > maxTitle || len(s.TitleEn) > maxTitle:
		return fmt.Errorf("%w: title: at most %d bytes", ErrBadSignal, maxTitle)
	case len(s.Detail) > maxText:
		return fmt.Errorf("%w: detail: at most %d bytes", ErrBadSignal, maxText)
	case len(s.Cells) > maxCells:
		return fmt.Errorf("%w: cells: at most %d", ErrBadSignal, maxCells)
	}
	switch s.Severity {
	case "":
		s.Severity = SeverityWarning
	case SeverityCritical, SeverityWarning, SeverityInfo:
	default:
		return fmt.Errorf("%w: severity %q: want critical, warning or info", ErrBadSignal, s.Severity)
	}
	if s.Cluster != nil && len(s.Cluster.Tickets) > maxTicket {
		s.Cluster.Tickets = s.Cluster.Tickets[:maxTicket]
	}
	if s.HotIssue != nil && len(s.HotIssue.Tickets) > maxTicket {
		s.HotIssue.Tickets = s.HotIssue.Tickets[:maxTicket]
	}
	return nil
}
