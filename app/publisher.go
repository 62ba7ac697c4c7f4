package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/stream"
	"github.com/citywall/citywall/web"
)

// publisher turns engine changes into hub deltas. Each flush publishes every
// changed heat topic once, so a topic gets at most one delta per
// geo.publish_interval; the first change after a quiet spell is flushed at
// once (leading edge), so a lone ticket reaches the wall without waiting.
type publisher struct {
	hub      *stream.Hub
	engine   *geo.Engine
	cfg      config.Geo
	log      *slog.Logger
	today    func() (day string, tickets, urgent int) // set once the pipeline exists
	first    atomic.Int64                             // unix nanos of the oldest unpublished ingest, 0 if none
	statsDue atomic.Bool
	hot      map[string]map[string]json.RawMessage // last published, per topic
}

func newPublisher(hub *stream.Hub, engine *geo.Engine, cfg config.Geo, log *slog.Logger) *publisher {
	return &publisher{hub: hub, engine: engine, cfg: cfg, log: log, hot: map[string]map[string]json.RawMessage{}}
}

// touch records that an ingest at now awaits publication.
func (p *publisher) touch(now time.Time) { p.first.CompareAndSwap(0, now.UnixNano()) }

func (p *publisher) statsChanged() { p.statsDue.Store(true) }

func (p *publisher) run(ctx context.Context) {
	interval := p.cfg.PublishInterval
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
		case <-p.engine.Pending():
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
	for key, cells := range p.engine.Changes() {
		set := make(map[string]json.RawMessage, len(cells))
		var del []string
		for cell, n := range cells {
			if n <= 0 {
				del = append(del, cell.String())
				continue
			}
			set[cell.String()] = strconv.AppendInt(nil, int64(n), 10)
		}
		if err := p.hub.PublishState(ctx, key.Topic(), set, del, origin); err != nil && ctx.Err() == nil {
			p.log.Warn("publish heat", "topic", key.Topic(), "err", err)
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

// hotNow is the hot-topics list of window w as its topic holds it.
func (p *publisher) hotNow(w time.Duration) map[string]json.RawMessage {
	cur := map[string]json.RawMessage{}
	for _, t := range p.engine.HotTopics(w, p.cfg.HotTopics) {
		b, _ := json.Marshal(hotValue{Count: t.Count, Prev: t.Prev, Trend: round3(t.Trend), En: ticket.CategoryNameEn(t.Category)})
		cur[t.Category] = b
	}
	return cur
}

// publishHot sends the hot-topics lists that changed since last time.
func (p *publisher) publishHot(ctx context.Context) {
	for _, w := range p.cfg.Windows {
		name := web.TopicHotPrefix + geo.WindowName(w)
		cur := p.hotNow(w)
		set, del := stateDiff(p.hot[name], cur)
		if len(set) == 0 && len(del) == 0 {
			continue
		}
		if err := p.hub.PublishState(ctx, name, set, del, time.Time{}); err != nil {
			continue // retried on the next tick: prev is not advanced
		}
		p.hot[name] = cur
	}
}

// resyncHot publishes what differs between the hot-topics lists and what
// the hub's topics hold (a new producer's catch-up).
func (p *publisher) resyncHot(ctx context.Context) {
	for _, w := range p.cfg.Windows {
		name := web.TopicHotPrefix + geo.WindowName(w)
		set, del := stateDiff(p.hub.State(name), p.hotNow(w))
		_ = p.hub.PublishState(ctx, name, set, del, time.Time{})
	}
}

func (p *publisher) publishStats(ctx context.Context) {
	day, n, urgent := p.today()
	v, _ := json.Marshal(map[string]any{"date": day, "tickets": n, "urgent": urgent})
	_ = p.hub.PublishState(ctx, web.TopicStats, map[string]json.RawMessage{"today": v}, nil, time.Time{})
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
