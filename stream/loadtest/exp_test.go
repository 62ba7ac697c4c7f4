package loadtest

import (
	"context"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"
)

func TestExpStacks(t *testing.T) {
	if os.Getenv("EXP") == "" {
		t.Skip()
	}
	s, err := startServer(ServerOptions{Topics: HeatTopics(25)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	m0 := readMemory(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunClients(ctx, ClientOptions{URL: s.url, Clients: 1000, Topics: HeatTopics(25)})
	}()
	for s.hub.Stats().Connections < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second)
	for i := 0; i < 6; i++ {
		m := readMemory(true)
		t.Logf("round %d: stack/conn %.0f heap/conn %.0f rss/conn %.0f (includes clients)", i, float64(m.StackInuse-m0.StackInuse)/1000, float64(m.HeapAlloc-m0.HeapAlloc)/1000, float64(m.RSS-m0.RSS)/1000)
	}
	f, _ := os.Create("/tmp/goroutines.txt")
	pprof.Lookup("goroutine").WriteTo(f, 1)
	f.Close()
	_ = runtime.NumGoroutine()
	cancel()
	<-done
}
