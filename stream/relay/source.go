package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/deepch/vdk/av"
	"github.com/deepch/vdk/codec/aacparser"
	"github.com/deepch/vdk/codec/h264parser"
	"github.com/deepch/vdk/codec/h265parser"
	"github.com/deepch/vdk/format/rtspv2"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/internal/redact"
	"github.com/citywall/citywall/stream/fmp4"
)

// source is one stream (main or sub) of one camera: at most one upstream
// session, shared by its viewers.
type source struct {
	relay  *Relay
	cam    *camera
	stream string
	dial   string // the URL vdk dials, credentials included
	shown  string // the same, redacted: the only form that leaves
	hide   *redact.Redactor

	wake     chan struct{} // viewers came or went
	txPolicy Transcode

	mu       sync.Mutex
	viewers  map[*Viewer]struct{}
	state    State
	reason   string
	header   *Header // video only
	headerAV *Header // video and audio; nil without audio
	gop      gopCache
	checked  time.Time
	params   [][]byte    // H.265 VPS, SPS, PPS, for a transcode
	tx       *transcoder // nil while no viewer needs one
	refusedN int         // viewers refused a transcode
	moves    []*Viewer   // to the sub stream once s.mu is released
	// The leg whose frames the viewers get (see leg), legs made so far,
	// and where the track's next video frame starts and how long the last
	// one was, for the next leg to go on from.
	gen       uint64
	legs      uint64
	trackEnd  uint64
	trackStep uint32

	nextCheck time.Time // run's own: when an unwatched main stream is checked next
}

func newSource(r *Relay, cam *camera, stream, raw, user, pass string, tx Transcode) (*source, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("URL %s does not parse", config.RedactURL(raw))
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("URL %s: want rtsp:// or rtsps://", config.RedactURL(raw))
	}
	if u.User == nil && user != "" {
		u.User = url.UserPassword(user, pass)
	}
	s := &source{
		relay:    r,
		cam:      cam,
		stream:   stream,
		dial:     u.String(),
		wake:     make(chan struct{}, 1),
		viewers:  map[*Viewer]struct{}{},
		txPolicy: tx,
	}
	s.shown = config.RedactURL(s.dial)
	s.hide = redactor(s.dial, s.shown, user, pass)
	return s, nil
}

// wanted says whether the upstream should be open.
func (s *source) wanted() bool {
	if s.stream == StreamMain && s.cam.alwaysOn && s.owner() == "" {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.viewers) > 0
}

func (s *source) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *source) join(v *Viewer) {
	s.mu.Lock()
	if v.isClosed() { // closed while it moved here
		s.mu.Unlock()
		return
	}
	s.viewers[v] = struct{}{}
	v.push(Item{Kind: KindState, Status: Status{State: s.state, Reason: s.reason}})
	s.serve(v)
	s.mu.Unlock()
	s.finishMoves()
	s.cam.update()
	s.poke()
	s.relay.changed()
}

func (s *source) leave(v *Viewer) {
	s.mu.Lock()
	_, ok := s.viewers[v]
	delete(s.viewers, v)
	if ok {
		s.unserve(v)
	}
	s.mu.Unlock()
	if ok {
		s.cam.update()
		s.poke()
		s.relay.changed()
	}
}

func (s *source) closeViewers() {
	s.mu.Lock()
	vs := make([]*Viewer, 0, len(s.viewers))
	for v := range s.viewers {
		vs = append(vs, v)
	}
	s.mu.Unlock()
	for _, v := range vs {
		v.Close()
	}
}

// headerFor is the header a viewer plays with. s.mu is held.
func (s *source) headerFor(v *Viewer) *Header {
	if v.audio && s.headerAV != nil {
		return s.headerAV
	}
	return s.header
}

func (s *source) status() StreamStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StreamStatus{State: s.state, Reason: s.reason}
	if !s.checked.IsZero() {
		at := s.checked
		st.Checked = &at
	}
	if s.header != nil {
		st.Codec, st.Width, st.Height = s.header.Codec, s.header.Width, s.header.Height
	}
	for v := range s.viewers {
		v.mu.Lock()
		if v.peer {
			// Another instance: its own viewers count.
			st.Viewers += v.remote.Viewers
			st.Frozen += v.remote.Frozen
			st.Transcoded += v.remote.Transcoded
			v.mu.Unlock()
			continue
		}
		st.Viewers++
		if v.frozen {
			st.Frozen++
		}
		v.mu.Unlock()
		if v.tx != nil {
			st.Transcoded++
		}
	}
	return st
}

func (s *source) setState(st State, reason string) {
	reason = s.hide.String(reason)
	s.mu.Lock()
	if s.state == st && s.reason == reason {
		s.mu.Unlock()
		return
	}
	s.state, s.reason = st, reason
	for v := range s.viewers {
		if v.refused != "" && st == Live {
			// Live, but not for this viewer: it keeps being told why.
			v.push(Item{Kind: KindState, Status: Status{State: Unsupported, Reason: v.refused}})
			continue
		}
		v.push(Item{Kind: KindState, Status: Status{State: st, Reason: reason}})
	}
	s.mu.Unlock()
	s.cam.update()
	s.relay.changed()
	log := s.relay.log.With("camera", s.cam.id, "stream", s.stream)
	switch st {
	case Offline, Stalled, Unsupported:
		log.Warn("camera "+st.String(), "reason", reason, "url", s.shown)
	default:
		log.Debug("camera "+st.String(), "url", s.shown)
	}
}

// Errors that end a session.
var (
	errStalled     = errors.New("stalled")
	errUnsupported = errors.New("unsupported")
	errEnded       = errors.New("the camera ended the stream")
	errWanted      = errors.New("a viewer came during the check")
)

// run keeps the upstream open while it is wanted, until ctx ends.
func (s *source) run(ctx context.Context) {
	o := s.relay.opts
	backoff := o.ReconnectMin
	rerouted := false
	var next *leg // a leg that took over from the last one, still running
	defer func() {
		for next != nil {
			res := <-next.done
			next = res.next
		}
	}()
	if s.checks() {
		first := min(o.CheckInterval, 2*time.Minute)
		s.nextCheck = time.Now().Add(rand.N(first + 1))
	}
	for {
		var route string
		var live bool
		var err error
		if next != nil {
			route = next.route
			res := <-next.done
			live, err, next = res.live, res.err, res.next
		} else {
			if !s.wanted() {
				s.rest()
				if !s.idle(ctx) {
					return
				}
				continue
			}
			// A camera already down stays so (with its reason) until it
			// is live again, so tiles do not flicker with every attempt.
			// A stream moving to another owner goes on as it was until
			// the new owner's frames come.
			switch s.currentState() {
			case Offline, Stalled, Unsupported:
			case Live:
				if !rerouted {
					s.setState(Connecting, "")
				}
			default:
				s.setState(Connecting, "")
			}
			route = s.owner()
			live, err, next = s.runLeg(ctx, s.newLeg(route))
		}
		if ctx.Err() != nil {
			return
		}
		if next != nil {
			// Another leg took over (or was made to): it goes on.
			backoff, rerouted = o.ReconnectMin, true
			continue
		}
		rerouted = errors.Is(err, errRerouted) || errors.Is(err, errMoveLate)
		if err == nil || rerouted { // idle, or the owner changed
			backoff = o.ReconnectMin
			continue
		}
		s.cam.reconnects.Inc()
		switch {
		case errors.Is(err, errStalled):
			// The state says stalled until the next attempt.
		case errors.Is(err, errUnsupported):
			s.setState(Unsupported, err.Error())
			backoff = o.ReconnectMax
		default:
			s.setState(Offline, err.Error())
		}
		if live {
			backoff = o.ReconnectMin
		}
		// Full jitter over the upper half, so cameras that failed together
		// (a switch rebooted) do not all come back at the same instant.
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(backoff*2, o.ReconnectMax)
		t := time.NewTimer(wait)
	backoff:
		for {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
				break backoff
			case <-s.wake:
				if !s.wanted() || s.owner() != route {
					t.Stop()
					break backoff
				}
			}
		}
	}
}

// upstream is one vdk session and what the relay knows of it.
type upstream struct {
	c        *rtspv2.RTSPClient
	h265     bool
	audioIdx int8 // -1: no AAC
	videoIdx int8
	sr       int // AAC sample rate
}

// session runs one upstream session until it ends: nil when it was closed
// for want of viewers (or ctx ended), else why it ended. live says whether
// video flowed.
func (s *source) session(ctx context.Context, l *leg, tl *timeline, m *move) (live bool, err error) {
	o := s.relay.opts
	rw := max(2*o.StallTimeout, 2*time.Second)
	c, err := s.dialCamera(rw)
	if err != nil {
		return false, err
	}
	defer s.hangUp(c, rw)

	up := &upstream{c: c, audioIdx: -1, videoIdx: -1}
	// vdk's reader rewrites c.CodecData, without a lock, whenever the
	// camera's parameter sets change (and at start, for a camera that
	// sends them only in band); it signals each change before it queues
	// the frame that follows. So the codecs are read when a packet comes
	// after such a signal, never while the reader may be writing them. A
	// camera with no H.264 or H.265 in its SDP never has them rewritten:
	// it is judged at once.
	dirty := true
	if !sdpHasVideo(c.SDPRaw) {
		if err := s.newCodecs(l, up); err != nil {
			return false, err
		}
		dirty = false
	}
	asm := assembler{src: s, leg: l, tl: tl, up: up, needKey: true}
	// A leg started beside the one serving reads s.wake only once it
	// serves: the serving leg follows the owners.
	var wake <-chan struct{}
	took := l.took

	stall := time.NewTimer(o.StallTimeout)
	defer stall.Stop()
	var idle <-chan time.Time
	var idleTimer *time.Timer
	defer func() {
		if idleTimer != nil {
			idleTimer.Stop()
		}
	}()
	checkIdle := func() {
		if s.wanted() {
			if idleTimer != nil {
				idleTimer.Stop()
				idleTimer, idle = nil, nil
			}
			return
		}
		if idleTimer == nil {
			idleTimer = time.NewTimer(max(o.IdleTimeout, 0))
			idle = idleTimer.C
		}
	}
	for {
		select {
		case <-ctx.Done():
			return live, nil
		case <-took:
			took, wake = nil, s.wake
			checkIdle()
			if err := m.follow(); err != nil {
				return live, err
			}
		case <-m.note:
			if done, err := m.step(); done {
				return live, err
			}
		case <-idle:
			s.relay.log.Debug("camera idle, closing upstream", "camera", s.cam.id, "stream", s.stream)
			return live, nil
		case <-wake:
			if err := m.follow(); err != nil {
				return live, err
			}
			checkIdle()
		case sig := <-c.Signals:
			switch sig {
			case rtspv2.SignalCodecUpdate:
				dirty = true
			case rtspv2.SignalStreamRTPStop:
				return live, errEnded
			}
		case pkt := <-c.OutgoingPacketQueue:
			// A signal sent before this packet was queued is taken
			// first, so the keyframe after new parameter sets is
			// muxed with them.
			select {
			case sig := <-c.Signals:
				switch sig {
				case rtspv2.SignalCodecUpdate:
					dirty = true
				case rtspv2.SignalStreamRTPStop:
					return live, errEnded
				}
			default:
			}
			if dirty {
				dirty = false
				if err := s.newCodecs(l, up); err != nil {
					return live, err
				}
			}
			video, sent := asm.packet(pkt, time.Now())
			if sent && !live {
				live = true
				s.setState(Live, "")
			}
			// Video counts as flowing once it can be played: a camera
			// that never sends its parameter sets stalls.
			if video && (live || s.hasHeader(l)) {
				stall.Reset(o.StallTimeout)
			}
		case <-stall.C:
			reason := fmt.Sprintf("no video for %s", o.StallTimeout)
			if !s.hasHeader(l) {
				reason = fmt.Sprintf("no video parameters (SPS/PPS) in %s", o.StallTimeout)
			}
			if s.active(l) {
				s.setState(Stalled, reason)
			}
			return live, errStalled
		}
	}
}

// dialCamera opens a vdk session: the handshake up to PLAY.
func (s *source) dialCamera(rw time.Duration) (*rtspv2.RTSPClient, error) {
	c, err := rtspv2.Dial(rtspv2.RTSPClientOptions{
		URL:              s.dial,
		DialTimeout:      min(s.relay.opts.StallTimeout, 5*time.Second),
		ReadWriteTimeout: rw,
	})
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			// vdk reports a camera that hangs up during the handshake
			// (as many do after refusing credentials) as a bare EOF, or
			// as a reset when the close overtakes our request.
			return nil, fmt.Errorf("dial %s: the camera closed the connection during setup (wrong user or password, or no such path?)", s.shown)
		}
		return nil, fmt.Errorf("dial %s: %w", s.shown, redactErr(err, s.hide))
	}
	return c, nil
}

// checks says whether this stream is checked while nobody watches it:
// main streams are, when checks are on.
func (s *source) checks() bool {
	return s.stream == StreamMain && s.relay.opts.CheckInterval > 0
}

// rest marks a stream nobody watches idle. A checked camera known to be
// down, by its last session or check, stays so with its reason until a
// check finds it back.
func (s *source) rest() {
	if s.checks() {
		switch s.currentState() {
		case Offline, Stalled, Unsupported:
			return
		}
	}
	s.setState(Idle, "")
}

// idle waits for a viewer while nobody watches, checking the camera when
// a check is due. false: ctx ended.
func (s *source) idle(ctx context.Context) bool {
	o := s.relay.opts
	for {
		if s.wanted() {
			return true
		}
		var due <-chan time.Time
		var t *time.Timer
		if s.checks() {
			t = time.NewTimer(time.Until(s.nextCheck))
			due = t.C
		}
		select {
		case <-ctx.Done():
			if t != nil {
				t.Stop()
			}
			return false
		case <-s.wake:
			if t != nil {
				t.Stop()
			}
			continue
		case <-due:
		}
		// The sub stream open on a viewer's behalf says enough; a check
		// would only add a session to the camera. Another instance
		// checks the cameras it owns.
		if (s.cam.sub != nil && s.cam.sub.watched()) || s.owner() != "" {
			s.nextCheck = time.Now().Add(o.CheckInterval)
			continue
		}
		select {
		case s.relay.checking <- struct{}{}:
		case <-ctx.Done():
			return false
		case <-s.wake:
			continue // a viewer may have come: look again
		}
		err := s.check(ctx)
		<-s.relay.checking
		if ctx.Err() != nil {
			return false
		}
		if errors.Is(err, errWanted) {
			return true // the session starts at once, the check is moot
		}
		now := time.Now()
		s.mu.Lock()
		s.checked = now
		s.mu.Unlock()
		if err != nil {
			s.relay.metrics.checks.WithLabelValues("failed").Inc()
			st := Offline
			if errors.Is(err, errUnsupported) {
				st = Unsupported
			} else if errors.Is(err, errStalled) {
				st = Stalled
			}
			if !s.wanted() {
				s.setState(st, "check: "+err.Error())
			}
			s.nextCheck = now.Add(min(o.CheckInterval, time.Minute))
			continue
		}
		s.relay.metrics.checks.WithLabelValues("ok").Inc()
		if !s.wanted() {
			s.setState(Idle, "")
		}
		// ±10 %, so cameras checked together drift apart.
		s.nextCheck = now.Add(o.CheckInterval - o.CheckInterval/10 + rand.N(o.CheckInterval/5+1))
	}
}

// check dials the camera and waits for its first video packet, within
// video.stall_timeout, then hangs up: nil when video came.
func (s *source) check(ctx context.Context) error {
	o := s.relay.opts
	rw := max(2*o.StallTimeout, 2*time.Second)
	c, err := s.dialCamera(rw)
	if err != nil {
		return err
	}
	defer s.hangUp(c, rw)
	up := &upstream{c: c, audioIdx: -1, videoIdx: -1}
	// The codecs are read as the session reads them: at once without
	// video in the SDP, else when a packet follows a change.
	if !sdpHasVideo(c.SDPRaw) {
		_, _, why := tracks(up)
		return fmt.Errorf("%w: %s", errUnsupported, why)
	}
	dirty := true
	t := time.NewTimer(o.StallTimeout)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			if s.wanted() {
				return errWanted
			}
		case sig := <-c.Signals:
			switch sig {
			case rtspv2.SignalCodecUpdate:
				dirty = true
			case rtspv2.SignalStreamRTPStop:
				return errEnded
			}
		case pkt := <-c.OutgoingPacketQueue:
			if dirty {
				dirty = false
				if _, _, why := tracks(up); why != "" {
					return fmt.Errorf("%w: %s", errUnsupported, why)
				}
			}
			if int8(pkt.Idx) == up.videoIdx {
				return nil
			}
		case <-t.C:
			return fmt.Errorf("%w: no video for %s", errStalled, o.StallTimeout)
		}
	}
}

// watched says whether the stream has viewers.
func (s *source) watched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.viewers) > 0
}

func (s *source) currentState() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *source) currentHeader() *Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

// hangUp closes a vdk session and drains its queues until its reader has
// stopped: vdk's reader blocks on a full Signals channel, and a reader
// left blocked would outlive the relay.
func (s *source) hangUp(c *rtspv2.RTSPClient, rw time.Duration) {
	c.Close()
	s.relay.wg.Add(1)
	go func() {
		defer s.relay.wg.Done()
		deadline := time.NewTimer(rw + 2*time.Second)
		defer deadline.Stop()
		for {
			select {
			case <-c.OutgoingPacketQueue:
			case sig := <-c.Signals:
				if sig == rtspv2.SignalStreamRTPStop {
					return
				}
			case <-deadline.C:
				return
			}
		}
	}()
}

// newCodecs reads the session's codecs and, when they make a new header,
// sends it to every viewer. vdk's codec data can be half-built (a camera
// that sends its SPS later) and panics on some of it: every read is
// guarded.
func (s *source) newCodecs(l *leg, up *upstream) error {
	video, audio, why := tracks(up)
	if why != "" {
		return fmt.Errorf("%w: %s", errUnsupported, why)
	}
	if video == nil {
		return nil // parameters come in band; wait for them
	}
	vt := *video
	h, err := makeHeader(vt)
	if err != nil {
		return fmt.Errorf("%w: %v", errUnsupported, err)
	}
	var hav *Header
	if audio != nil {
		hav, err = makeHeader(vt, *audio)
		if err != nil {
			hav = nil // audio the browser cannot take is dropped, video goes on
			up.audioIdx = -1
		}
	}
	params := paramSets(up)
	h.params = params
	if hav != nil {
		hav.params = params
	}
	s.setHeaders(l, h, hav, params)
	return nil
}

// setHeaders puts the headers a leg got in place, or keeps them with the
// leg until it serves.
func (s *source) setHeaders(l *leg, h, hav *Header, params [][]byte) {
	s.mu.Lock()
	if l != nil && s.gen != l.gen {
		l.header, l.headerAV, l.params = h, hav, params
		s.mu.Unlock()
		return
	}
	s.putHeaders(h, hav, params)
	s.mu.Unlock()
	s.finishMoves()
}

// putHeaders puts a stream's headers in place and, when they are new,
// starts every viewer again with them. s.mu is held; the caller runs
// s.finishMoves once it is not.
func (s *source) putHeaders(h, hav *Header, params [][]byte) {
	s.params = params
	if s.header != nil && bytes.Equal(s.header.Init, h.Init) && (hav == nil) == (s.headerAV == nil) &&
		(hav == nil || bytes.Equal(hav.Init, s.headerAV.Init)) {
		return // same stream as before (a reconnect, a move): viewers go on
	}
	s.header, s.headerAV = h, hav
	s.gop.reset()
	for v := range s.viewers {
		s.serve(v)
	}
}

func makeHeader(ts ...fmp4.Track) (*Header, error) {
	init, err := fmp4.Init(ts...)
	if err != nil {
		return nil, err
	}
	mime, err := fmp4.MIME(ts...)
	if err != nil {
		return nil, err
	}
	var codecs []string
	for _, t := range ts {
		c, _ := t.CodecString()
		codecs = append(codecs, c)
	}
	return &Header{
		Codec: strings.Join(codecs, ", "), MIME: mime, Video: ts[0].Codec.String(),
		Width: ts[0].Width, Height: ts[0].Height, Init: init, tracks: ts,
	}, nil
}

// tracks finds the video (H.264 or H.265) and AAC tracks of a session.
// why is set when there is no video the relay can carry.
func tracks(up *upstream) (video, audio *fmp4.Track, why string) {
	var kinds []string
	for i, cd := range up.c.CodecData {
		if cd == nil {
			continue
		}
		t, ok := codecTrack(cd)
		kinds = append(kinds, cd.Type().String())
		if !ok {
			continue
		}
		switch {
		case t.Codec == fmp4.AAC && audio == nil:
			t.ID = 2
			audio = &t
			up.audioIdx, up.sr = int8(i), t.SampleRate
		case t.Codec != fmp4.AAC && video == nil:
			t.ID = 1
			video = &t
			up.videoIdx, up.h265 = int8(i), t.Codec == fmp4.H265
		}
	}
	if video == nil {
		hasVideo := false
		for i, cd := range up.c.CodecData {
			if cd != nil && (cd.Type() == av.H264 || cd.Type() == av.H265) && !hasVideo {
				// Not ready yet (parameter sets come in band): its
				// packets are taken and dropped until they are.
				hasVideo = true
				up.videoIdx, up.h265 = int8(i), cd.Type() == av.H265
			}
		}
		if !hasVideo {
			if len(kinds) == 0 {
				return nil, nil, "no video track (the camera offers neither H.264 nor H.265)"
			}
			return nil, nil, "no H.264 or H.265 video; the camera offers " + strings.Join(kinds, ", ")
		}
	}
	return video, audio, ""
}

// codecTrack turns vdk codec data into a track, or reports it unusable.
// vdk's codec data panics on some half-built values: recover.
func codecTrack(cd av.CodecData) (t fmp4.Track, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	switch c := cd.(type) {
	case h264parser.CodecData:
		rec := c.AVCDecoderConfRecordBytes()
		if len(rec) < 7 || c.Width() <= 0 || c.Height() <= 0 {
			return t, false
		}
		return fmp4.Track{Codec: fmp4.H264, Timescale: 90000, Config: rec, Width: c.Width(), Height: c.Height()}, true
	case h265parser.CodecData:
		rec := c.AVCDecoderConfRecordBytes()
		if len(rec) < 23 || c.Width() <= 0 || c.Height() <= 0 {
			return t, false
		}
		rec = fixHVCC(rec, c.SPS())
		return fmp4.Track{Codec: fmp4.H265, Timescale: 90000, Config: rec, Width: c.Width(), Height: c.Height()}, true
	case aacparser.CodecData:
		conf := c.MPEG4AudioConfigBytes()
		sr := c.SampleRate()
		if len(conf) < 2 || sr <= 0 {
			return t, false
		}
		return fmp4.Track{Codec: fmp4.AAC, Timescale: uint32(sr), Config: conf, SampleRate: sr, Channels: c.ChannelLayout().Count()}, true
	}
	return t, false
}

// publish hands a fragment to every viewer and keeps it for viewers to
// come. s.mu is not held.
func (s *source) publish(f *Fragment) { s.publishFrom(nil, f) }

// publishFrom publishes a leg's fragment, if the leg serves.
func (s *source) publishFrom(l *leg, f *Fragment) {
	it := Item{Kind: KindFragment, Fragment: f}
	var dropped int64
	s.mu.Lock()
	if s.header == nil || (l != nil && s.gen != l.gen) {
		s.mu.Unlock()
		return
	}
	if !f.Audio {
		s.trackEnd, s.trackStep = f.DTS+uint64(f.Dur), f.Dur
	}
	s.gop.add(it, s.relay.opts.GOPBytes)
	if s.tx != nil && !f.Audio {
		s.tx.feed(f, s.params, false)
	}
	for v := range s.viewers {
		if v.tx == nil && v.refused == "" {
			dropped += v.push(it)
		}
	}
	if f.Key && s.refusedN > 0 {
		s.retryRefused()
	}
	s.mu.Unlock()
	s.finishMoves()
	if dropped > 0 {
		s.cam.dropped.Add(float64(dropped))
	}
}

// fixHVCC copies the profile, tier and level of an H.265 SPS into the
// matching 12 bytes of its hvcC record: vdk leaves the level at 0, and a
// browser asked about "hvc1.1.6.L0" says no.
func fixHVCC(rec, sps []byte) []byte {
	// Without emulation-prevention bytes, the SPS is: NAL header (2),
	// VPS id, max sub-layers and nesting flag (1), then the general
	// profile_tier_level: space/tier/profile (1), compatibility flags (4),
	// constraint flags (6), level (1).
	rbsp := make([]byte, 0, 16)
	zeros := 0
	for _, b := range sps {
		if len(rbsp) == 15 {
			break
		}
		if zeros >= 2 && b == 3 {
			zeros = 0
			continue
		}
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
		rbsp = append(rbsp, b)
	}
	if len(rbsp) < 15 || len(rec) < 13 {
		return rec
	}
	out := append([]byte(nil), rec...)
	copy(out[1:13], rbsp[3:15])
	return out
}

// sdpHasVideo says whether a session description offers H.264 or H.265.
func sdpHasVideo(sdp []byte) bool {
	for line := range strings.SplitSeq(string(sdp), "\n") {
		line = strings.ToUpper(strings.TrimSpace(line))
		if strings.HasPrefix(line, "A=RTPMAP:") && (strings.Contains(line, " H264/") || strings.Contains(line, " H265/") || strings.Contains(line, " HEVC/")) {
			return true
		}
	}
	return false
}
