package relay

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/citywall/citywall/stream/fmp4"
)

// Peers puts a relay in a cluster of instances in which each camera has
// one owner: the owner alone dials the camera and keeps its group of
// pictures; another instance reads the owner's stream (one hop per camera
// stream, shared by all its viewers) and serves its own viewers from it as
// it would from the camera.
type Peers interface {
	// Owner is the instance that holds a camera's upstream session: ""
	// when this one does.
	Owner(camera string) string
	// Dial opens the owner's stream of a camera's main or sub stream
	// (what the owner's WatchPeer viewer writes, one Hop message each).
	Dial(ctx context.Context, owner, camera, stream string) (PeerConn, error)
}

// PeerConn is one instance-to-instance stream. Next is called by one
// goroutine, Report and Close by another.
type PeerConn interface {
	Next() ([]byte, error)
	// Report tells the owner what this instance's viewers of the stream
	// are, for the cluster's view of the camera.
	Report(Remote) error
	Close() error
}

// Remote is what another instance says of its viewers of a stream.
type Remote struct {
	Viewers    int `json:"viewers"`
	Frozen     int `json:"frozen"`
	Transcoded int `json:"transcoded,omitempty"`
}

// Reroute tells the relay that camera owners may have changed: each
// stream whose owner did ends its upstream and goes to the new owner (or
// to the camera, when this instance is the new owner). Sources nobody
// watches stay idle.
func (r *Relay) Reroute() {
	for _, cam := range r.cameras {
		for _, s := range []*source{cam.main, cam.sub} {
			if s != nil {
				s.poke()
			}
		}
	}
}

// WatchPeer adds another instance as a viewer of a stream this one owns:
// it gets the camera's own codec (never a transcode), with audio, from
// the latest keyframe on, like any viewer. Its Remote reports count as
// viewers of the camera.
func (r *Relay) WatchPeer(id, stream string) (*Viewer, error) {
	return r.watch(id, WatchOptions{Stream: stream, Audio: true}, true)
}

// Owned says whether this instance holds a camera's upstream (always
// alone).
func (r *Relay) Owned(id string) bool {
	return r.opts.Peers == nil || r.opts.Peers.Owner(id) == ""
}

// SetRemote records what the instance behind a peer viewer says of its
// own viewers.
func (v *Viewer) SetRemote(rm Remote) {
	v.mu.Lock()
	changed := v.remote != rm && !v.closed
	v.remote = rm
	v.mu.Unlock()
	if changed {
		v.cam.update()
		v.relay.changed()
	}
}

// owner is the instance holding the stream's upstream: "" for this one.
func (s *source) owner() string {
	if s.relay.opts.Peers == nil {
		return ""
	}
	return s.relay.opts.Peers.Owner(s.cam.id)
}

// errRerouted ends a session whose camera another instance owns now (or
// this one, for a session read from a former owner).
var errRerouted = errors.New("camera owner changed")

// The kinds of hop message, its first byte.
const (
	hopState    = 1
	hopHeader   = 2
	hopFragment = 3
)

// Fragment flags of a hop message.
const (
	hopKey    = 1
	hopAudio  = 2
	hopReplay = 4
)

// hopFixed is the fixed part of a fragment message: kind, flags, dts,
// duration, time in (Unix ns).
const hopFixed = 1 + 1 + 8 + 4 + 8

type hopHeaderJSON struct {
	Tracks []fmp4.Track `json:"tracks"`
	Params [][]byte     `json:"params,omitempty"`
}

// Hop encodes an item for the instance-to-instance stream: a header as
// its tracks (the reader makes its own init segments), a fragment with
// its decode time, duration and when it came from the camera.
func (it Item) Hop() []byte {
	switch it.Kind {
	case KindState:
		b := make([]byte, 0, 2+len(it.Status.Reason))
		return append(append(b, hopState, byte(it.Status.State)), it.Status.Reason...)
	case KindHeader:
		j, _ := json.Marshal(hopHeaderJSON{Tracks: it.Header.tracks, Params: it.Header.params})
		return append([]byte{hopHeader}, j...)
	case KindFragment:
		f := it.Fragment
		var flags byte
		if f.Key {
			flags |= hopKey
		}
		if f.Audio {
			flags |= hopAudio
		}
		if it.Replay {
			flags |= hopReplay
		}
		b := make([]byte, hopFixed, hopFixed+len(f.Data))
		b[0], b[1] = hopFragment, flags
		binary.BigEndian.PutUint64(b[2:], f.DTS)
		binary.BigEndian.PutUint32(b[10:], f.Dur)
		var in int64
		if !f.In.IsZero() {
			in = f.In.UnixNano()
		}
		binary.BigEndian.PutUint64(b[14:], uint64(in))
		return append(b, f.Data...)
	}
	return nil
}

// hopMsg is a decoded hop message.
type hopMsg struct {
	kind   int
	status Status
	tracks []fmp4.Track
	params [][]byte
	frag   Fragment
	replay bool
}

// decodeHop reads a hop message; a malformed one is an error.
func decodeHop(b []byte) (hopMsg, error) {
	if len(b) == 0 {
		return hopMsg{}, errors.New("empty hop message")
	}
	switch b[0] {
	case hopState:
		if len(b) < 2 || State(b[1]) > Unsupported {
			return hopMsg{}, errors.New("bad hop state")
		}
		return hopMsg{kind: hopState, status: Status{State: State(b[1]), Reason: string(b[2:])}}, nil
	case hopHeader:
		var h hopHeaderJSON
		if err := json.Unmarshal(b[1:], &h); err != nil {
			return hopMsg{}, fmt.Errorf("bad hop header: %w", err)
		}
		if len(h.Tracks) == 0 || len(h.Tracks) > 2 || h.Tracks[0].Codec == fmp4.AAC ||
			(len(h.Tracks) == 2 && h.Tracks[1].Codec != fmp4.AAC) {
			return hopMsg{}, errors.New("bad hop header: want a video track and at most one AAC track")
		}
		return hopMsg{kind: hopHeader, tracks: h.Tracks, params: h.Params}, nil
	case hopFragment:
		if len(b) < hopFixed+fmp4.FragmentSize(0) {
			return hopMsg{}, errors.New("short hop fragment")
		}
		m := hopMsg{kind: hopFragment, replay: b[1]&hopReplay != 0}
		m.frag = Fragment{
			Key: b[1]&hopKey != 0, Audio: b[1]&hopAudio != 0,
			DTS: binary.BigEndian.Uint64(b[2:]), Dur: binary.BigEndian.Uint32(b[10:]),
			Data: b[hopFixed:],
		}
		if in := int64(binary.BigEndian.Uint64(b[14:])); in != 0 {
			m.frag.In = time.Unix(0, in)
		}
		return m, nil
	}
	return hopMsg{}, fmt.Errorf("unknown hop message kind %d", b[0])
}

// peerSession reads the owner's stream until it ends, the owner changes
// or nobody watches any more (nil). Frames go out as from the camera: on
// this instance's own timeline, so a move to another owner leaves no hole
// in a player's buffer. A session that joins a stream its viewers already
// play skips the owner's cached group and starts at its next keyframe.
func (s *source) peerSession(ctx context.Context, l *leg, tl *timeline, m *move) (live bool, err error) {
	o := s.relay.opts
	owner := l.route
	conn, err := o.Peers.Dial(ctx, owner, s.cam.id, s.stream)
	if err != nil {
		return false, fmt.Errorf("the instance that holds the camera does not answer: %w", err)
	}
	msgs := make(chan []byte, 64)
	ended := make(chan error, 1)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			b, err := conn.Next()
			if err != nil {
				ended <- err
				return
			}
			select {
			case msgs <- b:
			case <-done:
				return
			}
		}
	})
	defer func() {
		close(done)
		_ = conn.Close()
		wg.Wait()
	}()

	s.mu.Lock()
	cold := len(s.gop.items) == 0
	s.mu.Unlock()
	needKey := true
	// A leg started beside the one serving reads s.wake only once it
	// serves (see session).
	var wake <-chan struct{}
	took := l.took
	serving := false
	var sr int64 // audio sample rate, from the owner's header
	var audioBase, audioNext int64
	audioStart := false
	var seq uint32
	var reported Remote
	report := func() {
		st := s.status()
		rm := Remote{Viewers: st.Viewers, Frozen: st.Frozen, Transcoded: st.Transcoded}
		if rm != reported && conn.Report(rm) == nil {
			reported = rm
		}
	}
	report()

	stall := time.NewTimer(o.StallTimeout)
	defer stall.Stop()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var idle <-chan time.Time
	var idleTimer *time.Timer
	defer func() {
		if idleTimer != nil {
			idleTimer.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return live, nil
		case <-idle:
			return live, nil
		case <-tick.C:
			report()
		case <-m.note:
			if done, err := m.step(); done {
				return live, err
			}
		case <-took:
			took, wake, serving = nil, s.wake, true
			s.poke()
		case <-wake:
			if err := m.follow(); err != nil {
				return live, err
			}
			if s.wanted() {
				if idleTimer != nil {
					idleTimer.Stop()
					idleTimer, idle = nil, nil
				}
			} else if idleTimer == nil {
				idleTimer = time.NewTimer(max(o.IdleTimeout, 0))
				idle = idleTimer.C
			}
			report()
		case err := <-ended:
			return live, fmt.Errorf("the stream from the instance that holds the camera ended: %w", err)
		case b := <-msgs:
			hm, err := decodeHop(b)
			if err != nil {
				return live, err
			}
			switch hm.kind {
			case hopState:
				switch hm.status.State {
				case Offline, Stalled, Unsupported:
					// The camera is down at its owner, which retries: say
					// so, and wait for it without stalling.
					if s.active(l) {
						s.setState(hm.status.State, hm.status.Reason)
					}
					live = false
					stall.Stop()
				}
			case hopHeader:
				vt := hm.tracks[0]
				h, err := makeHeader(vt)
				if err != nil {
					return live, fmt.Errorf("%w: %v", errUnsupported, err)
				}
				h.params = hm.params
				var hav *Header
				if len(hm.tracks) == 2 {
					if hav, err = makeHeader(vt, hm.tracks[1]); err == nil {
						hav.params = hm.params
						sr = int64(hm.tracks[1].SampleRate)
					}
				}
				s.setHeaders(l, h, hav, hm.params)
			case hopFragment:
				f := hm.frag
				if hm.replay && !cold {
					continue
				}
				if !f.Audio && !serving {
					// Video flows while this leg waits to take over.
					stall.Reset(o.StallTimeout)
				}
				if needKey {
					if f.Audio || !f.Key || !s.admit(l, tl, true) {
						continue
					}
					needKey = false
				}
				var dts uint64
				var dur uint32
				if f.Audio {
					if sr <= 0 || !tl.started {
						continue
					}
					t := int64(f.DTS)
					if !audioStart {
						audioStart = true
						audioBase = int64(tl.next)*sr/90000 - t
						audioNext = 0
					}
					d := max(audioBase+t, audioNext)
					audioNext = d + int64(f.Dur)
					dts, dur = uint64(max(d, 0)), f.Dur
				} else {
					jumps := tl.jumps
					dts, dur = tl.place(time.Duration(f.DTS) * time.Second / 90000)
					if tl.jumps != jumps && !hm.replay {
						s.cam.timeJumps.Inc()
					}
				}
				seq++
				data, ok := fmp4.Retime(f.Data, seq, dts, dur)
				if !ok {
					return live, errors.New("malformed fragment from the instance that holds the camera")
				}
				s.cam.bytesIn.Add(float64(len(f.Data)))
				in := f.In
				if now := time.Now(); in.IsZero() || in.After(now) {
					in = now
				}
				s.publishFrom(l, &Fragment{Data: data, Key: f.Key, Audio: f.Audio, In: in, DTS: dts, Dur: dur})
				if !f.Audio {
					if !live && s.active(l) {
						live = true
						s.setState(Live, "")
					}
					stall.Reset(o.StallTimeout)
				}
			}
		case <-stall.C:
			if s.active(l) {
				s.setState(Stalled, fmt.Sprintf("no video for %s from the instance that holds the camera", o.StallTimeout))
			}
			return live, errStalled
		}
	}
}
