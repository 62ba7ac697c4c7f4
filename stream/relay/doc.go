// Package relay relays live cameras to many viewers: one upstream RTSP
// session (deepch/vdk rtspv2) per camera and stream, shared by every viewer
// of it, turned into fragmented MP4 one frame at a time.
//
// A source keeps the current group of pictures, so a new viewer starts at
// once from the latest keyframe; each viewer has a byte-bounded queue, and a
// viewer that falls behind drops to the next keyframe instead of slowing the
// camera or anyone else. Sources connect on demand and close after an idle
// timeout (or stay open when always on), reconnect with exponential backoff
// and jitter, and report a stall when no video arrives for the stall
// timeout. Camera URLs carry credentials: they are kept inside this package
// and every error it returns or logs is redacted.
package relay
