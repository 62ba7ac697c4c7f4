package relay

import "time"

// Codec-level helpers that take no state: which NAL units start a picture
// and which are keyframes. vdk flags keyframes only for some packetisations
// (a keyframe slice inside a STAP-A never is), so the relay looks itself.

// nalType returns the NAL unit type of a length-prefixed NAL unit.
func nalType(h265 bool, nal []byte) (int, bool) {
	if len(nal) < 5 {
		return 0, false
	}
	if h265 {
		return int(nal[4]>>1) & 0x3f, true
	}
	return int(nal[4] & 0x1f), true
}

// isSlice says whether a NAL unit carries a picture's slice (a VCL NAL
// unit: H.264 types 1–5, H.265 types 0–31). vdk passes on some others
// (an SEI too large for one packet comes fragmented, as x265's settings
// do in front of its first keyframe); they carry nothing a browser
// needs, and their bytes read as a slice header would say "not the first
// slice of its picture".
func isSlice(h265 bool, nal []byte) bool {
	t, ok := nalType(h265, nal)
	if !ok {
		return false
	}
	if h265 {
		return t < 32
	}
	return t >= 1 && t <= 5
}

// isKey says whether a slice NAL unit belongs to a picture a decoder can
// start from: an IDR slice of H.264, an IRAP picture (BLA, IDR, CRA) of
// H.265.
func isKey(h265 bool, nal []byte) bool {
	t, ok := nalType(h265, nal)
	if !ok {
		return false
	}
	if h265 {
		return t >= 16 && t <= 21
	}
	return t == 5
}

// firstSlice says whether a slice NAL unit is the first of its picture:
// first_mb_in_slice is 0 (its exp-Golomb code is the single bit 1) in
// H.264; first_slice_segment_in_pic_flag is set in H.265.
func firstSlice(h265 bool, nal []byte) bool {
	if h265 {
		return len(nal) > 6 && nal[6]&0x80 != 0
	}
	return len(nal) > 5 && nal[5]&0x80 != 0
}

// rtpWrap is the span of vdk's packet times: RTP timestamps are 32-bit at
// 90 kHz, and vdk turns them into whole milliseconds.
const rtpWrap = time.Duration(1<<32/90) * time.Millisecond

// maxGap is the largest step between two frames' times taken as real; a
// larger one, or a step back, is a jump (camera clock reset, new session)
// and the timeline goes on as if one frame had passed.
const maxGap = 3 * time.Second

// timeline turns camera times (absolute, wrapping, sometimes jumping) into
// the decode times of one continuous track at 90 kHz, without gaps or
// overlaps, so a player's buffer never has a hole: each frame starts where
// the previous one ends, and durations are nudged to follow the camera's
// clock.
type timeline struct {
	next    uint64        // where the next frame starts, 90 kHz
	ideal   int64         // the camera's clock mapped onto the track, 90 kHz
	last    time.Duration // camera time of the previous frame
	step    int64         // the last real frame interval, 90 kHz
	started bool
	jumps   int
}

// restart makes the next frame a new start (a new upstream session): the
// track goes on where it was.
func (tl *timeline) restart() { tl.started = false }

// place returns the decode time and duration of a frame at camera time t.
func (tl *timeline) place(t time.Duration) (dts uint64, dur uint32) {
	if tl.step <= 0 {
		tl.step = 3600 // 25 fps until the camera says otherwise
	}
	if !tl.started {
		tl.started = true
		tl.ideal = int64(tl.next)
	} else {
		d := t - tl.last
		if d < -rtpWrap/2 {
			d += rtpWrap // the 32-bit RTP clock wrapped
		}
		if d <= 0 || d > maxGap {
			tl.jumps++
			tl.ideal = int64(tl.next) // rebase: one frame passed
		} else {
			step := int64(d / (time.Second / 90000))
			tl.ideal += step
			tl.step = step
		}
	}
	tl.last = t
	// Start where the previous frame ended; last as long as the camera's
	// interval, corrected towards its clock by at most half a frame.
	dts = tl.next
	want := tl.ideal + tl.step - int64(dts)
	lo, hi := tl.step/2, tl.step*3/2
	want = min(max(want, lo), hi)
	if want < 1 {
		want = 1
	}
	tl.next += uint64(want)
	return dts, uint32(want)
}
