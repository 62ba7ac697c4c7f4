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

// DeliverNow posts n to t and returns when it was delivered (nil), given
// up on after the attempts (the dead letter's error, also kept by
// DeadLetters), or abandoned because stop ended while waiting to retry
// (ErrStopped). Each post runs under ctx; the waits between them end with
// stop. For a caller that records what was sent, as the leader of several
// instances does.
func (s *Sender) DeliverNow(ctx, stop context.Context, t Target, n alerts.Notification) error {
	attempts, err := s.send(ctx, stop, t, n)
	if err != nil && !errors.Is(err, ErrStopped) {
		s.deadLetter(t, n, attempts, err)
	}
	return err
}
