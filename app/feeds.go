package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/feeds/source"
	"github.com/citywall/citywall/web"
)

// feedsPart is the App's flood, traffic and KPI feeds: the feed, the KPI
// tracker, the configured sources and, in the demo city, the simulator.
type feedsPart struct {
	o       feedsOptions
	feed    *feeds.Feed
	kpi     *kpi.Tracker
	alerter alerterSlot
}

// feedsOptions are what the feeds are built from.
type feedsOptions struct {
	Config       config.Feeds
	MaxBodyBytes int64           // server.max_body_bytes, the most a poll reads
	Stations     []feeds.Station // the demo's; nil: the configured ones
	Location     *time.Location
	Now          func() time.Time
	Hub          feeds.Publisher // feeds/… and kpi topics
	Log          *slog.Logger
}

// alerterSlot forwards feed alerts to whatever SetFeedAlerter installed;
// until then they are only logged by the feed.
type alerterSlot struct{ p atomic.Pointer[feeds.Alerter] }

func (s *alerterSlot) Fire(ctx context.Context, al feeds.Alert) error {
	if p := s.p.Load(); p != nil {
		return (*p).Fire(ctx, al)
	}
	return nil
}

func (s *alerterSlot) Clear(ctx context.Context, fp string) error {
	if p := s.p.Load(); p != nil {
		return (*p).Clear(ctx, fp)
	}
	return nil
}

func newFeeds(o feedsOptions) (*feedsPart, error) {
	fc := o.Config
	fa := &feedsPart{o: o}
	stations := o.Stations
	if stations == nil {
		stations = stationsFromConfig(fc.Stations)
	}
	var err error
	fa.feed, err = feeds.New(feeds.Options{
		Stations:    stations,
		History:     fc.History,
		StaleFactor: fc.StaleFactor,
		JamAfter:    fc.JamAfter,
		Now:         o.Now,
		Publisher:   o.Hub,
		Alerter:     &fa.alerter,
		Log:         o.Log.With("component", "feeds"),
	})
	if err != nil {
		return nil, err
	}
	fa.kpi = kpi.New(kpi.Options{Location: o.Location, ResponseLimit: fc.ResponseLimit, HandlingLimit: fc.HandlingLimit, Now: o.Now})
	for _, s := range fc.Sources {
		fa.feed.AddSource(s.Name, s.Type, s.Interval)
	}
	return fa, nil
}

func stationsFromConfig(cs []config.FeedStation) []feeds.Station {
	out := make([]feeds.Station, 0, len(cs))
	for _, c := range cs {
		out = append(out, feeds.Station{ID: c.ID, Kind: feeds.Kind(c.Kind), Name: c.Name, NameEn: c.NameEn,
			Lat: c.Lat, Lng: c.Lng, District: c.District, Interval: c.Interval, Warn: c.Warn, Limit: c.Limit,
			Hysteresis: c.Hysteresis, Polyline: c.Polyline, FreeFlow: c.FreeFlow, Key: c.Key, Cameras: c.Cameras})
	}
	return out
}

// start runs the feed, the KPI publisher and the sources under wg until
// ctx ends.
func (fa *feedsPart) start(ctx context.Context, wg *sync.WaitGroup) {
	wg.Go(func() { _ = fa.feed.Run(ctx) })
	wg.Go(func() { fa.publishKPI(ctx) })
	for _, s := range fa.o.Config.Sources {
		log := fa.o.Log.With("component", "feeds", "source", s.Name)
		switch s.Type {
		case "poll":
			p := &source.Poller{Name: s.Name, URL: s.URL, Token: s.Token, Interval: s.Interval, Timeout: s.Timeout,
				MaxBytes: fa.o.MaxBodyBytes, Sink: fa.feed, Log: log}
			wg.Go(func() { _ = p.Run(ctx) })
		case "mqtt":
			m := &source.MQTT{Name: s.Name, URL: s.URL, Topics: s.Topics, QoS: byte(s.QoS), ClientID: s.ClientID,
				Username: s.Username, Password: s.Password, SessionExpiry: s.SessionExpiry, Sink: fa.feed, Log: log}
			wg.Go(func() {
				if err := m.Run(ctx); err != nil {
					log.Error("mqtt source stopped", "err", err)
				}
			})
		}
	}
}

// publishKPI publishes today's figures when they changed, at most once a
// second, and at least every 30 s (overdue responses and the date move
// with the clock alone).
func (fa *feedsPart) publishKPI(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last uint64
	var lastAt time.Time
	expire := time.Now()
	for {
		if v := fa.kpi.Version(); v != last || time.Since(lastAt) >= 30*time.Second {
			b, err := json.Marshal(fa.kpi.Today())
			if err == nil && fa.o.Hub.PublishState(ctx, web.TopicKPI, map[string]json.RawMessage{"today": b}, nil, time.Time{}) == nil {
				last, lastAt = v, time.Now()
			}
		}
		if time.Since(expire) > 10*time.Minute {
			fa.kpi.Expire()
			expire = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
