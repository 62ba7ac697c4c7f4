// Package redistest gives tests a real redis-server: the one the test
// command started (CITYWALL_TEST_REDIS), or a private one on a free port
// that the test may stop and start again. A missing redis-server fails the
// test; nothing is skipped.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the shared test server's host:port, or a private server's when
// CITYWALL_TEST_REDIS is not set.
func Addr(t testing.TB) string {
	t.Helper()
	if a := os.Getenv("CITYWALL_TEST_REDIS"); a != "" {
		return a
	}
	return Start(t).Addr()
}

// Prefix is a key prefix of its own for one test, so tests sharing a
// server do not see each other's keys.
func Prefix(t testing.TB) string {
	return fmt.Sprintf("t%d-%s", time.Now().UnixNano(), filepath.Base(t.Name()))
}

// Client returns a client of addr, closed with the test.
func Client(t testing.TB, addr string) redis.UniversalClient {
	c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: []string{addr},
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Server is a private redis-server.
type Server struct {
	t    testing.TB
	port int
	dir  string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start runs a private redis-server on a free port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is needed: %v (apt-get install redis-server)", err)
	}
	_ = bin
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, port: port, dir: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Stop kills the server (SIGKILL: nothing is saved, like a crash).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again (empty) on the same port and waits until
// it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s does not answer: %v", s.Addr(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartCluster runs n redis-servers as one Redis Cluster on free ports
// until the test ends: masters only, the 16384 hash slots split between
// them. It returns their addresses once every node says the cluster is ok.
func StartCluster(t testing.TB, n int) []string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server is needed: %v (apt-get install redis-server)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addrs := make([]string, n)
	clients := make([]*redis.Client, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", t.TempDir(),
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addrs[i] = "127.0.0.1:" + strconv.Itoa(port)
		clients[i] = redis.NewClient(&redis.Options{Addr: addrs[i], DialTimeout: 200 * time.Millisecond})
		defer clients[i].Close()
		for clients[i].Ping(ctx).Err() != nil {
			if ctx.Err() != nil {
				t.Fatalf("redis-server on %s did not answer", addrs[i])
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	const slots = 16384
	for i, c := range clients {
		if err := c.ClusterAddSlotsRange(ctx, i*slots/n, (i+1)*slots/n-1).Err(); err != nil {
			t.Fatalf("cluster addslotsrange on %s: %v", addrs[i], err)
		}
		if i > 0 {
			host, port, _ := net.SplitHostPort(addrs[i])
			if err := clients[0].ClusterMeet(ctx, host, port).Err(); err != nil {
				t.Fatalf("cluster meet %s: %v", addrs[i], err)
			}
		}
	}
	for i, c := range clients {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r") {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("cluster not ok on %s: %q %v", addrs[i], info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// StartSentinel runs a Sentinel on a free port watching the master at
// masterAddr under the name "citywall", until the test ends, and returns
// the Sentinel's address once it knows the master.
func StartSentinel(t testing.TB, masterAddr string) (addr, name string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	host, mport, _ := net.SplitHostPort(masterAddr)
	name = "citywall"
	dir := t.TempDir()
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its file: it must be its own
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s 1\nsentinel down-after-milliseconds %s 5000\n",
		port, dir, name, host, mport, name)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server --sentinel: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr = "127.0.0.1:" + strconv.Itoa(port)
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		got, err := sc.GetMasterAddrByName(ctx, name).Result()
		if err == nil && len(got) == 2 && got[1] == mport {
			return addr, name
		}
		if ctx.Err() != nil {
			t.Fatalf("sentinel on %s does not know the master: %v %v", addr, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
