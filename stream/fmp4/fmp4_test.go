package fmp4_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deepch/vdk/codec/h264parser"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/stream/fmp4"
)

// demoTrack is the demo clip's video as a track, and its frames as
// length-prefixed samples.
func demoTrack(t testing.TB) (fmp4.Track, [][]byte, []bool) {
	t.Helper()
	clip := democam.Demo()
	cd, err := h264parser.NewCodecDataFromSPSAndPPS(clip.SPS, clip.PPS)
	if err != nil {
		t.Fatal(err)
	}
	tr := fmp4.Track{ID: 1, Codec: fmp4.H264, Timescale: 90000, Config: cd.AVCDecoderConfRecordBytes(), Width: cd.Width(), Height: cd.Height()}
	var samples [][]byte
	var keys []bool
	for _, au := range clip.Units {
		var s []byte
		key := false
		for _, nal := range au {
			typ := nal[0] & 0x1f
			if typ < 1 || typ > 5 {
				continue // parameter sets live in avcC
			}
			key = key || typ == 5
			s = binary.BigEndian.AppendUint32(s, uint32(len(nal)))
			s = append(s, nal...)
		}
		samples = append(samples, s)
		keys = append(keys, key)
	}
	return tr, samples, keys
}

// TestFFmpegDecodesEveryFrame writes the demo clip as an init segment
// and one fragment per frame, and has ffmpeg decode it: every frame comes
// out, at 25 fps.
func TestFFmpegDecodesEveryFrame(t *testing.T) {
	ff, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Fatalf("ffprobe not found (%v): apt-get install ffmpeg", err)
	}
	tr, samples, keys := demoTrack(t)
	init, err := fmp4.Init(tr)
	if err != nil {
		t.Fatal(err)
	}
	out := append([]byte(nil), init...)
	for i, s := range samples {
		out = fmp4.AppendFragment(out, uint32(i+1), 1, uint64(i)*3600, 3600, keys[i], s[:len(s)/2], s[len(s)/2:])
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ff, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames,avg_frame_rate", "-of", "csv=p=0", path)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, b)
	}
	got := strings.TrimSpace(string(b))
	want := "h264,640,360,25/1," + strconv.Itoa(len(samples))
	if got != want {
		t.Errorf("ffprobe says %q, want %q", got, want)
	}
}

// TestCodecStrings: RFC 6381 strings from decoder configurations.
func TestCodecStrings(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   fmp4.Track
		want string
	}{
		{"H.264 baseline", fmp4.Track{Codec: fmp4.H264, Config: []byte{1, 0x42, 0xc0, 0x1e, 0xff}}, "avc1.42C01E"},
		{"H.264 high", fmp4.Track{Codec: fmp4.H264, Config: []byte{1, 0x64, 0x00, 0x28, 0xff}}, "avc1.640028"},
		// Main profile, compatibility flags 0x60000000 (profiles 1 and 2)
		// written reversed as 6, level 93 (3.1), progressive source.
		{"H.265 main", fmp4.Track{Codec: fmp4.H265, Config: []byte{1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93}}, "hvc1.1.6.L93.B0"},
		{"H.265 main 10 high tier", fmp4.Track{Codec: fmp4.H265, Config: []byte{1, 0x22, 0x20, 0, 0, 0, 0x90, 0, 0, 0, 0, 0, 120}}, "hvc1.2.4.H120.90"},
		{"AAC-LC", fmp4.Track{Codec: fmp4.AAC, Config: []byte{0x11, 0x90}}, "mp4a.40.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.tr.CodecString()
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	for _, bad := range []fmp4.Track{{Codec: fmp4.H264, Config: []byte{1}}, {Codec: fmp4.H265}, {Codec: fmp4.AAC}, {Codec: 9}} {
		if _, err := bad.CodecString(); !errors.Is(err, fmp4.ErrConfig) {
			t.Errorf("%v %x: err %v", bad.Codec, bad.Config, err)
		}
		if _, err := fmp4.Init(bad); err == nil {
			t.Errorf("Init accepts %v %x", bad.Codec, bad.Config)
		}
	}
	if _, err := fmp4.Init(); err == nil {
		t.Error("Init without a track")
	}
}

// TestFragmentLayout: the box sizes and offsets a player relies on.
func TestFragmentLayout(t *testing.T) {
	f := fmp4.AppendFragment([]byte("prefix"), 7, 2, 1<<40, 1024, true, []byte("ab"), []byte("cde"))
	f = f[6:]
	if len(f) != fmp4.FragmentSize(5) {
		t.Fatalf("%d bytes, want %d", len(f), fmp4.FragmentSize(5))
	}
	be := binary.BigEndian
	moof := be.Uint32(f)
	if string(f[4:8]) != "moof" || string(f[moof+4:moof+8]) != "mdat" || be.Uint32(f[moof:]) != 8+5 {
		t.Fatal("not moof followed by mdat")
	}
	if !bytes.Equal(f[moof+8:], []byte("abcde")) {
		t.Errorf("mdat holds %q", f[moof+8:])
	}
	if off := be.Uint32(f[84:]); off != moof+8 {
		t.Errorf("data offset %d, want %d (moof + mdat header)", off, moof+8)
	}
	if be.Uint32(f[20:]) != 7 || be.Uint32(f[44:]) != 2 || be.Uint64(f[60:]) != 1<<40 || be.Uint32(f[88:]) != 1024 {
		t.Error("sequence, track, decode time or duration misplaced")
	}
	if be.Uint32(f[96:]) != 0x02000000 {
		t.Errorf("keyframe flags %08x", be.Uint32(f[96:]))
	}
}

func BenchmarkFragment(b *testing.B) {
	tr, samples, keys := demoTrack(b)
	_ = tr
	// A 4 Mbit/s stream at 25 fps has frames of about 20 KB.
	frame := bytes.Repeat(samples[1], 20000/len(samples[1])+1)[:20000]
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	var dst []byte
	for i := 0; b.Loop(); i++ {
		dst = fmp4.AppendFragment(dst[:0], uint32(i), 1, uint64(i)*3600, 3600, keys[i%len(keys)], frame)
	}
}

// FuzzCodecString: decoder configurations come from cameras; no value
// may panic the relay.
func FuzzCodecString(f *testing.F) {
	f.Add(uint8(1), []byte{1, 0x42, 0xc0, 0x1e})
	f.Add(uint8(2), []byte{1, 0x01, 0x60, 0, 0, 0, 0xb0, 0, 0, 0, 0, 0, 93})
	f.Add(uint8(3), []byte{0x11, 0x90})
	f.Fuzz(func(t *testing.T, codec uint8, conf []byte) {
		tr := fmp4.Track{ID: 1, Codec: fmp4.Codec(codec), Timescale: 90000, Config: conf, Width: 64, Height: 64, SampleRate: 48000}
		s, err := tr.CodecString()
		init, ierr := fmp4.Init(tr)
		if (err == nil) != (ierr == nil) {
			t.Fatalf("CodecString %v but Init %v", err, ierr)
		}
		if err == nil && (s == "" || len(init) == 0) {
			t.Fatal("empty result without error")
		}
	})
}
