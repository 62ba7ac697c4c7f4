package app

import (
	"context"
	"fmt"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
)

// alertRaiser is what the other sources need of the alerting: raise an
// alert by fingerprint, and clear it.
type alertRaiser interface {
	Fire(ctx context.Context, s alerts.Signal) error
	Clear(ctx context.Context, fingerprint string) error
}

// feedAlerts makes feed thresholds and staleness raise alerts through the
// one lifecycle. Without alerting they are only logged, as before.
func feedAlerts(m alertRaiser) feeds.Alerter {
	return feeds.AlerterFuncs{
		FireFunc: func(ctx context.Context, f feeds.Alert) error {
			return m.Fire(ctx, alerts.Signal{
				Source:      "feed",
				Kind:        f.Kind,
				Fingerprint: f.Fingerprint,
				Severity:    f.Severity,
				Title:       f.Title,
				TitleEn:     f.TitleEn,
				Detail:      f.Detail,
				Lat:         f.Lat,
				Lng:         f.Lng,
				District:    f.District,
				Category:    f.Category,
				Cameras:     f.Cameras,
			})
		},
		ClearFunc: m.Clear,
	}
}

// cameraAlerts turns a camera's trouble into an alert of source camera,
// one per camera.
type cameraAlerts struct{ m alertRaiser }

var _ CameraAlerter = cameraAlerts{}

func cameraFingerprint(id string) string { return "camera/" + id + "/down" }

func (c cameraAlerts) CameraDown(ctx context.Context, cam config.Camera, state, reason string) error {
	name, nameEn := cam.Name, cam.NameEn
	if name == "" {
		name = cam.ID
	}
	if nameEn == "" {
		nameEn = name
	}
	return c.m.Fire(ctx, alerts.Signal{
		Source:      "camera",
		Kind:        state,
		Fingerprint: cameraFingerprint(cam.ID),
		Severity:    alerts.SeverityWarning,
		Title:       fmt.Sprintf("摄像头%s：%s", cameraStateZh(state), name),
		TitleEn:     fmt.Sprintf("Camera %s: %s", state, nameEn),
		Detail:      reason, // the relay's reasons never carry a URL or credential
		Lat:         cam.Lat,
		Lng:         cam.Lng,
		Category:    "camera",
		Cameras:     []string{cam.ID},
	})
}

func (c cameraAlerts) CameraUp(ctx context.Context, cam config.Camera) error {
	return c.m.Clear(ctx, cameraFingerprint(cam.ID))
}

func cameraStateZh(state string) string {
	switch state {
	case "offline":
		return "离线"
	case "stalled":
		return "画面中断"
	case "unsupported":
		return "编码不支持"
	}
	return "异常"
}
