package fmp4

import "encoding/binary"

// Sample flags of trun: a sync sample depends on no other; any other
// sample depends on others and is not a sync sample.
const (
	flagsSync    = 0x02000000
	flagsNonSync = 0x01010000
)

// FragmentSize is the length of the fragment AppendFragment writes for a
// sample of n bytes.
func FragmentSize(n int) int { return fragmentHeader + n }

// moof(8) mfhd(16) traf(8) tfhd(16) tfdt(20) trun(12+4+4+12) mdat(8)
const fragmentHeader = 8 + 16 + 8 + 16 + 20 + 32 + 8

// AppendFragment appends a media fragment of one sample of track to dst:
// moof (sequence seq, decode time dts in the track's timescale, duration
// dur, sync when key) and mdat holding the parts of the sample in order
// (for video, its length-prefixed NAL units). Presentation time equals
// decode time: samples come in presentation order.
func AppendFragment(dst []byte, seq, track uint32, dts uint64, dur uint32, key bool, parts ...[]byte) []byte {
	size := 0
	for _, p := range parts {
		size += len(p)
	}
	start := len(dst)
	dst = grow(dst, fragmentHeader+size)
	b := dst[start : start+fragmentHeader]
	be := binary.BigEndian
	put := func(off int, typ string, n uint32) {
		be.PutUint32(b[off:], n)
		copy(b[off+4:], typ)
	}
	const moofSize = fragmentHeader - 8
	put(0, "moof", moofSize)
	put(8, "mfhd", 16)
	be.PutUint32(b[16:], 0)
	be.PutUint32(b[20:], seq)
	put(24, "traf", moofSize-24)
	put(32, "tfhd", 16)
	be.PutUint32(b[40:], 0x020000) // default-base-is-moof
	be.PutUint32(b[44:], track)
	put(48, "tfdt", 20)
	be.PutUint32(b[56:], 1<<24) // version 1: 64-bit time
	be.PutUint64(b[60:], dts)
	put(68, "trun", 32)
	be.PutUint32(b[76:], 0x000701) // data offset, duration, size, flags
	be.PutUint32(b[80:], 1)
	be.PutUint32(b[84:], moofSize+8)
	be.PutUint32(b[88:], dur)
	be.PutUint32(b[92:], uint32(size))
	flags := uint32(flagsNonSync)
	if key {
		flags = flagsSync
	}
	be.PutUint32(b[96:], flags)
	put(100, "mdat", uint32(8+size))
	off := start + fragmentHeader
	for _, p := range parts {
		off += copy(dst[off:], p)
	}
	return dst
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

// Retime returns a copy of a fragment AppendFragment made, with another
// sequence number, decode time and duration; false when frag is not such
// a fragment.
func Retime(frag []byte, seq uint32, dts uint64, dur uint32) ([]byte, bool) {
	if len(frag) < fragmentHeader || string(frag[4:8]) != "moof" || string(frag[52:56]) != "tfdt" ||
		string(frag[72:76]) != "trun" || string(frag[104:108]) != "mdat" {
		return nil, false
	}
	out := append([]byte(nil), frag...)
	be := binary.BigEndian
	be.PutUint32(out[20:], seq)
	be.PutUint64(out[60:], dts)
	be.PutUint32(out[88:], dur)
	return out, true
}
