package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/internal/redact"
	"github.com/citywall/citywall/stream/transcode"
)

// Camera is one camera as the relay needs it. Its URLs may carry
// credentials; nothing the relay returns, logs or exports does.
type Camera struct {
	ID       string
	Main     string // rtsp:// or rtsps://
	Sub      string // optional second stream
	Username string // used when a URL has no user of its own
	Password string
	AlwaysOn bool // keep the main stream open without viewers
	// Transcode and SubTranscode say when an H.265 stream is turned into
	// H.264 for a viewer (see Transcode).
	Transcode    Transcode
	SubTranscode Transcode
}

// Options tune a Relay. Zero values take the defaults in brackets.
type Options struct {
	IdleTimeout  time.Duration // upstream closes this long after its last viewer [30s]; negative: at once
	StallTimeout time.Duration // no video this long: stalled, reconnect [5s]
	ReconnectMin time.Duration // first retry delay, doubled with jitter up to ReconnectMax [1s]
	ReconnectMax time.Duration // [30s]
	ViewerBytes  int           // per-viewer queue bound [8 MiB]
	GOPBytes     int           // largest group of pictures kept for instant start [16 MiB]
	// CheckInterval is how often a camera nobody watches is dialled to
	// see that it answers and sends video, so a camera that broke shows
	// as such before anyone puts it on the wall [10m]; negative: never.
	// The first check of each camera comes at a random moment within
	// min(CheckInterval, 2m) of Run, a failed one is repeated after
	// min(CheckInterval, 1m).
	CheckInterval time.Duration
	CheckParallel int // checks at once, across cameras [16]
	// OnChange is called after any change of a camera's Status (state,
	// viewers, codec, frozen players). It must not block.
	OnChange func()
	// Transcoder runs ffmpeg for viewers whose player cannot play a
	// camera's H.265.
	Transcoder transcode.Options
	// MaxTranscodes bounds the transcodes running at once [4]; negative:
	// none. Past it a viewer of a main stream is moved to the camera's
	// sub stream, if it has one, else told why it gets no picture.
	MaxTranscodes int
	// Peers, in a cluster, says which instance owns each camera and
	// reaches it; nil: this instance dials every camera itself.
	Peers Peers
}

func (o *Options) setDefaults() {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 5 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = time.Second
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(30*time.Second, o.ReconnectMin)
	}
	if o.ViewerBytes <= 0 {
		o.ViewerBytes = 8 << 20
	}
	if o.GOPBytes <= 0 {
		o.GOPBytes = 16 << 20
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = 10 * time.Minute
	}
	if o.CheckParallel <= 0 {
		o.CheckParallel = 16
	}
	if o.MaxTranscodes == 0 {
		o.MaxTranscodes = 4
	}
}

// Errors of Watch.
var (
	ErrUnknownCamera = errors.New("unknown camera")
	ErrUnknownStream = errors.New("unknown stream: want main or sub")
	ErrClosed        = errors.New("relay closed")
)

// The streams of a camera.
const (
	StreamMain = "main"
	StreamSub  = "sub"
)

// Relay serves every configured camera.
type Relay struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics
	cameras map[string]*camera
	order   []string

	checking chan struct{} // a slot per check under way

	txMu sync.Mutex
	txN  int // transcodes running

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	started bool
	closed  bool
	wg      sync.WaitGroup
}

type camera struct {
	id       string
	alwaysOn bool
	main     *source
	sub      *source // nil without a sub stream
	cameraMetrics
}

// New returns a relay for cams. reg may be nil (no metrics exported).
// Nothing connects until Run.
func New(cams []Camera, o Options, reg prometheus.Registerer, log *slog.Logger) (*Relay, error) {
	o.setDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Relay{opts: o, log: log, metrics: newMetrics(reg), cameras: map[string]*camera{}, checking: make(chan struct{}, o.CheckParallel)}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	for _, c := range cams {
		if c.ID == "" {
			return nil, errors.New("camera without id")
		}
		if _, dup := r.cameras[c.ID]; dup {
			return nil, fmt.Errorf("camera %q listed twice", c.ID)
		}
		cam := &camera{id: c.ID, alwaysOn: c.AlwaysOn, cameraMetrics: r.metrics.camera(c.ID)}
		var err error
		if cam.main, err = newSource(r, cam, StreamMain, c.Main, c.Username, c.Password, c.Transcode); err != nil {
			return nil, fmt.Errorf("camera %q main: %w", c.ID, err)
		}
		if c.Sub != "" {
			if cam.sub, err = newSource(r, cam, StreamSub, c.Sub, c.Username, c.Password, c.SubTranscode); err != nil {
				return nil, fmt.Errorf("camera %q sub: %w", c.ID, err)
			}
		}
		r.cameras[c.ID] = cam
		r.order = append(r.order, c.ID)
	}
	return r, nil
}

// Run starts every source and returns at once; sources connect when
// watched (or at once when always on). Close stops them.
func (r *Relay) Run() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed {
		return
	}
	r.started = true
	for _, id := range r.order {
		cam := r.cameras[id]
		for _, s := range []*source{cam.main, cam.sub} {
			if s == nil {
				continue
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				s.run(r.ctx)
			}()
		}
	}
}

// Close stops every source and viewer and waits for them. Safe twice.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	for _, cam := range r.cameras {
		for _, s := range []*source{cam.main, cam.sub} {
			if s != nil {
				s.closeViewers()
			}
		}
	}
	r.wg.Wait()
}

// Has says whether a camera is configured.
func (r *Relay) Has(id string) bool { _, ok := r.cameras[id]; return ok }

// Watch adds a viewer of a camera's stream ("main", "sub"; "" is main; a
// camera without a sub stream serves main for it). With audio, the viewer
// also gets the camera's AAC audio when it has some. The viewer's first
// items are the current state and, if the stream is live, its header and
// the frames since the last keyframe.
func (r *Relay) Watch(id, stream string, audio bool) (*Viewer, error) {
	return r.WatchWith(id, WatchOptions{Stream: stream, Audio: audio})
}

// WatchOptions say what a viewer wants and what its player plays.
type WatchOptions struct {
	Stream string // main, sub; "" is main
	Audio  bool
	// Decodes lists the video families the player plays ("H.264",
	// "H.265"); nil when it did not say (taken as all). A player without
	// H.265 gets a camera's H.265 as H.264, transcoded (see Transcode).
	Decodes []string
}

// WatchWith is Watch with a player that says what it plays.
func (r *Relay) WatchWith(id string, o WatchOptions) (*Viewer, error) {
	return r.watch(id, o, false)
}

func (r *Relay) watch(id string, o WatchOptions, peer bool) (*Viewer, error) {
	stream, audio := o.Stream, o.Audio
	cam, ok := r.cameras[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCamera, id)
	}
	s := cam.main
	switch stream {
	case "", StreamMain:
	case StreamSub:
		if cam.sub != nil {
			s = cam.sub
		}
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownStream, stream)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	v := &Viewer{src: s, relay: r, cam: cam, audio: audio, decodes: o.Decodes, peer: peer, limit: r.opts.ViewerBytes, wake: make(chan struct{}, 1), joined: time.Now()}
	s.join(v)
	return v, nil
}

// StreamStatus is one stream of a camera.
type StreamStatus struct {
	State   State  `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Codec   string `json:"codec,omitempty"` // video codec string, e.g. avc1.42C01E
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	Viewers int    `json:"viewers"`
	Frozen  int    `json:"frozen"` // viewers whose picture is frozen
	// Transcoded is how many viewers get the stream as H.264 made from
	// its H.265 (one ffmpeg for them all).
	Transcoded int `json:"transcoded,omitempty"`
	// Checked is when the camera was last checked while nobody watched
	// it (see Options.CheckInterval); nil before the first check.
	Checked *time.Time `json:"checked,omitempty"`
}

// CameraStatus is a camera as the wall may know it: no URL, no credential.
type CameraStatus struct {
	ID      string
	State   State // the main stream's, or the sub stream's while only it is open
	Reason  string
	Codec   string
	Viewers int
	Frozen  int
	// Transcoded is how many viewers, main and sub, get H.264 made from
	// the camera's H.265.
	Transcoded int
	Main       StreamStatus
	Sub        *StreamStatus // nil without a sub stream
	Checked    *time.Time    // the main stream's last check while nobody watched; nil before one
}

// Status returns every camera's status, in configuration order.
func (r *Relay) Status() []CameraStatus {
	out := make([]CameraStatus, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.cameras[id].status())
	}
	return out
}

// CameraStatus returns one camera's status.
func (r *Relay) CameraStatus(id string) (CameraStatus, bool) {
	cam, ok := r.cameras[id]
	if !ok {
		return CameraStatus{}, false
	}
	return cam.status(), true
}

func (c *camera) status() CameraStatus {
	st := CameraStatus{ID: c.id, Main: c.main.status()}
	lead := st.Main
	if c.sub != nil {
		sub := c.sub.status()
		st.Sub = &sub
		if lead.State == Idle && sub.State != Idle {
			lead = sub
		}
		st.Viewers += sub.Viewers
		st.Frozen += sub.Frozen
		st.Transcoded += sub.Transcoded
	}
	st.State, st.Reason, st.Codec = lead.State, lead.Reason, lead.Codec
	if st.Codec == "" {
		st.Codec = st.Main.Codec
	}
	st.Viewers += st.Main.Viewers
	st.Frozen += st.Main.Frozen
	st.Transcoded += st.Main.Transcoded
	st.Checked = st.Main.Checked
	return st
}

// changed tells the owner that some status moved.
func (r *Relay) changed() {
	if r.opts.OnChange != nil {
		r.opts.OnChange()
	}
}

// updateCamera refreshes a camera's gauges.
func (c *camera) update() {
	st := c.status()
	c.state.Set(float64(st.State))
	c.viewers.Set(float64(st.Viewers))
}

// IDs lists the cameras in configuration order.
func (r *Relay) IDs() []string { return append([]string(nil), r.order...) }

// redactor hides a camera URL's credentials: the URL itself becomes its
// redacted form, and user:password or the password (raw, escaped or in
// base64) anywhere else becomes xxxxx, as do the generic forms of
// package redact (an Authorization a camera echoes back).
func redactor(raw, shown, user, pass string) *redact.Redactor {
	return redact.New(append(redact.URL(raw, shown), redact.Password(user, pass)...)...)
}

// redact returns err's text with every secret replaced, as a new error
// (the original, which may hold a credential deep inside, is dropped).
func redactErr(err error, r *redact.Redactor) error {
	if err == nil {
		return nil
	}
	return errors.New(r.String(err.Error()))
}
