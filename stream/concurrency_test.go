package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/stream"
)

// concStep is publication n (from 1) of a state topic in the concurrency
// test; the final state is replayed from it.
func concStep(n int) (set map[string]json.RawMessage, del []string) {
	set = map[string]json.RawMessage{fmt.Sprintf("k%d", n%7): raw(n)}
	if n%5 == 0 {
		del = []string{fmt.Sprintf("k%d", (n+3)%7)}
	}
	return set, del
}

// concView is one client's view of one topic.
type concView struct {
	on, pending bool
	epoch       string
	seq         uint64 // last applied
	st          state
}

// concClient subscribes and unsubscribes at random while publishers run,
// checking every message against the protocol's promises.
type concClient struct {
	c     *wsClient
	views map[string]*concView
}

func (cc *concClient) handle(m msg) error {
	v := cc.views[m.Topic]
	switch m.Type {
	case "delta":
		if v == nil || !v.on {
			return fmt.Errorf("%v while not subscribed", m)
		}
		if m.Epoch != v.epoch || m.Seq != v.seq+1 {
			return fmt.Errorf("%v after seq %d epoch %q", m, v.seq, v.epoch)
		}
		if strings.HasPrefix(m.Topic, "events/") {
			var e ticketEvent
			if err := json.Unmarshal(m.Data, &e); err != nil || uint64(e.N) != m.Seq {
				return fmt.Errorf("%v: want event %d (%v)", m, m.Seq, err)
			}
		} else if err := v.st.applyDelta(m.Data); err != nil {
			return err
		}
		v.seq = m.Seq
	case "snapshot":
		if v == nil || !v.pending {
			return fmt.Errorf("%v not asked for", m)
		}
		if strings.HasPrefix(m.Topic, "events/") {
			var evs []ticketEvent
			if err := json.Unmarshal(m.Data, &evs); err != nil {
				return fmt.Errorf("%v: %w", m, err)
			}
			for i, e := range evs {
				if uint64(e.N) != m.Seq-uint64(len(evs)-1-i) {
					return fmt.Errorf("%v: events are not the last ones up to seq", m)
				}
			}
		} else if err := v.st.applySnapshot(m.Data); err != nil {
			return err
		}
		v.on, v.pending, v.epoch, v.seq = true, false, m.Epoch, m.Seq
	case "resumed":
		if v == nil || !v.pending || m.Epoch != v.epoch || m.Seq != v.seq {
			return fmt.Errorf("%v, asked to resume after seq %d", m, v.seq)
		}
		v.on, v.pending = true, false
	case "unsubscribed":
		if v == nil || !v.on {
			return fmt.Errorf("%v while not subscribed", m)
		}
		v.on = false
	case "pong":
	default:
		return fmt.Errorf("unexpected %v", m)
	}
	return nil
}

// until reads and checks messages until done says the reply has come.
func (cc *concClient) until(done func(msg) bool) error {
	for {
		m, err := cc.c.read()
		if err != nil {
			return err
		}
		if err := cc.handle(m); err != nil {
			return err
		}
		if done(m) {
			return nil
		}
	}
}

func (cc *concClient) subscribe(topic string, resume bool) error {
	v := cc.views[topic]
	if v == nil {
		v = &concView{st: state{}}
		cc.views[topic] = v
	}
	req := map[string]any{"op": "subscribe", "topic": topic}
	if resume && v.epoch != "" {
		req["epoch"], req["seq"] = v.epoch, v.seq
	}
	v.pending = true
	id, err := cc.c.send(req)
	if err != nil {
		return err
	}
	return cc.until(func(m msg) bool {
		return m.Topic == topic && (m.Type == "snapshot" || m.Type == "resumed" && m.ID == id)
	})
}

func (cc *concClient) unsubscribe(topic string) error {
	id, err := cc.c.send(map[string]any{"op": "unsubscribe", "topic": topic})
	if err != nil {
		return err
	}
	return cc.until(func(m msg) bool { return m.Type == "unsubscribed" && m.ID == id })
}

func (cc *concClient) sync() error {
	id, err := cc.c.send(map[string]any{"op": "ping"})
	if err != nil {
		return err
	}
	return cc.until(func(m msg) bool { return m.Type == "pong" && m.ID == id })
}

func TestConcurrentPublishAndSubscribe(t *testing.T) {
	const (
		perTopic = 300
		clients  = 4
		toggles  = 40
	)
	topics := []string{"heat/c/0", "heat/c/1", "events/c"}
	// A short history, so that some resumes fall back to a snapshot.
	f := newFixture(t, fixtureConfig{opts: stream.Options{History: 16, MaxEvents: 10}})

	start := make(chan struct{})
	var pubs sync.WaitGroup
	pubErrs := make(chan error, len(topics))
	for _, topic := range topics {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			<-start
			ctx := context.Background()
			for n := 1; n <= perTopic; n++ {
				var err error
				if strings.HasPrefix(topic, "events/") {
					err = f.hub.PublishEvent(ctx, topic, raw(ticketEvent{N: n}), time.Now())
				} else {
					set, del := concStep(n)
					err = f.hub.PublishState(ctx, topic, set, del, time.Now())
				}
				if err != nil {
					pubErrs <- err
					return
				}
				if n%8 == 0 {
					time.Sleep(time.Millisecond) // spread publications over the clients' activity
				}
			}
		}()
	}
	pubsDone := make(chan struct{})
	go func() { pubs.Wait(); close(pubsDone) }()

	ccs := make([]*concClient, clients)
	for i := range ccs {
		ccs[i] = &concClient{c: f.dial(t), views: map[string]*concView{}}
	}
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i, cc := range ccs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = func() error {
				rng := rand.New(rand.NewPCG(uint64(i), 1))
				<-start
				for range toggles {
					topic := topics[rng.IntN(len(topics))]
					var err error
					if v := cc.views[topic]; v != nil && v.on {
						err = cc.unsubscribe(topic)
					} else {
						err = cc.subscribe(topic, rng.IntN(3) > 0)
					}
					if err != nil {
						return err
					}
				}
				select {
				case <-pubsDone:
				case <-time.After(time.Minute):
					return errors.New("publishers did not finish")
				}
				for _, topic := range topics {
					if v := cc.views[topic]; v == nil || !v.on {
						if err := cc.subscribe(topic, true); err != nil {
							return err
						}
					}
				}
				return cc.sync() // everything published is queued before the pong
			}()
			if errs[i] != nil {
				errs[i] = fmt.Errorf("client %d: %w", i, errs[i])
			}
		}()
	}
	close(start)
	wg.Wait()
	close(pubErrs)
	for err := range pubErrs {
		t.Error(err)
	}
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if t.Failed() {
		return
	}

	want := state{}
	for n := 1; n <= perTopic; n++ {
		set, del := concStep(n)
		for k, v := range set {
			want[k] = compact(v)
		}
		for _, k := range del {
			delete(want, k)
		}
	}
	for i, cc := range ccs {
		for _, topic := range topics {
			v := cc.views[topic]
			if v.seq != perTopic {
				t.Errorf("client %d, %s: last seq %d, want %d", i, topic, v.seq, perTopic)
			}
			if !strings.HasPrefix(topic, "events/") && !maps.Equal(v.st, want) {
				t.Errorf("client %d, %s: state %v, want %v", i, topic, v.st, want)
			}
		}
	}
	if v := metricValue(t, f.reg, "citywall_hub_subscriptions"); v != clients*float64(len(topics)) {
		t.Errorf("subscriptions gauge = %v, want %d", v, clients*len(topics))
	}
	t.Logf("subscribes: %v resumed, %v from a snapshot",
		metricValue(t, f.reg, "citywall_hub_subscribes_total", "start", "resumed"),
		metricValue(t, f.reg, "citywall_hub_subscribes_total", "start", "snapshot"))
}
