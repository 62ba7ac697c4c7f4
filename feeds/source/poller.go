package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/citywall/citywall/feeds"
)

// Poller fetches readings from a JSON URL every Interval. A failed poll
// (unreachable, an HTTP error, a body that is not JSON) puts the source in
// the error state with the reason; the next good poll puts it back.
type Poller struct {
	Name     string
	URL      string
	Token    string // optional bearer token
	Interval time.Duration
	Timeout  time.Duration
	MaxBytes int64 // largest body; default 8 MiB
	Client   *http.Client
	Sink     Sink
	Log      *slog.Logger
}

// Run polls at once and then every Interval until ctx ends.
func (p *Poller) Run(ctx context.Context) error {
	if p.Sink == nil || p.Interval <= 0 {
		return errors.New("poller: needs a sink and an interval")
	}
	log := logger(p.Log).With("source", p.Name)
	tick := time.NewTicker(p.Interval)
	defer tick.Stop()
	for {
		if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			log.Warn("poll failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Poll fetches once and ingests what it gets.
func (p *Poller) Poll(ctx context.Context) error {
	err := p.poll(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.Sink.SourceState(p.Name, feeds.SourceError, err.Error())
		}
		return err
	}
	p.Sink.SourceState(p.Name, feeds.SourceOK, "")
	return nil
}

func (p *Poller) poll(ctx context.Context) error {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	client := p.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may carry credentials: name only where it went.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return fmt.Errorf("fetch: HTTP %d", resp.StatusCode)
	}
	max := p.MaxBytes
	if max <= 0 {
		max = 8 << 20
	}
	items, err := feeds.DecodeReadings(io.LimitReader(resp.Body, max), 0)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	out := p.Sink.Ingest(ctx, p.Name, items)
	if _, _, rej, first := count(out); rej > 0 {
		logger(p.Log).Debug("poll: items rejected", "source", p.Name, "rejected", rej, "first", first)
	}
	return nil
}
