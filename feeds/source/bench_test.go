package source_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/source"
)

// BenchmarkMQTTIngest publishes readings with QoS 1 from 8 concurrent
// publishers through a private Mosquitto to the subscriber, and times
// until the feed holds all of them. It reports readings/s and the CPU
// time this process (publishers, subscriber and feed; not the broker)
// spent per reading.
func BenchmarkMQTTIngest(b *testing.B) {
	br := startBroker(b)
	var sts []feeds.Station
	for i := range 24 {
		sts = append(sts, feeds.Station{ID: fmt.Sprintf("wl-%02d", i), Kind: feeds.Waterlogging, Name: "x", Lat: 20, Lng: 110.3, Interval: time.Minute, Warn: 15, Limit: 30})
	}
	f, err := feeds.New(feeds.Options{Stations: sts, MaxPoints: 100_000, History: 48 * time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var ups atomic.Int32
	m := &source.MQTT{Name: "bench", URL: "mqtt://" + br.addr(), Topics: []string{"sensors/#"}, QoS: 1,
		ClientID: "citywall-bench", SessionExpiry: time.Hour, Sink: f, Connected: func() { ups.Add(1) }}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = m.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()
	for ups.Load() == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	const pubs = 8
	clients := make([]*paho.Client, pubs)
	for i := range clients {
		conn, err := net.Dial("tcp", br.addr())
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = paho.NewClient(paho.ClientConfig{Conn: conn, ClientID: fmt.Sprintf("bench-pub-%d", i)})
		if _, err := clients[i].Connect(ctx, &paho.Connect{ClientID: fmt.Sprintf("bench-pub-%d", i), KeepAlive: 30, CleanStart: true}); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Now().Add(-40 * time.Hour)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	var next atomic.Int64
	var pwg sync.WaitGroup
	for _, c := range clients {
		pwg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				body := fmt.Sprintf(`{"station":"wl-%02d","time":%q,"depth":%d,"unit":"cm"}`, i%24,
					base.Add(time.Duration(i/24)*time.Second).Format(time.RFC3339Nano), i%50)
				if _, err := c.Publish(ctx, &paho.Publish{Topic: "sensors/x", QoS: 1, Payload: []byte(body)}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	pwg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for f.Stats().Accepted < uint64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	if got := f.Stats().Accepted; got != uint64(b.N) {
		b.Fatalf("%d of %d readings arrived (%+v)", got, b.N, f.Stats())
	}
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/reading")
	for _, c := range clients {
		_ = c.Disconnect(&paho.Disconnect{})
	}
}
