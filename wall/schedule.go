package wall

import (
	"time"
)

// rule is a Schedule parsed once.
type rule struct {
	sc         *Schedule
	days       Weekdays
	start, end int // minutes after midnight; end <= start crosses midnight
}

func parseRule(sc *Schedule) (rule, bool) {
	days, err := ParseDays(sc.Days)
	if err != nil || days == 0 {
		return rule{}, false
	}
	start, err1 := ParseClock(sc.Start)
	end, err2 := ParseClock(sc.End)
	if err1 != nil || err2 != nil || start == end {
		return rule{}, false
	}
	return rule{sc: sc, days: days, start: start, end: end}, true
}

// at returns the run of r that starts on the local day of day, if r fires
// that day.
func (r rule) at(day time.Time, loc *time.Location) (from, to time.Time, ok bool) {
	y, m, d := day.In(loc).Date()
	if !r.days.Has(time.Date(y, m, d, 12, 0, 0, 0, loc).Weekday()) {
		return time.Time{}, time.Time{}, false
	}
	from = time.Date(y, m, d, r.start/60, r.start%60, 0, 0, loc)
	endDay := d
	if r.end <= r.start {
		endDay++ // crosses midnight
	}
	to = time.Date(y, m, endDay, r.end/60, r.end%60, 0, 0, loc)
	return from, to, true
}

// days returns noon of the local day of t shifted by k days: safe to step
// across DST changes.
func localDay(t time.Time, k int, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+k, 12, 0, 0, 0, loc)
}

// activeSchedule is the schedule running on wall at t and when its run
// began. Of several, the one begun last wins; on a tie, the one listed
// first.
func activeSchedule(s *Spec, wall string, t time.Time, loc *time.Location) (*Schedule, time.Time) {
	var best *Schedule
	var began time.Time
	for i := range s.Schedules {
		sc := &s.Schedules[i]
		if sc.Wall != "" && sc.Wall != wall {
			continue
		}
		r, ok := parseRule(sc)
		if !ok {
			continue
		}
		for k := -1; k <= 0; k++ {
			from, to, ok := r.at(localDay(t, k, loc), loc)
			if ok && !t.Before(from) && t.Before(to) && (best == nil || from.After(began)) {
				best, began = sc, from
			}
		}
	}
	return best, began
}

// nextBoundary is the first start or end of a schedule of wall after t, or
// the zero time when none comes within eight days.
func nextBoundary(s *Spec, wall string, t time.Time, loc *time.Location) time.Time {
	var next time.Time
	consider := func(x time.Time) {
		if x.After(t) && (next.IsZero() || x.Before(next)) {
			next = x
		}
	}
	for i := range s.Schedules {
		sc := &s.Schedules[i]
		if sc.Wall != "" && sc.Wall != wall {
			continue
		}
		r, ok := parseRule(sc)
		if !ok {
			continue
		}
		for k := -1; k <= 8; k++ {
			if from, to, ok := r.at(localDay(t, k, loc), loc); ok {
				consider(from)
				consider(to)
			}
		}
	}
	return next
}
