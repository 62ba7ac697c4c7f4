// Package pmtiles reads the header of a PMTiles version 3 archive (one file
// of map tiles addressed by a Hilbert curve, read with HTTP range requests)
// and writes small archives whose tiles all fit in the root directory.
//
// citywall serves a centre's archive as it is; the browser reads its
// directories and tiles (web/static/vendor/pmtiles). The header is read to
// refuse a file that is no archive, or one of tiles the maps cannot draw,
// before anything starts. The writer packs the test suite's basemap.
//
// Format: https://github.com/protomaps/PMTiles/blob/main/spec/v3/spec.md
package pmtiles

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// HeaderLen is the size of a version 3 header.
const HeaderLen = 127

// rootMax is how far from the start the root directory must end: a client
// reads the first 16 KiB in one request.
const rootMax = 16384

// Compression is how the directories or the tiles are compressed.
type Compression uint8

// Compressions of the spec.
const (
	CompressionUnknown Compression = 0
	CompressionNone    Compression = 1
	CompressionGzip    Compression = 2
	CompressionBrotli  Compression = 3
	CompressionZstd    Compression = 4
)

// TileType is what a tile holds.
type TileType uint8

// Tile types of the spec.
const (
	TypeUnknown TileType = 0
	TypeMVT     TileType = 1
	TypePNG     TileType = 2
	TypeJPEG    TileType = 3
	TypeWebP    TileType = 4
	TypeAVIF    TileType = 5
)

func (t TileType) String() string {
	switch t {
	case TypeMVT:
		return "mvt"
	case TypePNG:
		return "png"
	case TypeJPEG:
		return "jpeg"
	case TypeWebP:
		return "webp"
	case TypeAVIF:
		return "avif"
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// Header is a version 3 header. Bounds are in degrees (WGS84).
type Header struct {
	RootOffset, RootLength         uint64
	MetadataOffset, MetadataLength uint64
	LeafOffset, LeafLength         uint64
	DataOffset, DataLength         uint64
	AddressedTiles                 uint64
	TileEntries                    uint64
	TileContents                   uint64
	Clustered                      bool
	InternalCompression            Compression
	TileCompression                Compression
	TileType                       TileType
	MinZoom, MaxZoom               uint8
	MinLng, MinLat, MaxLng, MaxLat float64
	CenterZoom                     uint8
	CenterLng, CenterLat           float64
}

// ErrNotArchive is returned for a file that does not start like a PMTiles
// archive of version 3.
var ErrNotArchive = errors.New("not a PMTiles version 3 archive")

// ReadHeader reads and checks the header at the start of r.
func ReadHeader(r io.ReaderAt) (Header, error) {
	b := make([]byte, HeaderLen)
	if _, err := r.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return Header{}, fmt.Errorf("%w: shorter than its header", ErrNotArchive)
		}
		return Header{}, err
	}
	if string(b[:7]) != "PMTiles" {
		return Header{}, ErrNotArchive
	}
	if b[7] != 3 {
		return Header{}, fmt.Errorf("%w: version %d", ErrNotArchive, b[7])
	}
	u64 := func(at int) uint64 { return binary.LittleEndian.Uint64(b[at:]) }
	deg := func(at int) float64 { return float64(int32(binary.LittleEndian.Uint32(b[at:]))) / 1e7 }
	h := Header{
		RootOffset: u64(8), RootLength: u64(16),
		MetadataOffset: u64(24), MetadataLength: u64(32),
		LeafOffset: u64(40), LeafLength: u64(48),
		DataOffset: u64(56), DataLength: u64(64),
		AddressedTiles: u64(72), TileEntries: u64(80), TileContents: u64(88),
		Clustered:           b[96] == 1,
		InternalCompression: Compression(b[97]),
		TileCompression:     Compression(b[98]),
		TileType:            TileType(b[99]),
		MinZoom:             b[100], MaxZoom: b[101],
		MinLng: deg(102), MinLat: deg(106), MaxLng: deg(110), MaxLat: deg(114),
		CenterZoom: b[118], CenterLng: deg(119), CenterLat: deg(123),
	}
	if h.RootOffset < HeaderLen || h.RootLength == 0 || h.RootOffset+h.RootLength > rootMax {
		return h, fmt.Errorf("%w: root directory at %d+%d", ErrNotArchive, h.RootOffset, h.RootLength)
	}
	return h, nil
}

func (h Header) bytes() []byte {
	b := make([]byte, HeaderLen)
	copy(b, "PMTiles")
	b[7] = 3
	for i, v := range []uint64{h.RootOffset, h.RootLength, h.MetadataOffset, h.MetadataLength,
		h.LeafOffset, h.LeafLength, h.DataOffset, h.DataLength, h.AddressedTiles, h.TileEntries, h.TileContents} {
		binary.LittleEndian.PutUint64(b[8+8*i:], v)
	}
	if h.Clustered {
		b[96] = 1
	}
	b[97], b[98], b[99], b[100], b[101] = byte(h.InternalCompression), byte(h.TileCompression), byte(h.TileType), h.MinZoom, h.MaxZoom
	e7 := func(at int, deg float64) { binary.LittleEndian.PutUint32(b[at:], uint32(int32(deg*1e7))) }
	e7(102, h.MinLng)
	e7(106, h.MinLat)
	e7(110, h.MaxLng)
	e7(114, h.MaxLat)
	b[118] = h.CenterZoom
	e7(119, h.CenterLng)
	e7(123, h.CenterLat)
	return b
}

// TileID is the tile's position on the spec's Hilbert curve: the tiles of
// the lower zooms first, then along the curve.
func TileID(z uint8, x, y uint32) uint64 {
	id := (uint64(1)<<(2*uint(z)) - 1) / 3
	n := uint64(1) << z
	var d uint64
	for s := n / 2; s > 0; s /= 2 {
		var rx, ry uint64
		if uint64(x)&s > 0 {
			rx = 1
		}
		if uint64(y)&s > 0 {
			ry = 1
		}
		d += s * s * ((3 * rx) ^ ry)
		// Rotate the quadrant.
		if ry == 0 {
			if rx == 1 {
				x, y = uint32(s-1)-x&uint32(s-1), uint32(s-1)-y&uint32(s-1)
			}
			x, y = y, x
		}
	}
	return id + d
}

// Tile is one tile to write, already compressed as the header says.
type Tile struct {
	Z    uint8
	X, Y uint32
	Data []byte
}

// Write packs tiles into an archive on w: the header h gives the tile type,
// the tiles' compression, the zooms, the bounds and the centre; the rest is
// filled in. Identical tiles are stored once; the directories are gzipped
// and must fit in the root (a few thousand tiles).
func Write(w io.Writer, h Header, tiles []Tile, metadata []byte) error {
	type entry struct {
		id          uint64
		off, length uint64
		run         uint64
	}
	sorted := slices.Clone(tiles)
	slices.SortFunc(sorted, func(a, b Tile) int {
		return cmp.Compare(TileID(a.Z, a.X, a.Y), TileID(b.Z, b.X, b.Y))
	})
	var data bytes.Buffer
	var entries []entry
	stored := map[string]uint64{}
	for _, t := range sorted {
		id := TileID(t.Z, t.X, t.Y)
		if n := len(entries); n > 0 && entries[n-1].id == id {
			return fmt.Errorf("pmtiles: tile %d/%d/%d given twice", t.Z, t.X, t.Y)
		}
		off, ok := stored[string(t.Data)]
		if !ok {
			off = uint64(data.Len())
			stored[string(t.Data)] = off
			data.Write(t.Data)
		}
		// A run: the same contents at the next id.
		if n := len(entries); n > 0 && entries[n-1].off == off && entries[n-1].id+entries[n-1].run == id {
			entries[n-1].run++
			continue
		}
		entries = append(entries, entry{id: id, off: off, length: uint64(len(t.Data)), run: 1})
	}

	var dir bytes.Buffer
	zw := gzip.NewWriter(&dir)
	put := func(v uint64) { zw.Write(binary.AppendUvarint(nil, v)) }
	put(uint64(len(entries)))
	var last uint64
	for _, e := range entries {
		put(e.id - last)
		last = e.id
	}
	for _, e := range entries {
		put(e.run)
	}
	for _, e := range entries {
		put(e.length)
	}
	for i, e := range entries {
		if i > 0 && e.off == entries[i-1].off+entries[i-1].length {
			put(0)
		} else {
			put(e.off + 1)
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	var meta bytes.Buffer
	zm := gzip.NewWriter(&meta)
	if metadata == nil {
		metadata = []byte("{}")
	}
	zm.Write(metadata)
	if err := zm.Close(); err != nil {
		return err
	}

	h.RootOffset, h.RootLength = HeaderLen, uint64(dir.Len())
	if h.RootOffset+h.RootLength > rootMax {
		return fmt.Errorf("pmtiles: %d tiles need leaf directories, which this writer does not make", len(entries))
	}
	h.MetadataOffset, h.MetadataLength = h.RootOffset+h.RootLength, uint64(meta.Len())
	h.LeafOffset, h.LeafLength = h.MetadataOffset+h.MetadataLength, 0
	h.DataOffset, h.DataLength = h.LeafOffset, uint64(data.Len())
	h.AddressedTiles, h.TileEntries, h.TileContents = uint64(len(sorted)), uint64(len(entries)), uint64(len(stored))
	h.Clustered = true
	h.InternalCompression = CompressionGzip
	for _, part := range [][]byte{h.bytes(), dir.Bytes(), meta.Bytes(), data.Bytes()} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}
