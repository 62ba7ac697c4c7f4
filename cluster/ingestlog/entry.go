// Package ingestlog is the durable ingest of several citywall instances: a
// Redis Stream that every accepted ticket, ticket event, reading and call
// is appended to before the API answers, and that every instance reads
// from the start (trimmed by time) to build the same state.
package ingestlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind says what an entry carries.
type Kind string

// Entry kinds. Tickets and events are normalized already (a JSON array);
// readings and calls are the request body as posted, decoded alike by every
// instance.
const (
	KindTickets  Kind = "tickets"
	KindEvents   Kind = "events"
	KindReadings Kind = "readings"
	KindCalls    Kind = "calls"
)

func (k Kind) valid() bool {
	switch k {
	case KindTickets, KindEvents, KindReadings, KindCalls:
		return true
	}
	return false
}

// Entry is one append: one request's accepted items.
type Entry struct {
	ID     string // the stream's id, set when read
	Kind   Kind
	Origin string // the instance that appended it
	Nonce  string // the appending instance's own key, to answer the request
	Data   []byte
}

// Stream field names.
const (
	fieldKind   = "k"
	fieldOrigin = "o"
	fieldNonce  = "n"
	fieldData   = "d"
)

// MaxData bounds an entry's payload (a batch is bounded by the API's body
// limit; this only refuses garbage).
const MaxData = 64 << 20

// values is what XADD writes.
func (e Entry) values() []any {
	return []any{fieldKind, string(e.Kind), fieldOrigin, e.Origin, fieldNonce, e.Nonce, fieldData, e.Data}
}

// Decode reads an entry from a stream message. It checks everything: the
// stream is shared, and a bad entry must be skipped, not crash a reader.
func Decode(id string, values map[string]any) (Entry, error) {
	if _, _, err := ParseID(id); err != nil {
		return Entry{}, err
	}
	str := func(k string) (string, error) {
		v, ok := values[k]
		if !ok {
			return "", fmt.Errorf("entry %s: field %q missing", id, k)
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("entry %s: field %q is %T, not a string", id, k, v)
		}
		return s, nil
	}
	e := Entry{ID: id}
	k, err := str(fieldKind)
	if err != nil {
		return Entry{}, err
	}
	if e.Kind = Kind(k); !e.Kind.valid() {
		return Entry{}, fmt.Errorf("entry %s: kind %q unknown", id, k)
	}
	if e.Origin, err = str(fieldOrigin); err != nil {
		return Entry{}, err
	}
	if e.Nonce, err = str(fieldNonce); err != nil {
		return Entry{}, err
	}
	d, err := str(fieldData)
	if err != nil {
		return Entry{}, err
	}
	if len(d) > MaxData {
		return Entry{}, fmt.Errorf("entry %s: data of %d bytes over %d", id, len(d), MaxData)
	}
	e.Data = []byte(d)
	return e, nil
}

// ErrBadID is returned for a string that is not a stream id.
var ErrBadID = errors.New("not a stream id")

// ParseID splits a stream id "ms-seq".
func ParseID(id string) (ms, seq uint64, err error) {
	a, b, ok := strings.Cut(id, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	if ms, err = strconv.ParseUint(a, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	if seq, err = strconv.ParseUint(b, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	return ms, seq, nil
}

// After reports whether stream id a is after b. Ids that do not parse
// count as the start.
func After(a, b string) bool {
	am, as, _ := ParseID(a)
	bm, bs, _ := ParseID(b)
	return am > bm || am == bm && as > bs
}

// IDTime is when the entry was appended (the id's milliseconds).
func IDTime(id string) time.Time {
	ms, _, err := ParseID(id)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(int64(ms))
}
