// Package wall is the video wall itself: walls of monitors, layouts of
// widget tiles over each wall's canvas, camera sets, tours and schedules,
// the manual overrides of patrol staff and the audit trail of every change.
//
// The Manager owns each wall's current state, advances tours and follows
// schedules in the city's time zone, and publishes the state on the hub
// topic wall/{id} so that every display of a wall switches together. It
// keeps its state behind a Store (a file written atomically by default) so
// a restart resumes where the wall was. Nothing here reads configuration or
// logger globals: Spec comes in, and time comes from the time package, so
// tests run tours in a testing/synctest bubble.
package wall
