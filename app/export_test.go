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

// NotReady is what /readyz says.
func (a *App) NotReady() string { return a.notReady() }

// TicketsHeld is how many tickets the store holds.
func (a *App) TicketsHeld() int { return a.store.Len() }

// CameraOwner is the id of the instance that owns a camera in this
// instance's view, and this instance's own id ("" alone).
func (a *App) CameraOwner(camera string) (owner, self string) {
	if a.cluster == nil {
		return "", ""
	}
	reg := a.cluster.owners.reg.Load()
	if reg == nil {
		return "", a.cluster.id
	}
	return reg.Owner(camera).ID, a.cluster.id
}

// Instances is how many instances this one sees live.
func (a *App) Instances() int {
	if a.cluster == nil {
		return 1
	}
	reg := a.cluster.owners.reg.Load()
	if reg == nil {
		return 1
	}
	return len(reg.View().Members)
}

// Crash stops renewing this instance's entry among the instances, so that
// a stop that follows looks like a crash to the others: they see it gone
// only when its entry expires.
func (a *App) Crash() {
	if a.cluster != nil {
		if reg := a.cluster.owners.reg.Load(); reg != nil {
			reg.Pause(true)
		}
	}
}

// Res9Cells is the most cells with a count at resolution 9 in any window.
func (a *App) Res9Cells() int {
	n := 0
	for _, w := range a.engine.Stats().Windows {
		if w.Res == 9 {
			n = max(n, w.Cells)
		}
	}
	return n
}

// BaselineSize is how many cells and categories the cluster alerts'
// baseline holds (0, 0 when alerting is off).
func (a *App) BaselineSize() (cells, categories int) {
	if a.alerting == nil {
		return 0, 0
	}
	b := a.alerting.cluster.Baseline()
	return len(b.Cells()), len(b.Categories())
}
