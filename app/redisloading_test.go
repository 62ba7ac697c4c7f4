package app_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestClusterWaitsForRedisLoading starts an instance while its Redis is
// still loading a data set from disk (as after a host reboot, when Redis
// and citywall start together): the instance waits for Redis instead of
// exiting on the LOADING answer, and becomes ready once Redis has loaded.
func TestClusterWaitsForRedisLoading(t *testing.T) {
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	run := func(extra ...string) *exec.Cmd {
		args := append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--dbfilename", "dump.rdb",
			"--appendonly", "no", "--save", "", "--protected-mode", "no", "--enable-debug-command", "yes"}, extra...)
		cmd := exec.Command(redisServerPath(t), args...)
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	ctx := context.Background()

	// A data set that takes a few seconds to load: 20,000 keys, each
	// delayed 150 µs on load.
	first := run()
	deadline := time.Now().Add(wait)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server never answered")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := c.Do(ctx, "DEBUG", "POPULATE", 20000).Err(); err != nil {
		t.Fatalf("populate: %v", err)
	}
	if err := c.Save(ctx).Err(); err != nil {
		t.Fatalf("save: %v", err)
	}
	_ = first.Process.Kill()
	_ = first.Wait()
	if _, err := os.Stat(dir + "/dump.rdb"); err != nil {
		t.Fatalf("no dump: %v", err)
	}

	run("--key-load-delay", "150", "--loading-process-events-interval-bytes", "1024")
	sawLoading := false
	deadline = time.Now().Add(wait)
	for !sawLoading {
		err := c.Ping(ctx).Err()
		if err != nil && strings.HasPrefix(err.Error(), "LOADING") {
			sawLoading = true
			break
		}
		if err == nil {
			t.Fatal("redis loaded before the instance could start: the test's data set is too small")
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server never answered: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}

	cfg, tokens := clusterConfig(t, addr)
	start := time.Now()
	s := startInstance(t, cfg, tokens, nil) // fails the test if New returns an error
	t.Logf("ready %s after Redis answered LOADING", time.Since(start).Round(time.Millisecond))
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis after the instance became ready: %v", err)
	}
	if code, body := s.post("/api/v1/tickets", batchOf("loading", 0, 5)); code != 200 {
		t.Fatalf("post after loading: %d %s", code, body)
	}
}

// TestReadyAgainAfterRedisRestart restarts an idle group's Redis (its
// append-only file kept) and measures how long the instances take to be
// ready again on their own, with no traffic to wake them.
func TestReadyAgainAfterRedisRestart(t *testing.T) {
	r := startRedis(t)
	cfg, tokens := clusterConfig(t, r.addr)
	insts := []*server{startInstance(t, cfg, tokens, nil), startInstance(t, cfg, tokens, nil)}
	r.stop()
	time.Sleep(2 * time.Second)
	r.start()
	start := time.Now()
	for i, s := range insts {
		deadline := time.Now().Add(wait)
		for {
			code, body := readyz(s)
			if code == 200 {
				t.Logf("instance %d ready %s after Redis answered again", i, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d not ready %s after Redis came back: %s", i, wait, body)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A Redis that comes back empty (its files lost) is not "ready": the
	// hub's history is gone, and the instances say so instead.
	r.stop()
	if err := os.RemoveAll(r.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.start()
	start = time.Now()
	for i, s := range insts {
		deadline := time.Now().Add(wait)
		for {
			code, body := readyz(s)
			if strings.Contains(body, "lost the hub") {
				t.Logf("instance %d: %s %s after the empty Redis answered", i, body, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("instance %d on an empty Redis: %d %s; its log:\n%s", i, code, body, s.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
