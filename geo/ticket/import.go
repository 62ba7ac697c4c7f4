package ticket

import (
	"errors"
	"fmt"

	_ "time/tzdata" // the importers' time zones, on machines without a zoneinfo database
)

// ImportResult is what an importer read from a file. Every row is accounted
// for: Rows == len(Tickets) + len(NoLocation) + len(Errors).
type ImportResult struct {
	Rows    int      // data rows or records read
	Tickets []Ticket // normalised, ready for the store
	// NoLocation lists the rows without coordinates: requests, but nothing
	// to put on a map, so they are reported rather than dropped.
	NoLocation []int
	Errors     []RowError // rows rejected, with the reason
}

// RowError is a rejected row of an import.
type RowError struct {
	Row int // CSV: the line the record starts on (the header is line 1); Open311: position in the array, from 1
	Err error
}

func (e RowError) Error() string { return fmt.Sprintf("row %d: %v", e.Row, e.Err) }

func (e RowError) Unwrap() error { return e.Err }

// add files one row's outcome.
func (r *ImportResult) add(row int, t Ticket, err error) {
	r.Rows++
	switch {
	case errors.Is(err, errNoLocation):
		r.NoLocation = append(r.NoLocation, row)
	case err != nil:
		r.Errors = append(r.Errors, RowError{Row: row, Err: err})
	default:
		r.Tickets = append(r.Tickets, t)
	}
}
