package hubload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/citywall/citywall/stream"
)

// ServerOptions configure the hub side. Zero values take the defaults in
// brackets.
type ServerOptions struct {
	Addr    string   // listen address [127.0.0.1:0]
	Topics  []string // [HeatTopics(25)]
	Rate    float64  // deltas per second over all topics, round-robin; 0 publishes nothing
	Prefill int      // cells each topic holds before anyone connects [500]; negative: none
	Cells   int      // distinct cells per topic [2000]
	// Hub tunes the hub; Resolve is replaced by one that accepts heat/ topics.
	Hub stream.Options

	// Ready, if set, is called with the ws:// URL once the server listens.
	Ready func(url string)
	// Stats, if set, gets a line of connections and memory every StatsEvery [5s].
	Stats      io.Writer
	StatsEvery time.Duration
}

func (o *ServerOptions) setDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if len(o.Topics) == 0 {
		o.Topics = HeatTopics(25)
	}
	if o.Prefill < 0 {
		o.Prefill = 0
	} else if o.Prefill == 0 {
		o.Prefill = 500
	}
	if o.Cells <= 0 {
		o.Cells = 2000
	}
	o.Prefill = min(o.Prefill, o.Cells)
	if o.StatsEvery <= 0 {
		o.StatsEvery = 5 * time.Second
	}
}

// RunServer serves a hub with heat-map topics on o.Addr and publishes at
// o.Rate until ctx ends. It is the server half of Run, for pointing other
// clients at.
func RunServer(ctx context.Context, o ServerOptions) error {
	if err := raiseFileLimit(); err != nil {
		return err
	}
	s, err := startServer(o)
	if err != nil {
		return err
	}
	defer s.close()
	if s.opts.Ready != nil {
		s.opts.Ready(s.url)
	}
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		if s.opts.Rate > 0 {
			s.paced(ctx, s.opts.Rate, 0)
		}
	}()
	defer func() { <-pubDone }()
	tick := time.NewTicker(s.opts.StatsEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return s.serveErr
		case <-tick.C:
			if s.opts.Stats != nil {
				m := readMemory(false)
				fmt.Fprintf(s.opts.Stats, "connections=%d rss=%s heap=%s stacks=%s goroutines=%d sent=%.0f slow=%.0f\n",
					s.hub.Stats().Connections, kb(m.RSS), kb(m.HeapAlloc), kb(m.StackInuse), m.Goroutines,
					counterValue(s.sent), counterValue(s.slow))
			}
		}
	}
}

// server is a hub on a loopback listener with a publisher for its topics.
type server struct {
	opts      ServerOptions
	hub       *stream.Hub
	srv       *http.Server
	url       string
	gens      []*heatGen
	published []uint64 // per topic, prefill included: the topic's seq
	sent      prometheus.Counter
	slow      prometheus.Counter
	dropped   prometheus.Counter
	done      chan struct{} // closed when Serve returns
	serveErr  error
}

func startServer(o ServerOptions) (*server, error) {
	o.setDefaults()
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	hubOpts := o.Hub
	hubOpts.Resolve = func(topic string) (stream.Kind, error) {
		if strings.HasPrefix(topic, "heat/") {
			return stream.KindState, nil
		}
		return 0, stream.ErrUnknownTopic
	}
	reg := &captureRegisterer{Registerer: prometheus.NewRegistry()}
	s := &server{
		opts:      o,
		hub:       stream.New(hubOpts, stream.NewMemoryBroker(), reg, nil),
		url:       "ws://" + ln.Addr().String() + "/ws",
		published: make([]uint64, len(o.Topics)),
		sent:      reg.counters["citywall_hub_messages_sent_total"],
		slow:      reg.counters["citywall_hub_slow_disconnects_total"],
		dropped:   reg.counters["citywall_hub_messages_dropped_total"],
		done:      make(chan struct{}),
	}
	if s.sent == nil || s.slow == nil || s.dropped == nil {
		_ = ln.Close()
		return nil, errors.New("hub metrics not found: citywall_hub_messages_sent_total, citywall_hub_slow_disconnects_total, citywall_hub_messages_dropped_total")
	}
	peer := stream.Peer{Name: "loadtest", Roles: []string{"wall"}, CanSubscribe: func(string) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { s.hub.ServeWS(w, r, peer) })
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	for i := range o.Topics {
		s.gens = append(s.gens, newHeatGen(uint64(i)+1, o.Cells))
		if o.Prefill > 0 {
			if err := s.hub.PublishState(context.Background(), o.Topics[i], s.gens[i].prefill(o.Prefill), nil, time.Time{}); err != nil {
				_ = ln.Close()
				return nil, fmt.Errorf("prefill %q: %w", o.Topics[i], err)
			}
			s.published[i]++
		}
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = fmt.Errorf("serve: %w", err)
		}
	}()
	return s, nil
}

// close disconnects every client and stops listening.
func (s *server) close() {
	_ = s.hub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}

// publish sends the next delta of topic i, stamped with the time now. Only
// one goroutine at a time may publish to a topic.
func (s *server) publish(i int) error {
	now := time.Now()
	set, del := s.gens[i].next(now)
	if err := s.hub.PublishState(context.Background(), s.opts.Topics[i], set, del, now); err != nil {
		return err
	}
	s.published[i]++
	return nil
}

// paced publishes rate deltas a second, round-robin over the topics, for d
// (0: until ctx ends). It keeps to a schedule rather than a ticker, so a late
// wake-up is made up instead of lost. It returns how many it published.
func (s *server) paced(ctx context.Context, rate float64, d time.Duration) uint64 {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var n uint64
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next := start.Add(time.Duration(n) * interval)
		if d > 0 && next.Sub(start) >= d {
			return n
		}
		timer.Reset(time.Until(next))
		select {
		case <-ctx.Done():
			return n
		case <-timer.C:
		}
		if err := s.publish(int(n % uint64(len(s.gens)))); err != nil {
			return n
		}
		n++
	}
}

// saturate publishes as fast as the hub delivers for d, from publishers
// goroutines that each own every publishers-th topic (so each topic keeps its
// order). Together they keep at most window messages published but not yet
// written to a socket, so the clients' queues stay short of the slow-client
// bound without running dry.
func (s *server) saturate(ctx context.Context, d time.Duration, window, publishers int) {
	publishers = max(1, min(publishers, len(s.gens)))
	subs := make([]int64, len(s.gens))
	for i, t := range s.opts.Topics {
		subs[i] = int64(s.hub.Subscribers(t))
	}
	sent0 := int64(counterValue(s.sent))
	var queued atomic.Int64 // deliveries published in this phase
	deadline := time.Now().Add(d)
	over := func() bool { return !time.Now().Before(deadline) || ctx.Err() != nil }
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for n := p; !over(); n += publishers {
				i := n % len(s.gens)
				if s.publish(i) != nil {
					return
				}
				q := queued.Add(subs[i])
				for q-(int64(counterValue(s.sent))-sent0) > int64(window) {
					if over() {
						return
					}
					time.Sleep(50 * time.Microsecond)
				}
			}
		})
	}
	wg.Wait()
}

// expected is how many deltas the clients should have received for the
// publications between two copies of s.published.
func (s *server) expected(before, after []uint64) uint64 {
	var n uint64
	for i, t := range s.opts.Topics {
		n += (after[i] - before[i]) * uint64(s.hub.Subscribers(t))
	}
	return n
}

// captureRegisterer keeps the hub's counters so the load test can read them
// without gathering the whole registry.
type captureRegisterer struct {
	prometheus.Registerer
	counters map[string]prometheus.Counter
}

func (r *captureRegisterer) MustRegister(cs ...prometheus.Collector) {
	if r.counters == nil {
		r.counters = map[string]prometheus.Counter{}
	}
	for _, c := range cs {
		if m, ok := c.(prometheus.Counter); ok {
			desc := m.Desc().String()
			if i := strings.Index(desc, `fqName: "`); i >= 0 {
				name := desc[i+len(`fqName: "`):]
				if j := strings.IndexByte(name, '"'); j >= 0 {
					r.counters[name[:j]] = m
				}
			}
		}
	}
	r.Registerer.MustRegister(cs...)
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}
