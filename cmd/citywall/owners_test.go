package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/citywall/citywall/cluster/members"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/demo/democam"
	"github.com/citywall/citywall/internal/testkit"
)

const ownersWall = "owners-test-wall-token-0123456789"

// tile reads one camera's video from one instance as a wall tile does and
// keeps the time of its last fragment.
type tile struct {
	mu   sync.Mutex
	last time.Time
}

func (tl *tile) since(at time.Time) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.last.After(at)
}

func watchTile(t *testing.T, base, camera string) *tile {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws/video/" + camera + "?stream=main"
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, resp, err := d.Dial(u, http.Header{"Authorization": {"Bearer " + ownersWall}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (%d)", u, err, status)
	}
	t.Cleanup(func() { _ = c.Close() })
	tl := &tile{}
	go func() {
		for {
			typ, b, err := c.ReadMessage()
			if err != nil {
				return
			}
			if typ == websocket.BinaryMessage && len(b) >= 8 && bytes.Equal(b[4:8], []byte("moof")) {
				tl.mu.Lock()
				tl.last = time.Now()
				tl.mu.Unlock()
			}
		}
	}()
	return tl
}

// TestCameraOwnerKilled runs three real citywall processes on one Redis
// with two cameras that count their RTSP sessions and a tile of each
// camera on each instance. Each camera has exactly one session. The
// process owning the first camera is killed with SIGKILL: within 10 s the
// camera has one session again, from a survivor, and the survivors' tiles
// of it play again by themselves; then still one session per camera.
func TestCameraOwnerKilled(t *testing.T) {
	addr := redistest.Addr(t)
	prefix := redistest.Prefix(t)
	var cams []*democam.Server
	var camYAML strings.Builder
	for i := range 2 {
		cam, err := democam.Start(democam.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cam.Close)
		cams = append(cams, cam)
		fmt.Fprintf(&camYAML, "  - {id: cam-%d, name: 路口, lat: 20.02, lng: 110.34, main: %q}\n", i+1, cam.URL("main"))
	}
	type proc struct {
		cmd  *exec.Cmd
		url  string
		logs *testkit.SyncBuffer
	}
	var procs []*proc
	for range 3 {
		port := testkit.FreePort(t)
		cfgPath := filepath.Join(t.TempDir(), "city.yaml")
		cfg := fmt.Sprintf(`server: {listen: "127.0.0.1:%d"}
auth:
  tokens:
    - {name: wall-1, token: %q, roles: [wall]}
storage: {dir: %q}
redis: {addrs: [%q], prefix: %q}
video: {stall_timeout: 1s, reconnect_min: 100ms, reconnect_max: 500ms}
log: {level: info}
cameras:
%s`, port, ownersWall, t.TempDir(), addr, prefix, camYAML.String())
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		p := &proc{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &testkit.SyncBuffer{}}
		p.cmd = exec.Command(os.Args[0], "-config", cfgPath)
		p.cmd.Env = append(os.Environ(), "CITYWALL_TEST_SERVE=1")
		p.cmd.Stderr, p.cmd.Stdout = p.logs, p.logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
		if !waitReady(p.url, 30*time.Second) {
			t.Fatalf("citywall never ready:\n%s", p.logs)
		}
		procs = append(procs, p)
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	urlsKey := "{" + prefix + "}:instances:url"
	view := func() *members.View {
		m, _ := rdb.HGetAll(context.Background(), urlsKey).Result()
		v := &members.View{}
		for id, u := range m {
			v.Members = append(v.Members, members.Member{ID: id, URL: u})
		}
		return v
	}
	until := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	until("three instances registered", 10*time.Second, func() bool { return len(view().Members) == 3 })

	tiles := map[string][]*tile{}
	for _, c := range []string{"cam-1", "cam-2"} {
		for _, p := range procs {
			tiles[c] = append(tiles[c], watchTile(t, p.url, c))
		}
	}
	start := time.Now()
	until("every tile playing", 20*time.Second, func() bool {
		for _, ts := range tiles {
			for _, tl := range ts {
				if !tl.since(start) {
					return false
				}
			}
		}
		return true
	})
	sessions := func() string { return fmt.Sprint([]int{cams[0].Readers(), cams[1].Readers()}) }
	for range 20 {
		if got := sessions(); got != "[1 1]" {
			t.Fatalf("RTSP sessions per camera %s, want one each", got)
		}
		time.Sleep(50 * time.Millisecond)
	}

	ownerURL := view().Owner("cam-1").URL
	killed := -1
	for i, p := range procs {
		if p.url == ownerURL {
			killed = i
		}
	}
	if killed < 0 {
		t.Fatalf("the owner of cam-1 (%s) is none of the processes", ownerURL)
	}
	_ = procs[killed].cmd.Process.Signal(syscall.SIGKILL)
	at := time.Now()
	fresh := at.Add(time.Second)
	until("cam-1 back on the survivors with one session within 10 s", 10*time.Second, func() bool {
		if cams[0].Readers() != 1 || time.Now().Before(fresh) {
			return false
		}
		for i, tl := range tiles["cam-1"] {
			if i != killed && !tl.since(fresh) {
				return false
			}
		}
		return true
	})
	t.Logf("cam-1: one session again and the surviving tiles playing %s after its owner was killed", time.Since(at).Round(time.Millisecond))
	time.Sleep(time.Second)
	for range 10 {
		if got := sessions(); got != "[1 1]" {
			t.Fatalf("after the kill, RTSP sessions per camera %s, want one each", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
