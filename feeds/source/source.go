// Package source brings readings into a feed from outside: a Poller
// fetches a JSON URL at an interval, an MQTT subscriber keeps a session
// with a broker (QoS 1 and a persistent session, so readings published
// while citywall or the broker was away are delivered on reconnect).
// Both report their health, which the wall shows and staleness alerts
// watch.
package source

import (
	"context"
	"log/slog"

	"github.com/citywall/citywall/feeds"
)

// Sink takes what a source brings: *feeds.Feed is one.
type Sink interface {
	Ingest(ctx context.Context, src string, items []feeds.Item) []feeds.Outcome
	SourceState(name, state, reason string)
}

var _ Sink = (*feeds.Feed)(nil)

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// count tallies outcomes for a log line.
func count(out []feeds.Outcome) (acc, dup, rej int, first string) {
	for _, o := range out {
		switch o.Status {
		case feeds.Accepted:
			acc++
		case feeds.Duplicate:
			dup++
		default:
			rej++
			if first == "" {
				first = o.Reason
			}
		}
	}
	return
}
