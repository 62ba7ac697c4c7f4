package feedsim

import (
	"container/heap"
	"fmt"
	"math"
	"time"

	"github.com/citywall/citywall/demo/city"
	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/geo/ticket"
)

// incident is a traffic incident the simulator reports at from and clears
// at to.
type incident struct {
	id, typ, road, summary string
	lat, lng               float64
	from, to               time.Time
	announced, cleared     bool
}

// incidentGap is the time to the next random incident: about six a day.
func (s *Sim) incidentGap() time.Duration {
	return time.Duration(s.rng.ExpFloat64() * float64(4*time.Hour) / s.o.Speed)
}

var incidentSummaries = map[string][]string{
	"accident":  {"两车追尾，占用一条车道", "车辆剐蹭，事故处理中", "电动车与小车碰撞"},
	"roadworks": {"道路维修施工，半幅通行", "管线施工，车道收窄"},
	"closure":   {"临时交通管制", "大型活动交通管制"},
}

// incidentsUntil raises random incidents due by t and reports every
// incident's start and end as their times come.
func (s *Sim) incidentsUntil(t time.Time) []feeds.Item {
	for !s.nextInc.After(t) {
		roads := s.roads()
		st := roads[s.rng.IntN(len(roads))]
		typ := "accident"
		if u := s.rng.Float64(); u > 0.9 {
			typ = "closure"
		} else if u > 0.7 {
			typ = "roadworks"
		}
		v := st.Polyline[s.rng.IntN(len(st.Polyline))]
		dur := time.Duration(20+s.rng.Float64()*70) * time.Minute
		sums := incidentSummaries[typ]
		s.addIncident(incident{typ: typ, road: st.ID, lat: v[0], lng: v[1], from: s.nextInc, to: s.nextInc.Add(dur),
			summary: st.Name + sums[s.rng.IntN(len(sums))]})
		s.nextInc = s.nextInc.Add(max(s.incidentGap(), time.Minute))
	}
	var out []feeds.Item
	keep := s.incidents[:0]
	for _, in := range s.incidents {
		if !in.announced && !in.from.After(t) {
			in.announced = true
			out = append(out, feeds.Item{Incident: &feeds.Incident{ID: in.id, Type: in.typ, Time: in.from.Truncate(time.Second),
				Lat: in.lat, Lng: in.lng, Road: in.road, Summary: in.summary}})
		}
		if in.announced && !in.cleared && !in.to.After(t) {
			in.cleared = true
			out = append(out, feeds.Item{Incident: &feeds.Incident{ID: in.id, Type: in.typ, Time: in.to.Truncate(time.Second),
				Lat: in.lat, Lng: in.lng, Road: in.road, Summary: in.summary, Cleared: true}})
		}
		if !in.cleared || t.Sub(in.to) < time.Hour {
			keep = append(keep, in)
		}
	}
	s.incidents = keep
	return out
}

func (s *Sim) addIncident(in incident) {
	s.incSeq++
	in.id = fmt.Sprintf("inc-%s-%04d", s.tag, s.incSeq)
	s.incidents = append(s.incidents, in)
	s.stats.Incidents++
}

func (s *Sim) roads() []feeds.Station {
	var out []feeds.Station
	for _, st := range s.stations {
		if st.Kind == feeds.Road {
			out = append(out, st)
		}
	}
	return out
}

func (s *Sim) station(id string) feeds.Station {
	for _, st := range s.stations {
		if st.ID == id {
			return st
		}
	}
	return feeds.Station{}
}

// planStorm lays out what a storm starting at start brings besides rain:
// the flooded underpass closed, an accident in the downpour, and 25–40
// calls about flooding and burst pipes.
func (s *Sim) planStorm(start time.Time) {
	at := func(p float64) time.Time { return start.Add(time.Duration(p * float64(StormLength))) }
	nh := s.station("wl-nanhai-underpass")
	s.addIncident(incident{typ: "closure", road: "road-nanhai", lat: nh.Lat, lng: nh.Lng, from: at(0.45), to: at(1.35),
		summary: "南海大道下穿隧道积水，双向封闭"})
	lk := s.station("road-longkun-s").Polyline[1]
	s.addIncident(incident{typ: "accident", road: "road-longkun-s", lat: lk[0], lng: lk[1], from: at(0.4), to: at(0.9),
		summary: "龙昆南路雨天两车追尾，占用两条车道"})

	var points []feeds.Station
	for _, st := range s.stations {
		if st.Kind == feeds.Waterlogging {
			points = append(points, st)
		}
	}
	n := 25 + s.rng.IntN(16)
	for range n {
		p := 0.2 + 0.9*s.rng.Float64()
		wl := points[s.rng.IntN(len(points))]
		lat, lng := s.nearOnLand(wl)
		sub, sum := "积水内涝", fmt.Sprintf("%s附近积水严重，车辆无法通行", wl.Name)
		if s.rng.Float64() < 0.4 {
			sub, sum = "爆管", fmt.Sprintf("%s附近暴雨后供水管爆裂，路面冒水", wl.Name)
		}
		ch := []ticket.Channel{ticket.ChannelPhone, ticket.ChannelPhone, ticket.ChannelWeChat, ticket.ChannelApp}[s.rng.IntN(4)]
		s.drafts = append(s.drafts, ticket.Ticket{Channel: ch, Category: "供水排水", Subcategory: sub, Summary: sum,
			Lat: lat, Lng: lng, District: wl.District, Created: at(p).Truncate(time.Second), Urgent: s.rng.Float64() < 0.5})
	}
}

// stormTicketsUntil emits the storm's tickets created by t and plans
// their closed loop: dispatched to the water authority within minutes,
// responded within 30 minutes, resolved within hours, visited back; one
// in ten is passed on to another department first.
func (s *Sim) stormTicketsUntil(t time.Time) []ticket.Ticket {
	var out []ticket.Ticket
	keep := s.drafts[:0]
	for _, d := range s.drafts {
		if d.Created.After(t) {
			keep = append(keep, d)
			continue
		}
		s.tickSeq++
		d.ID = fmt.Sprintf("HK%s-RS%s-%03d", d.Created.In(cst).Format("20060102"), s.tag, s.tickSeq)
		out = append(out, d)
		s.stats.StormTickets++
		at := d.Created.Add(time.Duration(60+s.rng.Float64()*180) * time.Second)
		s.push(ticket.Event{Ticket: d.ID, Type: ticket.EventDispatched, Time: at, Department: "市水务局"})
		if s.rng.Float64() < 0.1 {
			at = at.Add(time.Duration(5+s.rng.Float64()*10) * time.Minute)
			s.push(ticket.Event{Ticket: d.ID, Type: ticket.EventDispatched, Time: at, Department: "海口威立雅水务"})
		}
		at = at.Add(time.Duration(3+s.rng.Float64()*14) * time.Minute)
		s.push(ticket.Event{Ticket: d.ID, Type: ticket.EventResponded, Time: at})
		at = at.Add(time.Duration(40+s.rng.Float64()*140) * time.Minute)
		s.push(ticket.Event{Ticket: d.ID, Type: ticket.EventResolved, Time: at})
		at = at.Add(time.Duration(60+s.rng.Float64()*240) * time.Minute)
		sat := ticket.Satisfied
		if u := s.rng.Float64(); u > 0.95 {
			sat = ticket.Unsatisfied
		} else if u > 0.88 {
			sat = ticket.BasicSatisfied
		}
		s.push(ticket.Event{Ticket: d.ID, Type: ticket.EventVisited, Time: at, Satisfaction: sat})
	}
	s.drafts = keep
	return out
}

func (s *Sim) push(e ticket.Event) {
	s.evSeq++
	heap.Push(&s.pending, evItem{e: e, seq: s.evSeq})
}

// jitter moves a point by normal offsets scaled to sigma metres.
// nearOnLand is a point about 300 m from st, on land and in st's
// district; st's own position when a few draws find none (a station of a
// configured city beyond the demo's map).
func (s *Sim) nearOnLand(st feeds.Station) (float64, float64) {
	for range 8 {
		lat, lng := jitter(s.rng.NormFloat64(), s.rng.NormFloat64(), st.Lat, st.Lng, 300)
		if d, ok := city.DistrictOf(lat, lng); ok && d == st.District && city.OnLand(lat, lng) {
			return lat, lng
		}
	}
	return st.Lat, st.Lng
}

func jitter(n1, n2, lat, lng, sigma float64) (float64, float64) {
	dLat := n1 * sigma / 111_320
	dLng := n2 * sigma / (111_320 * math.Cos(lat*math.Pi/180))
	return lat + dLat, lng + dLng
}

type evItem struct {
	e   ticket.Event
	seq uint64
}

// evHeap orders pending ticket events by time.
type evHeap []evItem

func (h evHeap) Len() int { return len(h) }
func (h evHeap) Less(i, j int) bool {
	if h[i].e.Time.Equal(h[j].e.Time) {
		return h[i].seq < h[j].seq
	}
	return h[i].e.Time.Before(h[j].e.Time)
}
func (h evHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *evHeap) Push(x any)   { *h = append(*h, x.(evItem)) }
func (h *evHeap) Pop() any {
	old := *h
	n := len(old) - 1
	x := old[n]
	*h = old[:n]
	return x
}
