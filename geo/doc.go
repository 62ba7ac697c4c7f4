// Package geo counts citizen requests into Uber H3 cells over sliding time
// windows for the wall's live heat map and hot-topics list, and holds the
// geographic helpers around it: validation of outside coordinates, conversion
// from the Chinese map systems (GCJ-02, BD-09) to WGS84, cell id parsing and
// a bounded cache of cell boundaries.
//
// The Engine keeps memory bounded for weeks of unattended running: every
// count lives in a ring of time buckets, and a cell whose count drops to zero
// is deleted.
package geo
