// Package redisbroker carries hub publications between citywall instances
// through Redis, so that every instance numbers every topic's deltas alike
// and a client may resume on any of them.
//
// Publications go into one Redis Stream. A Lua script gives each its
// topic's next sequence number and keeps the topic's current state (a
// hash, for state topics) or its recent events (a list) beside it, all in
// one step: the stream's order is the order every instance applies, and an
// instance that joins restores every topic from the state and the recent
// deltas and then reads on from the stream. Topics that only this instance
// publishes (its cameras) never leave it; topics derived from the shared
// ingest (heat maps, hot topics, stats, the ticket feed, KPIs, feeds) are
// published by one producer only, since every instance derives them alike.
package redisbroker

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/citywall/citywall/stream"
)

// payload is a publication's body in a stream entry and in a topic's event
// list.
type payload struct {
	Set    map[string]json.RawMessage `json:"set,omitempty"`
	Del    []string                   `json:"del,omitempty"`
	Event  json.RawMessage            `json:"event,omitempty"`
	Origin int64                      `json:"o,omitempty"` // unix ms
}

func kindCode(k stream.Kind) string {
	if k == stream.KindEvents {
		return "e"
	}
	return "s"
}

func encodePayload(p stream.Publication) ([]byte, error) {
	pl := payload{Set: p.Set, Del: p.Del, Event: p.Event}
	if !p.Origin.IsZero() {
		pl.Origin = p.Origin.UnixMilli()
	}
	return json.Marshal(pl)
}

// MaxEntry bounds one entry's payload.
const MaxEntry = 64 << 20

// DecodeEntry reads a publication from a stream entry's fields: t (topic),
// k (s or e), s (sequence), d (payload). Everything is checked: the stream
// is shared and a bad entry is skipped, not fatal.
func DecodeEntry(values map[string]any) (stream.Publication, error) {
	str := func(k string) (string, error) {
		v, ok := values[k]
		if !ok {
			return "", fmt.Errorf("field %q missing", k)
		}
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("field %q is %T, not a string", k, v)
		}
		return s, nil
	}
	var p stream.Publication
	var err error
	if p.Topic, err = str("t"); err != nil {
		return p, err
	}
	if p.Topic == "" {
		return p, fmt.Errorf("empty topic")
	}
	k, err := str("k")
	if err != nil {
		return p, err
	}
	s, err := str("s")
	if err != nil {
		return p, err
	}
	if p.Seq, err = strconv.ParseUint(s, 10, 64); err != nil || p.Seq == 0 {
		return p, fmt.Errorf("seq %q is not a positive integer", s)
	}
	d, err := str("d")
	if err != nil {
		return p, err
	}
	switch k {
	case "s":
		p.Kind = stream.KindState
	case "e":
		p.Kind = stream.KindEvents
	default:
		return p, fmt.Errorf("kind %q unknown", k)
	}
	if err := decodePayload(&p, []byte(d)); err != nil {
		return p, err
	}
	return p, nil
}

func decodePayload(p *stream.Publication, d []byte) error {
	if len(d) > MaxEntry {
		return fmt.Errorf("payload of %d bytes over %d", len(d), MaxEntry)
	}
	var pl payload
	if err := json.Unmarshal(d, &pl); err != nil {
		return fmt.Errorf("payload: %w", err)
	}
	switch p.Kind {
	case stream.KindState:
		if pl.Event != nil {
			return fmt.Errorf("state topic %q with an event", p.Topic)
		}
		p.Set, p.Del = pl.Set, pl.Del
	case stream.KindEvents:
		if pl.Set != nil || pl.Del != nil || len(pl.Event) == 0 {
			return fmt.Errorf("events topic %q without exactly an event", p.Topic)
		}
		p.Event = pl.Event
	}
	if pl.Origin != 0 {
		p.Origin = time.UnixMilli(pl.Origin)
	}
	return nil
}
