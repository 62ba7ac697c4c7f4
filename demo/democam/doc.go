// Package democam is a camera without a camera: an RTSP server on loopback
// that loops a short H.264 (or H.265) clip in real time, its RTP timestamps
// running on across loops as a live camera's do. The demo city's cameras are
// served by it and pulled through the same relay as real ones; the tests
// and the video load test use it as the camera they can stop, stall and
// bring back.
package democam
