package relay

import (
	"context"
	"errors"
	"time"
)

// A stream's frames come by one leg at a time: a session to the camera,
// or a hop from the instance that owns it. When the owner changes (an
// instance joined, or left) and the stream has viewers, the leg that
// serves them goes on while the next one starts beside it (make before
// break); the next leg takes the viewers over with its first live
// keyframe, on the same track timeline, and the old one ends. Between the
// two, the camera may have two sessions (its old owner's and its new
// one's) for as long as the new owner takes to dial it and get a keyframe
// — at most handoverLimit, after which the old leg ends anyway (break
// before make: a camera that takes one session only gets it back).

// leg is one way in for a stream's frames.
type leg struct {
	gen    uint64
	route  string // "" the camera, else the instance that owns it
	cancel context.CancelFunc
	took   chan struct{}  // closed when the leg serves the viewers
	done   chan legResult // a leg run by startLeg: how it ended
	notify chan struct{}  // the move that started it, told when it took over or ended

	// Under the source's mu.
	abandoned bool // it will never serve
	admitted  bool // its first frame went out
	header    *Header
	headerAV  *Header
	params    [][]byte
}

type legResult struct {
	live bool
	err  error
	next *leg // the leg that took over, still running
}

// errMoveLate ends a leg whose successor did not take over in time.
var errMoveLate = errors.New("the new owner did not take over in time")

// handoverLimit bounds a move: how long a stream may be read by two legs
// (a camera have two sessions) while its next leg waits for a keyframe.
func (s *source) handoverLimit() time.Duration {
	return max(2*s.relay.opts.StallTimeout, 2*time.Second)
}

// newLeg makes the leg that serves the stream from now on (nothing else
// runs: the run loop's first leg).
func (s *source) newLeg(route string) *leg {
	l := &leg{route: route, took: make(chan struct{}), done: make(chan legResult, 1)}
	s.mu.Lock()
	s.legs++
	l.gen = s.legs
	s.gen = l.gen
	close(l.took)
	s.mu.Unlock()
	return l
}

// startLeg runs a leg beside the one serving the viewers, until it takes
// them over or is abandoned; notify hears when either comes.
func (s *source) startLeg(route string, notify chan struct{}) *leg {
	l := &leg{route: route, took: make(chan struct{}), done: make(chan legResult, 1), notify: notify}
	s.mu.Lock()
	s.legs++
	l.gen = s.legs
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(s.relay.ctx)
	l.cancel = cancel
	s.relay.wg.Add(1)
	go func() {
		defer s.relay.wg.Done()
		defer cancel()
		live, err, next := s.runLeg(ctx, l)
		l.done <- legResult{live: live, err: err, next: next}
		signal(notify)
	}()
	return l
}

// runLeg reads the stream by a leg until it ends; next is the leg that
// took over from it, if one did.
func (s *source) runLeg(ctx context.Context, l *leg) (live bool, err error, next *leg) {
	var tl timeline
	m := newMove(s, l)
	if l.route == "" {
		live, err = s.session(ctx, l, &tl, m)
	} else {
		live, err = s.peerSession(ctx, l, &tl, m)
	}
	return live, err, m.end(ctx, err)
}

// active says whether l serves the viewers; a nil leg always does.
func (s *source) active(l *leg) bool {
	if l == nil {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen == l.gen
}

// admit says whether a leg's video frame goes to the viewers. A leg
// waiting beside the one that serves takes over here, with its first
// keyframe once it has a header. A leg's first admitted frame starts
// where the track ended, so players see one continuous track.
func (s *source) admit(l *leg, tl *timeline, key bool) bool {
	s.mu.Lock()
	if l == nil {
		ok := s.header != nil
		s.mu.Unlock()
		return ok
	}
	switch {
	case s.gen == l.gen:
		if s.header == nil {
			s.mu.Unlock()
			return false
		}
	case l.abandoned || !key || l.header == nil:
		s.mu.Unlock()
		return false
	default:
		s.takeOver(l, "keyframe")
		s.relay.log.Debug("stream moved at a keyframe", "camera", s.cam.id, "stream", s.stream, "from", s.routeName(l.route))
	}
	if !l.admitted {
		l.admitted = true
		tl.next, tl.started = s.trackEnd, false
		if s.trackStep > 0 {
			tl.step = int64(s.trackStep)
		}
	}
	s.mu.Unlock()
	s.finishMoves()
	return true
}

// takeOver makes l the leg that serves, with the header it got while it
// waited. s.mu is held; the caller runs s.finishMoves once it is not.
func (s *source) takeOver(l *leg, how string) {
	s.gen = l.gen
	close(l.took)
	signal(l.notify)
	s.relay.metrics.handovers.WithLabelValues(how).Inc()
	if l.header != nil {
		s.putHeaders(l.header, l.headerAV, l.params)
	}
	l.header, l.headerAV, l.params = nil, nil, nil
}

func (s *source) routeName(route string) string {
	if route == "" {
		return "camera"
	}
	return route
}

// hasHeader says whether the leg can play: it has a header, or serves a
// stream that has one.
func (s *source) hasHeader(l *leg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l == nil || s.gen == l.gen {
		return s.header != nil
	}
	return l.header != nil
}

// move is a serving leg's handover to the stream's new owner. The leg
// selects on note and calls step.
type move struct {
	s     *source
	from  *leg
	to    *leg      // the next leg, waiting for a keyframe; nil when none
	began time.Time // zero while no move is under way
	note  chan struct{}
	at    time.Time // when the timer is due; zero: not armed
	timer *time.Timer
}

func newMove(s *source, from *leg) *move {
	return &move{s: s, from: from, note: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	if c == nil {
		return
	}
	select {
	case c <- struct{}{}:
	default:
	}
}

// step acts on what note said: done (the leg ends, with err) when the
// next leg took over or the move ran out of time.
func (m *move) step() (done bool, err error) {
	if m.to != nil {
		select {
		case <-m.to.took:
			return true, nil
		default:
		}
		select {
		case res := <-m.to.done:
			m.lost(res)
		default:
		}
	}
	if !m.at.IsZero() && !time.Now().Before(m.at) {
		m.at = time.Time{}
		if err := m.fire(); err != nil {
			return true, err
		}
	}
	return false, nil
}

func (m *move) arm(d time.Duration) {
	if m.timer != nil {
		m.timer.Stop()
	}
	m.at = time.Now().Add(d)
	m.timer = time.AfterFunc(d, func() { signal(m.note) })
}

// follow looks at the stream's owner (viewers came or went, or the owners
// changed): errRerouted ends the leg at once (it is nobody's to read:
// nobody watches), nil goes on, starting the next leg if the owner
// changed.
func (m *move) follow() error {
	want := m.s.owner()
	if want == m.from.route {
		m.stop()
		return nil
	}
	if !m.s.watched() {
		return errRerouted
	}
	if m.to != nil && m.to.route == want {
		return nil
	}
	m.drop()
	if m.began.IsZero() {
		m.began = time.Now()
		m.s.relay.log.Debug("stream moving", "camera", m.s.cam.id, "stream", m.s.stream,
			"from", m.s.routeName(m.from.route), "to", m.s.routeName(want))
	}
	m.to = m.s.startLeg(want, m.note)
	m.arm(time.Until(m.began.Add(m.s.handoverLimit())))
	return nil
}

// lost notes that the next leg ended without taking over: it is tried
// again shortly, within the move's limit.
func (m *move) lost(res legResult) {
	m.s.relay.log.Debug("next leg ended before it took over", "camera", m.s.cam.id, "stream", m.s.stream, "err", res.err)
	m.to = nil
	m.arm(min(m.s.relay.opts.ReconnectMin, max(time.Until(m.began.Add(m.s.handoverLimit())), 0)))
}

// fire is the move's timer: errMoveLate past the limit, else the next leg
// is tried again.
func (m *move) fire() error {
	if m.began.IsZero() {
		return nil
	}
	if time.Since(m.began) >= m.s.handoverLimit() {
		return errMoveLate
	}
	if m.to == nil {
		return m.follow()
	}
	return nil
}

// stop gives up a move (the owner is this leg's again).
func (m *move) stop() {
	m.drop()
	m.began, m.at = time.Time{}, time.Time{}
	if m.timer != nil {
		m.timer.Stop()
	}
}

// drop abandons the next leg, unless it took over already.
func (m *move) drop() {
	if m.to == nil {
		return
	}
	s := m.s
	s.mu.Lock()
	if s.gen != m.to.gen {
		m.to.abandoned = true
	}
	s.mu.Unlock()
	m.to.cancel() // it ends by itself; the relay waits for it
	m.to = nil
}

// end settles the move as the serving leg ends with err: the next leg if
// it took over; the next leg made to serve (it starts at its first
// keyframe) when this one failed or the move ran out of time; else none.
func (m *move) end(ctx context.Context, err error) *leg {
	if m.timer != nil {
		m.timer.Stop()
	}
	to := m.to
	if to == nil {
		return nil
	}
	s := m.s
	promote := ctx.Err() == nil && err != nil && !errors.Is(err, errRerouted) && s.owner() == to.route
	s.mu.Lock()
	switch {
	case s.gen == to.gen:
		promote = true
	case promote && !to.abandoned:
		s.takeOver(to, "forced")
	default:
		promote = false
		to.abandoned = true
	}
	s.mu.Unlock()
	if !promote {
		to.cancel()
		return nil
	}
	s.finishMoves()
	return to
}
