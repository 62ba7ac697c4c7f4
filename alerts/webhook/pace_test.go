package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/webhook"
)

// strictRobot is a chat robot that keeps its rate limit as DingTalk's
// custom robot does: over 20 posts in a span, it refuses everything for
// ten spans (ten minutes, the span a minute). It records which alert ids
// each accepted message named.
type strictRobot struct {
	span           time.Duration
	srv            *httptest.Server
	mu             sync.Mutex
	at             []time.Time // accepted posts
	banned         time.Time
	refused, texts int
	seen           map[string]int
	bodies         []string
	// refuseFirst refuses this many posts as too fast before any check
	// (another sender used the robot's minute up).
	refuseFirst int
}

var alertID = regexp.MustCompile(`\bS\d{2}\b`)

func newStrictRobot(t *testing.T, span time.Duration) *strictRobot {
	r := &strictRobot{span: span, seen: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var msg map[string]any
		if err := json.Unmarshal(body, &msg); err != nil {
			t.Errorf("robot: %v", err)
		}
		text := str(msg, "markdown", "text") + str(msg, "markdown", "content") + str(msg, "text", "content")
		now := time.Now()
		r.mu.Lock()
		defer r.mu.Unlock()
		n := 0
		for _, x := range r.at {
			if now.Sub(x) < r.span {
				n++
			}
		}
		switch {
		case r.refuseFirst > 0 || now.Before(r.banned) || n >= 20:
			if r.refuseFirst > 0 {
				r.refuseFirst--
			} else if !now.Before(r.banned) {
				r.banned = now.Add(10 * r.span)
			}
			r.refused++
			_, _ = io.WriteString(w, `{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}`)
			return
		}
		r.at = append(r.at, now)
		r.bodies = append(r.bodies, text)
		for _, id := range slices.Compact(slices.Sorted(slices.Values(alertID.FindAllString(text, -1)))) {
			r.seen[id]++
		}
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *strictRobot) delivered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func stormNote(i int) alerts.Notification {
	id := fmt.Sprintf("S%02d", i)
	a := alerts.Alert{ID: id, State: alerts.StateFiring, Teams: []string{"longhua"}, Signal: alerts.Signal{
		Source: "feed", Title: fmt.Sprintf("积水点 %d 水深超警戒", i), TitleEn: "Waterlogging", District: "龙华区"}}
	return alerts.Notification{Event: alerts.EventFiring, Alert: a, Teams: []string{"longhua"}, Time: time.Now()}
}

// TestStormStaysUnderTheRobotsLimit: a rainstorm's alerts come faster than
// a DingTalk robot takes messages (20 a minute; over that, it refuses all
// for ten minutes). Every notification reaches the team, none is dead,
// the robot never refuses: the target is paced, and what waits goes in
// one digest message.
func TestStormStaysUnderTheRobotsLimit(t *testing.T) {
	const span = 400 * time.Millisecond // the robot's minute
	robot := newStrictRobot(t, span)
	reg := prometheus.NewRegistry()
	s := webhook.New([]webhook.Target{{Name: "longhua-robot", URL: robot.srv.URL + "/robot/send?access_token=tok", Kind: webhook.KindDingTalk}},
		webhook.Options{Backoff: 5 * time.Millisecond, Attempts: 3, Registerer: reg,
			Members: func(team string) []webhook.Member { return directory[team] },
			Link:    func(a alerts.Alert) string { return "https://wall.example.gov.cn/team-link?a=" + a.ID }})
	webhook.SetMinute(s, span)
	run(t, s)
	const storm = 60
	for i := range storm {
		s.Notify(context.Background(), stormNote(i))
		time.Sleep(span / 100)
	}
	waitFor(t, "every alert delivered", func() bool { return robot.delivered() == storm || len(s.DeadLetters()) > 0 })
	robot.mu.Lock()
	defer robot.mu.Unlock()
	if d := s.DeadLetters(); len(d) > 0 {
		t.Fatalf("%d notifications dead (%s); the robot refused %d posts", len(d), d[0].Error, robot.refused)
	}
	if robot.refused > 0 {
		t.Errorf("the robot refused %d posts as too fast", robot.refused)
	}
	for id, n := range robot.seen {
		if n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
	}
	digests := counter(t, reg, "citywall_alerts_webhook_digests_total")
	if digests == 0 {
		t.Errorf("no digest: %d messages for %d notifications", len(robot.at), storm)
	}
	if got := counter(t, reg, "citywall_alerts_webhook_deliveries_total"); got != storm {
		t.Errorf("deliveries_total %v, want %d notifications", got, storm)
	}
	for _, b := range robot.bodies {
		if strings.Contains(b, "【汇总 Digest】") {
			for _, want := range []string{"https://wall.example.gov.cn/team-link?a=S", "@13800000001", "龙华区"} {
				if !strings.Contains(b, want) {
					t.Errorf("the digest lacks %q:\n%s", want, b)
				}
			}
			if len(b) > 4096 {
				t.Errorf("a digest of %d bytes, more than a robot takes", len(b))
			}
		}
	}
	t.Logf("%d notifications in %d messages (%v digests)", storm, len(robot.at), digests)
}

// TestRobotSaysTooFast: the robot's minute is used up by another sender
// (it answers 130101). The target pauses a minute and tries again without
// spending its attempts, so the notification is delivered, not dead.
func TestRobotSaysTooFast(t *testing.T) {
	const span = 100 * time.Millisecond
	robot := newStrictRobot(t, span)
	robot.refuseFirst = 3
	reg := prometheus.NewRegistry()
	s := webhook.New([]webhook.Target{{Name: "robot", URL: robot.srv.URL + "/robot/send?access_token=tok", Kind: webhook.KindDingTalk}},
		webhook.Options{Backoff: 5 * time.Millisecond, Attempts: 2, Registerer: reg})
	webhook.SetMinute(s, span)
	run(t, s)
	began := time.Now()
	s.Notify(context.Background(), stormNote(1))
	waitFor(t, "delivery", func() bool { return robot.delivered() == 1 || len(s.DeadLetters()) > 0 })
	if d := s.DeadLetters(); len(d) > 0 {
		t.Fatalf("dead: %s", d[0].Error)
	}
	if took := time.Since(began); took < 3*span {
		t.Errorf("delivered %v after three refusals, want a pause of a minute after each", took)
	}
	if n := counter(t, reg, "citywall_alerts_webhook_rate_limited_total"); n != 3 {
		t.Errorf("rate_limited_total %v, want 3", n)
	}
}

// TestDigestFitsTheRobot: a digest in WeCom's text form (members known by
// mobile only) stays within the 2,048 bytes WeCom takes; what does not fit
// goes in the next message.
func TestDigestFitsTheRobot(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	seen := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var msg map[string]any
		_ = json.Unmarshal(body, &msg)
		text := str(msg, "text", "content")
		mu.Lock()
		sizes = append(sizes, len(text))
		for _, id := range alertID.FindAllString(text, -1) {
			seen[id] = true
		}
		mu.Unlock()
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	defer srv.Close()
	s := webhook.New([]webhook.Target{{Name: "wecom", URL: srv.URL + "/cgi-bin/webhook/send?key=k", Kind: webhook.KindWeCom}},
		webhook.Options{Members: func(string) []webhook.Member {
			return []webhook.Member{{Name: "a", Mobile: "13800000001"}, {Name: "b", Mobile: "13800000002"}}
		}, Link: func(a alerts.Alert) string {
			return "https://wall.example.gov.cn/team-link?a=" + a.ID + "&t=" + strings.Repeat("x", 60)
		}})
	for i := range 30 { // queued before it runs: all wait
		s.Notify(context.Background(), stormNote(i))
	}
	run(t, s)
	waitFor(t, "all delivered", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 30 })
	mu.Lock()
	defer mu.Unlock()
	if len(sizes) < 2 || len(sizes) > 10 {
		t.Errorf("%d messages for 30 notifications", len(sizes))
	}
	for _, n := range sizes {
		if n > 2048 {
			t.Errorf("a text message of %d bytes: WeCom takes 2048", n)
		}
	}
	t.Logf("message sizes %v", sizes)
}

// TestDeliverManyKeepsThePace: the leader of several instances sends
// what its outbox holds for a webhook through DeliverMany: at the same
// pace (no refusal from the robot, one batch after another), several to a
// message; one stopped while it waits for the pace is ErrStopped (the
// next leader sends it), not a dead letter.
func TestDeliverManyKeepsThePace(t *testing.T) {
	const span = 300 * time.Millisecond
	robot := newStrictRobot(t, span)
	tg := webhook.Target{Name: "robot", URL: robot.srv.URL + "/robot/send?access_token=tok", Kind: webhook.KindDingTalk}
	s := webhook.New([]webhook.Target{tg}, webhook.Options{Backoff: 5 * time.Millisecond, Attempts: 2})
	webhook.SetMinute(s, span)
	ctx := context.Background()
	deliver := func(ns ...alerts.Notification) []error { return s.DeliverMany(ctx, ctx, tg, ns) }
	for i := range 25 { // one at a time: the 21st waits for the robot's minute
		if errs := deliver(stormNote(i)); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	var batch []alerts.Notification
	for i := 25; i < 60; i++ {
		batch = append(batch, stormNote(i))
	}
	for _, err := range deliver(batch...) {
		if err != nil {
			t.Fatal(err)
		}
	}
	robot.mu.Lock()
	sent, refused, seen := len(robot.at), robot.refused, len(robot.seen)
	robot.mu.Unlock()
	if seen != 60 || refused > 0 || sent > 25+2 {
		t.Fatalf("%d of 60 delivered in %d messages, %d refused", seen, sent, refused)
	}
	// A robot's minute filled by twenty: a delivery stopped while it waits.
	robot = newStrictRobot(t, span)
	tg.URL = robot.srv.URL + "/robot/send?access_token=tok"
	s = webhook.New([]webhook.Target{tg}, webhook.Options{Backoff: 5 * time.Millisecond, Attempts: 2})
	webhook.SetMinute(s, span)
	for i := range 20 {
		deliver(stormNote(i))
	}
	stop, cancel := context.WithTimeout(ctx, span/10)
	defer cancel()
	if errs := s.DeliverMany(ctx, stop, tg, []alerts.Notification{stormNote(1), stormNote(2)}); !errors.Is(errs[0], webhook.ErrStopped) || !errors.Is(errs[1], webhook.ErrStopped) {
		t.Fatalf("stopped while waiting for the pace: %v, want ErrStopped", errs)
	}
	if d := s.DeadLetters(); len(d) > 0 {
		t.Errorf("dead letters %v", d)
	}
}
