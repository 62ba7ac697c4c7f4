// Package surge finds hot issues spread too thin for the cluster scan: a
// rise of one category or subcategory over a management grid, a district
// or the whole city, in windows of 30 minutes to 24 hours, and a week
// against the weeks before it.
//
// Expected counts come from the cluster scan's learnt baseline (package
// scan): a cell's expected count at each hour of the week times its
// category share, added up over the cells of a region; a subcategory's is
// its category's times the subcategory's share in the district, shrunk
// towards the city's, times how that share leans by hour of the day in
// the city (noise at night). Windows are scored with the same
// expectation-based Poisson statistic as the cluster scan; a week is scored against the
// previous weeks by the conditional (binomial) test of two Poisson counts,
// which needs no baseline and carries the uncertainty of the weeks
// compared. Calibrate sets both thresholds by Monte Carlo on the same
// simulated background as the cluster scan's calibration, and Tracker
// makes the detections of one event at several scales one episode.
//
// The package takes no configuration or logger globals.
package surge
