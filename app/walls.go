package app

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/wall"
)

// wallsOptions are what the walls are built from.
type wallsOptions struct {
	Spec      config.Walls    // with the demo overlay's sets, tours and schedules
	Cameras   []config.Camera // with the demo overlay's
	Store     wall.Store      // nil: walls.state_file, or memory
	Active    func() bool     // nil: always (alone)
	Publisher wall.Publisher
	Location  *time.Location
	Now       func() time.Time
	Reg       prometheus.Registerer
	Log       *slog.Logger
}

// newWalls builds the wall manager: the configured walls over the
// configured cameras.
func newWalls(o wallsOptions) (*wall.Manager, error) {
	var cams []wall.Camera
	for _, c := range o.Cameras {
		cams = append(cams, wall.Camera{ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags})
	}
	spec := o.Spec
	store := o.Store
	switch {
	case store != nil:
	case spec.StateFile != "":
		store = &wall.FileStore{Path: spec.StateFile, Keep: spec.AuditKeep, MaxBytes: spec.AuditMaxBytes, MaxAge: spec.AuditMaxAge, Now: o.Now}
	default:
		store = &wall.MemoryStore{Keep: spec.AuditKeep}
		o.Log.Info("walls.state_file is empty and storage.memory is set: wall state is kept in memory only")
	}
	metrics := wall.NewMetrics(o.Reg)
	m, err := wall.New(wall.Options{
		Spec: spec, Cameras: cams, Location: o.Location, Store: store, Publisher: o.Publisher,
		Log:      o.Log.With("component", "wall"),
		OnChange: metrics.Change,
		OnError:  metrics.StoreError,
		Active:   o.Active,
		Now:      o.Now,
	})
	if err != nil {
		var errs []error
		for _, e := range wall.Errors(err) {
			errs = append(errs, &config.Error{Key: "walls." + e.Key, Value: e.Value, Reason: e.Reason})
		}
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, err
	}
	return m, nil
}

// alertSlots are the walls' slots bound to alerts.
type alertSlots interface {
	ReleaseAlerts(ctx context.Context, open func(alertID string) bool) ([]string, error)
}

// releaseUnknownAlerts frees the walls' alert slots bound to alerts that
// are not among open (resolved while the instance was down, or never
// raised here): nothing else would ever release them. Alone only: with
// Redis the walls and alerts are the leader's shared state, kept together
// there.
func releaseUnknownAlerts(ctx context.Context, walls alertSlots, open []alerts.Alert, log *slog.Logger) {
	ids := map[string]bool{}
	for _, x := range open {
		ids[x.ID] = true
	}
	gone, err := walls.ReleaseAlerts(ctx, func(id string) bool { return ids[id] })
	if err != nil {
		log.Warn("wall alert slots not checked", "err", err)
	} else if len(gone) > 0 {
		log.Info("wall alert slots released: their alerts are not open", "alerts", gone)
	}
}
