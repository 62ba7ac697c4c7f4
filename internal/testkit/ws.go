package testkit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gorilla/websocket"
)

// Msg is any server → client message of the hub's protocol
// (docs/protocol.md).
type Msg struct {
	Type   string          `json:"type"`
	ID     int64           `json:"id"`
	Topic  string          `json:"topic"`
	Epoch  string          `json:"epoch"`
	Seq    uint64          `json:"seq"`
	Data   json.RawMessage `json:"data"`
	Code   string          `json:"code"`
	Reason string          `json:"reason"`
	Build  string          `json:"build"`
	Name   string          `json:"name"`
	Roles  []string        `json:"roles"`
	Time   string          `json:"time"`

	Raw      string    `json:"-"` // the line as received
	Received time.Time `json:"-"` // when its frame was read
}

func (m Msg) String() string {
	s := fmt.Sprintf("%s id=%d topic=%q epoch=%q seq=%d", m.Type, m.ID, m.Topic, m.Epoch, m.Seq)
	if m.Code != "" {
		s += fmt.Sprintf(" code=%s reason=%q", m.Code, m.Reason)
	}
	if len(m.Data) > 0 {
		d := string(m.Data)
		if len(d) > 120 {
			d = d[:120] + "…"
		}
		s += " data=" + d
	}
	return s
}

// DecodeMsg decodes one message strictly: a field the protocol does not
// document is an error, and so is a message without a type.
func DecodeMsg(line []byte) (Msg, error) {
	var m Msg
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Msg{}, fmt.Errorf("decode %.200q: %w", line, err)
	}
	if m.Type == "" {
		return Msg{}, fmt.Errorf("no type in %.200q", line)
	}
	m.Raw = string(line)
	return m, nil
}

// ReadFrame reads one frame from conn, waiting until deadline, and
// returns its messages (a frame carries one or more, a line each).
func ReadFrame(conn *websocket.Conn, deadline time.Time) ([]Msg, error) {
	if err := conn.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	typ, data, err := conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if typ != websocket.TextMessage {
		return nil, fmt.Errorf("frame type %d, want text", typ)
	}
	var out []Msg
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		m, err := DecodeMsg(line)
		if err != nil {
			return nil, err
		}
		m.Received = now
		out = append(out, m)
	}
	return out, nil
}
