package relay

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deepch/vdk/codec/h264parser"
	"github.com/deepch/vdk/codec/h265parser"

	"github.com/citywall/citywall/stream/fmp4"
	"github.com/citywall/citywall/stream/transcode"
)

// Transcode says when a stream's H.265 is turned into H.264 for a viewer.
type Transcode uint8

// The transcode policies of a stream.
const (
	TranscodeAuto   Transcode = iota // for a viewer whose player cannot play H.265
	TranscodeNever                   // never: such a viewer is told it cannot play the stream
	TranscodeAlways                  // for every viewer
)

// ParseTranscode reads a policy as configured: auto (or empty), never,
// always.
func ParseTranscode(s string) (Transcode, error) {
	switch s {
	case "", "auto":
		return TranscodeAuto, nil
	case "never":
		return TranscodeNever, nil
	case "always":
		return TranscodeAlways, nil
	}
	return 0, fmt.Errorf("transcode %q: want auto, never or always", s)
}

// needsTranscode says whether v is served h through a transcode.
func (s *source) needsTranscode(v *Viewer, h *Header) bool {
	if h.Video != fmp4.H265.String() || v.peer {
		return false
	}
	switch s.txPolicy {
	case TranscodeAlways:
		return true
	case TranscodeNever:
		return false
	}
	return !v.plays(h.Video)
}

// serve starts v on the stream as it is now: the camera's own header and
// cached group, or the transcode's; nothing before the first header.
// s.mu is held.
func (s *source) serve(v *Viewer) {
	h := s.headerFor(v)
	if h == nil || v.moving {
		return
	}
	if s.needsTranscode(v, h) {
		if v.tx == s.tx && v.tx != nil {
			return // served already: the transcode sends its own headers
		}
		if s.tx == nil && s.relay.acquireTranscode() {
			s.startTranscode()
		}
		if s.tx != nil {
			s.clearRefusal(v)
			v.tx = s.tx
			s.tx.attach(v)
			return
		}
		s.refuse(v)
		return
	}
	s.clearRefusal(v)
	s.detach(v)
	v.push(Item{Kind: KindHeader, Header: h})
	s.gop.replay(v)
}

// unserve takes a leaving viewer off its transcode. s.mu is held.
func (s *source) unserve(v *Viewer) {
	s.clearRefusal(v)
	s.detach(v)
}

func (s *source) clearRefusal(v *Viewer) {
	if v.refused != "" {
		v.refused = ""
		s.refusedN--
	}
}

// detach takes v off the transcode; the last viewer stops it. s.mu is held.
func (s *source) detach(v *Viewer) {
	t := v.tx
	if t == nil {
		return
	}
	v.tx = nil
	if t.detach(v) == 0 && s.tx == t {
		s.tx = nil
		t.stop()
		s.relay.releaseTranscode()
	}
}

// refuse tells v there is no transcode for it: every one allowed runs. A
// viewer of a main stream moves to the camera's sub stream instead, when
// it has one. s.mu is held.
func (s *source) refuse(v *Viewer) {
	s.cam.txRefused.Inc()
	s.detach(v)
	if s.stream == StreamMain && s.cam.sub != nil {
		v.moving = true
		s.moves = append(s.moves, v)
		return
	}
	why := fmt.Sprintf("this browser cannot play H.265, and all %d transcodes to H.264 (video.max_transcodes) are in use", s.relay.opts.MaxTranscodes)
	if s.relay.opts.MaxTranscodes < 0 {
		why = "this browser cannot play H.265, and transcoding is off (video.max_transcodes)"
	}
	if v.refused == "" {
		s.refusedN++
	}
	v.refused = why
	v.push(Item{Kind: KindState, Status: Status{State: Unsupported, Reason: why}})
}

// retryRefused serves again the viewers refused a transcode, when one is
// free now. s.mu is held.
func (s *source) retryRefused() {
	if s.tx == nil && !s.relay.transcodeFree() {
		return
	}
	for v := range s.viewers {
		if v.refused != "" {
			s.serve(v)
		}
	}
}

// finishMoves moves the viewers refused a transcode on the main stream to
// the sub stream. s.mu is not held.
func (s *source) finishMoves() {
	s.mu.Lock()
	moves := s.moves
	s.moves = nil
	s.mu.Unlock()
	for _, v := range moves {
		to := s.cam.sub
		v.mu.Lock()
		if v.closed {
			v.mu.Unlock()
			continue
		}
		v.src = to
		v.mu.Unlock()
		s.leave(v)
		s.mu.Lock()
		v.moving = false
		s.mu.Unlock()
		to.join(v)
	}
}

// acquireTranscode takes a slot of video.max_transcodes.
func (r *Relay) acquireTranscode() bool {
	r.txMu.Lock()
	defer r.txMu.Unlock()
	if r.opts.MaxTranscodes < 0 || r.txN >= r.opts.MaxTranscodes {
		return false
	}
	r.txN++
	r.metrics.transcodes.Set(float64(r.txN))
	return true
}

func (r *Relay) releaseTranscode() {
	r.txMu.Lock()
	defer r.txMu.Unlock()
	r.txN--
	r.metrics.transcodes.Set(float64(r.txN))
}

func (r *Relay) transcodeFree() bool {
	r.txMu.Lock()
	defer r.txMu.Unlock()
	return r.opts.MaxTranscodes > 0 && r.txN < r.opts.MaxTranscodes
}

// paramSets are the VPS, SPS and PPS of an H.265 session (nil for
// H.264); vdk's codec data may be half-built: guarded.
func paramSets(up *upstream) (sets [][]byte) {
	defer func() {
		if recover() != nil {
			sets = nil
		}
	}()
	if up.videoIdx < 0 || int(up.videoIdx) >= len(up.c.CodecData) {
		return nil
	}
	if cd, ok := up.c.CodecData[up.videoIdx].(h265parser.CodecData); ok {
		return [][]byte{cd.VPS(), cd.SPS(), cd.PPS()}
	}
	return nil
}

// txInput is one picture for ffmpeg.
type txInput struct {
	f      *Fragment
	params [][]byte // the stream's parameter sets, sent with a keyframe
	replay bool     // from the cached group: its picture is old
}

// txMeta is what the relay keeps of a picture while ffmpeg has it: ffmpeg
// passes every picture through (no frames dropped or added), so its
// pictures come out in the order they went in.
type txMeta struct {
	dts    uint64
	dur    uint32
	in     time.Time
	replay bool
	at     time.Time // written to ffmpeg
}

// transcoder is a stream's H.264, made from its H.265 by one ffmpeg fed
// from the stream's one upstream session, and shared by every viewer that
// needs it. It has its own header and cached group of pictures.
type transcoder struct {
	src    *source
	in     chan txInput
	gap    atomic.Bool // a picture was dropped on the way in: ffmpeg waits for a keyframe
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	viewers  map[*Viewer]struct{}
	header   *Header
	sps, pps []byte
	gop      gopCache
	fifo     []txMeta
	seq      uint32
}

// startTranscode starts the stream's transcode, fed first with the cached
// group so its first picture comes at once. s.mu is held.
func (s *source) startTranscode() {
	ctx, cancel := context.WithCancel(s.relay.ctx)
	t := &transcoder{src: s, in: make(chan txInput, 256), cancel: cancel, done: make(chan struct{}), viewers: map[*Viewer]struct{}{}}
	s.tx = t
	s.primeTranscode(t)
	s.relay.wg.Add(1)
	go func() {
		defer s.relay.wg.Done()
		t.run(ctx)
	}()
}

// primeTranscode replaces what waits for ffmpeg with the cached group.
// s.mu is held.
func (s *source) primeTranscode(t *transcoder) {
	for {
		select {
		case <-t.in:
			continue
		default:
		}
		break
	}
	for _, it := range s.gop.items {
		if !it.Fragment.Audio {
			t.feed(it.Fragment, s.params, true)
		}
	}
}

// feed queues a picture for ffmpeg without blocking; when the queue is
// full the picture is dropped and ffmpeg resumes at the next keyframe.
func (t *transcoder) feed(f *Fragment, params [][]byte, replay bool) {
	in := txInput{f: f, replay: replay}
	if f.Key {
		in.params = params
	}
	select {
	case t.in <- in:
	default:
		t.gap.Store(true)
		t.src.cam.dropped.Inc()
	}
}

func (t *transcoder) stop() { t.cancel() }

// attach adds a viewer and hands it the current header and group.
func (t *transcoder) attach(v *Viewer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.viewers[v]; ok {
		return
	}
	t.viewers[v] = struct{}{}
	if t.header != nil {
		v.push(Item{Kind: KindHeader, Header: t.header})
		t.gop.replay(v)
	}
}

// detach removes a viewer and returns how many are left.
func (t *transcoder) detach(v *Viewer) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.viewers, v)
	return len(t.viewers)
}

// run keeps ffmpeg running until ctx ends: one that crashes or sticks is
// started again, with backoff, and counted.
func (t *transcoder) run(ctx context.Context) {
	defer close(t.done)
	s := t.src
	log := s.relay.log.With("camera", s.cam.id, "stream", s.stream)
	o := s.relay.opts
	backoff := o.ReconnectMin
	for first := true; ; first = false {
		began := time.Now()
		err := t.session(ctx, first)
		if ctx.Err() != nil {
			return
		}
		s.cam.txRestarts.Inc()
		log.Warn("transcode ended, starting again", "err", s.hide.String(err.Error()), "after", time.Since(began).Round(time.Millisecond))
		if time.Since(began) > o.ReconnectMax {
			backoff = o.ReconnectMin
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		backoff = min(backoff*2, o.ReconnectMax)
		s.mu.Lock()
		if s.tx == t {
			s.primeTranscode(t)
		}
		s.mu.Unlock()
	}
}

// session runs one ffmpeg until it ends, sticks (a picture in and none
// out for the stall timeout) or ctx ends (nil).
func (t *transcoder) session(ctx context.Context, first bool) error {
	s := t.src
	t.mu.Lock()
	t.fifo = t.fifo[:0]
	t.mu.Unlock()
	p, err := transcode.Start(s.relay.opts.Transcoder, t.output)
	if err != nil {
		return err
	}
	if enc, note := p.Encoder(); first {
		s.relay.log.Info("transcoding H.265 to H.264", "camera", s.cam.id, "stream", s.stream, "encoder", enc, "note", note)
	}
	wctx, wcancel := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() { werr <- t.write(wctx, p) }()
	defer func() {
		wcancel()
		p.Close() // unblocks a write to ffmpeg
		<-werr
	}()
	stall := max(s.relay.opts.StallTimeout, 5*time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.Done():
			return p.Err()
		case err := <-werr:
			werr <- err // for the deferred wait
			return err
		case <-tick.C:
			if late := t.waiting(); late > stall {
				return fmt.Errorf("ffmpeg stuck: a picture in for %s and none out", late.Round(time.Millisecond))
			}
		}
	}
}

// write feeds ffmpeg from the queue, starting at a keyframe.
func (t *transcoder) write(ctx context.Context, p *transcode.Process) error {
	needKey := true
	for {
		var in txInput
		select {
		case <-ctx.Done():
			return nil
		case in = <-t.in:
		}
		if t.gap.Swap(false) {
			needKey = true
		}
		f := in.f
		if needKey && !f.Key {
			continue
		}
		needKey = false
		if f.Key && in.params != nil {
			p.SetParams(in.params...)
		}
		t.mu.Lock()
		t.fifo = append(t.fifo, txMeta{dts: f.DTS, dur: f.Dur, in: f.In, replay: in.replay, at: time.Now()})
		t.mu.Unlock()
		if err := p.Write(f.Key, f.sample()); err != nil {
			return err
		}
	}
}

// waiting is how long the oldest picture in ffmpeg has been there.
func (t *transcoder) waiting() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fifo) == 0 {
		return 0
	}
	return time.Since(t.fifo[0].at)
}

// output takes a picture from ffmpeg: it gets the times of the picture it
// was made from and goes to every viewer of the transcode.
func (t *transcoder) output(au transcode.AccessUnit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.fifo) == 0 {
		return // not one of ours (cannot happen with passthrough)
	}
	m := t.fifo[0]
	t.fifo = t.fifo[1:]
	if !bytes.Equal(au.SPS, t.sps) || !bytes.Equal(au.PPS, t.pps) {
		h, err := h264Header(au.SPS, au.PPS)
		if err != nil {
			t.src.relay.log.Warn("transcode: unusable H.264 parameter sets", "camera", t.src.cam.id, "err", err)
			return
		}
		t.sps, t.pps = au.SPS, au.PPS
		if t.header == nil || !bytes.Equal(t.header.Init, h.Init) {
			t.header = h
			t.gop.reset()
			for v := range t.viewers {
				v.push(Item{Kind: KindHeader, Header: h})
			}
		}
	}
	if t.header == nil {
		return
	}
	t.seq++
	data := fmp4.AppendFragment(make([]byte, 0, fmp4.FragmentSize(au.Size)), t.seq, 1, m.dts, m.dur, au.Key, au.NALs...)
	f := &Fragment{Data: data, Key: au.Key, In: m.in, DTS: m.dts, Dur: m.dur}
	it := Item{Kind: KindFragment, Fragment: f, Replay: m.replay}
	t.gop.add(Item{Kind: KindFragment, Fragment: f}, t.src.relay.opts.GOPBytes)
	var dropped int64
	for v := range t.viewers {
		dropped += v.push(it)
	}
	if dropped > 0 {
		t.src.cam.dropped.Add(float64(dropped))
	}
}

// h264Header is the header of ffmpeg's H.264.
func h264Header(sps, pps []byte) (h *Header, err error) {
	defer func() {
		if recover() != nil {
			h, err = nil, fmt.Errorf("%w: SPS does not parse", fmp4.ErrConfig)
		}
	}()
	if sps == nil || pps == nil {
		return nil, fmt.Errorf("%w: no SPS or PPS before the first picture", fmp4.ErrConfig)
	}
	cd, err := h264parser.NewCodecDataFromSPSAndPPS(sps, pps)
	if err != nil {
		return nil, err
	}
	h, err = makeHeader(fmp4.Track{ID: 1, Codec: fmp4.H264, Timescale: 90000, Config: cd.AVCDecoderConfRecordBytes(), Width: cd.Width(), Height: cd.Height()})
	if err != nil {
		return nil, err
	}
	h.From = fmp4.H265.String()
	return h, nil
}
