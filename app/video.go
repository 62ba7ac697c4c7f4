package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/stream/relay"
	"github.com/citywall/citywall/stream/transcode"
	"github.com/citywall/citywall/web"
)

// video is the camera relay as the App serves it.
type video struct {
	hub     camerasPublisher
	log     *slog.Logger
	stall   time.Duration // video.stall_timeout
	relay   *relay.Relay
	cameras []config.Camera // as configured (with the demo overlay's)
	byID    map[string]config.Camera
	changed chan struct{}
	once    sync.Once

	mu        sync.Mutex
	published map[string]string // last value sent per camera, to send changes only
	started   bool              // the topic has been published once

	alerter CameraAlerter // nil: no alerting
	down    map[string]downState

	// share, in a cluster, trades this instance's view of its cameras for
	// the cluster's (the owner's state, viewers on every instance); nil
	// alone.
	share func(context.Context, []cameraView) []cameraView
}

// camerasPublisher takes the cameras topic (the hub).
type camerasPublisher interface {
	PublishState(ctx context.Context, topic string, set map[string]json.RawMessage, del []string, origin time.Time) error
}

// videoOptions are what the video relay is built from.
type videoOptions struct {
	Config  config.Video
	Cameras []config.Camera // with the demo overlay's
	Hub     camerasPublisher
	// Owners, in a cluster, gives each camera its one owner and trades
	// this instance's view of its cameras for the cluster's; nil alone.
	Owners *owners
	Reg    prometheus.Registerer
	Log    *slog.Logger
}

// newVideo builds the relay over the configured cameras. The caller closes
// it (close).
func newVideo(o videoOptions) (*video, error) {
	vc := o.Config
	v := &video{hub: o.Hub, log: o.Log, stall: vc.StallTimeout, changed: make(chan struct{}, 1),
		byID: map[string]config.Camera{}, published: map[string]string{}, down: map[string]downState{}}
	cams := o.Cameras
	v.cameras = cams
	rcs := make([]relay.Camera, 0, len(cams))
	for _, c := range cams {
		v.byID[c.ID] = c
		main, err := relay.ParseTranscode(c.Transcode)
		if err != nil {
			return nil, fmt.Errorf("camera %q: %w", c.ID, err)
		}
		sub, err := relay.ParseTranscode(c.SubTranscode)
		if err != nil {
			return nil, fmt.Errorf("camera %q sub: %w", c.ID, err)
		}
		rcs = append(rcs, relay.Camera{ID: c.ID, Main: c.Main, Sub: c.Sub, Username: c.Username, Password: c.Password, AlwaysOn: c.AlwaysOn,
			Transcode: main, SubTranscode: sub})
	}
	maxTx := vc.MaxTranscodes
	if maxTx == 0 {
		maxTx = -1 // none
	}
	idle := vc.IdleTimeout
	if idle == 0 {
		idle = -1 // close at once
	}
	check := vc.CheckInterval
	if check == 0 {
		check = -1 // never
	}
	var peers relay.Peers // alone: every camera is this instance's
	if o.Owners != nil {
		peers = o.Owners
	}
	var err error
	v.relay, err = relay.New(rcs, relay.Options{
		Peers:         peers,
		IdleTimeout:   idle,
		StallTimeout:  vc.StallTimeout,
		ReconnectMin:  vc.ReconnectMin,
		ReconnectMax:  vc.ReconnectMax,
		ViewerBytes:   vc.ViewerBytes,
		CheckInterval: check,
		CheckParallel: vc.CheckParallel,
		MaxTranscodes: maxTx,
		Transcoder:    transcode.Options{FFmpeg: vc.FFmpeg, Encoder: vc.Encoder, VAAPIDevice: vc.VAAPIDevice},
		OnChange: func() {
			select {
			case v.changed <- struct{}{}:
			default:
			}
		},
	}, o.Reg, o.Log.With("component", "video"))
	if err != nil {
		return nil, fmt.Errorf("video relay: %w", err)
	}
	if o.Owners != nil {
		o.Owners.relay = v.relay
		v.share = o.Owners.shareCameras
	}
	return v, nil
}

// run starts the relay and publishes the cameras topic until ctx ends:
// every camera at once, then what changed, at most four times a second.
// Once a second it looks for cameras that are down for the alerting.
func (v *video) run(ctx context.Context) {
	v.relay.Run()
	v.publish(ctx)
	last := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.changed:
			if wait := 250*time.Millisecond - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
			v.publish(ctx)
			last = time.Now()
		case <-tick.C:
			v.checkDown(ctx)
			if v.share != nil {
				v.publish(ctx) // what the other instances changed
				last = time.Now()
			}
		}
	}
}

// CameraAlerter hears about cameras that go down (offline, stalled or
// unsupported for longer than twice video.stall_timeout while watched or
// always on) and come back (live, or found good by a check while nobody
// watches); the alerting raises and clears an alert for each. A camera
// nobody watches that a check finds down shows so on the console and in
// citywall_video_state, without an alert: in a city of thousands of
// cameras some are always down, and the wall does not show them.
type CameraAlerter interface {
	CameraDown(ctx context.Context, camera config.Camera, state, reason string) error
	CameraUp(ctx context.Context, camera config.Camera) error
}

// checkDown tells the alerter about cameras down for a while and about
// those back live.
func (v *video) checkDown(ctx context.Context) {
	if v.alerter == nil {
		return
	}
	grace := 2 * v.stall
	now := time.Now()
	for _, st := range v.relay.Status() {
		d := v.down[st.ID]
		switch st.State {
		case relay.Offline, relay.Stalled, relay.Unsupported:
			if st.Viewers == 0 && !v.byID[st.ID].AlwaysOn {
				// Known down by a check, or by its last session: an
				// alert already raised stays until the camera is back.
				if !d.reported {
					d = downState{}
				}
				break
			}
			if d.since.IsZero() {
				d.since = now
			}
			if !d.reported && now.Sub(d.since) >= grace {
				if err := v.alerter.CameraDown(ctx, v.byID[st.ID], st.State.String(), st.Reason); err != nil {
					v.log.Warn("camera alert not raised", "camera", st.ID, "err", err)
				} else {
					d.reported = true
				}
			}
		case relay.Live:
			if d.reported {
				if err := v.alerter.CameraUp(ctx, v.byID[st.ID]); err != nil {
					v.log.Warn("camera alert not cleared", "camera", st.ID, "err", err)
					continue
				}
			}
			d = downState{}
		case relay.Connecting:
			// Between attempts: keep counting.
		default: // idle
			if !d.reported {
				d = downState{}
				break
			}
			// Idle after a check since the camera went down: the check
			// found it good (a failed one leaves it down).
			if st.Checked != nil && st.Checked.After(d.since) {
				if err := v.alerter.CameraUp(ctx, v.byID[st.ID]); err != nil {
					v.log.Warn("camera alert not cleared", "camera", st.ID, "err", err)
					continue
				}
				d = downState{}
			}
		}
		v.down[st.ID] = d
	}
}

type downState struct {
	since    time.Time
	reported bool
}

// close stops the relay; safe to call twice.
func (v *video) close() { v.once.Do(v.relay.Close) }

// cameraView is a camera on the cameras topic: where it is and how it is,
// never its URL or credentials.
type cameraView struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	NameEn  string   `json:"name_en"`
	Lat     float64  `json:"lat"`
	Lng     float64  `json:"lng"`
	Tags    []string `json:"tags"`
	State   string   `json:"state"`
	Reason  string   `json:"reason"`
	Codec   string   `json:"codec"`
	Viewers int      `json:"viewers"`
	Frozen  int      `json:"frozen"`
	// Transcoded: viewers that get H.264 made from the camera's H.265.
	Transcoded int        `json:"transcoded,omitempty"`
	Sub        bool       `json:"sub"` // has a sub stream
	Checked    *time.Time `json:"checked,omitempty"`
	// Owner, in a cluster, is the instance that holds the camera's one
	// session; state, reason and codec are its, the counts the cluster's.
	Owner string `json:"owner,omitempty"`
}

func (v *video) publish(ctx context.Context) {
	var views []cameraView
	for _, st := range v.relay.Status() {
		c := v.byID[st.ID]
		tags := c.Tags
		if tags == nil {
			tags = []string{}
		}
		views = append(views, cameraView{
			ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: tags,
			State: st.State.String(), Reason: st.Reason, Codec: st.Codec, Viewers: st.Viewers, Frozen: st.Frozen,
			Transcoded: st.Transcoded, Sub: c.Sub != "", Checked: st.Checked,
		})
	}
	if v.share != nil {
		views = v.share(ctx, views)
	}
	set := map[string]json.RawMessage{}
	v.mu.Lock()
	for _, cv := range views {
		b, err := json.Marshal(cv)
		if err != nil {
			continue
		}
		if v.published[cv.ID] != string(b) {
			v.published[cv.ID] = string(b)
			set[cv.ID] = b
		}
	}
	first := !v.started
	v.started = true
	v.mu.Unlock()
	if len(set) == 0 && !first {
		return
	}
	if err := v.hub.PublishState(ctx, web.TopicCameras, set, nil, time.Now()); err != nil && ctx.Err() == nil {
		v.log.Warn("cameras not published", "err", err)
	}
}
