// Package webhook delivers alert notifications to outside systems: the
// chat robots of WeCom, DingTalk and Feishu, each in its own body and
// signature, and other receivers as JSON. A bounded queue, retries with
// exponential backoff, and a dead-letter record of what could not be
// delivered, kept for the API and counted in the metrics.
package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
)

// Target is one webhook.
type Target struct {
	Name   string   // shown in dead letters and logs; the URL never is (it may carry a key)
	URL    string   // http or https
	Kind   string   // KindWeCom, KindDingTalk, KindFeishu or KindGeneric ("" is generic)
	Secret string   // signature secret; never logged nor shown
	Teams  []string // only notifications for these teams; empty: every notification
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
	// Members returns a team's members, @-mentioned by firing, re-notify
	// and escalation messages. Nil: nobody is mentioned.
	Members func(team string) []Member
	// Link returns the link to an alert that messages carry ("" none).
	Link       func(a alerts.Alert) string
	Now        func() time.Time // signature timestamps (default time.Now)
	Registerer prometheus.Registerer
	Logger     *slog.Logger
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

// Payload is the JSON posted to a generic target. msgtype and text make
// it a text message to WeCom and DingTalk robots as it is; other receivers
// read the rest.
type Payload struct {
	MsgType string `json:"msgtype"`
	Text    struct {
		Content string `json:"content"`
	} `json:"text"`
	Event alerts.Event `json:"event"`
	Alert alerts.Alert `json:"alert"`
	Teams []string     `json:"teams"`
	Time  time.Time    `json:"time"`
	Link  string       `json:"link,omitempty"` // to the alert on the team page
}

type delivery struct {
	t Target
	n alerts.Notification
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
	if o.Now == nil {
		o.Now = time.Now
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
		if !Concerns(t, n) {
			continue
		}
		select {
		case s.queue <- delivery{t: t, n: n}:
		default:
			s.deadLetter(t, n, 0, fmt.Errorf("queue full (%d waiting)", cap(s.queue)))
		}
	}
}

// message builds what t is told of n: the link, and the members of the
// teams of n that t serves.
func (s *Sender) message(t Target, n alerts.Notification) *message {
	var link string
	if s.opt.Link != nil {
		link = s.opt.Link(n.Alert)
	}
	var mentions []Member
	if s.opt.Members != nil {
		seen := map[string]bool{}
		for _, team := range n.Teams {
			if len(t.Teams) > 0 && !slices.Contains(t.Teams, team) {
				continue
			}
			for _, m := range s.opt.Members(team) {
				if (m.Mobile != "" || m.UserID != "") && !seen[m.Name] {
					seen[m.Name] = true
					mentions = append(mentions, m)
				}
			}
		}
	}
	return newMessage(n, link, mentions)
}

// Run delivers until ctx ends; what is still queued then is dropped.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range s.opt.Workers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case d := <-s.queue:
					// Stopped while retrying is given up on too: nobody
					// takes over a single instance's queue.
					if attempts, err := s.send(ctx, ctx, d.t, d.n); err != nil {
						s.deadLetter(d.t, d.n, attempts, err)
					}
				}
			}
		})
	}
	wg.Wait()
}

// send posts n to t until it is delivered, the attempts are spent, the
// failure is not worth retrying, or stop ends a wait between attempts
// (ErrStopped wrapping the last failure).
func (s *Sender) send(ctx, stop context.Context, t Target, n alerts.Notification) (int, error) {
	m := s.message(t, n)
	wait := s.opt.Backoff
	for attempt := 1; ; attempt++ {
		_, retry, err := s.post(ctx, t, n, m)
		if err == nil {
			s.sent.WithLabelValues(t.Name).Inc()
			return attempt, nil
		}
		if !retry || attempt >= s.opt.Attempts {
			return attempt, err
		}
		s.retries.WithLabelValues(t.Name).Inc()
		s.log.Warn("webhook failed, retrying", "target", t.Name, "attempt", attempt, "in", wait, "err", err)
		timer := time.NewTimer(wait)
		select {
		case <-stop.Done():
			timer.Stop()
			return attempt, fmt.Errorf("%w: %w", ErrStopped, err)
		case <-timer.C:
		}
		wait = min(wait*2, s.opt.MaxBackoff)
	}
}

// Answer is what a receiver said to one post.
type Answer struct {
	Status int
	Body   string // at most 64 KiB, with the target's key and secret hidden
}

// Try posts n to t once, without retries or dead letters, and returns what
// the receiver answered and whether it took the message: for trying a
// target out.
func (s *Sender) Try(ctx context.Context, t Target, n alerts.Notification) (Answer, error) {
	a, _, err := s.post(ctx, t, n, s.message(t, n))
	return a, err
}

// post sends once; it reports whether a failure is worth retrying
// (network errors, 429, 5xx and a robot's error code in a 2xx answer).
// Errors name the host and the robot's reason, never the URL's key or the
// secret.
func (s *Sender) post(ctx context.Context, t Target, n alerts.Notification, m *message) (Answer, bool, error) {
	p := Payload{MsgType: "text", Event: n.Event, Alert: n.Alert, Teams: n.Teams, Time: n.Time}
	req, err := request(ctx, t, p, m, s.opt.Now())
	if err != nil {
		return Answer{}, false, err
	}
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return Answer{}, true, fmt.Errorf("post to %s: %s", host(t.URL), scrub(t, redact(err).Error()))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a := Answer{Status: resp.StatusCode, Body: scrub(t, string(body))}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if err := checkAnswer(t.Kind, body); err != nil {
			return a, true, fmt.Errorf("post to %s: %s", host(t.URL), scrub(t, err.Error()))
		}
		return a, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return a, true, fmt.Errorf("post to %s: HTTP %d", host(t.URL), resp.StatusCode)
	default:
		return a, false, fmt.Errorf("post to %s: HTTP %d", host(t.URL), resp.StatusCode)
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

// scrub hides t's secret and the values in its URL's query (robot keys
// and access tokens) wherever a receiver's text repeats them.
func scrub(t Target, s string) string {
	var secrets []string
	if t.Secret != "" {
		secrets = append(secrets, t.Secret)
	}
	if u, err := url.Parse(t.URL); err == nil {
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= 4 {
					secrets = append(secrets, v)
				}
			}
		}
	}
	for _, x := range secrets {
		s = strings.ReplaceAll(s, x, "xxxxx")
	}
	return s
}
