package app

import (
	"errors"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/wall"
)

// newWalls builds the wall manager: the configured walls (with the demo
// overlay's sets, tours and schedules) over the configured cameras.
func (a *App) newWalls() (*wall.Manager, error) {
	var cams []wall.Camera
	for _, c := range a.cfg.Cameras {
		cams = append(cams, wall.Camera{ID: c.ID, Name: c.Name, NameEn: c.NameEn, Lat: c.Lat, Lng: c.Lng, Tags: c.Tags})
	}
	spec := a.cfg.Walls
	var store wall.Store = &wall.MemoryStore{Keep: spec.AuditKeep}
	if spec.StateFile != "" {
		store = &wall.FileStore{Path: spec.StateFile, Keep: spec.AuditKeep}
	} else {
		a.log.Info("walls.state_file is empty: wall state is kept in memory only")
	}
	if a.cluster != nil {
		store = a.cluster.wallStore(spec.AuditKeep)
	}
	metrics := wall.NewMetrics(a.reg)
	m, err := wall.New(wall.Options{
		Spec: spec, Cameras: cams, Location: a.loc, Store: store, Publisher: a.hub,
		Log:      a.log.With("component", "wall"),
		OnChange: metrics.Change,
		OnError:  metrics.StoreError,
		Active:   a.cluster.leaderActive(),
		Now:      a.now,
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
