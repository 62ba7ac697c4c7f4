// Package webhook delivers alert notifications as JSON to outside
// systems, such as the chat robots of WeCom or DingTalk: a bounded queue,
// retries with exponential backoff, and a dead-letter record of what could
// not be delivered, kept for the API and counted in the metrics.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
)

// Target is one webhook.
type Target struct {
	Name  string   // shown in dead letters and logs; the URL never is (it may carry a key)
	URL   string   // http or https
	Teams []string // only notifications for these teams; empty: every notification
}

// Options tune a Sender. Zero values take the defaults.
type Options struct {
	Client      *http.Client  // default: 10 s timeout
	Attempts    int           // default 5
	Backoff     time.Duration // first retry delay, doubled each time (default 1s)
	MaxBackoff  time.Duration // default 1m
	Queue       int           // deliveries waiting (default 256); past it, dead letter
	DeadLetters int           // kept (default 100)
	Workers     int           // concurrent deliveries (default 4)
	Registerer  prometheus.Registerer
	Logger      *slog.Logger
}

// DeadLetter is a notification that could not be delivered.
type DeadLetter struct {
	Target   string    `json:"target"`
	Host     string    `json:"host"`
	Event    string    `json:"event"`
	AlertID  string    `json:"alert_id"`
	Attempts int       `json:"attempts"`
	Error    string    `json:"error"`
	Time     time.Time `json:"time"`
}

// Payload is the JSON posted. msgtype and text make it a text message to
// WeCom and DingTalk robots as it is; other receivers read the rest.
type Payload struct {
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
	Event alerts.Event `json:"event"`
	Alert alerts.Alert `json:"alert"`
	Teams []string     `json:"teams"`
	Time  time.Time    `json:"time"`
}

type delivery struct {
	t    Target
	body []byte
	n    alerts.Notification
}

// Sender posts notifications to its targets.
type Sender struct {
	opt     Options
	targets []Target
	queue   chan delivery
	log     *slog.Logger

	mu   sync.Mutex
	dead []DeadLetter

	sent, retries, deadN *prometheus.CounterVec
}

var _ alerts.Notifier = (*Sender)(nil)

// New returns a sender; Run delivers.
func New(targets []Target, o Options) *Sender {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Attempts <= 0 {
		o.Attempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Minute
	}
	if o.Queue <= 0 {
		o.Queue = 256
	}
	if o.DeadLetters <= 0 {
		o.DeadLetters = 100
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{opt: o, targets: targets, queue: make(chan delivery, o.Queue), log: o.Logger,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_deliveries_total", Help: "Webhook notifications delivered (2xx), by target.",
		}, []string{"target"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_retries_total", Help: "Webhook deliveries retried, by target.",
		}, []string{"target"}),
		deadN: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_dead_letters_total", Help: "Webhook notifications given up on, by target.",
		}, []string{"target"}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.sent, s.retries, s.deadN)
	}
	return s
}

// Notify queues n for every target it concerns; it never blocks.
func (s *Sender) Notify(_ context.Context, n alerts.Notification) {
	for _, t := range s.targets {
		if len(t.Teams) > 0 && !slices.ContainsFunc(n.Teams, func(x string) bool { return slices.Contains(t.Teams, x) }) {
			continue
		}
		body, err := json.Marshal(payload(n))
		if err != nil {
			s.deadLetter(t, n, 0, fmt.Errorf("encode: %w", err))
			continue
		}
		select {
		case s.queue <- delivery{t: t, body: body, n: n}:
		default:
			s.deadLetter(t, n, 0, fmt.Errorf("queue full (%d waiting)", cap(s.queue)))
		}
	}
}

func payload(n alerts.Notification) Payload {
	p := Payload{MsgType: "text", Event: n.Event, Alert: n.Alert, Teams: n.Teams, Time: n.Time}
	verb := map[alerts.Event]string{
		alerts.EventFiring: "告警", alerts.EventRenotify: "仍未确认", alerts.EventEscalated: "超时升级",
		alerts.EventAcknowledged: "已确认", alerts.EventResolved: "已解除",
	}[n.Event]
	p.Text.Content = fmt.Sprintf("【%s】%s / %s (%s)", verb, n.Alert.Title, n.Alert.TitleEn, n.Alert.ID)
	if n.Alert.AckedBy != "" && n.Event == alerts.EventAcknowledged {
		p.Text.Content += " — " + n.Alert.AckedBy
	}
	return p
}

// Run delivers until ctx ends; what is still queued then is dropped.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.opt.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-s.queue:
					s.deliver(ctx, d)
				}
			}
		}()
	}
	wg.Wait()
}

func (s *Sender) deliver(ctx context.Context, d delivery) {
	wait := s.opt.Backoff
	var err error
	for attempt := 1; attempt <= s.opt.Attempts; attempt++ {
		var retry bool
		retry, err = s.post(ctx, d)
		if err == nil {
			s.sent.WithLabelValues(d.t.Name).Inc()
			return
		}
		if !retry || attempt == s.opt.Attempts {
			s.deadLetter(d.t, d.n, attempt, err)
			return
		}
		s.retries.WithLabelValues(d.t.Name).Inc()
		s.log.Warn("webhook failed, retrying", "target", d.t.Name, "attempt", attempt, "in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			s.deadLetter(d.t, d.n, attempt, fmt.Errorf("shut down while retrying: %w", err))
			return
		case <-timer.C:
		}
		wait = min(wait*2, s.opt.MaxBackoff)
	}
}

// post sends once; it reports whether a failure is worth retrying
// (network errors, 429 and 5xx).
func (s *Sender) post(ctx context.Context, d delivery) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.t.URL, bytes.NewReader(d.body))
	if err != nil {
		return false, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return true, fmt.Errorf("post to %s: %w", host(d.t.URL), redact(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("post to %s: HTTP %d", host(d.t.URL), resp.StatusCode)
	default:
		return false, fmt.Errorf("post to %s: HTTP %d", host(d.t.URL), resp.StatusCode)
	}
}

func (s *Sender) deadLetter(t Target, n alerts.Notification, attempts int, err error) {
	s.deadN.WithLabelValues(t.Name).Inc()
	s.log.Error("webhook notification dropped", "target", t.Name, "alert", n.Alert.ID, "event", n.Event, "attempts", attempts, "err", err)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dead = append(s.dead, DeadLetter{Target: t.Name, Host: host(t.URL), Event: string(n.Event), AlertID: n.Alert.ID,
		Attempts: attempts, Error: err.Error(), Time: n.Time})
	if over := len(s.dead) - s.opt.DeadLetters; over > 0 {
		s.dead = slices.Delete(s.dead, 0, over)
	}
}

// DeadLetters returns the record of undelivered notifications, newest last.
func (s *Sender) DeadLetters() []DeadLetter {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.dead)
}

func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	return u.Host
}

// redact drops the URL (which may carry a key) from a client error.
func redact(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
