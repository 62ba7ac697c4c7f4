package ticket

import (
	"errors"
	"strconv"
)

// Errors of the store, checked with errors.Is.
var (
	// ErrConflict: a ticket id was already taken by a ticket with other
	// content. A retry of the same ticket is not a conflict.
	ErrConflict = errors.New("id already used by a different ticket")
	// ErrUnknownTicket: an event names a ticket the store does not hold.
	ErrUnknownTicket = errors.New("unknown ticket")
	// ErrTooManyEvents: a ticket holds StoreOptions.MaxEvents events
	// already; a new one is refused (a duplicate is still a duplicate).
	ErrTooManyEvents = errors.New("too many events")
)

// FieldError rejects one field of a ticket or an event. Its message names the
// field by its JSON name, shows the value and says what is wrong; it is meant
// for the client that sent the data.
type FieldError struct {
	Field  string // JSON name, e.g. "lat"
	Value  string // the value as received, shortened; empty when it adds nothing
	Reason string
}

// Error reads like `lat: 91.5 out of range -90..90` or `channel: "fax" not
// one of ...`: numbers are shown bare, anything else quoted.
func (e *FieldError) Error() string {
	if e.Value == "" {
		return e.Field + ": " + e.Reason
	}
	v := e.Value
	if _, err := strconv.ParseFloat(v, 64); err != nil {
		v = strconv.Quote(v)
	}
	return e.Field + ": " + v + " " + e.Reason
}

// maxShown bounds how much of a rejected value an error echoes back.
const maxShown = 64

// shown shortens a value for an error message.
func shown(s string) string {
	if len(s) <= maxShown {
		return s
	}
	n := 0
	for i := range s {
		if n == maxShown {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
