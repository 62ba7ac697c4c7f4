package relay

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deepch/vdk/av"
	"github.com/deepch/vdk/codec/aacparser"
	"github.com/deepch/vdk/codec/h264parser"
	"github.com/deepch/vdk/codec/h265parser"

	"github.com/citywall/citywall/demo/democam"
)

// TestTimeline: camera times become a gapless track; the 32-bit RTP
// clock wrapping is not a jump; a jump (clock reset, new session) goes on
// as if one frame had passed.
func TestTimeline(t *testing.T) {
	var tl timeline
	start := rtpWrap - 200*time.Millisecond // five frames before the wrap
	var next uint64
	for i := range 20 {
		at := (start + time.Duration(i)*40*time.Millisecond) % rtpWrap
		dts, dur := tl.place(at)
		if dts != next {
			t.Fatalf("frame %d at %d, previous ended at %d", i, dts, next)
		}
		if dur != 3600 && i > 0 {
			t.Errorf("frame %d (camera time %s) lasts %d, want 3600", i, at, dur)
		}
		next = dts + uint64(dur)
	}
	if tl.jumps != 0 {
		t.Errorf("the wrap counted as %d jumps", tl.jumps)
	}
	// A jump back by an hour, then on at 25 fps.
	dts, _ := tl.place(time.Hour)
	if dts != next || tl.jumps != 1 {
		t.Errorf("after a jump: dts %d (want %d), jumps %d", dts, next, tl.jumps)
	}
	// Jitter: frames 30 and 50 ms apart average out to the camera's clock.
	tl = timeline{}
	at := time.Duration(0)
	var end uint64
	for i := range 100 {
		if i%2 == 0 {
			at += 30 * time.Millisecond
		} else {
			at += 50 * time.Millisecond
		}
		dts, dur := tl.place(at)
		end = dts + uint64(dur)
	}
	if drift := int64(end) - int64(at/time.Millisecond)*90; drift < -7200 || drift > 7200 {
		t.Errorf("after 100 jittery frames the track is %d ticks off the camera clock", drift)
	}
	// A new session goes on where the track was.
	tl.restart()
	if dts, _ := tl.place(5 * time.Second); dts != end {
		t.Errorf("restart: %d, want %d", dts, end)
	}
}

// TestNALs: slices, keyframes and first slices found in the NAL headers.
func TestNALs(t *testing.T) {
	lp := func(b ...byte) []byte { return append([]byte{0, 0, 0, byte(len(b))}, b...) }
	for _, tc := range []struct {
		name       string
		h265       bool
		nal        []byte
		key, first bool
		slice      bool
	}{
		{"H.264 IDR, first slice", false, lp(0x65, 0x88), true, true, true},
		{"H.264 IDR, later slice", false, lp(0x65, 0x40), true, false, true},
		{"H.264 P, first slice", false, lp(0x41, 0x9a), false, true, true},
		{"H.264 SEI", false, lp(0x06, 0x05, 0x10), false, false, false},
		{"H.265 IDR_W_RADL, first", true, lp(0x26, 0x01, 0xaf), true, true, true},
		{"H.265 CRA, later segment", true, lp(0x2a, 0x01, 0x20), true, false, true},
		{"H.265 TRAIL_R", true, lp(0x02, 0x01, 0xd0), false, true, true},
		{"H.265 prefix SEI", true, lp(0x4e, 0x01, 0x05, 0x10), false, false, false},
		{"too short", false, []byte{0, 0, 0, 1}, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s := isSlice(tc.h265, tc.nal); s != tc.slice {
				t.Errorf("slice %v", s)
			}
			if k := isKey(tc.h265, tc.nal); k != tc.key {
				t.Errorf("key %v", k)
			}
			if f := firstSlice(tc.h265, tc.nal); f != tc.first {
				t.Errorf("first %v", f)
			}
		})
	}
}

// TestCodecGuards: vdk's half-built codec data (an H.264 camera whose SPS
// comes later, a bad AAC config) must not panic and makes no track.
func TestCodecGuards(t *testing.T) {
	for _, cd := range []av.CodecData{h264parser.CodecData{}, h265parser.CodecData{}, aacparser.CodecData{}} {
		if _, ok := codecTrack(cd); ok {
			t.Errorf("%T{} made a track", cd)
		}
	}
}

// TestViewerQueue: a viewer past its bound drops what waits and starts
// again at the next keyframe; headers and states are never dropped.
func TestViewerQueue(t *testing.T) {
	r, err := New([]Camera{{ID: "c", Main: "rtsp://127.0.0.1:1/x"}}, Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := &Viewer{src: r.cameras["c"].main, relay: r, cam: r.cameras["c"], limit: 1000, wake: make(chan struct{}, 1)}
	frag := func(key bool) Item {
		return Item{Kind: KindFragment, Fragment: &Fragment{Data: make([]byte, 300), Key: key}}
	}
	if n := v.push(frag(false)); n != 0 || len(v.queue) != 0 {
		t.Fatal("a frame before the first keyframe is queued (or counted as dropped)")
	}
	v.push(Item{Kind: KindHeader, Header: &Header{Init: make([]byte, 100)}})
	v.push(frag(true))
	v.push(frag(false))
	v.push(frag(false)) // 100 + 900 bytes queued
	if n := v.push(frag(false)); n != 4 {
		t.Errorf("overflow dropped %d frames, want the 3 queued and this one", n)
	}
	if len(v.queue) != 1 || v.queue[0].Kind != KindHeader {
		t.Errorf("after overflow the queue holds %d items", len(v.queue))
	}
	if n := v.push(frag(false)); n != 1 {
		t.Errorf("a non-keyframe while skipping: %d dropped, want 1", n)
	}
	v.push(Item{Kind: KindState, Status: Status{State: Live}})
	if n := v.push(frag(true)); n != 0 || !v.started || v.skipping {
		t.Errorf("the next keyframe did not end the skip")
	}
	if v.Dropped() != 5 {
		t.Errorf("dropped %d", v.Dropped())
	}
}

// TestRedactor: the password never survives, in any spelling.
func TestRedactor(t *testing.T) {
	raw := "rtsp://admin:p%40ss:w0rd@10.1.2.3:554/Streaming/101"
	r := redactor(raw, "rtsp://xxxxx@10.1.2.3:554/Streaming/101", "", "")
	for _, msg := range []string{
		`parse "` + raw + `": invalid`,
		"auth p@ss:w0rd failed",
		"auth p%40ss:w0rd failed",
		"admin:p@ss:w0rd",
	} {
		got := r.String(msg)
		if strings.Contains(got, "w0rd") || strings.Contains(got, "admin:") {
			t.Errorf("%q → %q", msg, got)
		}
	}
	r = redactor("rtsp://10.1.2.3/x", "rtsp://10.1.2.3/x", "cam", "hunter22")
	if got := r.String("user cam:hunter22 pass hunter22"); strings.Contains(got, "hunter22") || strings.Contains(got, "cam:") {
		t.Errorf("separate password shown: %q", got)
	}
}

// BenchmarkPublish hands one 20 KB frame (a 4 Mbit/s stream at 25 fps) to
// 100 viewers whose writers take it at once, as the relay does per frame.
func BenchmarkPublish(b *testing.B) {
	r, err := New([]Camera{{ID: "c", Main: "rtsp://127.0.0.1:1/x"}}, Options{}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	s := r.cameras["c"].main
	s.header = &Header{Init: []byte("init")}
	var vs []*Viewer
	for range 100 {
		v := &Viewer{src: s, relay: s.relay, cam: s.cam, limit: 8 << 20, wake: make(chan struct{}, 1), started: true}
		s.viewers[v] = struct{}{}
		vs = append(vs, v)
	}
	data := make([]byte, 20000)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.publish(&Fragment{Data: data, Key: i%25 == 0})
		for _, v := range vs {
			v.mu.Lock()
			clear(v.queue)
			v.queue, v.head, v.bytes = v.queue[:0], 0, 0
			v.mu.Unlock()
		}
	}
}

// BenchmarkCheck checks a camera nobody watches: the RTSP handshake up to
// PLAY, the first video packet, the hang-up (a loopback camera; a real one
// adds its network's round trips).
func BenchmarkCheck(b *testing.B) {
	cam, err := democam.Start(democam.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer cam.Close()
	r, err := New([]Camera{{ID: "c", Main: cam.URL("c")}}, Options{CheckInterval: -1}, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	s := r.cameras["c"].main
	for b.Loop() {
		if err := s.check(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzAssembler feeds packets as a camera might send them (any NAL bytes,
// any times, video, audio and unknown tracks) through the assembler: no
// panic, and every fragment it makes starts with moof.
func FuzzAssembler(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, 0x65, 0x88}, int64(0), int8(0), false)
	f.Add([]byte{0, 0, 0, 2, 0x41, 0x9a}, int64(40), int8(0), false)
	f.Add([]byte{0, 0, 0, 2, 0x41, 0x1a}, int64(40), int8(0), false)
	f.Add([]byte{0, 0, 0, 3, 0x26, 0x01, 0xaf}, int64(-5), int8(0), true)
	f.Add([]byte{0x21, 0x10}, int64(21), int8(1), false)
	f.Add([]byte{}, int64(1<<40), int8(7), false)
	r, err := New([]Camera{{ID: "c", Main: "rtsp://127.0.0.1:1/x"}}, Options{}, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	s := r.cameras["c"].main
	s.header = &Header{Init: []byte("init")}
	v := &Viewer{src: s, relay: s.relay, cam: s.cam, audio: true, limit: 1 << 20, wake: make(chan struct{}, 1), started: true}
	s.viewers[v] = struct{}{}
	f.Fuzz(func(t *testing.T, data []byte, ms int64, idx int8, h265 bool) {
		var tl timeline
		a := assembler{src: s, tl: &tl, up: &upstream{videoIdx: 0, audioIdx: 1, sr: 48000, h265: h265}}
		for i := range 4 {
			pkt := &av.Packet{Idx: idx, Data: data, Time: time.Duration(ms+int64(i)*40) * time.Millisecond}
			a.packet(pkt, time.Now())
		}
		v.mu.Lock()
		for _, it := range v.queue[v.head:] {
			if it.Kind == KindFragment && string(it.Fragment.Data[4:8]) != "moof" {
				t.Fatal("a fragment without moof")
			}
		}
		v.queue, v.head, v.bytes = v.queue[:0], 0, 0
		v.mu.Unlock()
	})
}
