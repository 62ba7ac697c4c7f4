// Package testkit holds the small helpers the packages' tests share. Only
// tests import it.
package testkit

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"
)

// SyncBuffer is a log sink that goroutines write to while the test reads
// it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Eventually checks cond every pause until it holds, and fails the test
// ("timed out waiting for what") once within has passed.
func Eventually(t testing.TB, what string, within, pause time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pause)
	}
}

// FreePort is a TCP port on 127.0.0.1 that nothing listened on a moment
// ago, for a child process to listen on.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
