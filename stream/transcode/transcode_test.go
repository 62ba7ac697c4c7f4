package transcode_test

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/stream/transcode"
)

// hevcClip encodes a test pattern as H.265 with ffmpeg, as a camera would
// send it: parameter sets and a keyframe every second, no B-frames.
func hevcClip(t testing.TB, size string, seconds int) *democam.Clip {
	t.Helper()
	src := fmt.Sprintf("testsrc2=size=%s:rate=25:duration=%d", size, seconds)
	clip, err := democam.ParseClip(testkit.EncodeClip(t, "h265", src, ""), democam.H265, 25)
	if err != nil {
		t.Fatal(err)
	}
	return clip
}

// sample returns an access unit's slices (H.265 NAL types 0–31) as an MP4
// sample holds them, each with a 4-byte length in front, and whether it is
// a keyframe.
func sample(au [][]byte) (b []byte, key bool) {
	for _, nal := range au {
		typ := nal[0] >> 1 & 0x3f
		if typ >= 32 {
			continue
		}
		key = key || (typ >= 16 && typ <= 21)
		b = binary.BigEndian.AppendUint32(b, uint32(len(nal)))
		b = append(b, nal...)
	}
	return b, key
}

// TestTranscode feeds two seconds of H.265 in real time: as many H.264
// pictures come out, the first a keyframe with its parameter sets, each
// soon after its picture went in.
func TestTranscode(t *testing.T) {
	clip := hevcClip(t, "640x360", 2)
	var mu sync.Mutex
	var got []transcode.AccessUnit
	var at []time.Time
	p, err := transcode.Start(transcode.Options{}, func(au transcode.AccessUnit) {
		mu.Lock()
		got = append(got, au)
		at = append(at, time.Now())
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetParams(clip.VPS, clip.SPS, clip.PPS)
	var sent []time.Time
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for _, au := range clip.Units {
		<-tick.C
		b, key := sample(au)
		sent = append(sent, time.Now())
		if err := p.Write(key, b); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(clip.Units) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(clip.Units) {
		t.Fatalf("%d pictures out of %d in", len(got), len(clip.Units))
	}
	if !got[0].Key || got[0].SPS == nil || got[0].PPS == nil {
		t.Fatalf("the first picture is not a keyframe with its parameter sets")
	}
	keys := 0
	var delays []time.Duration
	for i, au := range got {
		if au.Key {
			keys++
		}
		delays = append(delays, at[i].Sub(sent[i]))
	}
	if keys < 2 {
		t.Errorf("%d keyframes in 2 s, want one where the input has one", keys)
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	t.Logf("%d pictures, %d keyframes; picture in → out: first %s, median %s, max %s", len(got), keys,
		at[0].Sub(sent[0]), delays[len(delays)/2], delays[len(delays)-1])
}

// BenchmarkRealtime transcodes a camera-like H.265 stream (a noisy moving
// test pattern at a camera's bitrate, a keyframe a second) fed in real
// time at 25 fps for 12 s, and reports ffmpeg's CPU as a share of one core,
// the time from the first picture in to the first out (ffmpeg's start),
// and the steady delay of a picture through ffmpeg. Run one at a time:
//
//	go test -run '^$' -bench Realtime -benchtime 1x ./stream/transcode
func BenchmarkRealtime(b *testing.B) {
	for _, c := range []struct{ name, size, rate string }{{"720p", "1280x720", "2M"}, {"1080p", "1920x1080", "4M"}} {
		b.Run(c.name, func(b *testing.B) {
			src := fmt.Sprintf("testsrc2=size=%s:rate=25:duration=4,noise=alls=12:allf=t", c.size)
			clip, err := democam.ParseClip(testkit.EncodeClip(b, "h265", src, ":bitrate="+strings.TrimSuffix(c.rate, "M")+"000:vbv-maxrate="+
				strings.TrimSuffix(c.rate, "M")+"000:vbv-bufsize="+strings.TrimSuffix(c.rate, "M")+"000"), democam.H265, 25)
			if err != nil {
				b.Fatal(err)
			}
			for range b.N {
				realtime(b, clip, 12*time.Second)
			}
		})
	}
}

func realtime(b *testing.B, clip *democam.Clip, d time.Duration) {
	var mu sync.Mutex
	var at []time.Time
	p, err := transcode.Start(transcode.Options{}, func(transcode.AccessUnit) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
	})
	if err != nil {
		b.Fatal(err)
	}
	p.SetParams(clip.VPS, clip.SPS, clip.PPS)
	var sent []time.Time
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	for i := 0; time.Since(begin) < d; i++ {
		<-tick.C
		smp, key := sample(clip.Units[i%len(clip.Units)])
		sent = append(sent, time.Now())
		if err := p.Write(key, smp); err != nil {
			b.Fatal(err)
		}
	}
	// Every picture out before ffmpeg is closed, so its CPU is the whole
	// work.
	for wait := time.Now(); time.Since(wait) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(at)
		mu.Unlock()
		if n >= len(sent) {
			break
		}
	}
	wall := time.Since(begin)
	p.Close()
	cpu := p.CPU()
	mu.Lock()
	defer mu.Unlock()
	if len(at) < len(sent)-5 {
		b.Fatalf("%d pictures out of %d", len(at), len(sent))
	}
	var steady []time.Duration
	for i := range at {
		if i >= 50 { // after 2 s: ffmpeg's start is reported apart
			steady = append(steady, at[i].Sub(sent[i]))
		}
	}
	sort.Slice(steady, func(i, j int) bool { return steady[i] < steady[j] })
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(at[0].Sub(sent[0]).Microseconds())/1000, "first-ms")
	b.ReportMetric(float64(steady[len(steady)/2].Microseconds())/1000, "delay-p50-ms")
	b.ReportMetric(float64(steady[len(steady)*95/100].Microseconds())/1000, "delay-p95-ms")
}
