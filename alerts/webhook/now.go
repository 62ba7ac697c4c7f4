package webhook

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/citywall/citywall/alerts"
)

// Targets lists the sender's targets.
func (s *Sender) Targets() []Target { return slices.Clone(s.targets) }

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

// DeliverNow posts n to t at t's pace and returns when it was delivered
// (nil), given up on after the attempts (the dead letter's error, also
// kept by DeadLetters), or abandoned because stop ended a wait for the
// pace or for a retry (ErrStopped). Each post runs under ctx; the waits
// end with stop. A receiver still "too fast" after three minutes is a
// failure: the caller's other deliveries wait on this one. For a caller that records what was sent, as the leader of several
// instances does.
func (s *Sender) DeliverNow(ctx, stop context.Context, t Target, n alerts.Notification) error {
	l := s.lane(t)
	attempts, err := s.send(ctx, stop, l, []alerts.Notification{n}, 0, 3*s.minute)
	if err != nil && !errors.Is(err, ErrStopped) {
		s.deadLetter(t, n, attempts, err)
	}
	return err
}
