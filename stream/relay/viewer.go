package relay

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/citywall/citywall/stream/fmp4"
)

// Kind of an Item a viewer is sent.
type Kind uint8

// What a viewer receives, in order: a Header (the codec string and the init
// segment; again whenever the stream's codec changes), then Fragments; a
// State whenever the camera's state changes.
const (
	KindHeader Kind = iota + 1
	KindFragment
	KindState
)

// Header starts (or restarts) a viewer's stream.
type Header struct {
	Codec  string // RFC 6381 codecs of the tracks, e.g. "avc1.42C01E" or "avc1.42C01E, mp4a.40.2"
	MIME   string // for MediaSource.addSourceBuffer
	Video  string // the video codec's family: H.264, H.265
	From   string // the camera's codec family when transcoded (H.265), else empty
	Width  int
	Height int
	Init   []byte // ftyp + moov

	// What another instance needs to make the same headers (see Hop):
	// the tracks, and an H.265 stream's parameter sets.
	tracks []fmp4.Track
	params [][]byte
}

// Fragment is one frame (or one audio frame): moof + mdat.
type Fragment struct {
	Data  []byte // shared by every viewer: never modify
	Key   bool   // a video keyframe: a viewer can start here
	Audio bool
	In    time.Time // when its last packet came from the camera
	DTS   uint64    // decode time on the track's timeline
	Dur   uint32    // duration
}

// sample is the fragment's mdat payload: the frame as an MP4 sample (for
// video, NAL units with a 4-byte length in front).
func (f *Fragment) sample() []byte { return f.Data[fmp4.FragmentSize(0):] }

// Status is a camera stream's state as a viewer is told it.
type Status struct {
	State  State
	Reason string // why, for offline, stalled, unsupported; free of credentials
}

// Item is what a viewer writes next.
type Item struct {
	Kind     Kind
	Header   *Header
	Fragment *Fragment
	Status   Status
	// Replay marks a fragment from the cached group of pictures handed to
	// a viewer as it joins: it came from the camera before the viewer was
	// there (seconds ago, or in a session that has since ended), so its
	// age says nothing about the relay's delay.
	Replay bool
}

func (it Item) size() int {
	switch it.Kind {
	case KindFragment:
		return len(it.Fragment.Data)
	case KindHeader:
		return len(it.Header.Init)
	}
	return 64
}

// ErrViewerClosed is returned by Next after Close or when the relay stops.
var ErrViewerClosed = errors.New("viewer closed")

// Viewer is one client of a camera stream. Items are queued for it without
// ever blocking the camera: past its byte bound, the queued frames are
// dropped and it skips to the next keyframe.
type Viewer struct {
	relay   *Relay
	cam     *camera
	audio   bool
	limit   int
	decodes []string // video families it plays; nil: not said (taken as all)
	peer    bool     // another instance (WatchPeer)

	// Held by the source the viewer is on (under its lock): the
	// transcode that serves it, or why it is refused one.
	tx      *transcoder
	refused string
	moving  bool // to the sub stream, past video.max_transcodes

	mu       sync.Mutex
	src      *source // changes when the viewer moves to the sub stream
	queue    []Item
	head     int
	bytes    int
	skipping bool // dropping until the next keyframe
	started  bool // has had a keyframe since its last header
	closed   bool
	frozen   bool
	dropped  int64
	wake     chan struct{}
	joined   time.Time
	first    bool   // first fragment handed out
	remote   Remote // a peer's viewers
}

// Next waits for the next item to write. It returns ErrViewerClosed once
// the viewer is closed, or ctx's error.
func (v *Viewer) Next(ctx context.Context) (Item, error) {
	for {
		v.mu.Lock()
		if v.closed {
			v.mu.Unlock()
			return Item{}, ErrViewerClosed
		}
		if v.head < len(v.queue) {
			it := v.queue[v.head]
			v.queue[v.head] = Item{}
			v.head++
			if v.head == len(v.queue) {
				v.queue, v.head = v.queue[:0], 0
			}
			v.bytes -= it.size()
			first := false
			if it.Kind == KindFragment && !v.first {
				v.first, first = true, true
			}
			v.mu.Unlock()
			if first && !v.peer {
				v.relay.metrics.firstFragment.Observe(time.Since(v.joined).Seconds())
			}
			return it, nil
		}
		v.mu.Unlock()
		select {
		case <-v.wake:
		case <-ctx.Done():
			return Item{}, ctx.Err()
		}
	}
}

// Sent counts bytes written to the viewer's connection and, for a
// fragment, how long it took from the camera to the viewer: a live frame
// in the relay latency, a replayed one (the cached group a joining viewer
// starts from) in the replay age.
func (v *Viewer) Sent(it Item, n int) {
	v.cam.bytesOut.Add(float64(n))
	if it.Kind != KindFragment || it.Fragment.In.IsZero() || v.peer {
		return
	}
	age := time.Since(it.Fragment.In).Seconds()
	if it.Replay {
		v.relay.metrics.replayAge.Observe(age)
		return
	}
	v.relay.metrics.latency.Observe(age)
}

// Frozen records what the viewer's player says: its picture has not moved
// for a while although it is connected (true), or moves again (false).
func (v *Viewer) Frozen(frozen bool) {
	v.mu.Lock()
	changed := v.frozen != frozen && !v.closed
	v.frozen = frozen
	v.mu.Unlock()
	if changed {
		if frozen {
			v.cam.frozenReports.Inc()
		}
		v.relay.changed()
	}
}

// Dropped is how many frames were dropped for this viewer.
func (v *Viewer) Dropped() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.dropped
}

// Close stops the viewer. Safe twice.
func (v *Viewer) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.queue, v.head, v.bytes = nil, 0, 0
	src := v.src
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
	src.leave(v)
}

// push queues an item; it never blocks. It returns how many frames the
// viewer dropped.
func (v *Viewer) push(it Item) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return 0
	}
	before := v.dropped
	switch it.Kind {
	case KindHeader:
		// A new stream: nothing queued before it can be played with it.
		v.dropQueued()
		v.started, v.skipping = false, false
	case KindFragment:
		f := it.Fragment
		if f.Audio && !v.audio {
			return 0
		}
		if !v.started || v.skipping {
			if !f.Key {
				if f.Audio || !v.started {
					return 0 // waiting for a first picture is no loss
				}
				v.dropped++
				return v.dropped - before
			}
			v.started, v.skipping = true, false
		}
		if v.bytes+it.size() > v.limit && v.bytes > 0 {
			// Behind by more than the bound: forget what waits and
			// start again at the next keyframe (this one, if it is).
			v.dropped += int64(v.dropQueued())
			if !f.Key {
				v.skipping = true
				v.dropped++
				return v.dropped - before
			}
		}
	}
	v.queue = append(v.queue, it)
	v.bytes += it.size()
	select {
	case v.wake <- struct{}{}:
	default:
	}
	return v.dropped - before
}

// dropQueued forgets queued fragments (headers and states stay) and
// returns how many it dropped.
func (v *Viewer) dropQueued() int {
	n := 0
	kept := v.queue[:0]
	for _, it := range v.queue[v.head:] {
		if it.Kind == KindFragment {
			n++
			continue
		}
		kept = append(kept, it)
	}
	clear(v.queue[len(kept):])
	v.queue, v.head = kept, 0
	v.bytes = 0
	for _, it := range v.queue {
		v.bytes += it.size()
	}
	return n
}

// plays says whether the viewer's player can play a video family ("H.264",
// "H.265"); one that did not say is taken to play all.
func (v *Viewer) plays(family string) bool {
	if v.decodes == nil {
		return true
	}
	for _, d := range v.decodes {
		if d == family {
			return true
		}
	}
	return false
}

// isClosed says whether Close was called.
func (v *Viewer) isClosed() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.closed
}
