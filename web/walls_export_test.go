package web

import (
	"context"
	"encoding/json"
	"time"
)

// PublishCamera sets a camera's value on the cameras topic, as the video
// relay does, so tests can make a camera go offline.
func (a *App) PublishCamera(id string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return a.hub.PublishState(context.Background(), topicCameras, map[string]json.RawMessage{id: b}, nil, time.Time{})
}

// WallPusher is the seam alert camera linkage uses.
func (a *App) WallPusher() interface {
	PushAlert(ctx context.Context, alertID string, cameras []string) error
	Revert(ctx context.Context, alertID string) error
} {
	return a.walls
}
