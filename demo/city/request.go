package city

import (
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Hour-of-day leanings: noise complaints come at night, and people find
// their car blocked in when leaving for work or coming home.
func subLeaning(sub string, hour int) float64 {
	switch {
	case sub == ticket.SubNoise && (hour >= 21 || hour < 1):
		return 3
	case sub == ticket.SubParking && (hour >= 7 && hour < 9 || hour >= 18 && hour < 22):
		return 1.5
	}
	return 1
}

// channelMix is the intake mix, in percent: phone is the majority.
func channelMix() ([]ticket.Channel, []float64) {
	return []ticket.Channel{
			ticket.ChannelPhone, ticket.ChannelWeChat, ticket.ChannelApp, ticket.ChannelWeb,
			ticket.ChannelSMS, ticket.ChannelMailbox, ticket.Channel110, ticket.ChannelGridPatrol,
		},
		[]float64{55, 20, 9, 5, 4, 3, 2, 2}
}

func (s *Sim) buildTables() {
	for ci, c := range s.cats {
		for si := range c.Subs {
			s.subRefs = append(s.subRefs, [2]int{ci, si})
		}
	}
	for h := range 24 {
		var acc float64
		for _, r := range s.subRefs {
			c := s.cats[r[0]]
			var subSum float64
			for _, sb := range c.Subs {
				subSum += sb.Weight
			}
			sb := c.Subs[r[1]]
			acc += c.Weight * sb.Weight / subSum * subLeaning(sb.Name, h)
			s.subCum[h] = append(s.subCum[h], acc)
		}
	}
	channels, weights := channelMix()
	s.channels = channels
	for day := range 2 {
		for admin := range 2 {
			var acc float64
			for i, c := range channels {
				w := weights[i]
				if c == ticket.ChannelGridPatrol {
					// Grid workers patrol by day, and what they see is
					// mostly city management.
					w *= float64(day) * float64(1+2*admin)
				}
				acc += w
				s.chanCum[day][admin] = append(s.chanCum[day][admin], acc)
			}
		}
	}
}

func (s *Sim) channel(t time.Time, cat string) ticket.Channel {
	day, admin := 0, 0
	if h := t.In(cst).Hour(); h >= 8 && h < 18 {
		day = 1
	}
	if cat == ticket.CatCityAdmin {
		admin = 1
	}
	return s.channels[pick(s.rng, s.chanCum[day][admin])]
}

// department is who a request about sub in the given grid is dispatched to.
func (s *Sim) department(sub string, ref gridRef) string {
	for _, c := range s.cats {
		for _, sb := range c.Subs {
			if sb.Name == sub && sb.Department != "" {
				return sb.Department
			}
		}
	}
	return s.city.districts[ref.d].Name + "政府"
}

// request draws an ordinary request created at t.
func (s *Sim) request(t time.Time) (ticket.Ticket, string) {
	r := s.subRefs[pick(s.rng, s.subCum[t.In(cst).Hour()])]
	c := s.cats[r[0]]
	sb := c.Subs[r[1]]
	lat, lng, ref := s.city.place(s.rng)
	d, g := s.city.grid(ref)
	return ticket.Ticket{
		Channel:     s.channel(t, c.Name),
		Category:    c.Name,
		Subcategory: sb.Name,
		Summary:     g.Street + "：" + sb.Summaries[s.rng.IntN(len(sb.Summaries))],
		Lat:         lat,
		Lng:         lng,
		CRS:         ticket.WGS84,
		District:    d.Name,
		Grid:        g.ID,
		Created:     t,
		Urgent:      s.rng.Float64() < sb.Urgent,
	}, s.department(sb.Name, ref)
}
