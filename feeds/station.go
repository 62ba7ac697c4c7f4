package feeds

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// station is one station's readings and derived state.
type station struct {
	st   Station
	hist []Point // by time; the last is the current value

	source          string
	inflow, outflow *float64

	level    int       // flood: 0 normal, 1 warning, 2 danger; road: congestion 1..4 (0 before data)
	alertSev string    // severity of the threshold alert now fired, "" if none
	jamSince time.Time // road: start of the current spell at level 4
	jamAlert bool
	stale    bool
}

func (s *station) find(t int64) (int, bool) {
	i := sort.Search(len(s.hist), func(i int) bool { return s.hist[i].T >= t })
	return i, i < len(s.hist) && s.hist[i].T == t
}

func (s *station) insert(i int, p Point) { s.hist = slices.Insert(s.hist, i, p) }

// prune drops readings older than before, and the oldest past max.
func (s *station) prune(before int64, max int) {
	i := sort.Search(len(s.hist), func(i int) bool { return s.hist[i].T >= before })
	if n := len(s.hist) - max; n > i {
		i = n
	}
	if i > 0 {
		s.hist = slices.Delete(s.hist, 0, i)
	}
}

func (s *station) current() (Point, bool) {
	if len(s.hist) == 0 {
		return Point{}, false
	}
	return s.hist[len(s.hist)-1], true
}

// floodLevel is the level of a value against two thresholds with
// hysteresis: rising crosses at the threshold, falling must go h below it.
func floodLevel(prev int, v, warn, limit, h float64) int {
	n := 0
	if v >= warn {
		n = 1
	}
	if v >= limit {
		n = 2
	}
	if n >= prev {
		return n
	}
	if prev == 2 && v >= limit-h {
		return 2
	}
	if prev >= 1 && v >= warn-h {
		return max(n, 1)
	}
	return n
}

// Congestion is a road's level from its speed against free flow: 1 smooth
// (≥ 70 %), 2 slow (≥ 50 %), 3 congested (≥ 30 %), 4 jammed.
func Congestion(speed, freeFlow float64) int {
	if !(freeFlow > 0) {
		return 0
	}
	r := speed / freeFlow
	switch {
	case r >= 0.7:
		return 1
	case r >= 0.5:
		return 2
	case r >= 0.3:
		return 3
	}
	return 4
}

// evaluateLocked derives the state from the current value and queues the
// alerts that change.
func (f *Feed) evaluateLocked(s *station, now time.Time) {
	p, ok := s.current()
	if !ok {
		return
	}
	at := time.UnixMilli(p.T)
	st := s.st
	fp := "feeds/" + st.ID + "/threshold"
	switch st.Kind {
	case Reservoir, Waterlogging, Rain:
		s.level = floodLevel(s.level, p.V, st.Warn, st.Limit, st.Hysteresis)
		if st.Kind == Rain {
			return // rain is shown, and its effects alert
		}
		sev := [...]string{"", SeverityWarning, SeverityCritical}[s.level]
		if sev == s.alertSev {
			return
		}
		s.alertSev = sev
		if sev == "" {
			f.pending = append(f.pending, alertAction{clear: fp})
			return
		}
		a := f.baseAlert(st, fp, sev)
		unit := st.Kind.Unit()
		if st.Kind == Reservoir {
			if s.level == 2 {
				a.Kind, a.Title, a.TitleEn = "reservoir-flood-limit", st.Name+"超汛限水位", st.NameEn+" above flood-limit level"
			} else {
				a.Kind, a.Title, a.TitleEn = "reservoir-warning", st.Name+"超警戒水位", st.NameEn+" above warning level"
			}
			a.Detail = fmt.Sprintf("水位 %.2f m（警戒 %.2f m，汛限 %.2f m） / level %.2f m (warning %.2f m, flood limit %.2f m) at %s",
				p.V, st.Warn, st.Limit, p.V, st.Warn, st.Limit, at.Format(time.RFC3339))
		} else {
			a.Kind = "waterlogging"
			if s.level == 2 {
				a.Title, a.TitleEn = st.Name+"严重积水", "Severe waterlogging at "+st.NameEn
			} else {
				a.Title, a.TitleEn = st.Name+"积水超警戒", "Waterlogging above threshold at "+st.NameEn
			}
			a.Detail = fmt.Sprintf("积水 %.0f %s（警戒 %.0f，危险 %.0f） / depth %.0f %s (warning %.0f, danger %.0f) at %s",
				p.V, unit, st.Warn, st.Limit, p.V, unit, st.Warn, st.Limit, at.Format(time.RFC3339))
		}
		f.pending = append(f.pending, alertAction{fire: &a})
	case Road:
		s.level = Congestion(p.V, st.FreeFlow)
		f.jamLocked(s, at)
	}
}

// jamLocked keeps a key road's level-4 spell and fires once it has lasted
// JamAfter; the alert clears when the road is back to level 2 or better
// (level 3 keeps it: hysteresis).
func (f *Feed) jamLocked(s *station, at time.Time) {
	st := s.st
	if !st.Key {
		return
	}
	fp := "feeds/" + st.ID + "/jam"
	switch {
	case s.level == 4:
		if s.jamSince.IsZero() {
			s.jamSince = at
		}
		if !s.jamAlert && at.Sub(s.jamSince) >= f.o.JamAfter {
			s.jamAlert = true
			a := f.baseAlert(st, fp, SeverityWarning)
			a.Kind, a.Category = "jam", "traffic"
			a.Title, a.TitleEn = st.Name+"严重拥堵", "Severe congestion on "+st.NameEn
			p, _ := s.current()
			a.Detail = fmt.Sprintf("车速 %.0f km/h（畅通 %.0f），持续 %s / speed %.0f km/h (free flow %.0f) for %s",
				p.V, st.FreeFlow, roundMin(at.Sub(s.jamSince)), p.V, st.FreeFlow, roundMin(at.Sub(s.jamSince)))
			f.pending = append(f.pending, alertAction{fire: &a})
		}
	case s.level <= 2:
		s.jamSince = time.Time{}
		if s.jamAlert {
			s.jamAlert = false
			f.pending = append(f.pending, alertAction{clear: fp})
		}
	default: // level 3: a spell at 4 ends, an alert stays
		s.jamSince = time.Time{}
	}
}

func roundMin(d time.Duration) time.Duration { return d.Round(time.Minute) }

func (f *Feed) baseAlert(st Station, fp, sev string) Alert {
	cat := "flood"
	if st.Kind == Road {
		cat = "traffic"
	}
	return Alert{Fingerprint: fp, Severity: sev, Lat: st.Lat, Lng: st.Lng, District: st.District,
		Category: cat, Cameras: append([]string(nil), st.Cameras...)}
}

// staleAfter is how long a station may go without a new reading.
func (f *Feed) staleAfter(st Station) time.Duration {
	return time.Duration(float64(st.Interval) * f.o.StaleFactor)
}

// checkStaleLocked marks stations whose newest reading is too old (or that
// never reported since start) and queues their alerts.
func (f *Feed) checkStaleLocked(now time.Time) {
	for _, id := range f.order {
		s := f.stations[id]
		last := f.start
		if p, ok := s.current(); ok {
			last = time.UnixMilli(p.T)
		}
		stale := now.Sub(last) > f.staleAfter(s.st)
		if stale == s.stale {
			continue
		}
		s.stale = stale
		f.markLocked(s.st.Kind.Topic(), id)
		fp := "feeds/" + id + "/stale"
		if !stale {
			f.pending = append(f.pending, alertAction{clear: fp})
			continue
		}
		a := f.baseAlert(s.st, fp, SeverityWarning)
		a.Kind = "stale"
		a.Title, a.TitleEn = s.st.Name+"数据中断", "No data from "+s.st.NameEn
		a.Detail = fmt.Sprintf("超过 %s 未收到读数（应每 %s 一次） / no reading for over %s (expected every %s)",
			f.staleAfter(s.st), s.st.Interval, f.staleAfter(s.st), s.st.Interval)
		f.pending = append(f.pending, alertAction{fire: &a})
	}
}

// stationValue is what the wall sees of a station.
type stationValue struct {
	ID       string       `json:"id"`
	Kind     Kind         `json:"kind"`
	Name     string       `json:"name"`
	NameEn   string       `json:"name_en,omitempty"`
	Lat      float64      `json:"lat"`
	Lng      float64      `json:"lng"`
	District string       `json:"district,omitempty"`
	Unit     string       `json:"unit"`
	Value    *float64     `json:"value"` // null before the first reading
	Time     *time.Time   `json:"time,omitempty"`
	State    string       `json:"state"` // nodata, normal, warning, danger; road: smooth, slow, congested, jammed
	Level    int          `json:"level"`
	Stale    bool         `json:"stale"`
	Interval float64      `json:"interval_s"`
	Warn     float64      `json:"warn,omitempty"`
	Limit    float64      `json:"limit,omitempty"`
	Inflow   *float64     `json:"inflow,omitempty"`
	Outflow  *float64     `json:"outflow,omitempty"`
	FreeFlow float64      `json:"free_flow,omitempty"`
	Key      bool         `json:"key,omitempty"`
	Jam      bool         `json:"jam,omitempty"` // road: the jam alert is on
	Polyline [][2]float64 `json:"polyline,omitempty"`
	Source   string       `json:"source,omitempty"`
}

var roadStates = [...]string{"nodata", "smooth", "slow", "congested", "jammed"}
var floodStates = [...]string{"normal", "warning", "danger"}

func (s *station) value() stationValue {
	st := s.st
	v := stationValue{ID: st.ID, Kind: st.Kind, Name: st.Name, NameEn: st.NameEn, Lat: round6(st.Lat), Lng: round6(st.Lng),
		District: st.District, Unit: st.Kind.Unit(), Level: s.level, Stale: s.stale, Interval: st.Interval.Seconds(),
		Source: s.source}
	p, ok := s.current()
	if ok {
		val := round3(p.V)
		t := time.UnixMilli(p.T).UTC()
		v.Value, v.Time = &val, &t
	}
	if st.Kind == Road {
		v.FreeFlow, v.Key, v.Jam, v.Polyline = st.FreeFlow, st.Key, s.jamAlert, st.Polyline
		v.State = roadStates[min(max(s.level, 0), 4)]
	} else {
		v.Warn, v.Limit = st.Warn, st.Limit
		v.Inflow, v.Outflow = s.inflow, s.outflow
		v.State = floodStates[min(max(s.level, 0), 2)]
		if !ok {
			v.State = "nodata"
		}
	}
	return v
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }
