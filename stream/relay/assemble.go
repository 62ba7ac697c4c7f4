package relay

import (
	"time"

	"github.com/deepch/vdk/av"

	"github.com/citywall/citywall/stream/fmp4"
)

// assembler turns vdk packets into per-frame fragments. vdk hands out one
// packet per NAL unit; a picture of several slices is several packets with
// the same time. A session starts by waiting for the next picture's first
// slice before sending one (a frame of latency); once three pictures in a
// row came as one slice each, as from most cameras, a frame goes out the
// moment its packet arrives. A picture of several slices seen later puts
// the session back to waiting, and its viewers to the next keyframe.
type assembler struct {
	src *source
	leg *leg // nil: always serving
	tl  *timeline
	up  *upstream

	multi   bool // pictures of several slices seen
	singles int  // pictures of one slice seen in a row
	needKey bool // drop until the next keyframe
	seq     uint32

	pending struct {
		t     time.Duration
		parts [][]byte
		size  int
		key   bool
		in    time.Time
	}
	audioNext  int64 // next audio decode time, in the sample rate
	audioStart bool
	audioBase  int64
}

// packet takes one packet. video says it was video, sent that a frame
// went out to the viewers.
func (a *assembler) packet(pkt *av.Packet, now time.Time) (video, sent bool) {
	if pkt == nil {
		return false, false
	}
	a.src.cam.bytesIn.Add(float64(len(pkt.Data)))
	switch {
	case pkt.Idx == a.up.videoIdx && a.up.videoIdx >= 0:
		return true, a.video(pkt, now)
	case pkt.Idx == a.up.audioIdx && a.up.audioIdx >= 0:
		a.audio(pkt, now)
	}
	// Anything else (G.711, Opus, ...) is dropped; video goes on.
	return false, false
}

func (a *assembler) video(pkt *av.Packet, now time.Time) bool {
	h265 := a.up.h265
	nal := pkt.Data
	if !isSlice(h265, nal) {
		return false
	}
	p := &a.pending
	sent := false
	if len(p.parts) > 0 && pkt.Time != p.t {
		sent = a.flush()
	}
	first := firstSlice(h265, nal)
	if !first && len(p.parts) == 0 {
		// The rest of a picture whose first slice already went out
		// alone: from now on, wait for whole pictures. This picture is
		// broken; start again at a keyframe.
		if !a.multi {
			a.multi, a.needKey = true, true
			a.src.relay.log.Debug("camera sends several slices a picture", "camera", a.src.cam.id, "stream", a.src.stream)
		}
		return sent
	}
	if first && len(p.parts) > 0 {
		sent = a.flush() || sent
	}
	if len(p.parts) == 0 {
		p.t, p.key, p.size = pkt.Time, false, 0
	}
	p.parts = append(p.parts, nal)
	p.size += len(nal)
	p.key = p.key || isKey(h265, nal)
	p.in = now
	if a.immediate() {
		sent = a.flush() || sent
	}
	return sent
}

// immediate says whether a picture goes out with its first slice.
func (a *assembler) immediate() bool { return !a.multi && a.singles >= 3 }

// flush sends the pending picture.
func (a *assembler) flush() bool {
	p := &a.pending
	if len(p.parts) == 0 {
		return false
	}
	defer func() {
		clear(p.parts)
		p.parts = p.parts[:0]
	}()
	if len(p.parts) == 1 {
		a.singles++
	} else {
		a.multi, a.singles = true, 0
	}
	if a.needKey && !p.key {
		return false
	}
	if !a.src.admit(a.leg, a.tl, p.key) {
		return false
	}
	a.needKey = false
	jumps := a.tl.jumps
	dts, dur := a.tl.place(p.t)
	if a.tl.jumps != jumps {
		a.src.cam.timeJumps.Inc()
	}
	a.seq++
	data := fmp4.AppendFragment(make([]byte, 0, fmp4.FragmentSize(p.size)), a.seq, 1, dts, dur, p.key, p.parts...)
	a.src.publishFrom(a.leg, &Fragment{Data: data, Key: p.key, In: p.in, DTS: dts, Dur: dur})
	a.src.relay.metrics.muxed.Observe(time.Since(p.in).Seconds())
	return true
}

// audio sends one AAC frame, placed on the video's timeline: the first
// frame of a session lines up with the next video frame, the rest follow
// vdk's sample-exact audio clock.
func (a *assembler) audio(pkt *av.Packet, now time.Time) {
	sr := int64(a.up.sr)
	if sr <= 0 || !a.tl.started || len(pkt.Data) == 0 {
		return
	}
	t := int64(pkt.Time) * sr / int64(time.Second)
	if !a.audioStart {
		a.audioStart = true
		a.audioBase = int64(a.tl.next)*sr/90000 - t
		a.audioNext = 0
	}
	dts := max(a.audioBase+t, a.audioNext)
	a.audioNext = dts + 1024
	a.seq++
	data := fmp4.AppendFragment(make([]byte, 0, fmp4.FragmentSize(len(pkt.Data))), a.seq, 2, uint64(max(dts, 0)), 1024, false, pkt.Data)
	a.src.publishFrom(a.leg, &Fragment{Data: data, Audio: true, In: now, DTS: uint64(max(dts, 0)), Dur: 1024})
}
