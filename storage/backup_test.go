package storage_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citywall/citywall/storage"
)

// TestFlippedByteIsReportedCorrupt: a backup with any one byte past the
// gzip header changed is refused as corrupt, never as truncated (which
// would send the operator looking for a cut copy). The state files are
// JSON with runs of zeros, as real ones have: a flipped byte in deflate
// data can make it copy tar padding where a header belongs, which tar
// reads as the end of the archive. CI once saw that as "truncated".
func TestFlippedByteIsReportedCorrupt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 4 {
		var b strings.Builder
		for j := range 300 + 200*i {
			fmt.Fprintf(&b, `{"id":"HK20261206-7F3A-%06d","cell":"%x","n":%d}`+"\n", j, rng.Uint64(), rng.IntN(50))
		}
		b.WriteString(strings.Repeat("\x00", 700*i))
		if err := os.WriteFile(d.File(fmt.Sprintf("state-%d.json", i)), []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := d.Backup(&buf, nil, "test"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	whole := buf.Bytes()
	if _, err := storage.Verify(bytes.NewReader(whole)); err != nil {
		t.Fatalf("the whole backup: %v", err)
	}
	bad := 0
	// Every byte would take minutes under the race detector; every 17th,
	// from a different start each run, reaches each kind of place.
	for at := 10 + rand.IntN(17); at < len(whole); at += 17 {
		c := bytes.Clone(whole)
		c[at] ^= 0xff
		_, err := storage.Verify(bytes.NewReader(c))
		if err == nil || !errors.Is(err, storage.ErrBadBackup) || !strings.Contains(err.Error(), "corrupt") {
			if err == nil && sameContent(whole, c) {
				continue // a byte deflate does not read (e.g. a code length no symbol uses): the same files come out
			}
			if bad++; bad <= 5 {
				t.Errorf("byte %d of %d flipped: %v; want a bad backup, corrupt", at, len(whole), err)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d flipped bytes of %d not reported corrupt", bad, len(whole))
	}
}

// sameContent reports whether two gzip streams decompress to the same bytes.
func sameContent(a, b []byte) bool {
	read := func(x []byte) []byte {
		r, err := gzip.NewReader(bytes.NewReader(x))
		if err != nil {
			return nil
		}
		out, err := io.ReadAll(r)
		if err != nil {
			return nil
		}
		return out
	}
	ra, rb := read(a), read(b)
	return ra != nil && bytes.Equal(ra, rb)
}

// TestArchiveEndingEarly: an archive that ends (two zero blocks) before its
// closing entry is truncated when its gzip stream is whole, and corrupt
// when the gzip checksum fails: what a changed byte gives when deflate
// copies tar's zero padding where the next header belongs. CI saw the
// second reported as truncated.
func TestArchiveEndingEarly(t *testing.T) {
	d, err := storage.Open(filepath.Join(t.TempDir(), "data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.File("state.json"), []byte(`{"a":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.Backup(&buf, nil, "test"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	r, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	// The manifest's header and its one block of data, then the end.
	early := append(bytes.Clone(plain[:1024]), make([]byte, 1024)...)
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	_, _ = w.Write(early)
	_ = w.Close()
	whole := z.Bytes()
	if _, err := storage.Verify(bytes.NewReader(whole)); err == nil || !strings.Contains(err.Error(), "truncated: it ends before its closing entry") {
		t.Errorf("an archive ending early in a whole gzip stream: %v, want truncated", err)
	}
	bad := bytes.Clone(whole)
	bad[len(bad)-8] ^= 0xff // the gzip trailer's CRC-32
	if _, err := storage.Verify(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "corrupt") || strings.Contains(err.Error(), "truncated") {
		t.Errorf("an archive ending early whose gzip checksum fails: %v, want corrupt", err)
	}
}
