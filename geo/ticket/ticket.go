// Package ticket is the citizen request as a 12345 centre records it: the
// ticket, its lifecycle events, how they are validated and decoded from
// outside input, the idempotent in-memory store, importers for CSV and
// Open311 GeoReport v2 files, and a client that replays them to a server.
package ticket

import "time"

// Channel is how a request reached the centre.
type Channel string

// The intake channels of a 12345 centre.
const (
	ChannelPhone      Channel = "phone"
	ChannelWeChat     Channel = "wechat"
	ChannelApp        Channel = "app"
	ChannelWeb        Channel = "web"
	ChannelSMS        Channel = "sms"
	ChannelMailbox    Channel = "mailbox"      // mayor's mailbox
	Channel110        Channel = "110-transfer" // transferred from the police line
	ChannelGridPatrol Channel = "grid-patrol"  // reported by a grid worker
)

// Channels lists every valid channel, in display order.
var Channels = []Channel{ChannelPhone, ChannelWeChat, ChannelApp, ChannelWeb, ChannelSMS, ChannelMailbox, Channel110, ChannelGridPatrol}

// CRS names the coordinate system a posted point is in. Tickets are stored in
// WGS84; GCJ-02 and BD-09 input is converted on ingest.
type CRS string

// Supported coordinate systems.
const (
	WGS84 CRS = "wgs84"
	GCJ02 CRS = "gcj02"
	BD09  CRS = "bd09"
)

// Ticket is one citizen request.
type Ticket struct {
	ID          string    `json:"id"`
	Channel     Channel   `json:"channel"`
	Category    string    `json:"category"`              // level 1, e.g. "城市管理"
	Subcategory string    `json:"subcategory,omitempty"` // level 2, e.g. "道路脏乱"
	Summary     string    `json:"summary,omitempty"`
	Lat         float64   `json:"lat"` // WGS84 once accepted
	Lng         float64   `json:"lng"`
	CRS         CRS       `json:"crs,omitempty"` // of the posted lat/lng; empty means wgs84; always wgs84 once accepted
	District    string    `json:"district,omitempty"`
	Grid        string    `json:"grid,omitempty"`
	Created     time.Time `json:"created"`
	Urgent      bool      `json:"urgent,omitempty"`
}

// EventType is a step in a ticket's closed loop.
type EventType string

// Lifecycle steps, in the order a ticket normally goes through them.
const (
	EventReceived   EventType = "received"
	EventDispatched EventType = "dispatched" // to a department; the 30-minute rule starts here
	EventResponded  EventType = "responded"
	EventResolved   EventType = "resolved"
	EventVisited    EventType = "visited" // visited back, with a satisfaction rating
)

// Satisfaction is the citizen's rating on the visit back.
type Satisfaction string

// Ratings given on a visit back.
const (
	Satisfied      Satisfaction = "satisfied"
	BasicSatisfied Satisfaction = "basically-satisfied"
	Unsatisfied    Satisfaction = "unsatisfied"
)

// Event is one lifecycle step of a ticket.
type Event struct {
	Ticket       string       `json:"ticket"`
	Type         EventType    `json:"type"`
	Time         time.Time    `json:"time"`
	Department   string       `json:"department,omitempty"`   // with dispatched
	Satisfaction Satisfaction `json:"satisfaction,omitempty"` // with visited
	Note         string       `json:"note,omitempty"`
}
