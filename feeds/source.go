package feeds

import (
	"fmt"
	"time"
)

// Source states.
const (
	SourceConnecting = "connecting"
	SourceOK         = "ok"
	SourceError      = "error"
)

// source is the health of one configured source (a poller or an MQTT
// subscription).
type source struct {
	name, typ string
	interval  time.Duration // expected time between data; 0: no staleness check
	state     string
	reason    string
	lastOK    time.Time // last successful poll or connection
	lastData  time.Time // last items taken
	stale     bool
}

// sourceValue is what the wall sees of a source.
type sourceValue struct {
	Name   string     `json:"name"`
	Type   string     `json:"type"`
	State  string     `json:"state"`
	Reason string     `json:"reason,omitempty"`
	LastOK *time.Time `json:"last_ok,omitempty"`
	Stale  bool       `json:"stale"`
}

func (s *source) value() sourceValue {
	v := sourceValue{Name: s.name, Type: s.typ, State: s.state, Reason: s.reason, Stale: s.stale}
	if !s.lastOK.IsZero() {
		t := s.lastOK.UTC()
		v.LastOK = &t
	}
	return v
}

// AddSource registers a source so its health is shown and watched: with
// an interval, a source that has brought no data for StaleFactor intervals
// raises an alert.
func (f *Feed) AddSource(name, typ string, interval time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sources[name] = &source{name: name, typ: typ, interval: interval, state: SourceConnecting, lastData: f.o.Now()}
	f.markSourceLocked(name)
}

// SourceState records a source's health: ok after a successful poll or
// connection, error with the reason after a failure. The reason is shown
// on the wall, so it must carry no credential.
func (f *Feed) SourceState(name, state, reason string) {
	f.mu.Lock()
	s, ok := f.sources[name]
	if !ok {
		f.mu.Unlock()
		return
	}
	changed := s.state != state || s.reason != reason
	s.state, s.reason = state, reason
	if state == SourceOK {
		s.lastOK = f.o.Now()
	}
	if changed {
		f.markSourceLocked(name)
	}
	f.mu.Unlock()
	if changed {
		f.wake()
	}
}

func (f *Feed) markSourceLocked(name string) {
	f.markLocked(TopicFlood, sourceKey(name))
	f.markLocked(TopicTraffic, sourceKey(name))
}

func (f *Feed) checkSourcesLocked(now time.Time) {
	for name, s := range f.sources {
		if s.interval <= 0 {
			continue
		}
		after := time.Duration(float64(s.interval) * f.o.StaleFactor)
		stale := now.Sub(s.lastData) > after
		if stale == s.stale {
			continue
		}
		s.stale = stale
		f.markSourceLocked(name)
		fp := "feeds/source/" + name + "/stale"
		if !stale {
			f.pending = append(f.pending, alertAction{clear: fp})
			continue
		}
		reason := s.reason
		if reason == "" {
			reason = "no data"
		}
		f.pending = append(f.pending, alertAction{fire: &Alert{
			Kind: "source-down", Fingerprint: fp, Severity: SeverityWarning, Category: "feeds",
			Title: "数据源 " + name + " 中断", TitleEn: "Data source " + name + " is down",
			Detail: fmt.Sprintf("超过 %s 无数据（%s） / no data for over %s (%s)", after, reason, after, reason),
		}})
	}
}
