// Package scan finds space-time clusters of tickets in H3 cells: counts per
// cell and over neighbourhoods (a cell's k=1 disk, and connected groups of
// hot cells) in recent windows, per category and over all categories,
// against expected counts learnt from history (Baseline), scored with the
// expectation-based Poisson scan statistic. Calibrate sets the alarm
// threshold by Monte Carlo on the learnt baseline so that normal traffic
// raises a chosen number of false alarms per week, and Tracker follows
// clusters from scan to scan so that one burst is one alert.
//
// The package takes no configuration or logger globals: everything comes
// in through its Options.
package scan
