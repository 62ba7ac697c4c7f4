package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Request is a client → server message.
type Request struct {
	Op    string  `json:"op"`
	ID    int64   `json:"id"`
	Topic string  `json:"topic"`
	Epoch string  `json:"epoch"`
	Seq   *uint64 `json:"seq"`
}

// Error codes of error messages; docs/protocol.md lists them.
const (
	CodeBadRequest           = "bad_request"
	CodeUnknownTopic         = "unknown_topic"
	CodeForbidden            = "forbidden"
	CodeTooManySubscriptions = "too_many_subscriptions"
	CodeNotSubscribed        = "not_subscribed"
)

// maxTopicLen bounds topic names from clients.
const maxTopicLen = 256

// DecodeRequest parses one client message strictly: unknown fields and
// trailing data are errors, and the error says what is wrong.
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{ID: r.ID}, fmt.Errorf("invalid json: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) { // More() misses a stray } or ]
		return Request{ID: r.ID}, errors.New("invalid json: more than one value (send one request per message)")
	}
	switch r.Op {
	case "subscribe", "unsubscribe":
		if r.Topic == "" {
			return Request{ID: r.ID}, fmt.Errorf("%s: missing topic", r.Op)
		}
		if len(r.Topic) > maxTopicLen {
			return Request{ID: r.ID}, fmt.Errorf("%s: topic longer than %d bytes", r.Op, maxTopicLen)
		}
		if r.Op == "subscribe" && (r.Epoch == "") != (r.Seq == nil) {
			return Request{ID: r.ID}, errors.New("subscribe: epoch and seq go together")
		}
	case "ping":
	case "":
		return Request{ID: r.ID}, errors.New("missing op")
	default:
		return Request{ID: r.ID}, fmt.Errorf("unknown op %q", r.Op)
	}
	return r, nil
}
