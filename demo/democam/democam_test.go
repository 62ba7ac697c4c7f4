package democam_test

import (
	"testing"
	"time"

	"github.com/deepch/vdk/format/rtspv2"

	"github.com/citywall/citywall/demo/democam"
)

// TestDemoClip: the embedded clip is 10 s at 25 fps with a keyframe a
// second, and small.
func TestDemoClip(t *testing.T) {
	c := democam.Demo()
	if len(c.Units) != 250 {
		t.Errorf("%d access units, want 250", len(c.Units))
	}
	keys := 0
	for _, au := range c.Units {
		for _, nal := range au {
			if nal[0]&0x1f == 5 {
				keys++
				break
			}
		}
	}
	if keys != 10 {
		t.Errorf("%d keyframes, want 10", keys)
	}
	if c.Bytes > 400<<10 {
		t.Errorf("clip of %d bytes, want a few hundred KB", c.Bytes)
	}
}

func TestSplitAnnexB(t *testing.T) {
	got := democam.SplitAnnexB([]byte{0, 0, 0, 1, 9, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3})
	if len(got) != 3 || got[0][0] != 9 || len(got[1]) != 3 || got[2][1] != 3 {
		t.Errorf("%x", got)
	}
}

// TestLoopTimestamps: a one-second loop played for more than two seconds
// to a real RTSP reader: frame times go on by 40 ms across every loop,
// and the session counts as one reader.
func TestLoopTimestamps(t *testing.T) {
	demo := democam.Demo()
	loop := *demo
	loop.Units = demo.Units[:25]
	s, err := democam.Start(democam.Options{Clip: &loop})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := rtspv2.Dial(rtspv2.RTSPClientOptions{URL: s.URL("any/path"), DialTimeout: 3 * time.Second, ReadWriteTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var last time.Duration
	frames := 0
	end := time.After(2500 * time.Millisecond)
	for {
		select {
		case p := <-c.OutgoingPacketQueue:
			if p.Idx != 0 {
				continue
			}
			if frames > 0 && p.Time-last != 40*time.Millisecond {
				t.Fatalf("frame %d: %s after the previous, want 40ms", frames, p.Time-last)
			}
			last = p.Time
			frames++
		case <-c.Signals:
		case <-end:
			if frames < 55 {
				t.Errorf("%d frames in 2.5 s", frames)
			}
			if s.Readers() != 1 {
				t.Errorf("%d readers", s.Readers())
			}
			return
		}
	}
}
