package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/storage"
	"github.com/citywall/citywall/storage/disklog"
	"github.com/citywall/citywall/wall"
	"github.com/citywall/citywall/web/session"
)

// storagePart is a single instance's data directory and its ingest log.
type storagePart struct {
	dir    *storage.Dir
	log    *disklog.Log
	now    func() time.Time
	logger *slog.Logger
	reg    prometheus.Registerer
}

// storageOptions are what the data directory is opened with.
type storageOptions struct {
	Config  config.Storage
	Now     func() time.Time
	Log     *slog.Logger
	Reg     prometheus.Registerer
	OnClose func(func()) // registers what the App closes when it stops
}

// openStorage opens and locks the data directory (storage.dir, or the
// user's state directory) and its ingest log of a single instance; nil
// with storage.memory. (With Redis, Redis keeps the ingest log.)
func openStorage(o storageOptions) (*storagePart, error) {
	c := o.Config
	if c.Memory {
		o.Log.Warn("storage.memory is set: nothing is kept on disk; tickets, heat maps and KPIs start empty after a restart")
		return nil, nil
	}
	path := c.Dir
	if path == "" {
		var err error
		if path, err = storage.DefaultDir(); err != nil {
			return nil, err
		}
	}
	dir, err := storage.Open(path)
	if err != nil {
		return nil, err
	}
	o.OnClose(dir.Close)
	log, err := disklog.Open(disklog.Options{
		Dir: dir.File(storage.LogDir), MaxBytes: c.MaxBytes, Retention: c.Retention,
		Now: o.Now, Log: o.Log.With("component", "storage"), Registerer: o.Reg,
	})
	if err != nil {
		return nil, fmt.Errorf("storage.dir %q: %w", dir.Path(), err)
	}
	o.OnClose(func() { _ = log.Close() })
	o.Log.Info("data directory", "dir", dir.Path(), "log_bytes", log.Bytes(), "retention", c.Retention, "max_bytes", c.MaxBytes)
	return &storagePart{dir: dir, log: log, now: o.Now, logger: o.Log, reg: o.Reg}, nil
}

// heldTickets is the ticket store as the replay sees it.
type heldTickets interface {
	Expire(now time.Time) int
	Len() int
}

// ingestBackend is the disk backend over the part's log.
func (s *storagePart) ingestBackend(tickets heldTickets) func(ingest.ApplyFunc) (ingest.Backend, error) {
	return func(apply ingest.ApplyFunc) (ingest.Backend, error) {
		return ingest.NewDisk(ingest.DiskOptions{
			Log: s.log, Now: s.now, Logger: s.logger, Registerer: s.reg,
			Replayed: func(n int, took time.Duration) {
				// Replay brings back tickets older than the store keeps.
				expired := tickets.Expire(s.now())
				s.logger.Info("stored ingest log replayed", "dir", s.dir.Path(), "records", n,
					"tickets_held", tickets.Len(), "expired", expired, "took", took.Round(time.Millisecond))
			},
		}, apply), nil
	}
}

// compact drops the log's segments past storage.retention.
func (s *storagePart) compact() {
	if s == nil {
		return
	}
	if n, err := s.log.Compact(s.now()); err != nil {
		s.logger.Warn("storage compaction", "err", err)
	} else if n > 0 {
		s.logger.Info("storage compaction", "segments_dropped", n, "log_bytes", s.log.Bytes())
	}
}

// wallStore keeps the walls' state in the data directory; nil (the walls
// use walls.state_file, or memory) when that is set or there is none.
func (s *storagePart) wallStore(c config.Walls) wall.Store {
	if s == nil || c.StateFile != "" {
		return nil
	}
	return &wall.FileStore{Path: s.dir.File(storage.WallsFile), Keep: c.AuditKeep}
}

// sessionStore keeps browsers' sessions in the data directory, so they
// survive a restart; nil (memory) when there is none.
func (s *storagePart) sessionStore() (session.Store, error) {
	if s == nil {
		return nil, nil
	}
	f := &session.File{Path: s.dir.File(storage.SessionsFile), Now: s.now}
	return f, f.Open()
}

// alertsFile is the alerts' state file in the data directory; "" when
// there is none.
func (s *storagePart) alertsFile() string {
	if s == nil {
		return ""
	}
	return s.dir.File(storage.AlertsFile)
}

// ErrNoDataDir answers a backup of an instance with no data directory.
var ErrNoDataDir = errors.New("this instance keeps no data directory (Redis mode or storage.memory): back up Redis and the configuration instead (docs/operations.md)")

// Backup writes a consistent backup of the running instance's data
// directory to w (see storage.Restore).
func (a *App) Backup(w io.Writer) error {
	if a.storage == nil {
		return ErrNoDataDir
	}
	return a.storage.dir.Backup(w, a.storage.log, a.build)
}
