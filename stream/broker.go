package stream

import (
	"context"
	"encoding/json"
	"sync"
	"time"
)

// Kind says how a topic's messages combine.
type Kind uint8

const (
	// KindState topics hold a key → value map; deltas set and delete keys.
	KindState Kind = iota + 1
	// KindEvents topics are streams; a snapshot is the most recent events.
	KindEvents
)

func (k Kind) String() string {
	switch k {
	case KindState:
		return "state"
	case KindEvents:
		return "events"
	}
	return "unknown"
}

// Publication is one change to a topic as publishers hand it to the hub.
// Values are JSON already: the hub never re-encodes them.
type Publication struct {
	Topic string                     `json:"topic"`
	Kind  Kind                       `json:"kind"`
	Set   map[string]json.RawMessage `json:"set,omitempty"`   // KindState
	Del   []string                   `json:"del,omitempty"`   // KindState
	Event json.RawMessage            `json:"event,omitempty"` // KindEvents
	// Origin is when the data behind this publication entered citywall
	// (a ticket's ingest); the hub reports origin → written to a client.
	Origin time.Time `json:"origin"`
	// Seq, when non-zero, is the topic's sequence number as a shared
	// backplane assigned it: every instance numbers the delta alike. A
	// publication at or below the topic's sequence is already held and is
	// skipped; one past a gap restarts the topic's history there. Zero
	// means "the next one" (a single instance).
	Seq uint64 `json:"seq,omitempty"`
	// Source, when set, is the publication's place in an ordered log that
	// every instance applies alike (the shared ingest stream). A shared
	// backplane then takes it from whichever instance sends it first and
	// skips it from the others, so it is published once as long as one
	// instance lives, not only by a producer that may be gone. Sources of
	// one topic compare as strings, in the log's order.
	Source string `json:"-"`
}

type sourceKey struct{}

// WithSource marks what is published under ctx as coming from position
// source of an ordered log (see Publication.Source).
func WithSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, sourceKey{}, source)
}

// SourceOf is the position WithSource gave ctx, or "".
func SourceOf(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// Broker carries publications from publishers to hubs. Deliveries for one
// topic must arrive in the order they were published.
type Broker interface {
	// Publish hands p to every attached hub.
	Publish(ctx context.Context, p Publication) error
	// Attach registers the hub's delivery function; deliveries start at once.
	Attach(deliver func(Publication))
}

// MemoryBroker delivers within the process, synchronously, which gives
// per-topic order for free.
type MemoryBroker struct {
	mu      sync.RWMutex
	deliver []func(Publication)
}

var _ Broker = (*MemoryBroker)(nil)

// NewMemoryBroker returns a broker for a single instance.
func NewMemoryBroker() *MemoryBroker { return &MemoryBroker{} }

// Publish delivers p to every attached hub before it returns.
func (b *MemoryBroker) Publish(ctx context.Context, p Publication) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, d := range b.deliver {
		d(p)
	}
	return nil
}

// Attach adds a delivery function.
func (b *MemoryBroker) Attach(deliver func(Publication)) {
	b.mu.Lock()
	b.deliver = append(b.deliver, deliver)
	b.mu.Unlock()
}
