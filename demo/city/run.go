package city

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"
)

// Run emits the last Backfill of history at once, then live tickets and
// events as their times come on the clock now (time.Now if nil), until ctx
// ends; then it returns nil. A Sim runs once.
func (s *Sim) Run(ctx context.Context, now func() time.Time, emit Emitter) error {
	if emit == nil {
		return errors.New("run demo: nil emitter")
	}
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("run demo: already started")
	}
	if now == nil {
		now = time.Now
	}
	start := now().Round(0) // strip the monotonic reading: times are for the record
	from := start.Add(-s.opt.Backfill)
	s.begin(from, start)
	for t := from; t.Before(start); {
		if ctx.Err() != nil {
			return nil
		}
		t = t.Add(backfillStep)
		if t.After(start) {
			t = start
		}
		s.advance(t, emit)
	}
	timer := time.NewTimer(s.wait(now()))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		s.advance(now(), emit)
		timer.Reset(s.wait(now()))
	}
}

// wait is how long Run may sleep before something is due.
func (s *Sim) wait(now time.Time) time.Duration {
	at, _ := s.nextDue()
	return min(max(at.Sub(now), minWait), maxWait)
}

// begin starts the simulated clock at from; the run tag comes from the seed
// and the real start.
func (s *Sim) begin(from, start time.Time) {
	s.tag = runTag(s.opt.Seed, start)
	s.nextArrival = from.Add(expDuration(s.rng, s.arrivals.max))
	if s.incidentRate > 0 {
		s.nextIncident = from.Add(expDuration(s.rng, s.incidentRate))
	}
}

// expDuration draws an exponential gap for a rate per nanosecond.
func expDuration(rng *rand.Rand, perNs float64) time.Duration {
	if !(perNs > 0) {
		return math.MaxInt64
	}
	return max(time.Duration(rng.ExpFloat64()/perNs), 1)
}
