package city

import (
	"math"
	"time"
)

// Options tune the demo city. Zero values take the defaults.
type Options struct {
	// PerDay is the mean number of requests per day, bursts included.
	// Default 2700: Haikou's ≈1M a year.
	PerDay float64
	// Speed multiplies the arrival rate (default 1). Times stay real: at
	// Speed 10 ten times as many tickets are created per real hour, each
	// stamped with a real time no later than the clock, because the server
	// rejects future times.
	Speed float64
	// Seed makes a run reproducible: the same seed and clock give the same
	// tickets and events.
	Seed int64
	// Backfill is the history emitted at once on start so every window is
	// populated immediately; default 24h, negative for none. It is generated
	// at the accelerated rate too, so keep it short at high Speed.
	Backfill time.Duration
	// Incidents is the mean number of bursts per day at Speed 1 (default 3,
	// negative for none). Bursts take their tickets out of PerDay; they are
	// thinned when PerDay is too small to hold them.
	Incidents float64
	// MaxPending bounds the open tickets whose lifecycle is still being
	// played out (default 100000). Past it, new tickets are emitted but get
	// no further events, and Stats counts them as dropped.
	MaxPending int
}

const (
	defaultPerDay     = 2700
	defaultBackfill   = 24 * time.Hour
	defaultMaxPending = 100_000
	// backfillStep slices the history so a cancel is honoured promptly.
	backfillStep = 10 * time.Minute
	// minWait and maxWait bound how long Run sleeps between steps; the upper
	// bound lets a clock that is not the wall clock still be followed.
	minWait = 10 * time.Millisecond
	maxWait = time.Second
)

func (o Options) withDefaults() Options {
	if !(o.PerDay > 0) || math.IsInf(o.PerDay, 0) {
		o.PerDay = defaultPerDay
	}
	if !(o.Speed > 0) || math.IsInf(o.Speed, 0) {
		o.Speed = 1
	}
	switch {
	case o.Backfill == 0:
		o.Backfill = defaultBackfill
	case o.Backfill < 0:
		o.Backfill = 0
	}
	switch {
	case o.Incidents == 0:
		o.Incidents = defaultIncidents
	case !(o.Incidents > 0) || math.IsInf(o.Incidents, 0):
		o.Incidents = 0
	}
	// Bursts never make up more than half the volume.
	o.Incidents = min(o.Incidents, o.PerDay/2/burstMeanSize)
	if o.MaxPending <= 0 {
		o.MaxPending = defaultMaxPending
	}
	return o
}
