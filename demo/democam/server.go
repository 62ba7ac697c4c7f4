package democam

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"
)

// Options configure a Server.
type Options struct {
	// Listener to serve on; nil listens on Addr.
	Listener net.Listener
	Addr     string // [127.0.0.1:0]
	Clip     *Clip  // [Demo()]
	// Paths give some paths a clip of their own (keys as in the URL,
	// without the leading slash, e.g. "cam/gate/main"); every other path
	// plays Clip. Each clip is its own stream, looped only while someone
	// reads it.
	Paths map[string]*Clip
	// User and Pass, when User is set, are required of every reader
	// (Basic or Digest).
	User, Pass string
	// AAC adds an AAC track of silence; G711 adds a G.711 µ-law track,
	// which the relay drops.
	AAC  bool
	G711 bool
	// NoVideo leaves the video track out (with G711: a camera the relay
	// cannot show).
	NoVideo bool
	// InBand leaves the parameter sets out of the SDP: a reader learns
	// them from the stream, as from many cameras.
	InBand bool
	// RTPBase is the video's first RTP timestamp (0: random), e.g. just
	// before the 32-bit clock wraps.
	RTPBase uint32
}

// Server is an RTSP server that plays its clip on every path, or the
// path's own clip (Options.Paths).
type Server struct {
	opts Options
	srv  *gortsplib.Server
	addr string

	paused atomic.Bool
	mu     sync.Mutex
	ready  bool             // the feeds' streams are made; requests before are told 503
	def    *feed            // every path without a clip of its own
	paths  map[string]*feed // by path, without the leading slash
	feeds  []*feed          // in the order made; written before Start returns
	// sessions is the feed each session set up.
	sessions map[*gortsplib.ServerSession]*feed

	stop chan struct{}
	wg   sync.WaitGroup
	once sync.Once
}

// feed is one clip looping on its own stream.
type feed struct {
	clip   *Clip
	stream *gortsplib.ServerStream
	video  *description.Media
	aac    *description.Media
	g711   *description.Media

	playing map[*gortsplib.ServerSession]struct{} // Server.mu
	woken   chan struct{}                         // a reader started playing
}

// Start listens and starts looping the clip.
func Start(o Options) (*Server, error) {
	if o.Clip == nil {
		o.Clip = Demo()
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	ln := o.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", o.Addr)
		if err != nil {
			return nil, fmt.Errorf("democam: listen: %w", err)
		}
	}
	s := &Server{opts: o, addr: ln.Addr().String(), stop: make(chan struct{}),
		paths: map[string]*feed{}, sessions: map[*gortsplib.ServerSession]*feed{}}
	s.srv = &gortsplib.Server{
		Handler:     s,
		RTSPAddress: s.addr,
		Listen:      func(string, string) (net.Listener, error) { return ln, nil },
		// Readers that stop reading are dropped rather than buffered for.
		WriteQueueSize: 1024,
	}
	if err := s.srv.Start(); err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("democam: start: %w", err)
	}
	// The server answers from here on; requests before the streams are
	// ready are told 503 (see feedOf).
	def, err := s.newFeed(o.Clip)
	if err != nil {
		s.closeFeeds()
		s.srv.Close()
		return nil, err
	}
	paths := map[string]*feed{}
	byClip := map[*Clip]*feed{o.Clip: def}
	for path, clip := range o.Paths {
		if clip == nil {
			continue
		}
		f := byClip[clip]
		if f == nil {
			if f, err = s.newFeed(clip); err != nil {
				s.closeFeeds()
				s.srv.Close()
				return nil, fmt.Errorf("democam: path %q: %w", path, err)
			}
			byClip[clip] = f
		}
		paths[strings.Trim(path, "/")] = f
	}
	s.mu.Lock()
	s.def, s.paths, s.ready = def, paths, true
	s.mu.Unlock()
	for _, f := range s.feeds {
		s.wg.Add(1)
		go s.play(f)
	}
	return s, nil
}

// newFeed makes clip's stream with the tracks the options ask for.
func (s *Server) newFeed(clip *Clip) (*feed, error) {
	o := s.opts
	f := &feed{clip: clip, playing: map[*gortsplib.ServerSession]struct{}{}, woken: make(chan struct{}, 1)}
	desc := &description.Session{}
	vps, sps, pps := clip.VPS, clip.SPS, clip.PPS
	if o.InBand {
		vps, sps, pps = nil, nil, nil
	}
	switch clip.Codec {
	case H264:
		f.video = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H264{
			PayloadTyp: 96, PacketizationMode: 1, SPS: sps, PPS: pps,
		}}}
	case H265:
		f.video = &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{&format.H265{
			PayloadTyp: 96, VPS: vps, SPS: sps, PPS: pps,
		}}}
	default:
		return nil, errors.New("democam: clip codec unknown")
	}
	if !o.NoVideo {
		desc.Medias = append(desc.Medias, f.video)
	}
	if o.AAC {
		f.aac = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.MPEG4Audio{
			PayloadTyp: 97,
			Config: &mpeg4audio.AudioSpecificConfig{
				Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 1,
			},
			SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
		}}}
		desc.Medias = append(desc.Medias, f.aac)
	}
	if o.G711 {
		f.g711 = &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{&format.G711{
			PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1,
		}}}
		desc.Medias = append(desc.Medias, f.g711)
	}
	st := &gortsplib.ServerStream{Server: s.srv, Desc: desc}
	if err := st.Initialize(); err != nil {
		return nil, fmt.Errorf("democam: stream: %w", err)
	}
	f.stream = st
	s.mu.Lock()
	s.feeds = append(s.feeds, f)
	s.mu.Unlock()
	return f, nil
}

func (s *Server) closeFeeds() {
	for _, f := range s.feeds {
		f.stream.Close()
	}
}

// Addr is host:port the server listens on.
func (s *Server) Addr() string { return s.addr }

// URL is the address of path on this server.
func (s *Server) URL(path string) string {
	return "rtsp://" + s.addr + "/" + path
}

// Pause stops sending media while keeping every session open: the camera
// stalls. Resume sends again.
func (s *Server) Pause()  { s.paused.Store(true) }
func (s *Server) Resume() { s.paused.Store(false) }

// Readers is how many sessions are playing, on every path.
func (s *Server) Readers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.feeds {
		n += len(f.playing)
	}
	return n
}

// readers is how many sessions are playing f.
func (s *Server) readers(f *feed) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(f.playing)
}

// Close stops the server and disconnects every reader. Safe twice.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		s.closeFeeds()
		s.srv.Close()
	})
}

// play sends f's clip in real time, forever, to whoever is reading it.
func (s *Server) play(f *feed) {
	defer s.wg.Done()
	clip := f.clip
	var venc interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	switch vf := f.video.Formats[0].(type) {
	case *format.H264:
		e, err := vf.CreateEncoder()
		if err != nil {
			return
		}
		venc = e
	case *format.H265:
		e, err := vf.CreateEncoder()
		if err != nil {
			return
		}
		venc = e
	}
	var aenc interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	if f.aac != nil {
		e, err := f.aac.Formats[0].(*format.MPEG4Audio).CreateEncoder()
		if err == nil {
			aenc = e
		}
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	vbase := binary.BigEndian.Uint32(b[0:])
	if s.opts.RTPBase != 0 {
		vbase = s.opts.RTPBase
	}
	abase := binary.BigEndian.Uint32(b[4:])
	gbase := binary.BigEndian.Uint32(b[8:])

	start := time.Now()
	frameDur := time.Second / time.Duration(clip.FPS)
	var frame, aacFrames, g711Frames int64
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		if s.readers(f) == 0 {
			// Nobody watches: sleep until someone does, then go on
			// from where the clip was, its clock running on.
			tick.Stop()
			select {
			case <-s.stop:
				return
			case <-f.woken:
			}
			start = time.Now().Add(-time.Duration(frame) * frameDur)
			at := time.Duration(frame) * frameDur
			aacFrames = int64(at * 48000 / 1024 / time.Second)
			g711Frames = int64(at / (20 * time.Millisecond))
			tick.Reset(10 * time.Millisecond)
		}
		elapsed := time.Since(start)
		if s.paused.Load() {
			continue
		}
		for !s.opts.NoVideo && time.Duration(frame)*frameDur <= elapsed {
			au := clip.Units[frame%int64(len(clip.Units))]
			pkts, err := venc.Encode(au)
			if err == nil {
				ts := vbase + uint32(frame*90000/int64(clip.FPS))
				for _, p := range pkts {
					p.Timestamp = ts
					_ = f.stream.WritePacketRTP(f.video, p)
				}
			}
			frame++
		}
		// AAC: 1024 samples a frame at 48 kHz.
		for aenc != nil && time.Duration(aacFrames)*1024*time.Second/48000 <= elapsed {
			pkts, err := aenc.Encode([][]byte{silentAAC})
			if err == nil {
				for _, p := range pkts {
					p.Timestamp = abase + uint32(aacFrames*1024)
					_ = f.stream.WritePacketRTP(f.aac, p)
				}
			}
			aacFrames++
		}
		// G.711: 20 ms frames of 160 samples.
		for f.g711 != nil && time.Duration(g711Frames)*20*time.Millisecond <= elapsed {
			p := &rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(g711Frames), Timestamp: gbase + uint32(g711Frames*160), SSRC: gbase},
				Payload: silentG711[:],
			}
			_ = f.stream.WritePacketRTP(f.g711, p)
			g711Frames++
		}
	}
}

// silentAAC is one AAC-LC frame of silence, mono.
var silentAAC = []byte{0x01, 0x18, 0x20, 0x07}

var silentG711 = func() (b [160]byte) {
	for i := range b {
		b[i] = 0xff
	}
	return
}()

// feedOf is the feed that plays path, nil until Start has made them.
func (s *Server) feedOf(path string) *feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil
	}
	if f := s.paths[strings.Trim(path, "/")]; f != nil {
		return f
	}
	return s.def
}

// OnDescribe hands a path its stream.
func (s *Server) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !s.authorized(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	f := s.feedOf(ctx.Path)
	if f == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, f.stream, nil
}

// OnSetup accepts every path, and notes which stream the session reads.
func (s *Server) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if !s.authorized(ctx.Conn, ctx.Request) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	f := s.feedOf(ctx.Path)
	if f == nil {
		return &base.Response{StatusCode: base.StatusServiceUnavailable}, nil, nil
	}
	s.mu.Lock()
	s.sessions[ctx.Session] = f
	s.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, f.stream, nil
}

// OnPlay counts readers and wakes the stream they read.
func (s *Server) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	s.mu.Lock()
	f := s.sessions[ctx.Session]
	if f != nil {
		f.playing[ctx.Session] = struct{}{}
	}
	s.mu.Unlock()
	if f != nil {
		select {
		case f.woken <- struct{}{}:
		default:
		}
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose counts readers.
func (s *Server) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	s.mu.Lock()
	if f := s.sessions[ctx.Session]; f != nil {
		delete(f.playing, ctx.Session)
		delete(s.sessions, ctx.Session)
	}
	s.mu.Unlock()
}

func (s *Server) authorized(c *gortsplib.ServerConn, req *base.Request) bool {
	if s.opts.User == "" {
		return true
	}
	return c.VerifyCredentials(req, s.opts.User, s.opts.Pass)
}
