package feedsim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/citywall/citywall/feeds/kpi"
)

// hourly is the call centre's relative load by CST hour (the hotline's
// daily rhythm: quiet at night, peaks mid-morning and mid-afternoon).
var hourly = [24]float64{
	0.30, 0.18, 0.12, 0.10, 0.10, 0.15, 0.30, 0.70,
	1.35, 1.85, 2.00, 1.80, 1.15, 1.15, 1.60, 1.80,
	1.75, 1.40, 1.05, 0.95, 0.90, 0.75, 0.55, 0.40,
}

var hourlyMean, hourlyMax = func() (float64, float64) {
	var s, m float64
	for _, v := range hourly {
		s += v
		m = math.Max(m, v)
	}
	return s / 24, m
}()

// callRate is calls per nanosecond at t; a storm doubles it.
func (s *Sim) callRate(t time.Time) float64 {
	c := t.In(cst)
	f := hourly[c.Hour()] / hourlyMean
	if s.stormShape(t) > 0 {
		f *= 2
	}
	return s.o.CallsPerDay * s.o.Speed * f / float64(24*time.Hour)
}

// volumeHistory emits request arrivals from CallDays ago up to where the
// ticket demo's back-fill of whole tickets begins, at the hotline's rhythm
// and the calls' daily volume.
func (s *Sim) volumeHistory(start time.Time, vs VolumeSink) {
	from := start.Add(-time.Duration(s.o.CallDays) * 24 * time.Hour)
	to := start.Add(-s.o.TicketBackfill)
	rng := rand.New(rand.NewPCG(uint64(s.o.Seed), 0x7e57))
	maxRate := s.o.CallsPerDay * s.o.Speed * hourlyMax / hourlyMean / float64(24*time.Hour)
	for a := from; ; {
		a = a.Add(time.Duration(rng.ExpFloat64() / maxRate))
		if !a.Before(to) {
			return
		}
		c := a.In(cst)
		if rng.Float64()*maxRate >= s.o.CallsPerDay*s.o.Speed*hourly[c.Hour()]/hourlyMean/float64(24*time.Hour) {
			continue
		}
		vs.Volume(a.Truncate(time.Second))
	}
}

// heldCall is a call whose outcome is still in the future.
type heldCall struct {
	at   time.Time
	wait float64
	ans  bool
	ok   bool
}

// callsUntil draws the calls whose outcome is known by t: offered, then
// answered (≈98.5 %, a wait of ≈15 s) or abandoned (after ≈45 s).
func (s *Sim) callsUntil(t time.Time) []kpi.Call {
	var out []kpi.Call
	maxRate := s.o.CallsPerDay * s.o.Speed * hourlyMax / hourlyMean * 2 / float64(24*time.Hour)
	for {
		if !s.held.ok {
			a := s.nextCall
			for {
				a = a.Add(time.Duration(s.rng.ExpFloat64() / maxRate))
				if s.rng.Float64()*maxRate < s.callRate(a) {
					break
				}
			}
			s.nextCall = a
			s.held = heldCall{at: a, ok: true, ans: s.rng.Float64() < s.o.AnswerRate}
			if s.held.ans {
				s.held.wait = math.Min(3+s.rng.ExpFloat64()*12, 300)
			} else {
				s.held.wait = math.Min(8+s.rng.ExpFloat64()*40, 600)
			}
		}
		h := s.held
		end := h.at.Add(time.Duration(h.wait * float64(time.Second)))
		if end.After(t) {
			return out
		}
		s.callSeq++
		id := fmt.Sprintf("C%s-%07d", s.tag, s.callSeq)
		typ := kpi.Abandoned
		if h.ans {
			typ = kpi.Answered
		}
		out = append(out,
			kpi.Call{ID: id, Type: kpi.Offered, Time: h.at.Truncate(time.Millisecond)},
			kpi.Call{ID: id, Type: typ, Time: end.Truncate(time.Millisecond), Wait: round(h.wait, 1)})
		s.held.ok = false
	}
}
