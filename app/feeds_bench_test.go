package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// BenchmarkPostReadings posts batches of 100 readings over loopback HTTP
// to a running App (decode, validate, convert, history, state, hub
// publication). ns/op is per batch; it reports readings/s and the CPU time
// of this process (client and server) per reading.
func BenchmarkPostReadings(b *testing.B) {
	s := startServer(b, func(c *config.Config) {
		for i := range 24 {
			c.Feeds.Stations = append(c.Feeds.Stations, config.FeedStation{ID: fmt.Sprintf("wl-%02d", i), Kind: "waterlogging",
				Name: "x", Lat: 20, Lng: 110.3, Interval: time.Minute, Warn: 15, Limit: 30})
		}
	})
	base := time.Now().Add(-20 * time.Hour)
	n := 0
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ReportAllocs()
	for b.Loop() {
		var sb strings.Builder
		sb.WriteByte('[')
		for j := range 100 {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `{"station":"wl-%02d","time":%q,"depth":%d,"unit":"cm"}`, n%24, base.Add(time.Duration(n/24)*time.Second).Format(time.RFC3339), n%40)
			n++
		}
		sb.WriteByte(']')
		code, _, body := s.do(http.MethodPost, "/api/v1/readings", s.tokens[config.RoleIngest], "application/json", strings.NewReader(sb.String()))
		if code != http.StatusOK {
			b.Fatalf("%d %s", code, body)
		}
	}
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/reading")
}
