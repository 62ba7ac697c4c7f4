package transcode

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// pes makes a PES packet of an Annex B payload; withLen writes its length.
func pes(payload []byte, withLen bool) []byte {
	b := []byte{0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1}
	if withLen {
		binary.BigEndian.PutUint16(b[4:], uint16(len(b)-6+len(payload)))
	}
	return append(b, payload...)
}

// packetize cuts a PES packet into TS packets on pid, the last one padded
// with adaptation-field stuffing as ffmpeg pads it (none when it fits).
func packetize(pid int, p []byte) []byte {
	var out []byte
	first := true
	for cc := 0; len(p) > 0; cc++ {
		h := []byte{0x47, byte(pid >> 8 & 0x1f), byte(pid), 0x10 | byte(cc&15)}
		if first {
			h[1] |= 0x40
		}
		first = false
		n := min(len(p), 184)
		if n < 184 {
			h[3] |= 0x20
			alen := 183 - n
			h = append(h, byte(alen))
			if alen > 0 {
				h = append(h, 0)
				h = append(h, bytes.Repeat([]byte{0xff}, alen-1)...)
			}
		}
		out = append(out, h...)
		out = append(out, p[:n]...)
		p = p[n:]
	}
	return out
}

func annexB(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(b, 0, 0, 0, 1)
		b = append(b, n...)
	}
	return b
}

// TestDemuxer: pictures come out at their last byte when the PES length
// is known or the last packet is stuffed, else when the next one begins;
// delimiters, SEI and parameter sets are left out of the samples; chunks
// of any size give the same result.
func TestDemuxer(t *testing.T) {
	aud, sps, pps, sei := []byte{0x09, 0xf0}, []byte{0x67, 0x64, 0, 0x1f}, []byte{0x68, 0xee}, []byte{0x06, 5, 1, 0}
	idr := append([]byte{0x65, 0x88}, bytes.Repeat([]byte{1}, 400)...)
	p1 := append([]byte{0x41, 0x9a}, bytes.Repeat([]byte{2}, 184-14-6-4-2)...) // fills one packet exactly
	p2 := []byte{0x41, 0x9b, 3}
	pat := packetize(0, []byte{0, 0, 0xb0, 13})
	stream := append([]byte(nil), pat...)
	stream = append(stream, packetize(videoPID, pes(annexB(aud, sps, pps, sei, idr), true))...)
	stream = append(stream, packetize(videoPID, pes(annexB(aud, p1), false))...)
	afterP1 := len(stream)
	stream = append(stream, packetize(videoPID, pes(annexB(aud, p2), false))...)
	for _, chunk := range []int{1, 7, 188, 1000, len(stream)} {
		var got []AccessUnit
		var when []int
		fed := 0
		d := Demuxer{Emit: func(au AccessUnit) { got = append(got, au); when = append(when, fed) }}
		for b := stream; len(b) > 0; {
			n := min(chunk, len(b))
			fed += n
			if err := d.Write(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		if len(got) != 3 {
			t.Fatalf("chunk %d: %d pictures, want 3", chunk, len(got))
		}
		if !got[0].Key || !bytes.Equal(got[0].SPS, sps) || !bytes.Equal(got[0].PPS, pps) || len(got[0].NALs) != 1 ||
			!bytes.Equal(got[0].NALs[0][4:], idr) || int(binary.BigEndian.Uint32(got[0].NALs[0])) != len(idr) {
			t.Errorf("chunk %d: keyframe %+v", chunk, got[0])
		}
		if got[1].Key || !bytes.Equal(got[1].NALs[0][4:], p1) || got[2].Size != 4+len(p2) {
			t.Errorf("chunk %d: pictures 2 and 3 wrong", chunk)
		}
		if when[1] <= afterP1 {
			t.Errorf("chunk %d: a picture of unknown length that fills its packets ended before the next began", chunk)
		}
		if when[2] != len(stream) && chunk == 1 {
			t.Errorf("chunk %d: a stuffed picture came out after %d of %d bytes", chunk, when[2], len(stream))
		}
	}
	if err := (&Demuxer{}).Write(bytes.Repeat([]byte{0x46}, 188)); err != ErrSync {
		t.Errorf("garbage: %v, want ErrSync", err)
	}
}

// FuzzDemuxer: any bytes, in any chunks, never panic.
func FuzzDemuxer(f *testing.F) {
	f.Add(packetize(videoPID, pes(annexB([]byte{0x09, 0xf0}, []byte{0x65, 0x88, 1}), true)), 7)
	f.Add(packetize(videoPID, pes(annexB([]byte{0x41, 0x9a, 1, 0, 0, 1}), false)), 188)
	f.Add(append(packetize(videoPID, []byte{0, 0, 1, 0xe0, 0xff, 0xff, 0x80}), packetize(videoPID, []byte{0, 0, 1})...), 1)
	f.Fuzz(func(t *testing.T, b []byte, chunk int) {
		if chunk <= 0 {
			chunk = 1
		}
		d := Demuxer{Emit: func(au AccessUnit) {
			for _, n := range au.NALs {
				if int(binary.BigEndian.Uint32(n)) != len(n)-4 {
					t.Fatal("a sample's length prefix is wrong")
				}
			}
		}}
		for len(b) > 0 {
			n := min(chunk, len(b))
			if d.Write(b[:n]) != nil {
				return
			}
			b = b[n:]
		}
	})
}
