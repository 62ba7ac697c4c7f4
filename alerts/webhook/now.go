package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/citywall/citywall/alerts"
)

// Targets lists the sender's targets.
func (s *Sender) Targets() []Target {
	out := make([]Target, len(s.lanes))
	for i, l := range s.lanes {
		out[i] = l.t
	}
	return out
}

// Concerns says whether n goes to t.
func Concerns(t Target, n alerts.Notification) bool {
	return len(t.Teams) == 0 || slices.ContainsFunc(n.Teams, func(x string) bool { return slices.Contains(t.Teams, x) })
}

// ErrStopped is a delivery abandoned while waiting to retry because its
// owner stopped: it was not delivered and not given up on, so whoever
// takes over should send it.
var ErrStopped = fmt.Errorf("stopped while retrying")

// lane is t's lane: the one of the target of its name, whose pace it
// shares, or a lane of its own.
func (s *Sender) lane(t Target) *lane {
	for _, l := range s.lanes {
		if l.t.Name == t.Name && l.t.URL == t.URL {
			return l
		}
	}
	return &lane{t: t, pace: newPacer(limits(t, s.minute))}
}

// DeliverMany posts ns to t in order at t's pace, as many to a message
// as fit (to a robot), and returns what became of each: nil delivered;
// the dead letter's error (also kept by DeadLetters) when given up on
// after the attempts, or after fifteen minutes of the receiver saying "too
// fast"; or ErrStopped when stop ended a wait for the pace or for a retry
// first: not delivered and not given up on, so whoever takes over should
// send it. Each post runs under ctx; the waits end with stop. For a caller
// that records what was sent, as the leader of several instances does.
func (s *Sender) DeliverMany(ctx, stop context.Context, t Target, ns []alerts.Notification) []error {
	l := s.lane(t)
	errs := make([]error, len(ns))
	stopped := func(from int, err error) []error {
		for j := from; j < len(ns); j++ {
			errs[j] = err
		}
		return errs
	}
	for i := 0; i < len(ns); {
		seq, err := l.pace.wait(stop)
		if err != nil {
			return stopped(i, fmt.Errorf("%w: waiting for %s's rate limit", ErrStopped, t.Name))
		}
		k, m := s.fit(t, ns[i:])
		attempts, err := s.send(ctx, stop, l, ns[i:i+k], m, seq, 15*s.minute)
		if errors.Is(err, ErrStopped) {
			return stopped(i, err)
		}
		for j := i; j < i+k; j++ {
			errs[j] = err
			if err != nil {
				s.deadLetter(t, ns[j], attempts, err)
			}
		}
		i += k
	}
	return errs
}
