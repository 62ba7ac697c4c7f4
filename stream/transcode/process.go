package transcode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"
)

// Encoders: libx264 on the CPU, or a hardware encoder.
const (
	EncoderX264  = "libx264"
	EncoderVAAPI = "vaapi"
	EncoderNVENC = "nvenc"
)

// Options say how ffmpeg is run. Zero values take the defaults in brackets.
type Options struct {
	FFmpeg      string // the program [ffmpeg, looked up on PATH]
	Encoder     string // libx264 [], vaapi or nvenc
	VAAPIDevice string // the render node for vaapi [/dev/dri/renderD128]
	// GOP is the most frames between keyframes [50]. Keyframes also come
	// where the input has one, so a viewer joining starts as soon as on
	// the camera itself.
	GOP int
}

// Encoder says which encoder Start will use: the one configured when its
// device is present (a VAAPI render node, an NVIDIA device), else libx264,
// and why.
func (o Options) encoder() (string, string) {
	switch o.Encoder {
	case EncoderVAAPI:
		dev := o.vaapiDevice()
		if _, err := os.Stat(dev); err != nil {
			return EncoderX264, fmt.Sprintf("VAAPI device %s absent, using libx264", dev)
		}
		return EncoderVAAPI, ""
	case EncoderNVENC:
		if _, err := os.Stat("/dev/nvidia0"); err != nil {
			return EncoderX264, "no NVIDIA device (/dev/nvidia0), using libx264"
		}
		return EncoderNVENC, ""
	}
	return EncoderX264, ""
}

func (o Options) vaapiDevice() string {
	if o.VAAPIDevice != "" {
		return o.VAAPIDevice
	}
	return "/dev/dri/renderD128"
}

// Args are ffmpeg's arguments for the encoder in use.
func (o Options) Args() []string {
	enc, _ := o.encoder()
	gop := o.GOP
	if gop <= 0 {
		gop = 50
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error",
		// Take each picture as it comes: no probing ahead (the packets
		// read while probing are kept: +nobuffer would drop the first
		// keyframe); slice threads decode without holding frames back.
		"-probesize", "32", "-analyzeduration", "0",
		"-thread_type", "slice"}
	if enc == EncoderVAAPI {
		args = append(args, "-vaapi_device", o.vaapiDevice())
	}
	args = append(args, "-f", "hevc", "-i", "pipe:0", "-map", "0:v:0", "-an", "-sn", "-dn",
		"-fps_mode", "passthrough", "-force_key_frames", "source")
	switch enc {
	case EncoderVAAPI:
		args = append(args, "-vf", "format=nv12,hwupload", "-c:v", "h264_vaapi", "-bf", "0", "-g", strconv.Itoa(gop))
	case EncoderNVENC:
		args = append(args, "-c:v", "h264_nvenc", "-preset", "p2", "-tune", "ull", "-zerolatency", "1", "-delay", "0",
			"-bf", "0", "-g", strconv.Itoa(gop), "-pix_fmt", "yuv420p")
	default:
		args = append(args, "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
			"-x264-params", "keyint="+strconv.Itoa(gop)+":min-keyint=1:repeat-headers=1",
			"-maxrate", "8M", "-bufsize", "4M")
	}
	return append(args, "-f", "mpegts", "-omit_video_pes_length", "0", "-mpegts_start_pid", "256",
		"-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1", "pipe:1")
}

// Process is one running ffmpeg.
type Process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	encoder string
	note    string // why the encoder is not the one configured

	done chan struct{}
	mu   sync.Mutex
	err  error
	tail tailBuffer // the end of ffmpeg's error output

	hdr []byte // the parameter sets of the input, in front of every keyframe
}

// Start runs ffmpeg; emit is called, from one goroutine, with every access
// unit it writes. Nothing is encoded until the first keyframe is written.
func Start(o Options, emit func(AccessUnit)) (*Process, error) {
	bin := o.FFmpeg
	if bin == "" {
		bin = "ffmpeg"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("transcode: %w (install Debian's ffmpeg)", err)
	}
	p := &Process{done: make(chan struct{})}
	p.encoder, p.note = o.encoder()
	p.cmd = exec.Command(path, o.Args()...)
	p.cmd.Stderr = &p.tail
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("transcode: start ffmpeg: %w", err)
	}
	go func() {
		d := Demuxer{Emit: emit}
		buf := make([]byte, 64<<10)
		var rerr error
		for {
			n, err := stdout.Read(buf)
			if n > 0 {
				if derr := d.Write(buf[:n]); derr != nil && rerr == nil {
					rerr = derr
					_ = p.cmd.Process.Kill()
				}
			}
			if err != nil {
				break
			}
		}
		werr := p.cmd.Wait()
		p.mu.Lock()
		switch {
		case rerr != nil:
			p.err = rerr
		case werr != nil:
			p.err = fmt.Errorf("ffmpeg: %v: %s", werr, p.tail.String())
		default:
			p.err = errors.New("ffmpeg ended")
		}
		p.mu.Unlock()
		close(p.done)
	}()
	return p, nil
}

// Encoder is the encoder in use and, when it is not the one configured,
// why.
func (p *Process) Encoder() (string, string) { return p.encoder, p.note }

// SetParams sets the input's parameter sets (VPS, SPS, PPS of H.265, each
// without start code), written in front of every keyframe.
func (p *Process) SetParams(sets ...[]byte) {
	var b []byte
	for _, s := range sets {
		b = append(b, 0, 0, 0, 1)
		b = append(b, s...)
	}
	p.hdr = b
}

// aud is an H.265 access unit delimiter: written after every picture, it
// tells ffmpeg's parser the picture is whole.
var aud = []byte{0, 0, 0, 1, 0x46, 0x01, 0x50}

// Write writes one H.265 picture given as an MP4 sample holds it: NAL
// units, each with a 4-byte big-endian length in front. It blocks while
// ffmpeg is busy; the caller keeps its own queue.
func (p *Process) Write(key bool, sample []byte) error {
	b := make([]byte, 0, len(p.hdr)+len(sample)+len(aud)+16)
	if key {
		b = append(b, p.hdr...)
	}
	for len(sample) >= 4 {
		n := int(binary.BigEndian.Uint32(sample))
		if n > len(sample)-4 {
			return fmt.Errorf("transcode: a NAL unit of %d bytes in a sample of %d", n, len(sample)-4)
		}
		b = append(b, 0, 0, 0, 1)
		b = append(b, sample[4:4+n]...)
		sample = sample[4+n:]
	}
	b = append(b, aud...)
	if _, err := p.stdin.Write(b); err != nil {
		return fmt.Errorf("transcode: write to ffmpeg: %w", err)
	}
	return nil
}

// Done is closed when ffmpeg has ended; Err then says why.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is why ffmpeg ended (nil while it runs).
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// CPU is the processor time ffmpeg used, user and system, once it has
// ended (0 before).
func (p *Process) CPU() time.Duration {
	select {
	case <-p.done:
		return p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	default:
		return 0
	}
}

// Pid is ffmpeg's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Close ends ffmpeg: its input closes, and it is killed if it has not
// ended a second later. Safe twice.
func (p *Process) Close() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(time.Second):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// tailBuffer keeps the last KiB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > 1024 {
		t.b = append(t.b[:0], t.b[len(t.b)-1024:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.TrimSpace(t.b))
}
