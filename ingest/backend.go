package ingest

import (
	"context"
	"errors"
)

// ApplyFunc applies one batch to this instance's state and says what it
// gave. A Backend calls it; the Pipeline is the one implementation.
type ApplyFunc func(context.Context, Batch) Result

// Backend is where accepted batches go before they are applied: the one
// difference between a single instance, instances sharing Redis and an
// instance keeping a log on disk.
type Backend interface {
	// Submit takes a validated batch and returns once this instance has
	// applied it, with what applying gave. An error is an
	// *UnavailableError: the batch was not accepted, or it may have been
	// (its Reason says which) and a retry with the same ids is safe.
	Submit(ctx context.Context, b Batch) (Result, error)
	// Emit takes a batch without waiting for it to be applied (the demo
	// city's tickets); a batch it cannot take is dropped and logged.
	Emit(ctx context.Context, b Batch)
	// Run applies, in order, what the backend holds (a replay at start)
	// and what is submitted, until ctx ends. A backend gets the ApplyFunc
	// when it is made (Options.Backend).
	Run(ctx context.Context)
	// NotReady says why this instance should not get traffic yet (not
	// caught up, store unreachable), "" when it may.
	NotReady() string
}

// UnavailableError answers a submit the backend could not take; the API
// answers it 503 with Code and Reason.
type UnavailableError struct {
	Code   string // the API's error code, e.g. redis_unavailable
	Reason string // says whether anything was accepted
}

func (e *UnavailableError) Error() string { return e.Reason }

// AsUnavailable returns err as an *UnavailableError, wrapping any other
// error under code.
func AsUnavailable(err error, code string) *UnavailableError {
	var u *UnavailableError
	if errors.As(err, &u) {
		return u
	}
	return &UnavailableError{Code: code, Reason: err.Error()}
}

// Local applies every batch at once, in the caller's goroutine: one
// instance holding its state in memory.
type Local struct {
	apply ApplyFunc
}

// NewLocal returns the in-memory backend.
func NewLocal(apply ApplyFunc) *Local { return &Local{apply: apply} }

// Submit applies b.
func (l *Local) Submit(ctx context.Context, b Batch) (Result, error) { return l.apply(ctx, b), nil }

// Emit applies b.
func (l *Local) Emit(ctx context.Context, b Batch) { l.apply(ctx, b) }

// Run has nothing to replay or follow.
func (l *Local) Run(context.Context) {}

// NotReady is always "".
func (l *Local) NotReady() string { return "" }
