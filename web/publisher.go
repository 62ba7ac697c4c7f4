package web

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/demo"
)

// Topics besides the heat maps.
const (
	topicTickets = "tickets"
	topicStats   = "stats"
	topicHotPre  = "hot/"
)

// publisher turns engine changes into hub deltas. Each flush publishes every
// changed heat topic once, so a topic gets at most one delta per
// geo.publish_interval; the first change after a quiet spell is flushed at
// once (leading edge), so a lone ticket reaches the wall without waiting.
type publisher struct {
	a        *App
	first    atomic.Int64 // unix nanos of the oldest unpublished ingest, 0 if none
	statsDue atomic.Bool
	hot      map[string]map[string]json.RawMessage // last published, per topic
}

func newPublisher(a *App) *publisher {
	return &publisher{a: a, hot: map[string]map[string]json.RawMessage{}}
}

// touch records that an ingest at now awaits publication.
func (p *publisher) touch(now time.Time) { p.first.CompareAndSwap(0, now.UnixNano()) }

func (p *publisher) statsChanged() { p.statsDue.Store(true) }

func (p *publisher) run(ctx context.Context) {
	interval := p.a.cfg.Geo.PublishInterval
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	hotTick := time.NewTicker(5 * time.Second) // windows slide with no new tickets too
	defer hotTick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-p.a.engine.Pending():
			if wait := interval - time.Since(last); wait > 0 {
				if !armed {
					timer.Reset(wait)
					armed = true
				}
				continue
			}
		case <-timer.C:
			armed = false
		case <-hotTick.C:
			p.publishHot(ctx)
			continue
		}
		last = time.Now()
		p.flush(ctx)
	}
}

// flush publishes everything the engine changed since the last flush.
func (p *publisher) flush(ctx context.Context) {
	var origin time.Time
	if ns := p.first.Swap(0); ns != 0 {
		origin = time.Unix(0, ns)
	}
	for key, cells := range p.a.engine.Changes() {
		set := make(map[string]json.RawMessage, len(cells))
		var del []string
		for cell, n := range cells {
			if n <= 0 {
				del = append(del, cell.String())
				continue
			}
			set[cell.String()] = strconv.AppendInt(nil, int64(n), 10)
		}
		if err := p.a.hub.PublishState(ctx, key.Topic(), set, del, origin); err != nil && ctx.Err() == nil {
			p.a.log.Warn("publish heat", "topic", key.Topic(), "err", err)
		}
	}
	p.publishHot(ctx)
	if p.statsDue.Swap(false) {
		p.publishStats(ctx)
	}
}

type hotValue struct {
	Count int     `json:"count"`
	Prev  int     `json:"prev"`
	Trend float64 `json:"trend"`
	En    string  `json:"en,omitempty"`
}

// publishHot sends the hot-topics lists that changed since last time.
func (p *publisher) publishHot(ctx context.Context) {
	for _, w := range p.a.cfg.Geo.Windows {
		name := topicHotPre + geo.WindowName(w)
		cur := map[string]json.RawMessage{}
		for _, t := range p.a.engine.HotTopics(w, p.a.cfg.Geo.HotTopics) {
			b, _ := json.Marshal(hotValue{Count: t.Count, Prev: t.Prev, Trend: round3(t.Trend), En: demo.CategoryNameEn(t.Category)})
			cur[t.Category] = b
		}
		prev := p.hot[name]
		set := map[string]json.RawMessage{}
		var del []string
		for k, v := range cur {
			if !bytes.Equal(prev[k], v) {
				set[k] = v
			}
		}
		for k := range prev {
			if _, ok := cur[k]; !ok {
				del = append(del, k)
			}
		}
		if len(set) == 0 && len(del) == 0 {
			continue
		}
		if err := p.a.hub.PublishState(ctx, name, set, del, time.Time{}); err != nil {
			continue // retried on the next tick: prev is not advanced
		}
		p.hot[name] = cur
	}
}

func (p *publisher) publishStats(ctx context.Context) {
	day, n, urgent := p.a.ingest.todayCounts()
	v, _ := json.Marshal(map[string]any{"date": day, "tickets": n, "urgent": urgent})
	_ = p.a.hub.PublishState(ctx, topicStats, map[string]json.RawMessage{"today": v}, nil, time.Time{})
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
