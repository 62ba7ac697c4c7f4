package stream

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// message is one server → client message, encoded once and shared by every
// client that receives it.
type message struct {
	data   []byte
	seq    uint64
	origin time.Time // zero for replies and snapshots

	once sync.Once
	prep *websocket.PreparedMessage
}

// prepared returns the frame for sending this message alone. It is built on
// first use: the same bytes serve every subscriber.
func (m *message) prepared() (*websocket.PreparedMessage, error) {
	var err error
	m.once.Do(func() {
		m.prep, err = websocket.NewPreparedMessage(websocket.TextMessage, m.data)
	})
	if m.prep == nil && err == nil {
		// A previous attempt failed; PreparedMessage construction only fails
		// on an invalid message type, so this is unreachable in practice.
		m.prep, err = websocket.NewPreparedMessage(websocket.TextMessage, m.data)
	}
	return m.prep, err
}

// envelope builds {"type":..,"id":..,"topic":..,"epoch":..,"seq":..,"data":..}
// by hand: the hub encodes thousands of these a second and the fields are
// few and fixed.
type envelope struct {
	buf []byte
}

func newEnvelope(typ string, size int) *envelope {
	e := &envelope{buf: make([]byte, 0, size+64)}
	e.buf = append(e.buf, `{"type":"`...)
	e.buf = append(e.buf, typ...)
	e.buf = append(e.buf, '"')
	return e
}

func (e *envelope) id(id int64) *envelope {
	if id != 0 {
		e.buf = append(e.buf, `,"id":`...)
		e.buf = strconv.AppendInt(e.buf, id, 10)
	}
	return e
}

func (e *envelope) str(key, v string) *envelope {
	e.buf = append(e.buf, ',', '"')
	e.buf = append(e.buf, key...)
	e.buf = append(e.buf, '"', ':')
	e.buf = appendJSONString(e.buf, v)
	return e
}

// raw appends a field whose value is JSON already (quoted keys included).
func (e *envelope) raw(key string, v []byte) *envelope {
	e.buf = append(e.buf, ',', '"')
	e.buf = append(e.buf, key...)
	e.buf = append(e.buf, '"', ':')
	e.buf = append(e.buf, v...)
	return e
}

func (e *envelope) uint(key string, v uint64) *envelope {
	e.buf = append(e.buf, ',', '"')
	e.buf = append(e.buf, key...)
	e.buf = append(e.buf, '"', ':')
	e.buf = strconv.AppendUint(e.buf, v, 10)
	return e
}

func (e *envelope) bytes() []byte { return append(e.buf, '}') }

// appendJSONString appends s as a JSON string. The fast path covers topic
// names and ids; anything unusual goes through encoding/json.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
