package fmp4

import (
	"errors"
	"fmt"
	"strings"
)

// Codec is a track's codec.
type Codec uint8

// The codecs a browser's MSE plays from fMP4.
const (
	H264 Codec = iota + 1
	H265
	AAC
)

func (c Codec) String() string {
	switch c {
	case H264:
		return "H.264"
	case H265:
		return "H.265"
	case AAC:
		return "AAC"
	}
	return "unknown"
}

// Track describes one track of an init segment.
type Track struct {
	ID        uint32 // 1, 2, ...
	Codec     Codec
	Timescale uint32 // ticks a second: 90000 for video, the sample rate for audio
	// Config is the decoder configuration: the AVCDecoderConfigurationRecord
	// (avcC) of H.264, the HEVCDecoderConfigurationRecord (hvcC) of H.265, or
	// the AudioSpecificConfig of AAC.
	Config []byte
	Width  int // video
	Height int
	// Channels and SampleRate of audio.
	Channels   int
	SampleRate int
}

// ErrConfig is returned for a track whose decoder configuration cannot be
// used.
var ErrConfig = errors.New("bad decoder configuration")

// CodecString is the RFC 6381 codecs parameter of a track, as
// MediaSource.isTypeSupported wants it: avc1.42E01E, hvc1.1.6.L93.B0,
// mp4a.40.2.
func (t Track) CodecString() (string, error) {
	c := t.Config
	switch t.Codec {
	case H264:
		if len(c) < 4 {
			return "", fmt.Errorf("avcC of %d bytes: %w", len(c), ErrConfig)
		}
		return fmt.Sprintf("avc1.%02X%02X%02X", c[1], c[2], c[3]), nil
	case H265:
		if len(c) < 13 {
			return "", fmt.Errorf("hvcC of %d bytes: %w", len(c), ErrConfig)
		}
		space := c[1] >> 6
		tier := c[1] >> 5 & 1
		profile := c[1] & 0x1f
		compat := uint32(c[2])<<24 | uint32(c[3])<<16 | uint32(c[4])<<8 | uint32(c[5])
		var rev uint32 // the compatibility flags are written bit-reversed
		for i := range 32 {
			if compat&(1<<i) != 0 {
				rev |= 1 << (31 - i)
			}
		}
		var b strings.Builder
		b.WriteString("hvc1.")
		if space > 0 {
			b.WriteByte('A' + space - 1)
		}
		fmt.Fprintf(&b, "%d.%X.", profile, rev)
		if tier == 1 {
			b.WriteByte('H')
		} else {
			b.WriteByte('L')
		}
		fmt.Fprintf(&b, "%d", c[12])
		cons := c[6:12]
		n := len(cons)
		for n > 0 && cons[n-1] == 0 {
			n--
		}
		for _, x := range cons[:n] {
			fmt.Fprintf(&b, ".%X", x)
		}
		if n == 0 {
			b.WriteString(".B0")
		}
		return b.String(), nil
	case AAC:
		if len(c) < 2 {
			return "", fmt.Errorf("AudioSpecificConfig of %d bytes: %w", len(c), ErrConfig)
		}
		return fmt.Sprintf("mp4a.40.%d", c[0]>>3), nil
	}
	return "", fmt.Errorf("codec %d: %w", t.Codec, ErrConfig)
}

// MIME is the type to give MediaSource.addSourceBuffer for tracks.
func MIME(tracks ...Track) (string, error) {
	var codecs []string
	for _, t := range tracks {
		s, err := t.CodecString()
		if err != nil {
			return "", err
		}
		codecs = append(codecs, s)
	}
	return `video/mp4; codecs="` + strings.Join(codecs, ", ") + `"`, nil
}

// Init writes the init segment of tracks: ftyp and a moov with one trak
// and one trex each, empty sample tables (every sample comes in a
// fragment).
func Init(tracks ...Track) ([]byte, error) {
	if len(tracks) == 0 {
		return nil, fmt.Errorf("no track: %w", ErrConfig)
	}
	for _, t := range tracks {
		if _, err := t.CodecString(); err != nil {
			return nil, err
		}
		if t.Timescale == 0 {
			return nil, fmt.Errorf("track %d: timescale 0: %w", t.ID, ErrConfig)
		}
	}
	w := &writer{b: make([]byte, 0, 1024)}
	w.open("ftyp")
	w.str("isom")
	w.u32(0x200)
	w.str("isomiso6mp41")
	w.close()

	w.open("moov")
	w.openFull("mvhd", 0, 0)
	w.u32(0)       // creation time
	w.u32(0)       // modification time
	w.u32(1000)    // timescale
	w.u32(0)       // duration: unknown, fragments follow
	w.u32(0x10000) // rate 1.0
	w.u16(0x100)   // volume 1.0
	w.zeros(10)
	w.matrix()
	w.zeros(24)
	w.u32(tracks[len(tracks)-1].ID + 1) // next track id
	w.close()
	for _, t := range tracks {
		trak(w, t)
	}
	w.open("mvex")
	for _, t := range tracks {
		w.openFull("trex", 0, 0)
		w.u32(t.ID)
		w.u32(1) // sample description index
		w.u32(0) // default duration, size, flags: every trun sets its own
		w.u32(0)
		w.u32(0)
		w.close()
	}
	w.close()
	w.close()
	return w.b, nil
}

func trak(w *writer, t Track) {
	video := t.Codec != AAC
	w.open("trak")
	w.openFull("tkhd", 0, 3) // enabled, in movie
	w.u32(0)
	w.u32(0)
	w.u32(t.ID)
	w.u32(0) // reserved
	w.u32(0) // duration
	w.zeros(8)
	w.u16(0) // layer
	w.u16(0) // alternate group
	if video {
		w.u16(0)
	} else {
		w.u16(0x100)
	}
	w.u16(0)
	w.matrix()
	if video {
		w.u32(uint32(t.Width) << 16)
		w.u32(uint32(t.Height) << 16)
	} else {
		w.u32(0)
		w.u32(0)
	}
	w.close()

	w.open("mdia")
	w.openFull("mdhd", 0, 0)
	w.u32(0)
	w.u32(0)
	w.u32(t.Timescale)
	w.u32(0)
	w.u16(0x55c4) // "und"
	w.u16(0)
	w.close()
	w.openFull("hdlr", 0, 0)
	w.u32(0)
	if video {
		w.str("vide")
	} else {
		w.str("soun")
	}
	w.zeros(12)
	if video {
		w.str("VideoHandler\x00")
	} else {
		w.str("SoundHandler\x00")
	}
	w.close()

	w.open("minf")
	if video {
		w.openFull("vmhd", 0, 1)
		w.zeros(8)
		w.close()
	} else {
		w.openFull("smhd", 0, 0)
		w.zeros(4)
		w.close()
	}
	w.open("dinf")
	w.openFull("dref", 0, 0)
	w.u32(1)
	w.openFull("url ", 0, 1) // media in this file
	w.close()
	w.close()
	w.close()

	w.open("stbl")
	w.openFull("stsd", 0, 0)
	w.u32(1)
	switch t.Codec {
	case H264, H265:
		entry, conf := "avc1", "avcC"
		if t.Codec == H265 {
			entry, conf = "hvc1", "hvcC"
		}
		w.open(entry)
		w.zeros(6)
		w.u16(1) // data reference index
		w.zeros(16)
		w.u16(uint16(t.Width))
		w.u16(uint16(t.Height))
		w.u32(0x480000) // 72 dpi
		w.u32(0x480000)
		w.u32(0)
		w.u16(1) // frame count
		w.zeros(32)
		w.u16(0x18) // depth
		w.u16(0xffff)
		w.open(conf)
		w.raw(t.Config)
		w.close()
		w.close()
	case AAC:
		ch, rate := t.Channels, t.SampleRate
		if ch <= 0 {
			ch = 2
		}
		w.open("mp4a")
		w.zeros(6)
		w.u16(1)
		w.zeros(8)
		w.u16(uint16(ch))
		w.u16(16)
		w.u32(0)
		if rate >= 1<<16 {
			rate = 0 // does not fit; the AudioSpecificConfig has it
		}
		w.u32(uint32(rate) << 16)
		esds(w, t.Config)
		w.close()
	}
	w.close()
	for _, typ := range []string{"stts", "stsc", "stco"} {
		w.openFull(typ, 0, 0)
		w.u32(0)
		w.close()
	}
	w.openFull("stsz", 0, 0)
	w.u32(0)
	w.u32(0)
	w.close()
	w.close() // stbl
	w.close() // minf
	w.close() // mdia
	w.close() // trak
}

// esds carries an AAC AudioSpecificConfig in MPEG-4 descriptors.
func esds(w *writer, asc []byte) {
	desc := func(tag byte, size int) {
		w.u8(tag)
		// Four-byte size form, as most muxers write it.
		w.u8(0x80 | byte(size>>21&0x7f))
		w.u8(0x80 | byte(size>>14&0x7f))
		w.u8(0x80 | byte(size>>7&0x7f))
		w.u8(byte(size & 0x7f))
	}
	dsi := 5 + len(asc)
	dcd := 13 + dsi
	sl := 5 + 1
	es := 3 + 5 + dcd + sl
	w.openFull("esds", 0, 0)
	desc(0x03, es)
	w.u16(0) // ES id
	w.u8(0)  // flags
	desc(0x04, dcd)
	w.u8(0x40) // MPEG-4 audio
	w.u8(0x15) // audio stream
	w.zeros(3) // buffer size
	w.u32(0)   // max bitrate
	w.u32(0)   // average bitrate
	desc(0x05, len(asc))
	w.raw(asc)
	desc(0x06, 1)
	w.u8(2)
	w.close()
}
