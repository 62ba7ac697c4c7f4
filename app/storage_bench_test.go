package app_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/citywall/citywall/app"
	"github.com/citywall/citywall/geo/ticket"
	"github.com/citywall/citywall/ingest"
	"github.com/citywall/citywall/storage"
	"github.com/citywall/citywall/storage/disklog"
)

// fillLog writes n tickets, created evenly over span before now, into the
// ingest log of a fresh data directory, in posts of 100, as the disk
// backend would have stored them.
func fillLog(b *testing.B, n int, span time.Duration) string {
	b.Helper()
	dir := b.TempDir()
	d, err := storage.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	l, err := disklog.Open(disklog.Options{Dir: d.File(storage.LogDir)})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	now := time.Now()
	cats := []string{"城市管理", "交通出行", "环境保护", "住房物业", "供水排水", "市场监管"}
	for i := 0; i < n; i += 100 {
		var batch ingest.Batch
		batch.Kind = ingest.KindTickets
		for j := i; j < min(i+100, n); j++ {
			t := ticket.Ticket{ID: fmt.Sprintf("R%08d", j), Channel: ticket.ChannelPhone, Category: cats[j%len(cats)],
				Summary: "人行道上有建筑垃圾", Lat: 19.95 + float64(j%997)*0.0001, Lng: 110.25 + float64(j%991)*0.0002,
				District: "龙华区", Created: now.Add(-span + span/time.Duration(n)*time.Duration(j))}
			if err := t.Normalize(now); err != nil {
				b.Fatal(err)
			}
			batch.Tickets = append(batch.Tickets, t)
		}
		rec, err := ingest.DiskRecord(batch)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Append(context.Background(), rec); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkReplay starts an App on a data directory holding a day's
// tickets (2,700), 35 days' (100,000) and a million from the last day,
// and times the start until /readyz would answer 200 (the replay done).
// It reports the tickets held afterwards and the heap they take
// (store + windows + indexes) per held ticket.
func BenchmarkReplay(b *testing.B) {
	for _, c := range []struct {
		n    int
		span time.Duration
	}{{2700, 24 * time.Hour}, {100_000, 35 * 24 * time.Hour}, {1_000_000, 23 * time.Hour}} {
		b.Run(fmt.Sprint(c.n), func(b *testing.B) {
			dir := fillLog(b, c.n, c.span)
			cfg, _ := testConfig(b)
			cfg.Storage.Dir = dir
			cfg.Alerts.Enabled = false
			var held int
			var perTicket float64
			for b.Loop() {
				b.StopTimer()
				base := heapInUse()
				b.StartTimer()
				cw, err := app.New(cfg, app.Options{})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- cw.Run(ctx) }()
				for cw.NotReady() != "" {
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				held = cw.TicketsHeld()
				perTicket = float64(heapInUse()-base) / float64(max(held, 1))
				cancel()
				<-done
				b.StartTimer()
			}
			b.ReportMetric(float64(held), "tickets-held")
			b.ReportMetric(perTicket, "heap-B/held-ticket")
		})
	}
}
