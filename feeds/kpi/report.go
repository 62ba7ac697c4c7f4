package kpi

import (
	"fmt"
	"math"
	"time"

	"github.com/citywall/citywall/geo/ticket"
)

// Rate is a share with what it was computed from; Value is null when
// there is nothing to divide.
type Rate struct {
	Value *float64 `json:"value"`
	Num   int      `json:"num"`
	Den   int      `json:"den"`
}

func rate(num, den int) Rate {
	r := Rate{Num: num, Den: den}
	if den > 0 {
		v := math.Round(float64(num)/float64(den)*10000) / 10000
		r.Value = &v
	}
	return r
}

// Report is one local day's figures as of a moment.
type Report struct {
	Date string    `json:"date"` // YYYY-MM-DD in the city's zone
	AsOf time.Time `json:"as_of"`
	Zone string    `json:"zone"`

	CallsOffered   int      `json:"calls_offered"`
	CallsAnswered  int      `json:"calls_answered"`
	CallsAbandoned int      `json:"calls_abandoned"`
	AnswerRate     Rate     `json:"answer_rate"`   // answered / (answered + abandoned)
	AvgWait        *float64 `json:"avg_wait_s"`    // of answered calls
	CallsLastWeek  int      `json:"calls_last_wk"` // offered on the same weekday a week before, to the same time of day

	Tickets         int      `json:"tickets"`           // requests created
	TicketsLastWeek int      `json:"tickets_last_wk"`   // the same weekday a week before, to the same time of day
	VolumeChange    *float64 `json:"volume_change"`     // tickets / tickets last week − 1
	Response        Rate     `json:"response_30m"`      // dispatched that day: responded within the limit / (within + late or still waiting past it)
	Completion      Rate     `json:"completion"`        // due that day (created + the handling limit): resolved by the deadline / due
	Satisfaction    Rate     `json:"satisfaction"`      // visited back that day: satisfied + basically satisfied / rated
	DirectResolve   Rate     `json:"direct_resolution"` // resolved that day: dispatched at most once / resolved
	Open            int      `json:"open"`              // created that day and not resolved yet

	// Volume and VolumeLastWeek are tickets per 15 minutes over the day
	// (96 bins); today's stop at AsOf.
	Volume         []int `json:"volume_15m"`
	VolumeLastWeek []int `json:"volume_15m_last_wk"`
	NowBin         int   `json:"now_bin"` // the bin AsOf falls in (95 for a past day)
	// Calls15 and Calls15LastWeek are calls offered per 15 minutes, likewise.
	Calls15         []int `json:"calls_15m"`
	Calls15LastWeek []int `json:"calls_15m_last_wk"`
	// Hourly is calls and tickets per hour of the day.
	Hourly [24]Hour `json:"hourly"`
}

// Hour is one hour's volume.
type Hour struct {
	Tickets int `json:"tickets"`
	Offered int `json:"offered"`
}

// ParseDate reads a local date (YYYY-MM-DD) in the tracker's zone.
func (t *Tracker) ParseDate(s string) (time.Time, error) {
	d, err := time.ParseInLocation(time.DateOnly, s, t.o.Location)
	if err != nil {
		return time.Time{}, fmt.Errorf("date: %q is not a date like 2026-11-22", s)
	}
	return d, nil
}

// Today is today's report as of now.
func (t *Tracker) Today() Report {
	now := t.o.Now()
	l := now.In(t.o.Location)
	return t.Day(time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, t.o.Location), now)
}

// Day is the report of the local day starting at midnight as of now:
// responses, resolutions and visits up to now count; a late response or
// an overdue ticket is judged at now too.
func (t *Tracker) Day(midnight time.Time, now time.Time) Report {
	key := midnight.Format(time.DateOnly)
	lastWeek := time.Date(midnight.Year(), midnight.Month(), midnight.Day()-7, 0, 0, 0, 0, t.o.Location).Format(time.DateOnly)
	end := time.Date(midnight.Year(), midnight.Month(), midnight.Day()+1, 0, 0, 0, 0, t.o.Location)
	r := Report{Date: key, AsOf: now.UTC(), Zone: t.o.Location.String()}
	// Minutes of the day that have passed: today's comparison with last
	// week stops at the same time of day.
	upTo := minutesPerDay
	if now.Before(end) {
		upTo = 0
		if now.After(midnight) {
			_, m := t.dayOf(now)
			upTo = m + 1
		}
	}
	r.NowBin = max(upTo-1, 0) / 15
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Volume = make([]int, 96)
	r.VolumeLastWeek = make([]int, 96)
	r.Calls15 = make([]int, 96)
	r.Calls15LastWeek = make([]int, 96)
	if d := t.days[key]; d != nil {
		for m := range upTo {
			r.Tickets += int(d.tickets[m])
			r.CallsOffered += int(d.offered[m])
			r.Volume[m/15] += int(d.tickets[m])
			r.Calls15[m/15] += int(d.offered[m])
			r.Hourly[m/60].Tickets += int(d.tickets[m])
			r.Hourly[m/60].Offered += int(d.offered[m])
		}
		r.CallsAnswered, r.CallsAbandoned = d.answered, d.abandoned
		r.AnswerRate = rate(d.answered, d.answered+d.abandoned)
		if d.answered > 0 {
			w := math.Round(d.waitSum/float64(d.answered)*10) / 10
			r.AvgWait = &w
		}
	}
	if d := t.days[lastWeek]; d != nil {
		for m := range minutesPerDay {
			r.VolumeLastWeek[m/15] += int(d.tickets[m])
			r.Calls15LastWeek[m/15] += int(d.offered[m])
			if m < upTo {
				r.TicketsLastWeek += int(d.tickets[m])
				r.CallsLastWeek += int(d.offered[m])
			}
		}
		if r.TicketsLastWeek > 0 {
			c := math.Round((float64(r.Tickets)/float64(r.TicketsLastWeek)-1)*10000) / 10000
			r.VolumeChange = &c
		}
	}
	in := func(x time.Time) bool { return !x.IsZero() && !x.Before(midnight) && x.Before(end) && !x.After(now) }
	var onTime, late, resolved, overdue, rated, good, resolvedThatDay, direct int
	for _, tr := range t.tickets {
		if in(tr.dispatched) {
			switch {
			case !tr.responded.IsZero() && !tr.responded.After(now):
				if tr.responded.Sub(tr.dispatched) <= t.o.ResponseLimit {
					onTime++
				} else {
					late++
				}
			case now.Sub(tr.dispatched) > t.o.ResponseLimit:
				late++
			}
		}
		if in(tr.created) && (tr.resolved.IsZero() || tr.resolved.After(now)) {
			r.Open++
		}
		// Completion counts a ticket on the day its handling limit runs
		// out, so today's figure moves through the day as yesterday's
		// tickets fall due, and a day's figure stays what it was.
		if due := tr.created.Add(t.o.HandlingLimit); in(due) {
			if !tr.resolved.IsZero() && !tr.resolved.After(due) {
				resolved++
			} else {
				overdue++
			}
		}
		if in(tr.visited) && tr.sat != "" {
			rated++
			if tr.sat == ticket.Satisfied || tr.sat == ticket.BasicSatisfied {
				good++
			}
		}
		if in(tr.resolved) {
			resolvedThatDay++
			if tr.dispatches <= 1 {
				direct++
			}
		}
	}
	r.Response = rate(onTime, onTime+late)
	r.Completion = rate(resolved, resolved+overdue)
	r.Satisfaction = rate(good, rated)
	r.DirectResolve = rate(direct, resolvedThatDay)
	return r
}
