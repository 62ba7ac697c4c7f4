package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EncodeClip encodes source (an ffmpeg lavfi graph such as
// "testsrc2=size=320x180:rate=25:duration=2") as a camera sends it: an
// Annex B stream of codec "h264" (baseline) or "h265", a keyframe every 25
// frames with its parameter sets in front, access unit delimiters, no
// B-frames. extra is appended to the encoder's parameters (":key=value").
// ffmpeg is a tool the video tests need: without it the test fails.
func EncodeClip(t testing.TB, codec, source, extra string) []byte {
	t.Helper()
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg not found (%v): the video tests need it: apt-get install ffmpeg", err)
	}
	out := filepath.Join(t.TempDir(), "clip."+codec)
	args := []string{"-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", source}
	switch codec {
	case "h264":
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-profile:v", "baseline", "-pix_fmt", "yuv420p",
			"-x264-params", "keyint=25:min-keyint=25:scenecut=0:aud=1:repeat-headers=1"+extra, "-f", "h264", out)
	case "h265":
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
			"-x265-params", "keyint=25:min-keyint=25:scenecut=0:aud=1:repeat-headers=1:bframes=0:log-level=error"+extra, "-f", "hevc", out)
	default:
		t.Fatalf("EncodeClip: codec %q, want h264 or h265", codec)
	}
	if b, err := exec.Command(ff, args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
