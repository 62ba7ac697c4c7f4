package config

import "time"

// Storage is where a single instance keeps what it acknowledged (the
// ingest log) and everything else it keeps across restarts.
type Storage struct {
	// Dir is the instance's data directory; empty: the user's state
	// directory ($XDG_STATE_HOME/citywall or ~/.local/state/citywall).
	// Production: a path such as /var/lib/citywall.
	Dir       string        `yaml:"dir"`
	Retention time.Duration `yaml:"retention"` // how long the ingest log keeps records (reports look back a month)
	MaxBytes  int64         `yaml:"max_bytes"` // bound on the log's size; past it ingest is answered 503
	// Memory keeps nothing on disk: every restart starts empty. For load
	// tools and tests only.
	Memory bool `yaml:"memory"`
}

func defaultStorage() Storage {
	return Storage{Retention: 35 * 24 * time.Hour, MaxBytes: 8 << 30}
}

func (c *Config) validateStorage(bad func(key string, value any, format string, args ...any)) {
	s := c.Storage
	if s.Retention < 24*time.Hour {
		bad("storage.retention", s.Retention, "must be at least 24h (today's figures are rebuilt from it)")
	}
	if s.MaxBytes < 16<<20 {
		bad("storage.max_bytes", s.MaxBytes, "must be at least 16777216 (16 MiB)")
	}
}
