package webhook

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Chat robots take a limited number of messages a minute and punish more:
// a DingTalk robot that gets over 20 in a minute refuses everything for
// ten minutes; WeCom's group robot takes 20 a minute; a Feishu bot 100 a
// minute and 5 a second. A storm's alerts come faster than that, exactly
// when the teams must hear of them, so each target is paced under its
// receiver's limit, and what waits goes out together in one message.

// limit is at most n posts in any span of length per.
type limit struct {
	n   int
	per time.Duration
}

// limits are the receiver's limits for t: its PerMinute when set (below
// zero: none), else its kind's. Each span is held 5 % longer than the
// receiver's, so that a post that took longer to arrive than the one it
// replaces in the count is still not over.
func limits(t Target, minute time.Duration) []limit {
	minute += minute / 20
	var ls []limit
	switch t.Kind {
	case KindWeCom, KindDingTalk:
		ls = []limit{{20, minute}}
	case KindFeishu:
		ls = []limit{{100, minute}, {5, minute / 60}} // a Feishu bot's second is kept whatever the minute
	}
	switch {
	case t.PerMinute < 0:
		return nil
	case t.PerMinute > 0 && len(ls) > 0:
		ls[0].n = t.PerMinute
	case t.PerMinute > 0:
		ls = []limit{{t.PerMinute, minute}}
	}
	return ls
}

// pacer keeps one target under its limits. It counts posts in a sliding
// window, as the robots do: a token bucket would let up to twice the
// limit through a minute that straddles its refill. A post counts from
// when it is let go until its answer comes, and then from the answer's
// time: the receiver counted it somewhere between. The receiver can also
// ask for a pause (a rate-limit answer), which holds every post until it
// ends.
type pacer struct {
	limits []limit

	mu    sync.Mutex
	sent  []post    // the last posts, oldest first, as many as the largest limit
	seq   int64     // the last post's number
	until time.Time // no post before
}

type post struct {
	seq int64
	at  time.Time
}

func newPacer(ls []limit) *pacer { return &pacer{limits: ls} }

// wait returns when a post may go now, counted under the number it
// returns (for posted); or ctx's error.
func (p *pacer) wait(ctx context.Context) (int64, error) {
	for {
		seq, d := p.reserve(time.Now())
		if d <= 0 {
			return seq, nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
	}
}

// reserve counts a post at now and returns its number, or returns how
// long to wait before asking again.
func (p *pacer) reserve(now time.Time) (int64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	wait := p.until.Sub(now)
	keep := 0
	for _, l := range p.limits {
		keep = max(keep, l.n)
		if len(p.sent) >= l.n {
			// The post l.n back must have left the span.
			wait = max(wait, p.sent[len(p.sent)-l.n].at.Add(l.per).Sub(now))
		}
	}
	if wait > 0 {
		return 0, wait
	}
	p.seq++
	if keep > 0 {
		p.sent = append(p.sent, post{p.seq, now})
		if over := len(p.sent) - keep; over > 0 {
			p.sent = slices.Delete(p.sent, 0, over)
		}
	}
	return p.seq, 0
}

// posted moves post seq to now, when its answer came.
func (p *pacer) posted(seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := slices.IndexFunc(p.sent, func(x post) bool { return x.seq == seq })
	if i < 0 {
		return
	}
	p.sent[i].at = time.Now()
	slices.SortStableFunc(p.sent, func(a, b post) int { return a.at.Compare(b.at) })
}

// hold stops posts for d from now: the receiver said it takes no more.
func (p *pacer) hold(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := time.Now().Add(d); u.After(p.until) {
		p.until = u
	}
}

// rateLimited codes: the robots' answers to a post over their limit.
var rateLimited = map[string][]int{
	KindWeCom:    {45009},       // api freq out of limit
	KindDingTalk: {130101},      // send too fast, exceed 20 times per minute
	KindFeishu:   {9499, 11232}, // too many requests; message rate limit
} // a generic receiver: HTTP 429 only

// isRateLimited says whether a receiver's answer (its HTTP status and its
// robot code, -1 when none) means "too fast".
func isRateLimited(kind string, status, code int) bool {
	return status == http.StatusTooManyRequests || slices.Contains(rateLimited[kind], code)
}

// digests says whether t's notifications may go several to a message: the
// chat robots' do; a generic receiver reads one notification a post.
func digests(t Target) bool {
	return t.Kind == KindWeCom || t.Kind == KindDingTalk || t.Kind == KindFeishu
}
