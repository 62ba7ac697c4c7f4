package testkit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "%d", i) })
	}
	wg.Wait()
	if len(b.String()) != 4 {
		t.Fatalf("buffer %q", b.String())
	}
}

func TestEventually(t *testing.T) {
	start := time.Now()
	Eventually(t, "a tenth of a second", time.Second, time.Millisecond, func() bool { return time.Since(start) > 100*time.Millisecond })
}
