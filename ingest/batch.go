package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"

	"github.com/citywall/citywall/cluster/ingestlog"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
)

// Kind says what a batch carries; the names are those of the ingest
// stream's entries.
type Kind = ingestlog.Kind

// Batch kinds.
const (
	KindTickets  = ingestlog.KindTickets
	KindEvents   = ingestlog.KindEvents
	KindReadings = ingestlog.KindReadings
	KindCalls    = ingestlog.KindCalls
)

// Batch is one request's validated items, of one kind.
type Batch struct {
	Kind     Kind
	Tickets  []ticket.Ticket // KindTickets: normalized
	Events   []ticket.Event  // KindEvents: normalized, checked against their path
	Readings []feeds.Item    // KindReadings: decoded from Raw
	Calls    []kpi.CallItem  // KindCalls: decoded from Raw (items that failed carry Err)
	// Raw is the body as posted, for readings and calls: what a log keeps,
	// so every reader decodes the same items.
	Raw []byte
}

// Len is how many items the batch holds.
func (b Batch) Len() int {
	return len(b.Tickets) + len(b.Events) + len(b.Readings) + len(b.Calls)
}

// Result is what applying a batch gave, in the order of its items:
// Items for tickets and events, Outcomes for readings and calls.
type Result struct {
	Items    []ticket.PostItem
	Outcomes []feeds.Outcome
}

// Encode is the batch as a log stores it: the JSON array of its tickets or
// events, or the posted body of readings and calls.
func Encode(b Batch) ([]byte, error) {
	switch b.Kind {
	case KindTickets:
		return json.Marshal(b.Tickets)
	case KindEvents:
		return json.Marshal(b.Events)
	case KindReadings, KindCalls:
		return b.Raw, nil
	}
	return nil, fmt.Errorf("ingest: unknown kind %q", b.Kind)
}

// Decode reads back what Encode stored.
func Decode(kind Kind, data []byte) (Batch, error) {
	b := Batch{Kind: kind}
	var err error
	switch kind {
	case KindTickets:
		err = json.Unmarshal(data, &b.Tickets)
	case KindEvents:
		err = json.Unmarshal(data, &b.Events)
	case KindReadings:
		b.Raw = data
		b.Readings, err = feeds.DecodeReadings(bytes.NewReader(data), math.MaxInt32)
	case KindCalls:
		b.Raw = data
		b.Calls, err = kpi.DecodeCalls(bytes.NewReader(data), math.MaxInt32)
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	return b, err
}
