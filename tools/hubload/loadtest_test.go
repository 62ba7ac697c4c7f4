package hubload

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the client process: Run re-executes it with
// LOADTEST_CLIENT=1, and TestMain then runs the clients instead of tests.
func TestMain(m *testing.M) {
	if os.Getenv("LOADTEST_CLIENT") == "1" {
		if err := ClientMain(os.Args[1:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func clientCommand(args []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LOADTEST_CLIENT=1")
	return cmd
}

func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a client process")
	}
	before := runtime.NumGoroutine()
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := Run(ctx, Options{
		Clients:       50,
		Topics:        5,
		Rate:          100,
		Duration:      2 * time.Second,
		Saturate:      time.Second,
		ClientCommand: clientCommand,
		Log:           &log,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())

	if rep.Connected != 50 || rep.DialErrors != 0 || rep.Idle.Connections != 50 {
		t.Errorf("connected %d, dial errors %d, hub connections %d; want 50, 0, 50", rep.Connected, rep.DialErrors, rep.Idle.Connections)
	}
	if rep.Disconnects != 0 || rep.ProtocolErrors != 0 {
		t.Errorf("disconnects %d %v, protocol errors %d; want none", rep.Disconnects, rep.CloseCodes, rep.ProtocolErrors)
	}
	if rep.Idle.RSSPerConn <= 0 || rep.Idle.HeapPerConn <= 0 {
		t.Errorf("idle memory per connection: RSS %.0f, heap %.0f; want both > 0", rep.Idle.RSSPerConn, rep.Idle.HeapPerConn)
	}
	if len(rep.Phases) != 2 {
		t.Fatalf("%d phases, want 2", len(rep.Phases))
	}
	for _, p := range rep.Phases {
		if p.Published == 0 || p.Expected == 0 || p.Delivered != p.Expected || p.Gaps != 0 || !p.Complete || p.SlowDisconnects != 0 {
			t.Errorf("%s: published %d, delivered %d of %d, gaps %d, complete %t, slow %d",
				p.Name, p.Published, p.Delivered, p.Expected, p.Gaps, p.Complete, p.SlowDisconnects)
		}
		if p.Latency.Count != p.Delivered || p.Latency.P50 <= 0 || p.Latency.P50 > p.Latency.P99 || p.Latency.P99 > p.Latency.Max {
			t.Errorf("%s: latency %+v for %d deltas", p.Name, p.Latency, p.Delivered)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), before, b.String())
		}
	}
	// 2 s at 100/s, 5 topics of 10 clients: 200 deltas, 2000 deliveries.
	if p := rep.Phases[0]; p.Published < 190 || p.Published > 201 || p.Expected != p.Published*10 {
		t.Errorf("steady: published %d, expected %d; want about 200 and 10 times that", p.Published, p.Expected)
	}
}
