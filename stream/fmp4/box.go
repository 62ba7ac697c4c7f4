package fmp4

import "encoding/binary"

// writer appends boxes to a byte slice. open and close bracket a box whose
// size is patched in when it is closed.
type writer struct {
	b     []byte
	stack []int
}

func (w *writer) open(typ string) {
	w.stack = append(w.stack, len(w.b))
	w.b = append(w.b, 0, 0, 0, 0, typ[0], typ[1], typ[2], typ[3])
}

// openFull opens a full box: version and 24 bits of flags follow the type.
func (w *writer) openFull(typ string, version uint8, flags uint32) {
	w.open(typ)
	w.u32(uint32(version)<<24 | flags&0xffffff)
}

func (w *writer) close() {
	start := w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
	binary.BigEndian.PutUint32(w.b[start:], uint32(len(w.b)-start))
}

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) zeros(n int) {
	for range n {
		w.b = append(w.b, 0)
	}
}
func (w *writer) raw(p []byte) { w.b = append(w.b, p...) }
func (w *writer) str(s string) { w.b = append(w.b, s...) }

// unity is the identity transformation matrix of mvhd and tkhd.
var unity = [9]uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000}

func (w *writer) matrix() {
	for _, v := range unity {
		w.u32(v)
	}
}
