package ticket

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// DefaultReplayBatch is the batch size when ReplayOptions.Batch is zero.
const DefaultReplayBatch = 500

// ReplayOptions tune Replay.
type ReplayOptions struct {
	// Speed divides the gaps between tickets: 1 replays in real time, 60 an
	// hour a minute; 0 sends as fast as possible.
	Speed float64
	// Restamp shifts every Created by the same amount so that the last
	// ticket lands at the start of the replay; old data would otherwise fall
	// outside every window. Gaps are kept, and no time is in the future.
	Restamp bool
	// Batch is the most tickets in one post; 0 means DefaultReplayBatch.
	Batch int
	// MaxGap caps any one gap of the original timeline (0: no cap), so a
	// lone straggler months after the rest does not stall a replay.
	MaxGap time.Duration
}

// Replay sends tickets through post in order of Created, keeping their gaps
// divided by Speed. Tickets that are due together go in one batch. It stops
// at the first error of post or when ctx ends. tickets is not modified.
func Replay(ctx context.Context, tickets []Ticket, o ReplayOptions, post func(context.Context, []Ticket) error) error {
	if o.Speed < 0 || math.IsNaN(o.Speed) || math.IsInf(o.Speed, 0) {
		return fmt.Errorf("replay speed %v: want 0 or a positive number", o.Speed)
	}
	if o.MaxGap < 0 {
		return fmt.Errorf("replay max gap %v: want 0 or more", o.MaxGap)
	}
	if o.Batch < 0 {
		return fmt.Errorf("replay batch %d: want 0 or more", o.Batch)
	}
	batch := o.Batch
	if batch == 0 {
		batch = DefaultReplayBatch
	}
	if len(tickets) == 0 {
		return nil
	}
	ts := slices.Clone(tickets)
	slices.SortStableFunc(ts, func(a, b Ticket) int { return a.Created.Compare(b.Created) })
	start := time.Now()
	if o.Restamp {
		shift := start.Sub(ts[len(ts)-1].Created)
		for i := range ts {
			ts[i].Created = ts[i].Created.Add(shift)
		}
	}
	// offset[i] is ticket i's place on the original timeline, gaps capped
	// at MaxGap; Restamp shifted all times alike, so gaps are unchanged.
	offset := make([]time.Duration, len(ts))
	for i := 1; i < len(ts); i++ {
		gap := ts[i].Created.Sub(ts[i-1].Created)
		if o.MaxGap > 0 && gap > o.MaxGap {
			gap = o.MaxGap
		}
		offset[i] = offset[i-1] + gap
	}
	due := func(i int) time.Time {
		if o.Speed == 0 {
			return start
		}
		return start.Add(time.Duration(float64(offset[i]) / o.Speed))
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i := 0; i < len(ts); {
		if wait := time.Until(due(i)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		now := time.Now()
		j := i + 1
		for j < len(ts) && j-i < batch && !due(j).After(now) {
			j++
		}
		if err := post(ctx, ts[i:j:j]); err != nil {
			return fmt.Errorf("replay tickets %d..%d: %w", i, j-1, err)
		}
		i = j
	}
	return nil
}
