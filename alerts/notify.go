package alerts

import (
	"context"
	"time"
)

// Event is what happened to an alert that is worth telling someone.
type Event string

// Notification events.
const (
	EventFiring       Event = "firing"       // a new alert
	EventRenotify     Event = "renotify"     // still firing, unacknowledged
	EventEscalated    Event = "escalated"    // unacknowledged past the escalation delay
	EventAcknowledged Event = "acknowledged" // someone took it
	EventResolved     Event = "resolved"
)

// Notification is one event of one alert for some teams.
type Notification struct {
	Event Event     `json:"event"`
	Alert Alert     `json:"alert"`
	Teams []string  `json:"teams"` // who it is for
	Time  time.Time `json:"time"`
}

// Notifier delivers notifications: team push, webhooks, wall linkage. It
// must not block: one that does slow work queues it.
type Notifier interface {
	Notify(ctx context.Context, n Notification)
}

// NotifierFunc adapts a function.
type NotifierFunc func(ctx context.Context, n Notification)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notification) { f(ctx, n) }

// Listener sees every change of an alert, updates included, in order:
// what the hub's state topics are built from. Like a Notifier it must not
// block.
type Listener func(a Alert)

// WallPusher puts an alert's cameras on the wall's alert slots and takes
// them off again. The wall manager implements it.
type WallPusher interface {
	PushAlert(ctx context.Context, alertID string, cameras []string) error
	Revert(ctx context.Context, alertID string) error
}
