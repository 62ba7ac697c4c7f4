package democam_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/deepch/vdk/format/rtspv2"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/internal/testkit"
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

// TestPaths: a path with a clip of its own plays that clip, every other
// path the default one; readers are counted on every path.
func TestPaths(t *testing.T) {
	demo := democam.Demo()
	other := *demo
	other.Units = demo.Units[25:50] // one second: every keyframe is the clip's second
	s, err := democam.Start(democam.Options{Paths: map[string]*democam.Clip{"cam/b/main": &other, "/cam/b/sub": &other}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// firstKey is the start of the clip's first keyframe slice.
	firstKey := func(c *democam.Clip) []byte {
		for _, nal := range c.Units[0] {
			if nal[0]&0x1f == 5 {
				return nal[:64]
			}
		}
		t.Fatal("no keyframe at the start of the clip")
		return nil
	}
	for _, tt := range []struct {
		path string
		clip *democam.Clip
	}{{"cam/a/main", demo}, {"cam/b/main", &other}, {"cam/b/sub", &other}} {
		t.Run(tt.path, func(t *testing.T) {
			c, err := rtspv2.Dial(rtspv2.RTSPClientOptions{URL: s.URL(tt.path), DialTimeout: 3 * time.Second, ReadWriteTimeout: 3 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			end := time.After(3 * time.Second)
			for {
				select {
				case p := <-c.OutgoingPacketQueue:
					if p.Idx != 0 || !p.IsKeyFrame {
						continue
					}
					if !bytes.Contains(p.Data, firstKey(tt.clip)) {
						t.Fatalf("the first keyframe on %s is not its clip's", tt.path)
					}
					// The previous subtest's reader may still be closing on
					// the server's side: wait for it to go.
					testkit.Eventually(t, "one reader on "+tt.path, 3*time.Second, 10*time.Millisecond, func() bool { return s.Readers() == 1 })
					return
				case <-c.Signals:
				case <-end:
					t.Fatal("no keyframe in 3 s")
				}
			}
		})
	}
}
