package relay_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/stream/relay"
)

// pair is two relays ("a", "b") in one process that read each other's
// cameras directly, with the hop's own encoding (Item.Hop); the test says
// which owns the camera.
type pair struct {
	cam    *democam.Server
	relays map[string]*relay.Relay
	regs   map[string]*prometheus.Registry

	mu    sync.Mutex
	owner string
	mute  map[string]bool // an owner whose stream never comes
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{cam: startCamera(t, democam.Options{}), relays: map[string]*relay.Relay{}, regs: map[string]*prometheus.Registry{},
		owner: "a", mute: map[string]bool{}}
	for _, id := range []string{"a", "b"} {
		p.regs[id] = prometheus.NewRegistry()
		r, err := relay.New([]relay.Camera{{ID: "cam-1", Main: p.cam.URL("main")}}, relay.Options{
			StallTimeout: time.Second, ReconnectMin: 100 * time.Millisecond, ReconnectMax: 400 * time.Millisecond,
			IdleTimeout: 300 * time.Millisecond, CheckInterval: -1, Peers: pairPeers{p, id},
		}, p.regs[id], slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		p.relays[id] = r
	}
	for _, r := range p.relays {
		r.Run()
		t.Cleanup(r.Close)
	}
	return p
}

// move gives the camera to another relay, as a change of the cluster's
// view does.
func (p *pair) move(to string, mute bool) {
	p.mu.Lock()
	p.owner = to
	p.mute[to] = mute
	p.mu.Unlock()
	for _, r := range p.relays {
		r.Reroute()
	}
}

type pairPeers struct {
	p    *pair
	self string
}

func (pp pairPeers) Owner(string) string {
	pp.p.mu.Lock()
	defer pp.p.mu.Unlock()
	if pp.p.owner == pp.self {
		return ""
	}
	return pp.p.owner
}

func (pp pairPeers) Dial(_ context.Context, owner, camera, stream string) (relay.PeerConn, error) {
	pp.p.mu.Lock()
	r, mute := pp.p.relays[owner], pp.p.mute[owner]
	pp.p.mu.Unlock()
	if mute {
		return &silentConn{done: make(chan struct{})}, nil
	}
	if !r.Owned(camera) {
		return nil, errors.New("409: not the owner")
	}
	v, err := r.WatchPeer(camera, stream)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &hopConn{v: v, ctx: ctx, cancel: cancel}, nil
}

// hopConn reads an owner's peer viewer as /internal/video would.
type hopConn struct {
	v      *relay.Viewer
	ctx    context.Context
	cancel context.CancelFunc
}

func (h *hopConn) Next() ([]byte, error) {
	for {
		it, err := h.v.Next(h.ctx)
		if err != nil {
			return nil, err
		}
		b := it.Hop()
		h.v.Sent(it, len(b))
		if b != nil {
			return b, nil
		}
	}
}

func (h *hopConn) Report(rm relay.Remote) error { h.v.SetRemote(rm); return nil }
func (h *hopConn) Close() error                 { h.cancel(); h.v.Close(); return nil }

// silentConn is an owner that answers and never sends.
type silentConn struct {
	once sync.Once
	done chan struct{}
}

func (s *silentConn) Next() ([]byte, error)     { <-s.done; return nil, io.EOF }
func (s *silentConn) Report(relay.Remote) error { return nil }
func (s *silentConn) Close() error              { s.once.Do(func() { close(s.done) }); return nil }

// seen is a video fragment a viewer got, with its sequence number (each
// leg numbers its own from 1).
type seen struct {
	seq uint32
	f   *relay.Fragment
}

func videoSeen(rd *reader) []seen {
	var out []seen
	for _, it := range rd.snapshot() {
		if it.Kind == relay.KindFragment && !it.Fragment.Audio {
			out = append(out, seen{seq: binary.BigEndian.Uint32(it.Fragment.Data[20:]), f: it.Fragment})
		}
	}
	return out
}

func handovers(p *pair, id, how string) float64 {
	mfs, _ := p.regs[id].Gather()
	for _, mf := range mfs {
		if mf.GetName() != "citywall_video_handovers_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "how" && l.GetValue() == how {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestHandoverAtKeyframe: a watched camera moves from relay a (its own
// session) to relay b, so that a's viewer is served over the hop from b,
// and back (a's own session again). Each time the viewer's track goes on
// without a hole, the first fragment from the new leg is a keyframe, the
// camera has one session at the end, and the move counts as one at a
// keyframe.
func TestHandoverAtKeyframe(t *testing.T) {
	p := newPair(t)
	rd := watch(t, p.relays["a"], "cam-1", "main", false)
	eventually(t, "frames on a", func() bool { n, _ := rd.count(); return n > 10 })
	if n := p.cam.Readers(); n != 1 {
		t.Fatalf("%d sessions before the move, want 1", n)
	}
	for i, to := range []string{"b", "a"} {
		p.move(to, false)
		moved := time.Now()
		eventually(t, "the camera read by "+to+" only", func() bool {
			st, _ := p.relays["b"].CameraStatus("cam-1")
			bViewers := 0
			if to == "b" {
				bViewers = 1 // a's, over the hop
			}
			return handovers(p, "a", "keyframe") == float64(i+1) && p.cam.Readers() == 1 && st.Viewers == bViewers
		})
		took := time.Since(moved)
		before, _ := rd.count()
		eventually(t, "frames after the move", func() bool { n, _ := rd.count(); return n > before+10 })
		t.Logf("moved to %s at its first keyframe, %v after the change of owner", to, took.Round(time.Millisecond))
	}
	frames := videoSeen(rd)
	switches := 0
	for i := 1; i < len(frames); i++ {
		prev, f := frames[i-1].f, frames[i].f
		if f.DTS != prev.DTS+uint64(prev.Dur) {
			t.Fatalf("fragment %d starts at %d, the one before ended at %d", i, f.DTS, prev.DTS+uint64(prev.Dur))
		}
		if frames[i].seq != frames[i-1].seq+1 {
			switches++
			if !f.Key {
				t.Fatalf("fragment %d, the first of a new leg, is not a keyframe", i)
			}
		}
	}
	if switches != 2 {
		t.Fatalf("%d switches of source, want 2", switches)
	}
	if n := handovers(p, "a", "forced"); n != 0 {
		t.Fatalf("%v forced moves", n)
	}
}

// TestHandoverLimit: the new owner never sends (a camera that takes one
// session only would make it so). The old owner serves its viewer until
// the move's limit, 2 × the stall timeout, then hangs up anyway: the
// camera never keeps two sessions.
func TestHandoverLimit(t *testing.T) {
	p := newPair(t)
	rd := watch(t, p.relays["a"], "cam-1", "main", false)
	eventually(t, "frames on a", func() bool { n, _ := rd.count(); return n > 10 })
	p.move("b", true)
	moved := time.Now()
	// Serving goes on while the next leg waits.
	time.Sleep(1500 * time.Millisecond)
	n0, _ := rd.count()
	time.Sleep(200 * time.Millisecond)
	if n, _ := rd.count(); n <= n0 {
		t.Fatalf("no frame 1.5 s into the move: the old owner stopped serving before the limit")
	}
	if p.cam.Readers() != 1 {
		t.Fatalf("%d sessions during the move, want a's only (b never dials)", p.cam.Readers())
	}
	eventually(t, "a hung up", func() bool { return p.cam.Readers() == 0 })
	hung := time.Since(moved)
	if hung > 3*time.Second {
		t.Fatalf("a hung up %v after the move, want within the 2 s limit", hung)
	}
	// The leg hangs up first and settles the move after: the count follows.
	eventually(t, "one forced move", func() bool { return handovers(p, "a", "forced") == 1 })
	t.Logf("a hung up %v after the move", hung.Round(time.Millisecond))
}
