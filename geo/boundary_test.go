package geo

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/uber/h3-go/v4"
)

func TestBoundariesCorrect(t *testing.T) {
	b := NewBoundaries(10)
	tests := []struct {
		name  string
		cell  h3.Cell
		verts int
	}{
		{"haikou res 9", cellAt(t, hkLat, hkLng, 9), 6},
		{"haikou res 7", cellAt(t, hkLat, hkLng, 7), 6},
		{"pentagon", h3.Cell(0x8009fffffffffff), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := h3.CellToBoundary(tt.cell)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // computed, then cached
				got, err := b.Get(tt.cell)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || len(got) < tt.verts {
					t.Fatalf("%d vertices, want %d", len(got), len(want))
				}
				for i, v := range got {
					if v[0] != want[i].Lat || v[1] != want[i].Lng {
						t.Fatalf("vertex %d = %v, want %v", i, v, want[i])
					}
				}
			}
		})
	}

	t.Run("caller owns the slice", func(t *testing.T) {
		c := cellAt(t, hkLat, hkLng, 9)
		got, _ := b.Get(c)
		got[0] = [2]float64{math.NaN(), 0}
		again, _ := b.Get(c)
		if math.IsNaN(again[0][0]) {
			t.Error("Get returned the cached slice")
		}
	})

	t.Run("invalid cell", func(t *testing.T) {
		for _, c := range []h3.Cell{0, h3.Cell(-1)} {
			if _, err := b.Get(c); !errors.Is(err, ErrBadCell) {
				t.Errorf("Get(%x) error %v, want ErrBadCell", uint64(c), err)
			}
		}
		if b.Len() != 3 {
			t.Errorf("cache holds %d, want the 3 valid cells", b.Len())
		}
	})
}

func TestBoundariesBounded(t *testing.T) {
	b := NewBoundaries(5)
	base := cellAt(t, hkLat, hkLng, 8)
	disk, err := base.GridDisk(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range disk {
		if _, err := b.Get(c); err != nil {
			t.Fatal(err)
		}
		if b.Len() > 5 {
			t.Fatalf("cache holds %d, bound 5", b.Len())
		}
	}
	// Least recently used goes first: touch the oldest kept, add one more.
	kept := disk[len(disk)-5]
	b.Get(kept)
	p7, _ := base.Parent(7)
	b.Get(p7)
	b.mu.Lock()
	_, keptIn := b.byID[kept]
	_, evictedIn := b.byID[disk[len(disk)-4]]
	b.mu.Unlock()
	if !keptIn || evictedIn {
		t.Errorf("LRU order wrong: recently used kept=%v, oldest still in=%v", keptIn, evictedIn)
	}
	if NewBoundaries(0).max != 1 {
		t.Error("a zero bound should hold one")
	}
}

func TestBoundariesConcurrent(t *testing.T) {
	b := NewBoundaries(16)
	disk, _ := cellAt(t, hkLat, hkLng, 9).GridDisk(4)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				if _, err := b.Get(disk[(i*7+g)%len(disk)]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Len() > 16 {
		t.Errorf("cache holds %d, bound 16", b.Len())
	}
}
