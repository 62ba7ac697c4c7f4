package filestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/filestore"
)

func TestSaveLoadAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "alerts.json")
	s, err := filestore.New(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	empty, err := s.Load(ctx)
	if err != nil || len(empty.Open) != 0 {
		t.Fatalf("load of a missing file: %+v %v", empty, err)
	}
	now := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	snap := alerts.Snapshot{Version: 1, Seq: 7, Open: []alerts.Alert{{ID: "A1", State: alerts.StateFiring, StartsAt: now,
		Signal: alerts.Signal{Source: "sla", Fingerprint: "sla/T1"}}}}
	for range 3 {
		if err := s.Save(ctx, snap); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seq != 7 || len(got.Open) != 1 || !got.Open[0].StartsAt.Equal(now) || got.Open[0].Fingerprint != "sla/T1" {
		t.Errorf("loaded %+v", got)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("files left beside the state: %v", entries)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if err := os.WriteFile(path, []byte("{torn"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx); err == nil {
		t.Error("a torn file loaded without error")
	}
}
