// Package city is the embedded demo city: a simulated Haikou 12345 centre
// that keeps the wall alive when citywall starts without a config.
//
// It knows Haikou's four districts (rough WGS84 outlines, their streets and a
// few hundred management grids), a two-level request taxonomy, and the
// rhythm of a hotline. A Sim draws tickets from a non-homogeneous Poisson
// process (quiet at night, peaks mid-morning and mid-afternoon, lower at
// weekends), places them unevenly around dense neighbourhoods, walks every
// ticket through its closed loop (received, dispatched, responded, resolved,
// visited back) and, a few times a day, raises a burst of related tickets in
// a small area so the alert detector has real clusters to find.
//
// Everything is drawn from one seeded generator and processed in time order,
// so a given seed and clock always yield the same tickets and events, however
// finely the clock is stepped.
//
// Options.Speed multiplies the arrival rate, not the clock: at Speed 10 the
// demo produces ten times Haikou's volume per real hour, and every ticket and
// event still carries a real time, never later than the clock, because the
// server rejects times far in the future. Lifecycle durations are not compressed, so
// the 30-minute response rule keeps its meaning on the wall.
package city
