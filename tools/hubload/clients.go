package hubload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ClientOptions configure the client side. Zero values take the defaults in
// brackets.
type ClientOptions struct {
	URL     string   // the hub's ws:// URL
	Clients int      // connections to open
	Topics  []string // client i subscribes to Topics[i%len(Topics)]
	Dial    int      // dials and subscriptions in flight at once [64]
	// Control carries commands, one a line: "begin <phase>" and
	// "end <phase> <expected deltas>". When it ends the clients disconnect and
	// RunClients returns. Nil: run until ctx ends.
	Control io.Reader
	// Events gets one JSON line per event ("connected", "begun", "phase").
	Events io.Writer
	// Quiet is how long "end" waits without a new message before it gives up
	// on the expected count [2s].
	Quiet time.Duration
}

// ClientReport is what the clients saw.
type ClientReport struct {
	Clients        int            `json:"clients"`
	Connected      int            `json:"connected"`
	DialErrors     int            `json:"dial_errors"`
	FirstError     string         `json:"first_error,omitempty"`
	ConnectSeconds float64        `json:"connect_seconds"`
	Disconnects    int            `json:"disconnects"` // connections the server ended
	CloseCodes     map[string]int `json:"close_codes,omitempty"`
	ProtocolErrors uint64         `json:"protocol_errors"` // error replies, deltas out of order or before a snapshot
	Phases         []PhaseReport  `json:"phases"`
	CPUSeconds     float64        `json:"cpu_seconds"` // the client process's, whole run
}

// PhaseReport covers the messages between a "begin" and its "end".
type PhaseReport struct {
	Name         string         `json:"name"`
	Seconds      float64        `json:"seconds"` // from begin to the last delta received
	Expected     uint64         `json:"expected"`
	Deltas       uint64         `json:"deltas"` // received
	Frames       uint64         `json:"frames"`
	Bytes        uint64         `json:"bytes"`
	Gaps         uint64         `json:"gaps"` // deltas missing between two received ones
	DeltasPerSec float64        `json:"deltas_per_sec"`
	Latency      LatencySummary `json:"latency"`
	CPUSeconds   float64        `json:"cpu_seconds"` // the client process's
	Topics       []TopicSeqs    `json:"topics"`
}

// TopicSeqs is the spread of the last seq applied by a topic's clients
// that are still connected.
type TopicSeqs struct {
	Topic   string `json:"topic"`
	Clients int    `json:"clients"`
	MinSeq  uint64 `json:"min_seq"`
	MaxSeq  uint64 `json:"max_seq"`
}

type event struct {
	Event  string        `json:"event"` // connected, begun, phase, report
	Name   string        `json:"name,omitempty"`
	Phase  *PhaseReport  `json:"phase,omitempty"`
	Report *ClientReport `json:"report,omitempty"`
}

// RunClients connects o.Clients WebSocket clients, subscribes each to one
// topic and checks every delta they receive: its seq follows the previous
// one, and its latency is now minus the publish time it carries.
func RunClients(ctx context.Context, o ClientOptions) (*ClientReport, error) {
	if o.Clients <= 0 || len(o.Topics) == 0 || o.URL == "" {
		return nil, errors.New("run clients: need a URL, clients and topics")
	}
	if o.Dial <= 0 {
		o.Dial = 64
	}
	if o.Quiet <= 0 {
		o.Quiet = 2 * time.Second
	}
	if err := raiseFileLimit(); err != nil {
		return nil, err
	}
	if need := uint64(o.Clients) + 64; fileLimit() < need {
		return nil, fmt.Errorf("run clients: open-file limit %d is below the %d that %d clients need", fileLimit(), need, o.Clients)
	}
	f := &fleet{opts: o, clients: make([]*wsClient, o.Clients), codes: map[string]int{}}
	f.hist.Store(newHistogram())
	cpu0 := cpuTime()
	start := time.Now()
	f.connect(ctx)
	rep := &ClientReport{Clients: o.Clients, ConnectSeconds: time.Since(start).Seconds()}
	f.fill(rep)
	f.emit(event{Event: "connected", Report: rep})

	if o.Control == nil {
		<-ctx.Done()
	} else if err := f.commands(ctx, rep); err != nil {
		f.close()
		return nil, err
	}
	f.close()
	f.fill(rep)
	rep.CPUSeconds = (cpuTime() - cpu0).Seconds()
	return rep, nil
}

// fleet is every client of one RunClients.
type fleet struct {
	opts      ClientOptions
	clients   []*wsClient // nil where the dial failed
	hist      atomic.Pointer[histogram]
	wg        sync.WaitGroup
	closing   atomic.Bool
	connected atomic.Int64

	mu         sync.Mutex
	dialErrors int
	firstErr   string
	disconnect int
	codes      map[string]int
}

// wsClient is one connection. Its reader goroutine owns everything but the
// atomics, which the fleet reads for reports.
type wsClient struct {
	id         int
	topic      int
	conn       *websocket.Conn
	buf        []byte
	subscribed bool
	last       uint64

	lastSeq  atomic.Uint64
	deltas   atomic.Uint64
	frames   atomic.Uint64
	bytes    atomic.Uint64
	gaps     atomic.Uint64
	errs     atomic.Uint64
	lastRecv atomic.Int64 // Unix nanoseconds of the last delta
	gone     atomic.Bool  // the server ended the connection
}

func (f *fleet) fail(err error) {
	f.mu.Lock()
	f.dialErrors++
	if f.firstErr == "" {
		f.firstErr = err.Error()
	}
	f.mu.Unlock()
}

// connect dials every client, at most o.Dial at a time, and returns when
// each is subscribed (has its snapshot) or has failed.
func (f *fleet) connect(ctx context.Context) {
	sem := make(chan struct{}, f.opts.Dial)
	var ready sync.WaitGroup
	dialer := websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 256}
	for i := range f.clients {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			ready.Wait()
			return
		}
		ready.Add(1)
		f.wg.Add(1)
		c := &wsClient{id: i, topic: i % len(f.opts.Topics), buf: make([]byte, 4096)}
		f.clients[i] = c
		go func() {
			defer f.wg.Done()
			released := false
			release := func() {
				if !released {
					released = true
					<-sem
					ready.Done()
				}
			}
			defer release()
			var conn *websocket.Conn
			var err error
			for attempt := range 3 {
				if attempt > 0 {
					time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
				}
				if conn, _, err = dialer.DialContext(ctx, f.opts.URL, nil); err == nil {
					break
				}
			}
			if err != nil {
				f.fail(fmt.Errorf("dial: %w", err))
				return
			}
			c.conn = conn
			sub := `{"op":"subscribe","id":1,"topic":` + strconv.Quote(f.opts.Topics[c.topic]) + `}`
			if err := conn.WriteMessage(websocket.TextMessage, []byte(sub)); err != nil {
				_ = conn.Close()
				f.fail(fmt.Errorf("subscribe: %w", err))
				return
			}
			err = c.read(f, func() { f.connected.Add(1); release() })
			if !released {
				_ = conn.Close()
				f.fail(fmt.Errorf("no snapshot: %w", err))
				return
			}
			if !f.closing.Load() {
				c.gone.Store(true)
				code := "none"
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = strconv.Itoa(ce.Code)
				}
				f.mu.Lock()
				f.disconnect++
				f.codes[code]++
				f.mu.Unlock()
			}
		}()
	}
	ready.Wait()
}

// read handles frames until the connection ends; subscribed is called once
// the topic's snapshot has arrived.
func (c *wsClient) read(f *fleet, subscribed func()) error {
	for {
		_, r, err := c.conn.NextReader()
		if err != nil {
			return err
		}
		st, err := c.frame(r, f.hist.Load())
		if err != nil {
			return err
		}
		c.frames.Add(1)
		c.bytes.Add(st.bytes)
		if st.deltas > 0 {
			c.deltas.Add(st.deltas)
			c.lastSeq.Store(c.last)
			c.lastRecv.Store(st.now)
		}
		if st.gaps > 0 {
			c.gaps.Add(st.gaps)
		}
		if st.errs > 0 {
			c.errs.Add(st.errs)
		}
		if st.snapshot {
			c.lastSeq.Store(c.last)
			subscribed()
		}
	}
}

// frame takes the lines of one frame as they arrive into a small buffer,
// without reading the frame whole; of a line longer than the buffer (a big
// snapshot) only the head is looked at, which holds its type and seq.
func (c *wsClient) frame(r io.Reader, h *histogram) (frameStats, error) {
	var st frameStats
	buf := c.buf
	n, scan, start := 0, 0, 0
	skipping := false
	for {
		m, err := r.Read(buf[n:])
		if m > 0 {
			st.now = time.Now().UnixNano()
			n += m
			st.bytes += uint64(m)
		}
		start = 0
		for {
			i := bytes.IndexByte(buf[scan:n], '\n')
			if i < 0 {
				break
			}
			end := scan + i
			if !skipping {
				c.line(buf[start:end], st.now, h, &st)
			}
			skipping = false
			start, scan = end+1, end+1
		}
		if err == io.EOF {
			if n > start && !skipping {
				c.line(buf[start:n], st.now, h, &st)
			}
			return st, nil
		}
		if err != nil {
			return st, err
		}
		if start > 0 {
			n = copy(buf, buf[start:n])
		}
		scan = n
		if n == len(buf) { // a line longer than the buffer
			if !skipping {
				c.line(buf[:n], st.now, h, &st)
				skipping = true
			}
			n, scan = 0, 0
		}
	}
}

type frameStats struct {
	deltas, gaps, errs, bytes uint64
	snapshot                  bool
	now                       int64 // Unix nanoseconds the last bytes arrived
}

var (
	deltaHead    = []byte(`{"type":"delta"`)
	snapshotHead = []byte(`{"type":"snapshot"`)
	helloHead    = []byte(`{"type":"hello"`)
	seqKey       = []byte(`,"seq":`)
	stampField   = []byte(`"` + stampKey + `":`)
)

func (c *wsClient) line(b []byte, now int64, h *histogram, st *frameStats) {
	switch {
	case bytes.HasPrefix(b, deltaHead):
		seq, ok := numberAfter(b, seqKey)
		switch {
		case !ok || !c.subscribed:
			st.errs++
		case seq > c.last+1:
			st.gaps += seq - c.last - 1
		case seq <= c.last:
			st.errs++ // repeated or out of order
		}
		c.last = seq
		st.deltas++
		if t, ok := numberAfter(b, stampField); ok {
			h.record(c.id, time.Duration(now-int64(t)))
		}
	case bytes.HasPrefix(b, snapshotHead):
		seq, ok := numberAfter(b, seqKey)
		if !ok {
			st.errs++
		}
		c.last = seq
		if !c.subscribed {
			c.subscribed, st.snapshot = true, true
		}
	case bytes.HasPrefix(b, helloHead):
	default:
		st.errs++
	}
}

// numberAfter parses the unsigned integer that follows key in b.
func numberAfter(b, key []byte) (uint64, bool) {
	i := bytes.Index(b, key)
	if i < 0 {
		return 0, false
	}
	var n uint64
	digits := 0
	for _, ch := range b[i+len(key):] {
		if ch < '0' || ch > '9' {
			break
		}
		n = n*10 + uint64(ch-'0')
		digits++
	}
	return n, digits > 0
}

func (f *fleet) emit(e event) {
	if f.opts.Events == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	_, _ = f.opts.Events.Write(append(b, '\n'))
}

// commands runs begin/end until Control ends.
func (f *fleet) commands(ctx context.Context, rep *ClientReport) error {
	lines := make(chan string)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(f.opts.Control)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	var (
		base   totals
		began  time.Time
		cpu0   time.Duration
		phase  string
		active bool
	)
	for {
		var line string
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case line, ok = <-lines:
			if !ok {
				return nil
			}
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 2 && fields[0] == "begin":
			f.hist.Store(newHistogram())
			phase, active = fields[1], true
			base, began, cpu0 = f.totals(), time.Now(), cpuTime()
			f.emit(event{Event: "begun", Name: phase})
		case len(fields) == 3 && fields[0] == "end" && active && fields[1] == phase:
			expected, err := strconv.ParseUint(fields[2], 10, 64)
			if err != nil {
				return fmt.Errorf("command %q: %w", line, err)
			}
			t := f.await(ctx, base, expected)
			p := PhaseReport{
				Name:       phase,
				Expected:   expected,
				Deltas:     t.deltas - base.deltas,
				Frames:     t.frames - base.frames,
				Bytes:      t.bytes - base.bytes,
				Gaps:       t.gaps - base.gaps,
				Latency:    f.hist.Load().summary(),
				CPUSeconds: (cpuTime() - cpu0).Seconds(),
				Topics:     f.topicSeqs(),
			}
			if t.lastRecv > began.UnixNano() {
				p.Seconds = float64(t.lastRecv-began.UnixNano()) / 1e9
				p.DeltasPerSec = float64(p.Deltas) / p.Seconds
			}
			rep.Phases = append(rep.Phases, p)
			f.emit(event{Event: "phase", Phase: &p})
			active = false
		default:
			return fmt.Errorf("unknown command %q", line)
		}
	}
}

// await waits until the clients have received expected deltas since base,
// or nothing has arrived for o.Quiet.
func (f *fleet) await(ctx context.Context, base totals, expected uint64) totals {
	t := f.totals()
	progress := time.Now()
	for t.deltas-base.deltas < expected && time.Since(progress) < f.opts.Quiet && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if n := f.totals(); n.deltas != t.deltas {
			t, progress = n, time.Now()
		}
	}
	return f.totals()
}

type totals struct {
	deltas, frames, bytes, gaps, errs uint64
	lastRecv                          int64
}

func (f *fleet) totals() totals {
	var t totals
	for _, c := range f.clients {
		if c == nil {
			continue
		}
		t.deltas += c.deltas.Load()
		t.frames += c.frames.Load()
		t.bytes += c.bytes.Load()
		t.gaps += c.gaps.Load()
		t.errs += c.errs.Load()
		t.lastRecv = max(t.lastRecv, c.lastRecv.Load())
	}
	return t
}

func (f *fleet) topicSeqs() []TopicSeqs {
	seqs := make([]TopicSeqs, len(f.opts.Topics))
	for i, t := range f.opts.Topics {
		seqs[i] = TopicSeqs{Topic: t}
	}
	for _, c := range f.clients {
		if c == nil || c.gone.Load() {
			continue
		}
		s := &seqs[c.topic]
		last := c.lastSeq.Load()
		if s.Clients == 0 || last < s.MinSeq {
			s.MinSeq = last
		}
		s.MaxSeq = max(s.MaxSeq, last)
		s.Clients++
	}
	return seqs
}

// fill copies the connection counts into rep.
func (f *fleet) fill(rep *ClientReport) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rep.DialErrors, rep.FirstError, rep.Disconnects = f.dialErrors, f.firstErr, f.disconnect
	rep.Connected = int(f.connected.Load())
	if len(f.codes) > 0 {
		rep.CloseCodes = map[string]int{}
		for k, v := range f.codes {
			rep.CloseCodes[k] = v
		}
	}
	rep.ProtocolErrors = f.totals().errs
}

// close disconnects every client and waits for their readers.
func (f *fleet) close() {
	f.closing.Store(true)
	for _, c := range f.clients {
		if c != nil && c.conn != nil {
			_ = c.conn.Close()
		}
	}
	f.wg.Wait()
}
