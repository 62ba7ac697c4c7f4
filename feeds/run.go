package feeds

import (
	"context"
	"encoding/json"
	"time"
)

// Run publishes changes and watches for staleness until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	check := time.NewTicker(time.Second)
	defer check.Stop()
	f.Check(ctx)
	f.Flush(ctx)
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-check.C:
			f.Check(ctx)
		case <-f.kick:
			if wait := f.o.PublishInterval - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return nil
				case <-t.C:
				}
			}
		}
		last = time.Now()
		f.Flush(ctx)
	}
}

// Check evaluates staleness of stations and sources at the clock's now and
// sends the alerts that change.
func (f *Feed) Check(ctx context.Context) {
	now := f.o.Now()
	f.mu.Lock()
	f.checkStaleLocked(now)
	f.checkSourcesLocked(now)
	f.expireLocked(now)
	f.mu.Unlock()
	f.emit(ctx)
}

// Flush publishes every changed station, incident and source.
func (f *Feed) Flush(ctx context.Context) {
	if f.o.Publisher == nil {
		f.mu.Lock()
		clear(f.dirty)
		f.mu.Unlock()
		return
	}
	type pub struct {
		set map[string]json.RawMessage
		del []string
	}
	f.mu.Lock()
	pubs := map[string]*pub{}
	for topic, keys := range f.dirty {
		p := &pub{set: map[string]json.RawMessage{}}
		for k := range keys {
			v, ok := f.valueLocked(k)
			if !ok {
				p.del = append(p.del, k)
				continue
			}
			b, err := json.Marshal(v)
			if err != nil {
				continue
			}
			p.set[k] = b
		}
		pubs[topic] = p
	}
	clear(f.dirty)
	f.mu.Unlock()
	for topic, p := range pubs {
		if err := f.o.Publisher.PublishState(ctx, topic, p.set, p.del, time.Time{}); err != nil && ctx.Err() == nil {
			f.o.Log.Warn("publish feed", "topic", topic, "err", err)
		}
	}
}

// valueLocked is the published value of a key; false means delete it.
func (f *Feed) valueLocked(key string) (any, bool) {
	if s, ok := f.stations[key]; ok {
		return s.value(), true
	}
	if len(key) > 9 && key[:9] == "incident:" {
		in, ok := f.incidents[key[9:]]
		if !ok || in.Cleared {
			return nil, false
		}
		return in, true
	}
	if len(key) > 7 && key[:7] == "source:" {
		s, ok := f.sources[key[7:]]
		if !ok {
			return nil, false
		}
		return s.value(), true
	}
	return nil, false
}

// Snapshot is the current state of a topic, as the hub holds it: for the
// API and tests.
func (f *Feed) Snapshot(topic string) map[string]json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]json.RawMessage{}
	add := func(k string) {
		if v, ok := f.valueLocked(k); ok {
			if b, err := json.Marshal(v); err == nil {
				out[k] = b
			}
		}
	}
	for _, id := range f.order {
		if f.stations[id].st.Kind.Topic() == topic {
			add(id)
		}
	}
	if topic == TopicTraffic {
		for id := range f.incidents {
			add(incidentKey(id))
		}
	}
	for name := range f.sources {
		add(sourceKey(name))
	}
	return out
}

// expireLocked forgets incidents not updated for the history period.
func (f *Feed) expireLocked(now time.Time) {
	for id, in := range f.incidents {
		if now.Sub(in.Time) > f.o.History {
			delete(f.incidents, id)
			f.markLocked(TopicTraffic, incidentKey(id))
		}
	}
}
