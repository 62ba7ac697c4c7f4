package storage_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citywall/citywall/storage"
)

func TestOpenLocksAgainstASecondInstance(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	d, err := storage.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Open(dir); err == nil || !strings.Contains(err.Error(), "in use by another citywall instance") {
		t.Fatalf("second open: %v", err)
	}
	d.Close()
	d.Close()
	d2, err := storage.Open(dir)
	if err != nil {
		t.Fatalf("open after close: %v", err)
	}
	d2.Close()
}

func TestNewerVersionIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("99\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Open(dir)
	if err == nil || !strings.Contains(err.Error(), "written by a newer citywall (data format 99") {
		t.Fatalf("open: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "VERSION"), []byte("banana"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := storage.Open(dir); err == nil || !strings.Contains(err.Error(), "not a format version") {
		t.Fatalf("open: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", "/srv/state")
	if d, _ := storage.DefaultDir(); d != "/srv/state/citywall" {
		t.Fatalf("with XDG_STATE_HOME: %s", d)
	}
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("HOME", "/home/op")
	if d, _ := storage.DefaultDir(); d != "/home/op/.local/state/citywall" {
		t.Fatalf("without: %s", d)
	}
}
