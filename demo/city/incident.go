package city

import (
	"container/heap"
	"fmt"
	"math"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Bursts: a few times a day something happens in one spot and 8–15 people
// call about it within 20–40 minutes, all within a few hundred metres, so
// the tickets land in two or three adjacent ~1 km cells.
const (
	defaultIncidents = 3 // per day
	burstMin         = 8
	burstMax         = 15
	burstMeanSize    = (burstMin + burstMax) / 2.0
	burstMinSpan     = 20 // minutes
	burstMaxSpan     = 40 // minutes
	burstRadiusM     = 400
)

// incidentKind is a kind of event that makes many people call at once.
type incidentKind struct {
	cat, sub  string
	weight    float64
	from, to  int // CST hours it can start in, [from, to), wrapping at midnight
	urgent    float64
	places    []string
	summaries []string // each takes the street and the place
}

func incidentKinds() []incidentKind {
	estates := []string{"椰海花园", "金盘新村", "滨江花园", "海景湾小区", "南洋公寓", "椰林雅苑", "锦绣家园", "白沙新村"}
	return []incidentKind{
		{
			cat: "供水排水", sub: ticket.SubBurstPipe, weight: 0.35, from: 0, to: 24, urgent: 0.6,
			places: estates,
			summaries: []string{
				"%s%s门口供水管爆裂，水漫到路面",
				"%s%s突然停水，楼下水管爆了一直在冒水",
				"%s%s附近路面水管爆裂，车辆通行困难",
			},
		},
		{
			cat: "环境保护", sub: ticket.SubNoise, weight: 0.2, from: 22, to: 2, urgent: 0.02,
			places: estates,
			summaries: []string{
				"%s%s旁工地夜间施工，噪音很大无法入睡",
				"%s%s附近工地深夜还在打桩",
				"%s%s周边夜间施工扰民，请求制止",
			},
		},
		{
			cat: "劳动保障", sub: ticket.SubWageArrears, weight: 0.15, from: 9, to: 17, urgent: 0.3,
			places: []string{"椰城广场", "海岸购物中心", "南国商城", "金贸商业中心"},
			summaries: []string{
				"%s%s装修项目约60名工人被拖欠工资，现场聚集讨薪",
				"%s%s工程拖欠工人工资半年未结",
				"在%s%s干活的工人工资一直没发，老板联系不上",
			},
		},
		{
			cat: "供水排水", sub: ticket.SubWaterlog, weight: 0.3, from: 0, to: 24, urgent: 0.5,
			places: []string{"下穿通道", "农贸市场路段", "学校门口路段", "公交站路段"},
			summaries: []string{
				"暴雨后%s%s积水过膝，车辆熄火",
				"%s%s积水严重，行人无法通过",
				"%s%s一带内涝，商铺进水",
			},
		},
	}
}

func (k incidentKind) allowedAt(hour int) bool {
	if k.from <= k.to {
		return hour >= k.from && hour < k.to
	}
	return hour >= k.from || hour < k.to
}

// incident raises a burst starting at t: its tickets wait in the draft heap
// until their creation times come.
func (s *Sim) incident(t time.Time) {
	hour := t.In(cst).Hour()
	var cum []float64
	var acc float64
	for _, k := range s.kinds {
		if k.allowedAt(hour) {
			acc += k.weight
		}
		cum = append(cum, acc)
	}
	k := s.kinds[pick(s.rng, cum)]

	lat0, lng0, ref0 := s.city.place(s.rng)
	place := k.places[s.rng.IntN(len(k.places))]
	dept := s.department(k.sub, ref0)
	n := burstMin + s.rng.IntN(burstMax-burstMin+1)
	span := minutes(float64(burstMinSpan + s.rng.IntN(burstMaxSpan-burstMinSpan+1)))
	for range n {
		lat, lng, ref := lat0, lng0, ref0
		for range 8 {
			r := burstRadiusM * math.Sqrt(s.rng.Float64())
			a := 2 * math.Pi * s.rng.Float64()
			la, ln := offset(lat0, lng0, r*math.Cos(a), r*math.Sin(a))
			if rf, ok := s.city.locate(la, ln); ok {
				lat, lng, ref = la, ln, rf
				break
			}
		}
		d, g := s.city.grid(ref)
		created := t.Add(time.Duration(s.rng.Float64() * float64(span)))
		tk := ticket.Ticket{
			Channel:     s.channel(created, k.cat),
			Category:    k.cat,
			Subcategory: k.sub,
			Summary:     fmt.Sprintf(k.summaries[s.rng.IntN(len(k.summaries))], g.Street, place),
			Lat:         lat,
			Lng:         lng,
			CRS:         ticket.WGS84,
			District:    d.Name,
			Grid:        g.ID,
			Created:     created,
			Urgent:      s.rng.Float64() < k.urgent,
		}
		s.draftSeq++
		heap.Push(&s.drafts, draft{t: tk, seq: s.draftSeq, dept: dept})
	}
	s.incidents.Add(1)
}
