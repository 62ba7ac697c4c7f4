package city

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"time"
)

// runTag is a short tag that sets one run's ticket ids apart from another's:
// two runs differ in seed or start time, so their tags almost surely differ
// and a restarted demo never reuses an id.
func runTag(seed int64, start time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(seed))
	binary.BigEndian.PutUint64(b[8:], uint64(start.UnixNano()))
	h := fnv.New32a()
	h.Write(b[:]) // never fails
	sum := h.Sum32()
	return fmt.Sprintf("%04X", (sum>>16^sum)&0xffff)
}

// ticketID is like "HK20261122-7F3A-000123": the CST date of creation, the
// run tag and the run's sequence number.
func ticketID(created time.Time, tag string, seq uint64) string {
	return fmt.Sprintf("HK%s-%s-%06d", created.In(cst).Format("20060102"), tag, seq)
}
