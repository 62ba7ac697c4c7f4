// Package wall is the video wall itself: walls of monitors, layouts of
// widget tiles, camera sets, tours and schedules, and the state the
// console changes. It holds no code yet; the package is placed now so the
// module's layout is settled.
package wall
