// Package webhook delivers alert notifications to outside systems: the
// chat robots of WeCom, DingTalk and Feishu, each in its own body and
// signature, and other receivers as JSON. Each target has a bounded queue
// delivered in order, paced under its receiver's rate limit (what waits
// goes to a robot as one digest message), retries with exponential
// backoff, and a dead-letter record of what could not be delivered, kept
// for the API and counted in the metrics.
package webhook

import (
	"context"
	"errors"
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
	// PerMinute is the most messages a minute the receiver takes: 0 its
	// kind's (WeCom and DingTalk 20, Feishu 100 and 5 a second, generic no
	// limit), below 0 no limit.
	PerMinute int
}

// Options tune a Sender. Zero values take the defaults.
type Options struct {
	Client      *http.Client  // default: 10 s timeout
	Attempts    int           // default 5
	Backoff     time.Duration // first retry delay, doubled each time (default 1s)
	MaxBackoff  time.Duration // default 1m
	Queue       int           // notifications waiting per target (default 256); past it, dead letter
	DeadLetters int           // kept (default 100)
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

// maxDigest is the most notifications one message carries.
const maxDigest = 20

// lane is one target's way out: its queue, delivered in order one message
// at a time, and its pace.
type lane struct {
	t       Target
	queue   chan alerts.Notification
	pace    *pacer
	pending []alerts.Notification // taken from the queue, not yet sent (the lane's goroutine only)
}

// Sender posts notifications to its targets.
type Sender struct {
	opt    Options
	lanes  []*lane
	log    *slog.Logger
	minute time.Duration // the receivers' rate window (a minute; tests shorten it)

	mu   sync.Mutex
	dead []DeadLetter

	sent, retries, deadN, limited, digestN *prometheus.CounterVec
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
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{opt: o, log: o.Logger, minute: time.Minute,
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_deliveries_total", Help: "Webhook notifications delivered (2xx), by target.",
		}, []string{"target"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_retries_total", Help: "Webhook deliveries retried, by target.",
		}, []string{"target"}),
		deadN: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_dead_letters_total", Help: "Webhook notifications given up on, by target.",
		}, []string{"target"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_rate_limited_total", Help: "Webhook posts the receiver refused as too fast (HTTP 429 or the robot's rate-limit code), by target; each is retried after a minute's pause.",
		}, []string{"target"}),
		digestN: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_alerts_webhook_digests_total", Help: "Webhook messages delivered that carried several notifications (what waited for the target's rate limit), by target.",
		}, []string{"target"}),
	}
	s.lanes = make([]*lane, len(targets))
	for i, t := range targets {
		s.lanes[i] = &lane{t: t, queue: make(chan alerts.Notification, o.Queue), pace: newPacer(limits(t, s.minute))}
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.sent, s.retries, s.deadN, s.limited, s.digestN)
	}
	return s
}

// setMinute shortens the receivers' rate window (for tests).
func (s *Sender) setMinute(d time.Duration) {
	s.minute = d
	for _, l := range s.lanes {
		l.pace = newPacer(limits(l.t, d))
	}
}

// Notify queues n for every target it concerns; it never blocks.
func (s *Sender) Notify(_ context.Context, n alerts.Notification) {
	for _, l := range s.lanes {
		if !Concerns(l.t, n) {
			continue
		}
		select {
		case l.queue <- n:
		default:
			s.deadLetter(l.t, n, 0, fmt.Errorf("queue full (%d waiting)", cap(l.queue)))
		}
	}
}

// message builds what t is told of ns (one notification, or a digest of
// several): the links, and the members of the teams of ns that t serves.
func (s *Sender) message(t Target, ns []alerts.Notification) *message {
	links := make([]string, len(ns))
	mentions := make([][]Member, len(ns))
	for i, n := range ns {
		if s.opt.Link != nil {
			links[i] = s.opt.Link(n.Alert)
		}
		if s.opt.Members == nil {
			continue
		}
		seen := map[string]bool{}
		for _, team := range n.Teams {
			if len(t.Teams) > 0 && !slices.Contains(t.Teams, team) {
				continue
			}
			for _, m := range s.opt.Members(team) {
				if (m.Mobile != "" || m.UserID != "") && !seen[m.Name] {
					seen[m.Name] = true
					mentions[i] = append(mentions[i], m)
				}
			}
		}
	}
	if len(ns) == 1 {
		return newMessage(ns[0], links[0], mentions[0])
	}
	return newDigest(ns, links, mentions)
}

// Run delivers until ctx ends; what is still queued then is dropped.
func (s *Sender) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range s.lanes {
		wg.Go(func() { s.deliver(ctx, l) })
	}
	wg.Wait()
}

// deliver sends l's notifications in order until ctx ends. Each message
// waits for the target's pace; whatever queued meanwhile goes to a robot
// in the next message, as many as fit in one.
func (s *Sender) deliver(ctx context.Context, l *lane) {
	for {
		if len(l.pending) == 0 {
			select {
			case <-ctx.Done():
				return
			case n := <-l.queue:
				l.pending = append(l.pending, n)
			}
		}
		seq, err := l.pace.wait(ctx)
		if err != nil {
			return
		}
	take:
		for len(l.pending) < cap(l.queue) {
			select {
			case n := <-l.queue:
				l.pending = append(l.pending, n)
			default:
				break take
			}
		}
		k, m := s.fit(l.t, l.pending)
		batch := l.pending[:k]
		// Stopped while retrying is given up on too: nobody takes over a
		// single instance's queue.
		if attempts, err := s.send(ctx, ctx, l, batch, m, seq, 15*s.minute); err != nil {
			for _, n := range batch {
				s.deadLetter(l.t, n, attempts, err)
			}
		}
		l.pending = slices.Delete(l.pending, 0, k)
	}
}

// fit is how many of ns, from the first, go in t's next message, and that
// message: one to a generic receiver; to a robot, as many as it holds.
func (s *Sender) fit(t Target, ns []alerts.Notification) (int, *message) {
	k := 1
	if digests(t) {
		k = min(len(ns), maxDigest)
	}
	for {
		m := s.message(t, ns[:k])
		if k == 1 || fits(t, m) {
			return k, m
		}
		k--
	}
}

// send posts m, the message of ns, to l's target until it is delivered, the
// attempts are spent, the failure is not worth retrying, or stop ends a
// wait (ErrStopped wrapping the last failure). seq is the first post's
// number when it has waited for the pace already, else 0. A post the
// receiver refuses as too fast pauses the target for a minute and is
// tried again after it, without spending an attempt, for up to limitedFor
// (fifteen minutes covers a DingTalk robot's ten of refusing all).
func (s *Sender) send(ctx, stop context.Context, l *lane, ns []alerts.Notification, m *message, seq int64, limitedFor time.Duration) (posts int, _ error) {
	t := l.t
	wait := s.opt.Backoff
	failures := 0 // attempts spent: failed posts not refused as too fast
	var limitedSince time.Time
	for {
		if seq == 0 {
			var err error
			if seq, err = l.pace.wait(stop); err != nil {
				return posts, fmt.Errorf("%w: waiting for %s's rate limit", ErrStopped, t.Name)
			}
		}
		_, retry, limited, err := s.post(ctx, t, ns, m)
		posts++
		l.pace.posted(seq)
		seq = 0
		if err == nil {
			s.sent.WithLabelValues(t.Name).Add(float64(len(ns)))
			if len(ns) > 1 {
				s.digestN.WithLabelValues(t.Name).Inc()
			}
			return posts, nil
		}
		pause := wait
		if limited {
			s.limited.WithLabelValues(t.Name).Inc()
			if limitedSince.IsZero() {
				limitedSince = time.Now()
			}
			if time.Since(limitedSince) >= limitedFor {
				return posts, err
			}
			l.pace.hold(s.minute)
			s.log.Warn("webhook receiver says too fast, pausing the target", "target", t.Name, "for", s.minute, "err", err)
		} else {
			failures++
			if !retry || failures >= s.opt.Attempts {
				return posts, err
			}
			wait = min(wait*2, s.opt.MaxBackoff)
			s.log.Warn("webhook failed, retrying", "target", t.Name, "attempt", failures, "in", pause, "err", err)
		}
		s.retries.WithLabelValues(t.Name).Inc()
		timer := time.NewTimer(pause)
		select {
		case <-stop.Done():
			timer.Stop()
			return posts, fmt.Errorf("%w: %w", ErrStopped, err)
		case <-timer.C:
		}
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
	ns := []alerts.Notification{n}
	a, _, _, err := s.post(ctx, t, ns, s.message(t, ns))
	return a, err
}

// post sends m, the message of ns, once; it reports whether a failure is
// worth retrying (network errors, 429, 5xx and a robot's error code in a
// 2xx answer) and whether the receiver said it was too fast. Errors name
// the host and the robot's reason, never the URL's key or the secret.
func (s *Sender) post(ctx context.Context, t Target, ns []alerts.Notification, m *message) (a Answer, retry, limited bool, err error) {
	n := ns[0] // a generic receiver gets one notification a post
	p := Payload{MsgType: "text", Event: n.Event, Alert: n.Alert, Teams: n.Teams, Time: n.Time}
	req, err := request(ctx, t, p, m, s.opt.Now())
	if err != nil {
		return Answer{}, false, false, err
	}
	resp, err := s.opt.Client.Do(req)
	if err != nil {
		return Answer{}, true, false, fmt.Errorf("post to %s: %s", host(t.URL), scrub(t, redact(err).Error()))
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a = Answer{Status: resp.StatusCode, Body: scrub(t, string(body))}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if err := checkAnswer(t.Kind, body); err != nil {
			var re *robotError
			limited := errors.As(err, &re) && isRateLimited(t.Kind, resp.StatusCode, re.code)
			return a, true, limited, fmt.Errorf("post to %s: %s", host(t.URL), scrub(t, err.Error()))
		}
		return a, false, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return a, true, isRateLimited(t.Kind, resp.StatusCode, -1), fmt.Errorf("post to %s: HTTP %d", host(t.URL), resp.StatusCode)
	default:
		return a, false, false, fmt.Errorf("post to %s: HTTP %d", host(t.URL), resp.StatusCode)
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
