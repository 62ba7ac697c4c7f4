package city

import (
	"math"
	"time"
)

// cst is China Standard Time. A fixed zone needs no tzdata on the host, and
// China has had no daylight saving since 1991.
var cst = time.FixedZone("CST", 8*3600)

// hourly is the relative request rate in each hour of the day, CST: quiet
// overnight, a ramp from 7:00, peaks at 9–11 and 14–17, a long evening tail.
// The curve passes through these values at the middle of each hour and is
// linear in between, which keeps its mean equal to the mean of the table.
var hourly = [24]float64{
	0.30, 0.18, 0.12, 0.10, 0.10, 0.15, 0.30, 0.70, // 0–7h
	1.35, 1.85, 2.00, 1.80, 1.15, 1.15, 1.60, 1.80, // 8–15h
	1.75, 1.40, 1.05, 0.95, 0.90, 0.75, 0.55, 0.40, // 16–23h
}

// weekly is the relative daily volume, Sunday first (time.Weekday order):
// Monday is busiest, weekends are lower. The mean is 1.
var weekly = [7]float64{0.90, 1.10, 1.05, 1.03, 1.02, 1.00, 0.90}

// rhythm is the arrival rate of a hotline with a given mean daily volume.
type rhythm struct {
	perNs float64 // mean arrivals per nanosecond
	hMean float64
	max   float64 // upper bound of rate(t), per nanosecond, for thinning
}

func newRhythm(perDay float64) rhythm {
	var sum, hMax, wMax float64
	for _, v := range hourly {
		sum += v
		hMax = math.Max(hMax, v)
	}
	for _, v := range weekly {
		wMax = math.Max(wMax, v)
	}
	r := rhythm{perNs: perDay / float64(24*time.Hour), hMean: sum / 24}
	r.max = r.perNs * hMax / r.hMean * wMax
	return r
}

// shape is the relative rate at t: 1 is the weekly mean.
func (r rhythm) shape(t time.Time) float64 {
	c := t.In(cst)
	h := float64(c.Hour()) + float64(c.Minute())/60 + float64(c.Second())/3600
	y := h - 0.5
	fl := math.Floor(y)
	f := y - fl
	i := (int(fl) + 24) % 24
	v := hourly[i]*(1-f) + hourly[(i+1)%24]*f
	return v / r.hMean * weekly[c.Weekday()]
}

// rate is the arrival rate at t, per nanosecond.
func (r rhythm) rate(t time.Time) float64 {
	return r.perNs * r.shape(t)
}
