package relay

import (
	"context"
	"errors"
	"sync"
	"time"
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
	Width  int
	Height int
	Init   []byte // ftyp + moov
}

// Fragment is one frame (or one audio frame): moof + mdat.
type Fragment struct {
	Data  []byte // shared by every viewer: never modify
	Key   bool   // a video keyframe: a viewer can start here
	Audio bool
	In    time.Time // when its last packet came from the camera
}

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
	src   *source
	audio bool
	limit int

	mu       sync.Mutex
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
	first    bool // first fragment handed out
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
			if first {
				v.src.relay.metrics.firstFragment.Observe(time.Since(v.joined).Seconds())
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
// fragment, how long it took from the camera to the viewer.
func (v *Viewer) Sent(it Item, n int) {
	v.src.cam.bytesOut.Add(float64(n))
	if it.Kind == KindFragment && !it.Fragment.In.IsZero() {
		v.src.relay.metrics.latency.Observe(time.Since(it.Fragment.In).Seconds())
	}
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
			v.src.cam.frozenReports.Inc()
		}
		v.src.relay.changed()
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
	v.mu.Unlock()
	select {
	case v.wake <- struct{}{}:
	default:
	}
	v.src.leave(v)
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
