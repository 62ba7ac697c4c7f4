package geo

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/uber/h3-go/v4"
)

// ErrBadCell is wrapped by ParseCell errors for ids that are not H3 cells.
var ErrBadCell = errors.New("bad cell id")

// ParseCell reads an H3 cell id in hex ("8928308280fffff") from outside
// input and checks that it names a valid cell.
func ParseCell(s string) (h3.Cell, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrBadCell)
	}
	if len(s) > 16 {
		return 0, fmt.Errorf("%w %q: longer than 16 hex digits", ErrBadCell, clip(s))
	}
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%w %q: not hex", ErrBadCell, s)
	}
	c := h3.Cell(v)
	if !c.IsValid() {
		return 0, fmt.Errorf("%w %q: not a valid H3 cell", ErrBadCell, s)
	}
	return c, nil
}

// Bit layout of an H3 index, from the H3 specification: the resolution sits
// in bits 52..55 and each of the 15 resolution digits takes 3 bits, digit 15
// lowest; digits below the cell's resolution are all ones.
const (
	h3ResOffset = 52
	h3ResMask   = uint64(0xf) << h3ResOffset
	h3DigitBits = 3
)

// bucketKey packs a cell (of any counted resolution) and a category index into
// one word, so bucket maps take the runtime's fast path for 64-bit keys. The
// top 12 bits of a cell are fixed once its resolution is known (bit 63 is 0,
// the mode in 59..62 is 1, 56..58 are 0, 52..55 hold the resolution), so the
// category goes there.
type bucketKey uint64

const (
	bucketCatShift = 52
	bucketLowMask  = uint64(1)<<bucketCatShift - 1
	h3CellMode     = uint64(1) << 59
)

func packBucketKey(c h3.Cell, cat uint16) bucketKey {
	return bucketKey(uint64(c)&bucketLowMask | uint64(cat)<<bucketCatShift)
}

// cell restores the cell, given the resolution it was packed at.
func (k bucketKey) cell(res int) h3.Cell {
	return h3.Cell(uint64(k)&bucketLowMask | h3CellMode | uint64(res)<<h3ResOffset)
}

// res infers the resolution a cell was packed at: a cell's digits past its
// resolution are all 7, and its own digits never are.
func (k bucketKey) res() int {
	low := uint64(k) & bucketLowMask
	r := 15
	for r > 0 && (low>>((15-r)*h3DigitBits))&7 == 7 {
		r--
	}
	return r
}

func (k bucketKey) cat() uint16 { return uint16(uint64(k) >> bucketCatShift) }
