package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/citywall/citywall/internal/testkit"
)

// The test binary doubles as the server process: a test re-executes it
// with CITYWALL_TEST_SERVE=1 and it runs main instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CITYWALL_TEST_SERVE") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const (
	floodWall   = "flood-test-wall-token-0123456789"
	floodIngest = "flood-test-ingest-token-0123456789"
	floodAdmin  = "flood-test-admin-token-0123456789"
)

// childServer is citywall in a process of its own, with a small limit on
// open files.
type childServer struct {
	cmd  *exec.Cmd
	url  string
	logs *testkit.SyncBuffer
}

// startChild runs this test binary as citywall under `ulimit -n nofile`
// with extra (YAML lines under server:) and waits for /readyz.
func startChild(t *testing.T, nofile int, extra string) *childServer {
	t.Helper()
	port := testkit.FreePort(t)
	cfgPath := filepath.Join(t.TempDir(), "city.yaml")
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:%d"
%s
auth:
  tokens:
    - {name: wall-1, token: %q, roles: [wall]}
    - {name: hotline, token: %q, roles: [ingest]}
    - {name: admin, token: %q, roles: [admin]}
storage: {dir: %q}
log: {level: info}
`, port, extra, floodWall, floodIngest, floodAdmin, t.TempDir())
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &childServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &testkit.SyncBuffer{}}
	s.cmd = exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile), os.Args[0], "-config", cfgPath)
	s.cmd.Env = append(os.Environ(), "CITYWALL_TEST_SERVE=1")
	s.cmd.Stderr = s.logs
	s.cmd.Stdout = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-done
		}
	})
	if waitReady(s.url, 30*time.Second) {
		return s
	}
	t.Fatalf("citywall never ready:\n%s", s.logs)
	return nil
}

// floodResult is what the attacking sockets saw.
type floodResult struct {
	opened, dialFailed atomic.Int64
	got401, closedBare atomic.Int64 // closed by the server after a 401, or without an answer
	heldNs             atomic.Int64 // the longest a socket stayed open before the server closed it (ns)
	stillOpen          atomic.Int64 // open when the flood ended
}

// flood keeps n sockets open against url until ctx ends: each sends the
// headers of POST /api/v1/tickets with Content-Length 100000 and no body,
// or (every silent-th) nothing at all, and waits; when the server closes
// one, another takes its place.
func flood(ctx context.Context, addr string, from []net.IP, n, silentEvery int, res *floodResult) *sync.WaitGroup {
	head := []byte("POST /api/v1/tickets HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
	var wg sync.WaitGroup
	for i := range n {
		silent := silentEvery > 0 && i%silentEvery == 0
		wg.Go(func() {
			// Ramp up over about a second, as a script opening sockets in a
			// loop would; the kernel's accept queue holds 4096.
			time.Sleep(time.Duration(i) * 300 * time.Microsecond)
			d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: from[i%len(from)]}}
			for ctx.Err() == nil {
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					if ctx.Err() == nil {
						res.dialFailed.Add(1)
						time.Sleep(50 * time.Millisecond)
					}
					continue
				}
				res.opened.Add(1)
				start := time.Now()
				stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
				if !silent {
					_, _ = c.Write(head)
				}
				b, _ := io.ReadAll(c) // until the server closes it
				stop()
				held := time.Since(start)
				if ctx.Err() != nil {
					res.stillOpen.Add(1)
					held = 0 // waiting in the accept queue, or within the caps
				} else if bytes.HasPrefix(b, []byte("HTTP/1.1 401")) {
					res.got401.Add(1)
				} else {
					res.closedBare.Add(1)
				}
				for {
					prev := res.heldNs.Load()
					if int64(held) <= prev || res.heldNs.CompareAndSwap(prev, int64(held)) {
						break
					}
				}
				_ = c.Close()
				time.Sleep(250 * time.Millisecond)
			}
		})
	}
	return &wg
}

// TestFloodOfUnauthenticatedSockets: thousands of sockets opened by a
// caller without a token — request headers announcing a body that never
// comes, or nothing at all — against a citywall allowed 1024 open files.
// Throughout, a wall keeps its stream (every posted ticket reaches it), an
// ingest system keeps posting (every batch answered 200), and /healthz
// answers on fresh connections; no socket is held longer than the header
// timeout, and the server never runs out of files.
func TestFloodOfUnauthenticatedSockets(t *testing.T) {
	s := startChild(t, 1024, "")
	addr := strings.TrimPrefix(s.url, "http://")

	// The wall: subscribed to new tickets, pinging the hub every second.
	hdr := http.Header{"Authorization": {"Bearer " + floodWall}}
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", hdr)
	if err != nil {
		t.Fatalf("wall: %v %v", err, resp)
	}
	defer ws.Close()
	if err := ws.WriteJSON(map[string]any{"op": "subscribe", "id": 1, "topic": "tickets"}); err != nil {
		t.Fatal(err)
	}
	var (
		seenMu  sync.Mutex
		seen    = map[string]bool{} // ticket ids the wall received
		pongs   atomic.Int64
		wallErr atomic.Value
	)
	go func() {
		for {
			msgs, err := testkit.ReadFrame(ws, time.Now().Add(30*time.Second))
			if err != nil {
				wallErr.Store(err)
				return
			}
			for _, m := range msgs {
				switch m.Type {
				case "pong":
					pongs.Add(1)
				case "delta":
					var tk struct {
						ID string `json:"id"`
					}
					_ = json.Unmarshal(m.Data, &tk)
					seenMu.Lock()
					seen[tk.ID] = true
					seenMu.Unlock()
				}
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var res floodResult
	// From two other hosts (loopback answers on all of 127/8).
	attack := flood(ctx, addr, []net.IP{net.IPv4(127, 0, 0, 2), net.IPv4(127, 0, 0, 3)}, 3000, 4, &res)

	// The ingest system: one kept-alive client, a ticket every 100 ms.
	ingest := &http.Client{Timeout: 5 * time.Second}
	var posted []string
	var ingestFail []string
	// /healthz on a new connection every 200 ms.
	probe := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var probes, probeFail atomic.Int64
	var probeErrs sync.Map
	var workers sync.WaitGroup
	workers.Go(func() {
		for ctx.Err() == nil {
			probes.Add(1)
			r, err := probe.Get(s.url + "/healthz")
			if err == nil {
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != http.StatusOK {
					err = fmt.Errorf("status %d", r.StatusCode)
				}
			}
			if err != nil {
				probeFail.Add(1)
				probeErrs.Store(err.Error(), true)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	ping := 0
	for i := 0; ctx.Err() == nil; i++ {
		id := fmt.Sprintf("FLOOD-%d", i)
		body := fmt.Sprintf(`[{"id":%q,"channel":"phone","category":"城市管理","summary":"flood test","lat":20.02,"lng":110.33,"created":%q}]`,
			id, time.Now().Add(-time.Second).UTC().Format(time.RFC3339))
		req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/tickets", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+floodIngest)
		req.Header.Set("Content-Type", "application/json")
		r, err := ingest.Do(req)
		if err == nil {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			if r.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"accepted"`)) {
				err = fmt.Errorf("%d %s", r.StatusCode, b)
			}
		}
		if err != nil {
			ingestFail = append(ingestFail, fmt.Sprintf("%s: %v", id, err))
		} else {
			posted = append(posted, id)
		}
		if i%10 == 0 {
			ping++
			_ = ws.WriteJSON(map[string]any{"op": "ping", "id": 100 + ping})
		}
		time.Sleep(100 * time.Millisecond)
	}
	attack.Wait()
	workers.Wait()

	t.Logf("flood: %d sockets opened (%d dial failures); closed after a 401: %d, closed without an answer: %d, open at the end: %d; longest held %s",
		res.opened.Load(), res.dialFailed.Load(), res.got401.Load(), res.closedBare.Load(), res.stillOpen.Load(), time.Duration(res.heldNs.Load()))
	t.Logf("ingest: %d batches answered 200, %d failed; /healthz: %d probes, %d failed; wall pongs %d of %d",
		len(posted), len(ingestFail), probes.Load(), probeFail.Load(), pongs.Load(), ping)

	if res.opened.Load() < 3000 {
		t.Errorf("only %d sockets opened; the test wants thousands", res.opened.Load())
	}
	if len(ingestFail) > 0 {
		t.Errorf("ingest failed %d times during the flood, first: %s", len(ingestFail), ingestFail[0])
	}
	if len(posted) < 5 {
		t.Errorf("only %d batches posted in 15 s", len(posted))
	}
	if probeFail.Load() > 0 {
		var errs []string
		probeErrs.Range(func(k, _ any) bool { errs = append(errs, k.(string)); return true })
		t.Errorf("/healthz failed %d of %d times: %v", probeFail.Load(), probes.Load(), errs)
	}
	if held := time.Duration(res.heldNs.Load()); held > 12*time.Second {
		t.Errorf("an unauthenticated socket was held %s, longer than the 10 s header timeout", held)
	}
	// Every acknowledged ticket reached the wall.
	testkit.Eventually(t, "the wall receives every posted ticket", 5*time.Second, 50*time.Millisecond, func() bool {
		seenMu.Lock()
		defer seenMu.Unlock()
		for _, id := range posted {
			if !seen[id] {
				return false
			}
		}
		return true
	})
	if err, _ := wallErr.Load().(error); err != nil {
		t.Errorf("the wall's stream broke: %v", err)
	}
	if pongs.Load() < int64(ping)-1 {
		t.Errorf("the wall got %d pongs for %d pings", pongs.Load(), ping)
	}
	logs := s.logs.String()
	if strings.Contains(logs, "too many open files") {
		t.Errorf("the server ran out of files:\n%.2000s", logs)
	}
	if !strings.Contains(logs, "connection caps lowered") {
		t.Errorf("no log line says the caps were lowered to fit 1024 open files:\n%.2000s", logs)
	}
	metrics := get(t, s.url+"/metrics", floodAdmin)
	if strings.Contains(metrics, `citywall_http_connections_shed_total{reason="address_cap"} 0`) {
		t.Errorf("no connection was shed for the per-address cap")
	}
	for line := range strings.Lines(metrics) {
		if strings.HasPrefix(line, "citywall_http_connections") {
			t.Log(strings.TrimSpace(line))
		}
	}
}

func get(t *testing.T, url, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, bufio.NewReader(resp.Body))
	return b.String()
}
