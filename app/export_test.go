package app

import (
	"context"
	"encoding/json"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/cluster/lease"
	"github.com/citywall/citywall/demo/feedsim"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/web"
)

// PublishCamera sets a camera's value on the cameras topic, as the video
// relay does, so tests can make a camera go offline.
func (a *App) PublishCamera(id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.hub.PublishState(context.Background(), web.TopicCameras, map[string]json.RawMessage{id: b}, nil, time.Time{})
}

// WallPusher is the seam alert camera linkage uses.
func (a *App) WallPusher() interface {
	PushAlert(ctx context.Context, alertID string, cameras []string) error
	Revert(ctx context.Context, alertID string) error
} {
	return a.walls
}

// Manager is the alert manager, nil when alerting is off.
func (a *App) Manager() *alerts.Manager {
	if a.alerting == nil {
		return nil
	}
	return a.alerting.mgr
}

// IsLeader says whether this App does the singleton work: always alone.
func (a *App) IsLeader() bool { return a.cluster == nil || a.cluster.lease.IsLeader() }

// Lease is the leader lease, nil alone.
func (a *App) Lease() *lease.Lease {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.lease
}

// RedisPrefix is the prefix of the Redis keys ("" alone).
func (a *App) RedisPrefix() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.prefix
}

// FeedSim is the demo city's sensor and call simulator, nil when the demo
// is off; tests use it to trigger a rainstorm.
func (a *App) FeedSim() *feedsim.Sim { return a.demo.FeedSim() }

// SetFeedAlerter routes the feeds' threshold and staleness alerts.
func (a *App) SetFeedAlerter(al feeds.Alerter) { a.feeds.alerter.p.Store(&al) }

// SetCameraAlerter connects a camera alerter; call it before Run.
func (a *App) SetCameraAlerter(x CameraAlerter) { a.video.alerter = x }

// CellsLive is how many cells hold a count, over every resolution and
// window (all categories).
func (a *App) CellsLive() int { return a.engine.Stats().Cells }
