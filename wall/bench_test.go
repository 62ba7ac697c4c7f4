package wall

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

type discard struct{}

func (discard) PublishState(context.Context, string, map[string]json.RawMessage, []string, time.Time) error {
	return nil
}

func benchManager(b *testing.B, store Store) *Manager {
	b.Helper()
	cams := []Camera{
		{ID: "s1", Tags: []string{"school-gate"}}, {ID: "s2", Tags: []string{"school-gate"}},
		{ID: "k1", Tags: []string{"kitchen"}}, {ID: "r1", Tags: []string{"road"}}, {ID: "w1", Tags: []string{"waterlogging"}},
	}
	spec := DefaultSpec()
	spec.Sets = []Set{
		{ID: "school-gates", Cameras: []string{"s1", "s2"}}, {ID: "kitchens", Cameras: []string{"k1"}},
		{ID: "roads", Cameras: []string{"r1"}}, {ID: "waterlogging", Cameras: []string{"w1"}},
	}
	spec.Tours = []Tour{{ID: "patrol", Dwell: 30 * time.Minute, Steps: []Step{{Set: "school-gates"}, {Set: "kitchens"}, {Set: "roads"}}}}
	spec.Walls[0].Tour = "patrol"
	m, err := New(Options{Spec: spec, Cameras: cams, Location: shanghai, Store: store, Publisher: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkShowSet: one manual switch of the command wall, in memory:
// validate, settle, audit, snapshot, encode and diff the published keys.
func BenchmarkShowSet(b *testing.B) {
	m := benchManager(b, &MemoryStore{})
	sets := []string{"school-gates", "kitchens", "roads"}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.ShowSet(ctx, operator, "main", sets[i%3], 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShowSetFile: the same with the state file (write, fsync,
// rename) and the appended audit line.
func BenchmarkShowSetFile(b *testing.B) {
	m := benchManager(b, &FileStore{Path: filepath.Join(b.TempDir(), "walls.json")})
	sets := []string{"school-gates", "kitchens", "roads"}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := m.ShowSet(ctx, operator, "main", sets[i%3], 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTick: the once-a-minute check of every wall when nothing is due.
func BenchmarkTick(b *testing.B) {
	m := benchManager(b, &MemoryStore{})
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		m.mu.Lock()
		m.tick(ctx, now)
		m.mu.Unlock()
	}
}
