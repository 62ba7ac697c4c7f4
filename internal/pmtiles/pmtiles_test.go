package pmtiles

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func TestTileID(t *testing.T) {
	// The spec's examples, and ids checked against go-pmtiles' ZxyToID.
	for _, tt := range []struct {
		z    uint8
		x, y uint32
		id   uint64
	}{
		{0, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 1, 2}, {1, 1, 1, 3}, {1, 1, 0, 4},
		{2, 0, 0, 5}, {12, 3300, 1800, 19180581},
	} {
		if got := TileID(tt.z, tt.x, tt.y); got != tt.id {
			t.Errorf("TileID(%d, %d, %d) = %d, want %d", tt.z, tt.x, tt.y, got, tt.id)
		}
	}
	seen := map[uint64]bool{}
	for z := uint8(0); z <= 5; z++ {
		for x := uint32(0); x < 1<<z; x++ {
			for y := uint32(0); y < 1<<z; y++ {
				id := TileID(z, x, y)
				if seen[id] || id >= (uint64(1)<<(2*uint(z+1))-1)/3 {
					t.Fatalf("TileID(%d, %d, %d) = %d: taken or past its zoom", z, x, y, id)
				}
				seen[id] = true
			}
		}
	}
}

// readEntries decodes the root directory as the spec lays it out.
func readEntries(t *testing.T, b []byte) (ids, runs, lens, offs []uint64) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(zr)
	r := bytes.NewReader(raw)
	next := func() uint64 {
		v, err := binary.ReadUvarint(r)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	n := int(next())
	var last uint64
	for range n {
		last += next()
		ids = append(ids, last)
	}
	for range n {
		runs = append(runs, next())
	}
	for range n {
		lens = append(lens, next())
	}
	for i := range n {
		o := next()
		if o == 0 {
			o = offs[i-1] + lens[i-1]
		} else {
			o--
		}
		offs = append(offs, o)
	}
	return
}

func TestWriteRead(t *testing.T) {
	tiles := []Tile{
		{Z: 1, X: 1, Y: 0, Data: []byte("d")},
		{Z: 0, X: 0, Y: 0, Data: []byte("root")},
		{Z: 1, X: 0, Y: 0, Data: []byte("same")},
		{Z: 1, X: 0, Y: 1, Data: []byte("same")}, // a run: the next id, the same contents
		{Z: 1, X: 1, Y: 1, Data: []byte("ccc")},
	}
	var buf bytes.Buffer
	in := Header{TileType: TypeMVT, TileCompression: CompressionNone, MaxZoom: 1, MinLng: 110.1, MinLat: 19.5, MaxLng: 110.7, MaxLat: 20.1, CenterZoom: 9, CenterLng: 110.35, CenterLat: 20}
	if err := Write(&buf, in, tiles, []byte(`{"name":"t"}`)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	h, err := ReadHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h.TileType != TypeMVT || h.MaxZoom != 1 || h.MinLng != 110.1 || h.MaxLat != 20.1 || h.CenterLat != 20 ||
		h.AddressedTiles != 5 || h.TileEntries != 4 || h.TileContents != 4 || !h.Clustered || h.InternalCompression != CompressionGzip {
		t.Errorf("header read back: %+v", h)
	}
	ids, runs, lens, offs := readEntries(t, b[h.RootOffset:h.RootOffset+h.RootLength])
	data := b[h.DataOffset : h.DataOffset+h.DataLength]
	want := map[uint64]string{0: "root", 1: "same", 2: "same", 3: "ccc", 4: "d"}
	got := map[uint64]string{}
	for i, id := range ids {
		for k := range runs[i] {
			got[id+k] = string(data[offs[i] : offs[i]+lens[i]])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("tiles %v, want %v", got, want)
	}
	for id, s := range want {
		if got[id] != s {
			t.Errorf("tile %d = %q, want %q", id, got[id], s)
		}
	}
	zr, _ := gzip.NewReader(bytes.NewReader(b[h.MetadataOffset : h.MetadataOffset+h.MetadataLength]))
	if m, _ := io.ReadAll(zr); string(m) != `{"name":"t"}` {
		t.Errorf("metadata %q", m)
	}

	if err := Write(io.Discard, in, append(tiles, Tile{Z: 0, Data: []byte("x")}), nil); err == nil {
		t.Error("a tile given twice was written")
	}
}

func TestReadHeaderRefuses(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, Header{TileType: TypePNG}, []Tile{{Data: []byte("png")}}, nil); err != nil {
		t.Fatal(err)
	}
	v2 := bytes.Clone(good.Bytes())
	v2[7] = 2
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good.Bytes()[:50],
		"geojson":   []byte(`{"type":"FeatureCollection","features":[]}` + string(make([]byte, 200))),
		"version 2": v2,
	} {
		if _, err := ReadHeader(bytes.NewReader(b)); !errors.Is(err, ErrNotArchive) {
			t.Errorf("%s: %v, want ErrNotArchive", name, err)
		}
	}
	if h, err := ReadHeader(bytes.NewReader(good.Bytes())); err != nil || h.TileType != TypePNG || h.TileType.String() != "png" {
		t.Errorf("a PNG archive: %+v, %v", h, err)
	}
}
