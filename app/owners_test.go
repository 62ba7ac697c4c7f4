package app_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/democam"
)

// ownersConfig is a cluster's configuration with n cameras that count
// their sessions (cam-1 …), stalls seen within a second and quick retries.
func ownersConfig(t *testing.T, n int) (config.Config, map[config.Role]string, []*democam.Server) {
	t.Helper()
	cfg, tokens := clusterConfig(t, sharedRedis(t))
	var cams []*democam.Server
	for i := range n {
		cam, err := democam.Start(democam.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cam.Close)
		cams = append(cams, cam)
		cfg.Cameras = append(cfg.Cameras, config.Camera{ID: fmt.Sprintf("cam-%d", i+1), Name: "路口", Lat: 20.02, Lng: 110.34, Main: cam.URL("main")})
	}
	cfg.Video.StallTimeout = time.Second
	cfg.Video.ReconnectMin = 100 * time.Millisecond
	cfg.Video.ReconnectMax = 500 * time.Millisecond
	return cfg, tokens, cams
}

// tileReader reads a video connection until it ends, noting when each
// media fragment came.
type tileReader struct {
	mu    sync.Mutex
	first time.Duration // from dial to the first fragment
	last  time.Time     // the latest fragment
	n     int
}

func readTile(t *testing.T, s *server, camera string, wg *sync.WaitGroup) *tileReader {
	t.Helper()
	start := time.Now()
	c, status, body := s.dialVideo(camera, "?stream=main", bearer(s.tokens[config.RoleWall]))
	if c == nil {
		t.Fatalf("dial %s on %s: %d %s", camera, s.url, status, body)
	}
	tr := &tileReader{}
	wg.Go(func() {
		for {
			typ, b, err := c.conn.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage || len(b) < 8 || !bytes.Equal(b[4:8], []byte("moof")) {
				continue
			}
			tr.mu.Lock()
			if tr.n == 0 {
				tr.first = time.Since(start)
			}
			tr.n++
			tr.last = time.Now()
			tr.mu.Unlock()
		}
	})
	return tr
}

func (tr *tileReader) playing() bool { return tr.since(time.Time{}) }

// everyTilePlays waits until every tile got a fragment.
func everyTilePlays[T interface{ playing() bool }](t *testing.T, groups ...[]T) {
	t.Helper()
	eventually(t, "every tile plays", func() bool {
		for _, g := range groups {
			for _, tile := range g {
				if !tile.playing() {
					return false
				}
			}
		}
		return true
	})
}

// readers is how many RTSP sessions each camera has.
func readers(cams []*democam.Server) []int {
	out := make([]int, len(cams))
	for i, c := range cams {
		out[i] = c.Readers()
	}
	return out
}

func (tr *tileReader) since(at time.Time) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.last.After(at)
}

// TestCameraOwners: three instances on one Redis and three cameras that
// count their sessions. With viewers of every camera on every instance,
// each camera has exactly one session (its owner's); the others read the
// owner's stream. The owner of a camera crashes: within 10 s the camera
// has one session again, from another instance, and the tiles on the
// surviving instances play again by themselves.
func TestCameraOwners(t *testing.T) {
	cfg, tokens, cams := ownersConfig(t, 3)
	insts := []*server{startWith(t, cfg, tokens), startWith(t, cfg, tokens), startWith(t, cfg, tokens)}
	eventually(t, "every instance sees three", func() bool {
		for _, s := range insts {
			if s.app.Instances() != 3 {
				return false
			}
		}
		return true
	})
	owner := func(camera string) int {
		id, _ := insts[0].app.CameraOwner(camera)
		for i, s := range insts {
			if _, self := s.app.CameraOwner(camera); self == id {
				return i
			}
		}
		t.Fatalf("owner %s of %s is none of the instances", id, camera)
		return -1
	}

	var wg sync.WaitGroup
	tiles := map[string][]*tileReader{}
	for _, c := range cfg.Cameras {
		for _, s := range insts {
			tiles[c.ID] = append(tiles[c.ID], readTile(t, s, c.ID, &wg))
		}
	}
	everyTilePlays(t, slices.Collect(maps.Values(tiles))...)
	sessions := func() []int { return readers(cams) }
	// Exactly one session per camera, and it stays so.
	for range 20 {
		if got := sessions(); fmt.Sprint(got) != "[1 1 1]" {
			t.Fatalf("RTSP sessions per camera %v, want one each", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The cameras topic is one view of the cluster on every instance: each
	// camera live, with its owner and the viewers of all three.
	for i, s := range insts {
		var last string
		ok := false
		for deadline := time.Now().Add(10 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			wc := s.connect(tokens[config.RoleWall])
			wc.subscribe("cameras")
			_ = wc.conn.Close()
			st := wc.state["cameras"]
			last = mustJSON(t, st)
			ok = true
			for _, c := range cfg.Cameras {
				var v struct {
					State   string `json:"state"`
					Viewers int    `json:"viewers"`
					Owner   string `json:"owner"`
				}
				want, _ := insts[0].app.CameraOwner(c.ID)
				if json.Unmarshal(st[c.ID], &v) != nil || v.State != "live" || v.Viewers != 3 || v.Owner != want {
					ok = false
				}
			}
		}
		if !ok {
			t.Fatalf("instance %d's cameras topic is not the cluster's view (each camera live, 3 viewers, its owner): %s", i, last)
		}
	}
	for _, c := range cfg.Cameras {
		o := owner(c.ID)
		for i, tr := range tiles[c.ID] {
			where := "another instance"
			if i == o {
				where = "its owner"
			}
			t.Logf("%s: first fragment on %s after %v", c.ID, where, tr.first)
		}
	}

	// The owner of cam-1 crashes.
	o := owner("cam-1")
	insts[o].app.Crash()
	crashed := time.Now()
	_ = insts[o].stop()
	deadline := crashed.Add(10 * time.Second)
	// The hop from the crashed owner ends with it: no frame reaches the
	// surviving tiles until another instance holds the camera, so a frame
	// after this moment is from the new owner.
	fresh := crashed.Add(time.Second)
	for {
		if cams[0].Readers() == 1 && time.Now().After(fresh) {
			ok := true
			for i, tr := range tiles["cam-1"] {
				if i != o && !tr.since(fresh) {
					ok = false
				}
			}
			if ok {
				t.Logf("cam-1: one session again and every surviving tile playing %v after its owner crashed", time.Since(crashed))
				break
			}
		}
		if time.Now().After(deadline) {
			for i, tr := range tiles["cam-1"] {
				t.Logf("tile %d: last fragment %v after the crash", i, tr.last.Sub(crashed))
			}
			t.Fatalf("10 s after the owner crashed: sessions %v", sessions())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The survivors own every camera between them, one session each.
	time.Sleep(time.Second)
	for range 10 {
		if got := sessions(); fmt.Sprint(got) != "[1 1 1]" {
			t.Fatalf("after the crash, RTSP sessions per camera %v, want one each", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, s := range insts {
		if i != o {
			_ = s.stop()
		}
	}
	wg.Wait()
}

// frag is one video fragment as a tile received it.
type frag struct {
	at       time.Time
	seq      uint32
	dts      uint64
	dur      uint32
	key      bool
	fromJoin bool // came after the mark
}

// tileLog reads a video connection until it ends, keeping every video
// fragment's sequence number, decode time, duration and sync flag, and
// every init segment and state after the mark.
type tileLog struct {
	mu     sync.Mutex
	frags  []frag
	inits  int      // init segments after the mark
	states []string // states after the mark
	mark   time.Time
}

func logTile(t *testing.T, s *server, camera string, wg *sync.WaitGroup) *tileLog {
	t.Helper()
	c, status, body := s.dialVideo(camera, "?stream=main", bearer(s.tokens[config.RoleWall]))
	if c == nil {
		t.Fatalf("dial %s on %s: %d %s", camera, s.url, status, body)
	}
	tl := &tileLog{}
	wg.Go(func() {
		for {
			typ, b, err := c.conn.ReadMessage()
			if err != nil {
				return
			}
			now := time.Now()
			tl.mu.Lock()
			marked := !tl.mark.IsZero() && now.After(tl.mark)
			switch {
			case typ == websocket.TextMessage:
				var m struct {
					Type  string `json:"type"`
					State string `json:"state"`
				}
				if json.Unmarshal(b, &m) == nil && m.State != "" && marked {
					tl.states = append(tl.states, m.State)
				}
			case len(b) >= 108 && string(b[4:8]) == "moof" && string(b[52:56]) == "tfdt" && string(b[72:76]) == "trun":
				// The relay's fragments have one layout (fmp4.AppendFragment).
				be := binary.BigEndian
				if be.Uint32(b[44:]) == 1 { // video
					tl.frags = append(tl.frags, frag{at: now, seq: be.Uint32(b[20:]), dts: be.Uint64(b[60:]),
						dur: be.Uint32(b[88:]), key: be.Uint32(b[96:])&0x02000000 != 0, fromJoin: marked})
				}
			case len(b) >= 8 && string(b[4:8]) == "ftyp" && marked:
				tl.inits++
			}
			tl.mu.Unlock()
		}
	})
	return tl
}

func (tl *tileLog) setMark(at time.Time) {
	tl.mu.Lock()
	tl.mark = at
	tl.mu.Unlock()
}

func (tl *tileLog) playing() bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return len(tl.frags) > 0
}

// handover is what a tile saw from its mark on: the longest wait between
// two fragments, the decode-time breaks, the sources it switched to (a
// sequence number that does not follow) and how many of those switches
// did not start at a keyframe.
type handover struct {
	maxGap           time.Duration
	breaks, switches int
	switchesNotAtKey int
	frames           int
}

func (tl *tileLog) handover() handover {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var h handover
	for i := 1; i < len(tl.frags); i++ {
		p, f := tl.frags[i-1], tl.frags[i]
		if !f.fromJoin {
			continue
		}
		h.frames++
		h.maxGap = max(h.maxGap, f.at.Sub(p.at))
		if f.dts != p.dts+uint64(p.dur) {
			h.breaks++
		}
		if f.seq != p.seq+1 {
			h.switches++
			if !f.key {
				h.switchesNotAtKey++
			}
		}
	}
	return h
}

// TestCameraOwnerJoin: two instances serve six cameras, each watched on
// both; a third instance joins and wins some of the cameras. Every tile
// keeps playing across the move: no wait between fragments longer than a
// few frames, decode times continuous, the first fragment from the new
// source a keyframe, no new init segment, no state but live. A camera
// that moves has two sessions for at most the handover (the new owner's
// dial and first keyframe), then exactly one; the others keep theirs.
func TestCameraOwnerJoin(t *testing.T) {
	const nCams = 6
	cfg, tokens, cams := ownersConfig(t, nCams)
	insts := []*server{startWith(t, cfg, tokens), startWith(t, cfg, tokens)}
	eventually(t, "both instances see two", func() bool { return insts[0].app.Instances() == 2 && insts[1].app.Instances() == 2 })

	var wg sync.WaitGroup
	var tiles [][]*tileLog // per camera, one tile on each of the two instances
	for _, c := range cfg.Cameras {
		tiles = append(tiles, []*tileLog{logTile(t, insts[0], c.ID, &wg), logTile(t, insts[1], c.ID, &wg)})
	}
	everyTilePlays(t, tiles...)
	sessions := func() []int { return readers(cams) }
	one := fmt.Sprint(slices.Repeat([]int{1}, nCams))
	eventually(t, "one session per camera", func() bool { return fmt.Sprint(sessions()) == one })
	before := make([]string, nCams)
	for i, c := range cfg.Cameras {
		before[i], _ = insts[0].app.CameraOwner(c.ID)
	}

	// Sessions from before the join until the moved cameras changed hands.
	most := make([]int, nCams)
	twoFor := make([]time.Duration, nCams)
	var sampled sync.WaitGroup
	stopSampling := make(chan struct{})
	sampled.Go(func() {
		last := time.Now()
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(5 * time.Millisecond):
			}
			now := time.Now()
			for i, n := range sessions() {
				most[i] = max(most[i], n)
				if n > 1 {
					twoFor[i] += now.Sub(last)
				}
			}
			last = now
		}
	})

	// A third instance joins; one that wins no camera leaves again and
	// another tries.
	var joiner *server
	var moved []int
	var joined time.Time
	for try := 0; len(moved) == 0; try++ {
		if try == 5 {
			t.Fatal("five joining instances in a row won no camera")
		}
		if joiner != nil {
			_ = joiner.stop()
			eventually(t, "the joiner gone", func() bool { return insts[0].app.Instances() == 2 && insts[1].app.Instances() == 2 })
		}
		joined = time.Now()
		for _, ts := range tiles {
			for _, tl := range ts {
				tl.setMark(joined)
			}
		}
		joiner = startWith(t, cfg, tokens)
		eventually(t, "every instance sees three", func() bool {
			return insts[0].app.Instances() == 3 && insts[1].app.Instances() == 3 && joiner.app.Instances() == 3
		})
		_, self := joiner.app.CameraOwner("cam-1")
		for i, c := range cfg.Cameras {
			now, _ := insts[0].app.CameraOwner(c.ID)
			if now == self {
				moved = append(moved, i)
			} else if now != before[i] {
				t.Fatalf("%s moved from %s to %s, which is not the instance that joined", c.ID, before[i], now)
			}
		}
	}
	t.Logf("cameras %v moved to the instance that joined", moved)

	time.Sleep(time.Until(joined.Add(4 * time.Second)))
	close(stopSampling)
	sampled.Wait()
	for range 20 {
		if got := fmt.Sprint(sessions()); got != one {
			t.Fatalf("after the join, RTSP sessions per camera %s, want one each", got)
		}
		time.Sleep(25 * time.Millisecond)
	}
	for i, c := range cfg.Cameras {
		isMoved := slices.Contains(moved, i)
		if !isMoved && most[i] != 1 {
			t.Errorf("%s did not move but had %d sessions during the join", c.ID, most[i])
		}
		if isMoved {
			t.Logf("%s: at most %d sessions, two for %v", c.ID, most[i], twoFor[i].Round(10*time.Millisecond))
			// Make before break: two sessions for the new owner's dial and
			// first keyframe, bounded by the handover limit.
			if twoFor[i] > 2*cfg.Video.StallTimeout+500*time.Millisecond {
				t.Errorf("%s had two sessions for %v", c.ID, twoFor[i])
			}
		}
		for j, tl := range tiles[i] {
			h := tl.handover()
			tl.mu.Lock()
			inits, states := tl.inits, tl.states
			tl.mu.Unlock()
			t.Logf("%s tile on instance %d: %d frames, longest wait %v, %d switches (%d not at a keyframe), %d decode-time breaks, %d init segments, states %v",
				c.ID, j, h.frames, h.maxGap.Round(time.Millisecond), h.switches, h.switchesNotAtKey, h.breaks, inits, states)
			if h.frames < 50 {
				t.Errorf("%s tile on instance %d: %d frames in 4 s after the join", c.ID, j, h.frames)
			}
			if h.maxGap > 300*time.Millisecond {
				t.Errorf("%s tile on instance %d waited %v for a fragment across the join", c.ID, j, h.maxGap)
			}
			if h.breaks > 0 || h.switchesNotAtKey > 0 || inits > 0 || len(states) > 0 {
				t.Errorf("%s tile on instance %d: %d decode-time breaks, %d switches not at a keyframe, %d init segments, states %v",
					c.ID, j, h.breaks, h.switchesNotAtKey, inits, states)
			}
			if isMoved && h.switches == 0 {
				t.Errorf("%s moved, but its tile on instance %d never switched source", c.ID, j)
			}
			if !isMoved && h.switches > 0 {
				t.Errorf("%s did not move, but its tile on instance %d switched source %d times", c.ID, j, h.switches)
			}
		}
	}
	for _, s := range append(insts, joiner) {
		_ = s.stop()
	}
	wg.Wait()
}
