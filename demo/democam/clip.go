package democam

import (
	_ "embed"
	"errors"
	"fmt"
)

// clipH264 is scripts/make-demo-clip.sh's output: 10 s of a moving test
// pattern, 640x360, 25 fps, a keyframe a second, H.264 baseline, Annex-B
// with access-unit delimiters.
//
//go:embed clip.h264
var clipH264 []byte

// Codec of a clip.
type Codec uint8

// The codecs a clip may be in.
const (
	H264 Codec = iota + 1
	H265
)

// Clip is a video clip split into access units, ready to loop.
type Clip struct {
	Codec Codec
	FPS   int
	// Units are the access units in decode order, each a list of NAL units
	// without start codes and without delimiters.
	Units         [][][]byte
	VPS, SPS, PPS []byte // the first parameter sets found
	Bytes         int    // payload bytes of one loop
}

// Demo returns the embedded demo clip.
func Demo() *Clip {
	c, err := ParseClip(clipH264, H264, 25)
	if err != nil {
		panic(fmt.Sprintf("embedded demo clip: %v", err))
	}
	return c
}

// ParseClip splits an Annex-B stream with access-unit delimiters into
// access units. It must start with parameter sets and a keyframe, so that
// every loop starts as a fresh stream would.
func ParseClip(annexB []byte, codec Codec, fps int) (*Clip, error) {
	if fps <= 0 {
		return nil, errors.New("fps must be positive")
	}
	c := &Clip{Codec: codec, FPS: fps}
	var au [][]byte
	flush := func() {
		if len(au) > 0 {
			c.Units = append(c.Units, au)
			au = nil
		}
	}
	for _, nal := range SplitAnnexB(annexB) {
		if len(nal) == 0 {
			continue
		}
		var typ int
		if codec == H264 {
			typ = int(nal[0] & 0x1f)
			switch typ {
			case 9: // access unit delimiter
				flush()
				continue
			case 7:
				if c.SPS == nil {
					c.SPS = nal
				}
			case 8:
				if c.PPS == nil {
					c.PPS = nal
				}
			}
		} else {
			if len(nal) < 2 {
				continue
			}
			typ = int(nal[0]>>1) & 0x3f
			switch typ {
			case 35:
				flush()
				continue
			case 32:
				if c.VPS == nil {
					c.VPS = nal
				}
			case 33:
				if c.SPS == nil {
					c.SPS = nal
				}
			case 34:
				if c.PPS == nil {
					c.PPS = nal
				}
			}
		}
		au = append(au, nal)
		c.Bytes += len(nal)
	}
	flush()
	if len(c.Units) == 0 {
		return nil, errors.New("no access unit in the clip")
	}
	if c.SPS == nil || c.PPS == nil || (codec == H265 && c.VPS == nil) {
		return nil, errors.New("the clip has no parameter sets")
	}
	return c, nil
}

// SplitAnnexB returns the NAL units of an Annex-B byte stream (start codes
// of three or four bytes), sharing b's memory.
func SplitAnnexB(b []byte) [][]byte {
	var out [][]byte
	start := -1
	i := 0
	for i+2 < len(b) {
		if b[i] == 0 && b[i+1] == 0 && b[i+2] == 1 {
			if start >= 0 {
				end := i
				for end > start && b[end-1] == 0 {
					end--
				}
				out = append(out, b[start:end])
			}
			i += 3
			start = i
			continue
		}
		i++
	}
	if start >= 0 && start < len(b) {
		out = append(out, b[start:])
	}
	return out
}
