package disklog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/citywall/citywall/internal/testkit"
	"github.com/citywall/citywall/storage/disklog"
)

func open(t *testing.T, o disklog.Options) *disklog.Log {
	t.Helper()
	l, err := disklog.Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func replay(t *testing.T, l *disklog.Log) []string {
	t.Helper()
	var got []string
	if _, err := l.Replay(func(r disklog.Record) error {
		got = append(got, string(r.Data))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendReplayConcurrent(t *testing.T) {
	dir := t.TempDir()
	l := open(t, disklog.Options{Dir: dir, SegmentBytes: 4 << 10})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 100 {
				if _, err := l.Append(context.Background(), fmt.Appendf(nil, "w%02d-%03d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if l.Segments() < 2 {
		t.Fatalf("segments = %d, want rotation at 4 KiB", l.Segments())
	}
	_ = l.Close()
	l2 := open(t, disklog.Options{Dir: dir, SegmentBytes: 4 << 10})
	got := replay(t, l2)
	if len(got) != 1600 {
		t.Fatalf("replayed %d records, want 1600", len(got))
	}
	seen := map[string]bool{}
	last := map[string]string{}
	for _, g := range got {
		if seen[g] {
			t.Fatalf("record %s twice", g)
		}
		seen[g] = true
		w := g[:3]
		if last[w] > g {
			t.Fatalf("writer %s out of order: %s after %s", w, g, last[w])
		}
		last[w] = g
	}
	// Appends after a reopen follow the old records.
	if _, err := l2.Append(context.Background(), []byte("after")); err != nil {
		t.Fatal(err)
	}
	_ = l2.Close()
	l3 := open(t, disklog.Options{Dir: dir})
	if got := replay(t, l3); len(got) != 1601 || got[1600] != "after" {
		t.Fatalf("after reopen: %d records, last %q", len(got), got[len(got)-1])
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(m) == 0 {
		t.Fatal("no segment")
	}
	return m[len(m)-1]
}

func TestTornTailIsCutWithOneLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		harm func(path string) error
	}{
		{"half a record", func(p string) error {
			fi, _ := os.Stat(p)
			return os.Truncate(p, fi.Size()-3)
		}},
		{"garbage after the last record", func(p string) error {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.Write([]byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3})
			return err
		}},
		{"flipped byte in the last record", func(p string) error {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			b[len(b)-2] ^= 0x40
			return os.WriteFile(p, b, 0o600)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := open(t, disklog.Options{Dir: dir})
			for i := range 10 {
				if _, err := l.Append(context.Background(), fmt.Appendf(nil, "r%d", i)); err != nil {
					t.Fatal(err)
				}
			}
			_ = l.Close()
			if err := tc.harm(lastSegment(t, dir)); err != nil {
				t.Fatal(err)
			}
			var logs testkit.SyncBuffer
			l2 := open(t, disklog.Options{Dir: dir, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			got := replay(t, l2)
			want := 10
			if tc.name != "garbage after the last record" {
				want = 9
			}
			if len(got) != want {
				t.Fatalf("replayed %d, want %d", len(got), want)
			}
			if n := strings.Count(logs.String(), "bytes_dropped="); n != 1 {
				t.Fatalf("want one log line naming the bytes dropped, got %d:\n%s", n, logs.String())
			}
			if _, err := l2.Append(context.Background(), []byte("next")); err != nil {
				t.Fatal(err)
			}
			_ = l2.Close()
			if got := replay(t, open(t, disklog.Options{Dir: dir})); got[len(got)-1] != "next" || len(got) != want+1 {
				t.Fatalf("after the cut: %q", got)
			}
		})
	}
}

func TestCorruptSealedSegmentSkipsItsRest(t *testing.T) {
	dir := t.TempDir()
	l := open(t, disklog.Options{Dir: dir, SegmentBytes: 200})
	for i := range 40 {
		if _, err := l.Append(context.Background(), fmt.Appendf(nil, "record-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = l.Close()
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	b, _ := os.ReadFile(m[0])
	b[40] ^= 1 // second record of the first segment
	if err := os.WriteFile(m[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	got := replay(t, open(t, disklog.Options{Dir: dir, SegmentBytes: 200, Log: slog.New(slog.NewTextHandler(&logs, nil))}))
	if got[0] != "record-00" || len(got) >= 40 || got[len(got)-1] != "record-39" {
		t.Fatalf("replay after damage: %q", got)
	}
	if !strings.Contains(logs.String(), "bytes_skipped=") {
		t.Fatalf("damage not logged:\n%s", logs.String())
	}
}

func TestRetentionDropsWholeSegments(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := open(t, disklog.Options{Dir: dir, SegmentBytes: 100, Retention: 24 * time.Hour, Now: clock})
	for day := range 5 {
		now = time.Date(2026, 1, 1+day, 12, 0, 0, 0, time.UTC)
		for i := range 3 {
			if _, err := l.Append(context.Background(), fmt.Appendf(nil, "day%d-%d-%s", day, i, strings.Repeat("x", 40))); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := l.Bytes()
	n, err := l.Compact(now.Add(time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("compact: %d, %v", n, err)
	}
	if l.Bytes() >= before {
		t.Fatalf("bytes %d not below %d", l.Bytes(), before)
	}
	got := replay(t, l)
	for _, g := range got {
		if strings.HasPrefix(g, "day0") || strings.HasPrefix(g, "day1") || strings.HasPrefix(g, "day2") {
			t.Fatalf("kept %s past retention: %q", g, got)
		}
	}
	if !strings.HasPrefix(got[len(got)-1], "day4-2") {
		t.Fatalf("lost the newest: %q", got)
	}
}

func TestMaxBytesRefusesWithClearError(t *testing.T) {
	l := open(t, disklog.Options{Dir: t.TempDir(), MaxBytes: 1000})
	var err error
	n := 0
	for ; n < 100; n++ {
		if _, err = l.Append(context.Background(), bytes.Repeat([]byte("a"), 50)); err != nil {
			break
		}
	}
	var full *disklog.FullError
	if !errors.As(err, &full) || !strings.Contains(err.Error(), "storage.max_bytes") {
		t.Fatalf("after %d appends: %v", n, err)
	}
	if l.Bytes() > 1000 {
		t.Fatalf("bytes %d over the bound", l.Bytes())
	}
	if got := len(replay(t, l)); got != n {
		t.Fatalf("replayed %d, acknowledged %d", got, n)
	}
}

// A full file system refuses an append without acknowledging it, keeps
// nothing of it, and takes appends again once there is room.
func TestFullDiskRecovers(t *testing.T) {
	mnt := testkit.Tmpfs(t, 256<<10)
	dir := filepath.Join(mnt, "log")
	l := open(t, disklog.Options{Dir: dir})
	filler := filepath.Join(mnt, "filler")
	if err := os.WriteFile(filler, make([]byte, 200<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	acked := 0
	var err error
	for i := range 10000 {
		if _, err = l.Append(context.Background(), fmt.Appendf(nil, "%05d-%s", i, strings.Repeat("p", 100))); err != nil {
			break
		}
		acked++
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("after %d appends: %v, want ENOSPC", acked, err)
	}
	if _, err := l.Append(context.Background(), []byte("still full")); err == nil {
		t.Fatal("append taken on a full disk")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), []byte("room again")); err != nil {
		t.Fatalf("no recovery once room returned: %v", err)
	}
	_ = l.Close()
	got := replay(t, open(t, disklog.Options{Dir: dir}))
	if len(got) != acked+1 || got[len(got)-1] != "room again" {
		t.Fatalf("replayed %d (last %q), want the %d acknowledged and the one after", len(got), got[len(got)-1], acked)
	}
}

func TestReadOnlyRefusesAndRecovers(t *testing.T) {
	mnt := testkit.Tmpfs(t, 1<<20)
	l := open(t, disklog.Options{Dir: mnt})
	if _, err := l.Append(context.Background(), []byte("one")); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	testkit.Remount(t, mnt, "ro")
	var logs testkit.SyncBuffer
	l = open(t, disklog.Options{Dir: mnt, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if got := replay(t, l); strings.Join(got, ",") != "one" {
		t.Fatalf("replayed %q from a read-only directory", got)
	}
	if _, err := l.Append(context.Background(), []byte("two")); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("append on a read-only file system: %v, want EROFS", err)
	}
	if !strings.Contains(logs.String(), "cannot be written") {
		t.Fatalf("not logged:\n%s", logs.String())
	}
	testkit.Remount(t, mnt, "rw")
	if _, err := l.Append(context.Background(), []byte("three")); err != nil {
		t.Fatalf("no recovery after rw: %v", err)
	}
	_ = l.Close()
	if got := replay(t, open(t, disklog.Options{Dir: mnt})); strings.Join(got, ",") != "one,three" {
		t.Fatalf("replayed %q", got)
	}
}

func TestClosedRefuses(t *testing.T) {
	l := open(t, disklog.Options{Dir: t.TempDir()})
	_ = l.Close()
	if _, err := l.Append(context.Background(), []byte("x")); !errors.Is(err, disklog.ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkAppend64(b *testing.B) {
	l, err := disklog.Open(disklog.Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	data := bytes.Repeat([]byte("t"), 300)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Append(context.Background(), data); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Whatever bytes a segment holds, Open and Replay neither panic nor fail:
// what does not check out is cut.
func FuzzOpenReplay(f *testing.F) {
	dir := f.TempDir()
	l, err := disklog.Open(disklog.Options{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"a", "[{\"id\":\"x\"}]", ""} {
		if _, err := l.Append(context.Background(), []byte(s)); err != nil {
			f.Fatal(err)
		}
	}
	_ = l.Close()
	seed, _ := os.ReadFile(filepath.Join(dir, "00000000000000000001.seg"))
	f.Add(seed)
	f.Add(seed[:len(seed)-1])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "00000000000000000001.seg"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := disklog.Open(disklog.Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if _, err := l.Replay(func(disklog.Record) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(context.Background(), []byte("after")); err != nil {
			t.Fatal(err)
		}
	})
}
