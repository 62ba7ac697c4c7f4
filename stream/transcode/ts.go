package transcode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// videoPID is the PID ffmpeg gives the first stream with
// -mpegts_start_pid 256.
const videoPID = 0x100

const tsSize = 188

// AccessUnit is one H.264 picture as ffmpeg wrote it.
type AccessUnit struct {
	// NALs are its slices, each with a 4-byte big-endian length in front
	// (as MP4 samples carry them). Delimiters, SEI and parameter sets are
	// left out: the parameter sets go in SPS and PPS.
	NALs [][]byte
	Size int // bytes of NALs, prefixes included
	Key  bool
	// SPS and PPS are the parameter sets in force: the latest the stream
	// carried (nil before the first).
	SPS, PPS []byte
}

// ErrSync is returned for a stream that is not MPEG-TS.
var ErrSync = errors.New("transcode: lost MPEG-TS sync (not a 0x47 every 188 bytes)")

// Demuxer takes ffmpeg's MPEG-TS output in chunks of any size and hands
// out the access units of its H.264 stream. A PES packet whose length is
// known (ffmpeg's -omit_video_pes_length 0, for pictures under 64 KiB) or
// whose last TS packet is padded with stuffing is complete at its last
// byte; one of unknown length that fills its last packet exactly ends when
// the next begins.
type Demuxer struct {
	Emit func(AccessUnit)

	buf     []byte // an incomplete TS packet
	pes     []byte // the PES packet being gathered
	want    int    // its total length, 0 while unknown
	started bool
	sps     []byte
	pps     []byte
}

// Write takes the next bytes of the stream.
func (d *Demuxer) Write(b []byte) error {
	if len(d.buf) > 0 {
		n := min(tsSize-len(d.buf), len(b))
		d.buf = append(d.buf, b[:n]...)
		b = b[n:]
		if len(d.buf) < tsSize {
			return nil
		}
		if err := d.packet(d.buf); err != nil {
			return err
		}
		d.buf = d.buf[:0]
	}
	for len(b) >= tsSize {
		if err := d.packet(b[:tsSize]); err != nil {
			return err
		}
		b = b[tsSize:]
	}
	d.buf = append(d.buf, b...)
	return nil
}

// packet takes one TS packet.
func (d *Demuxer) packet(p []byte) error {
	if p[0] != 0x47 {
		return ErrSync
	}
	pusi := p[1]&0x40 != 0
	pid := int(p[1]&0x1f)<<8 | int(p[2])
	afc := p[3] >> 4 & 3
	if pid != videoPID || afc&1 == 0 {
		return nil
	}
	off := 4
	stuffed := false
	if afc&2 != 0 {
		alen := int(p[4])
		if 5+alen > tsSize {
			return fmt.Errorf("transcode: adaptation field of %d bytes", alen)
		}
		if alen > 0 {
			used := 1
			flags := p[5]
			if flags&0x10 != 0 {
				used += 6 // PCR
			}
			if flags&0x08 != 0 {
				used += 6 // OPCR
			}
			if flags&0x04 != 0 {
				used++ // splice countdown
			}
			stuffed = alen > used && flags&0x03 == 0 && p[4+alen] == 0xff
		}
		off = 5 + alen
	}
	payload := p[off:]
	if pusi {
		if d.started {
			d.flush() // the previous PES, of unknown length, has ended
		}
		d.started = true
		d.pes = append(d.pes[:0], payload...)
		d.want = 0
		if len(d.pes) >= 6 {
			if n := int(binary.BigEndian.Uint16(d.pes[4:6])); n > 0 {
				d.want = 6 + n
			}
		}
	} else if d.started {
		d.pes = append(d.pes, payload...)
	}
	if d.started && ((d.want > 0 && len(d.pes) >= d.want) || stuffed) {
		d.flush()
	}
	return nil
}

// flush hands out the gathered PES packet's picture.
func (d *Demuxer) flush() {
	pes := d.pes
	if d.want > 0 && len(pes) > d.want {
		pes = pes[:d.want]
	}
	d.started, d.want = false, 0
	defer func() { d.pes = d.pes[:0] }()
	// 00 00 01, stream id, length (2), flags (2), header length.
	if len(pes) < 9 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 {
		return
	}
	hl := 9 + int(pes[8])
	if hl > len(pes) {
		return
	}
	au := AccessUnit{}
	for nal := range splitAnnexB(pes[hl:]) {
		switch nal[0] & 0x1f {
		case 7:
			d.sps = append([]byte(nil), nal...)
		case 8:
			d.pps = append([]byte(nil), nal...)
		case 1, 2, 3, 4, 5:
			if nal[0]&0x1f == 5 {
				au.Key = true
			}
			b := make([]byte, 4+len(nal))
			binary.BigEndian.PutUint32(b, uint32(len(nal)))
			copy(b[4:], nal)
			au.NALs = append(au.NALs, b)
			au.Size += len(b)
		}
	}
	if len(au.NALs) == 0 || d.Emit == nil {
		return
	}
	au.SPS, au.PPS = d.sps, d.pps
	d.Emit(au)
}

// splitAnnexB yields the NAL units of an Annex B byte stream (without
// their start codes and trailing zeros; empty ones skipped).
func splitAnnexB(b []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		sc := []byte{0, 0, 1}
		i := bytes.Index(b, sc)
		for i >= 0 {
			b = b[i+3:]
			i = bytes.Index(b, sc)
			nal := b
			if i >= 0 {
				nal = bytes.TrimRight(b[:i], "\x00")
			}
			if len(nal) > 0 && !yield(nal) {
				return
			}
		}
	}
}
