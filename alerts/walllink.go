package alerts

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// WallLink is the camera linkage: a new cluster alert with cameras pushes
// them onto the wall's alert slots, and its acknowledgement or resolution
// reverts them. Calls to the wall run on their own goroutine, in order, so
// a slow wall never holds up the alert pipeline.
type WallLink struct {
	pusher WallPusher
	log    *slog.Logger
	queue  chan func(context.Context)

	mu     sync.Mutex
	pushed map[string]bool
}

var _ Notifier = (*WallLink)(nil)

// NewWallLink returns a linkage to p.
func NewWallLink(p WallPusher, log *slog.Logger) *WallLink {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WallLink{pusher: p, log: log, queue: make(chan func(context.Context), 64), pushed: map[string]bool{}}
}

// Notify pushes on a new cluster alert and reverts on ack or resolve.
func (w *WallLink) Notify(_ context.Context, n Notification) {
	id := n.Alert.ID
	w.mu.Lock()
	defer w.mu.Unlock()
	switch n.Event {
	case EventFiring:
		if n.Alert.Source != SourceCluster || len(n.Alert.Cameras) == 0 || w.pushed[id] {
			return
		}
		w.pushed[id] = true
		cams := append([]string(nil), n.Alert.Cameras...)
		w.enqueue(func(ctx context.Context) {
			if err := w.pusher.PushAlert(ctx, id, cams); err != nil {
				w.log.Warn("alert cameras not pushed to the wall", "alert", id, "err", err)
			}
		})
	case EventAcknowledged, EventResolved:
		if !w.pushed[id] {
			return
		}
		delete(w.pushed, id)
		w.enqueue(func(ctx context.Context) {
			if err := w.pusher.Revert(ctx, id); err != nil {
				w.log.Warn("alert cameras not reverted on the wall", "alert", id, "err", err)
			}
		})
	}
}

func (w *WallLink) enqueue(f func(context.Context)) {
	select {
	case w.queue <- f:
	default:
		w.log.Warn("wall linkage queue full: call dropped")
	}
}

// Run makes the wall calls until ctx ends.
func (w *WallLink) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-w.queue:
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			f(cctx)
			cancel()
		}
	}
}
