package ingestlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Log is the ingest stream on Redis.
type Log struct {
	rdb       redis.UniversalClient
	key       string
	retention time.Duration
	now       func() time.Time
}

// New returns the log at key; entries older than retention are trimmed as
// new ones are appended.
func New(rdb redis.UniversalClient, key string, retention time.Duration, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{rdb: rdb, key: key, retention: retention, now: now}
}

// Key is the stream's key.
func (l *Log) Key() string { return l.key }

// Append adds e and returns its id once Redis has taken it.
func (l *Log) Append(ctx context.Context, e Entry) (string, error) {
	minID := strconv.FormatInt(l.now().Add(-l.retention).UnixMilli(), 10)
	id, err := l.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: l.key,
		MinID:  minID,
		Approx: true,
		Values: e.values(),
	}).Result()
	if err != nil {
		return "", fmt.Errorf("append to %s: %w", l.key, err)
	}
	return id, nil
}

// Last is the id of the newest entry, "0-0" for an empty stream.
func (l *Log) Last(ctx context.Context) (string, error) {
	msgs, err := l.rdb.XRevRangeN(ctx, l.key, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("read end of %s: %w", l.key, err)
	}
	if len(msgs) == 0 {
		return "0-0", nil
	}
	return msgs[0].ID, nil
}

// Read returns up to count entries after id, waiting up to block for the
// first. Entries that do not decode are returned in bad, so the reader can
// count them and move past.
func (l *Log) Read(ctx context.Context, after string, count int64, block time.Duration) (entries []Entry, bad []error, last string, err error) {
	res, err := l.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{l.key, after},
		Count:   count,
		Block:   block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil, after, nil
	}
	if err != nil {
		return nil, nil, after, fmt.Errorf("read %s: %w", l.key, err)
	}
	last = after
	for _, s := range res {
		for _, m := range s.Messages {
			last = m.ID
			e, derr := Decode(m.ID, m.Values)
			if derr != nil {
				bad = append(bad, derr)
				continue
			}
			entries = append(entries, e)
		}
	}
	return entries, bad, last, nil
}
