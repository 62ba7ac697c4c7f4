package loadtest

import (
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citywall/citywall/stream"
	"github.com/gorilla/websocket"
)

func TestExpPing(t *testing.T) {
	if os.Getenv("EXP") == "" {
		t.Skip()
	}
	s, err := startServer(ServerOptions{Topics: HeatTopics(2), Hub: stream.Options{PingPeriod: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	conn, _, err := websocket.DefaultDialer.Dial(s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pings atomic.Int32
	conn.SetPingHandler(func(string) error { pings.Add(1); return nil })
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	time.Sleep(1050 * time.Millisecond)
	if n := pings.Load(); n < 9 || n > 11 {
		t.Fatalf("%d pings in 1.05 s, want 10", n)
	}
	t.Logf("%d pings", pings.Load())
}
