// Package stream is citywall's WebSocket hub: topics with a sequence and a
// bounded history, snapshot-then-delta subscriptions that resume after a
// reconnect, and per-client byte-bounded queues drained by one writer
// goroutine each, so a slow wall display never delays the others.
//
// Publications travel through a Broker. The in-memory broker delivers within
// the process; a Redis broker can deliver the same publications to every
// instance without changing publishers or clients.
//
// The wire protocol is described in docs/protocol.md.
package stream
