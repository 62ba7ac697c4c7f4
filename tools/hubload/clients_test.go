package hubload

import (
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestFrame(t *testing.T) {
	snapshot := `{"type":"snapshot","topic":"heat/8/1h/all","epoch":"E","seq":7,"data":{` +
		strings.Repeat(`"882a100d65fffff":12,`, 400) + `"882a100d67fffff":1}}`
	delta := func(seq int, stamp int64) string {
		return `{"type":"delta","topic":"heat/8/1h/all","epoch":"E","seq":` + strconv.Itoa(seq) +
			`,"data":{"set":{"882a100d65fffff":13,"_t":` + strconv.FormatInt(stamp, 10) + `}}}`
	}
	stamp := time.Now().Add(-5 * time.Millisecond).UnixNano()
	tests := []struct {
		name   string
		frames []string
		deltas uint64
		gaps   uint64
		errs   uint64
		last   uint64
	}{
		{"snapshot then deltas", []string{`{"type":"hello","build":"x"}`, snapshot, delta(8, stamp) + "\n" + delta(9, stamp)}, 2, 0, 0, 9},
		{"batched with snapshot", []string{snapshot + "\n" + delta(8, stamp) + "\n" + delta(9, stamp)}, 2, 0, 0, 9},
		{"gap", []string{snapshot, delta(8, stamp) + "\n" + delta(11, stamp)}, 2, 2, 0, 11},
		{"repeat", []string{snapshot, delta(8, stamp) + "\n" + delta(8, stamp)}, 2, 0, 1, 8},
		{"delta before snapshot", []string{delta(8, stamp)}, 1, 0, 1, 8},
		{"unknown message", []string{snapshot, `{"type":"error","code":"x"}`}, 0, 0, 1, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &wsClient{buf: make([]byte, 256)}
			h := newHistogram()
			var total frameStats
			for _, f := range tt.frames {
				// One byte at a time finds every edge of the line buffer.
				st, err := c.frame(iotest.OneByteReader(strings.NewReader(f)), h)
				if err != nil {
					t.Fatal(err)
				}
				if st.bytes != uint64(len(f)) {
					t.Errorf("frame of %d bytes counted as %d", len(f), st.bytes)
				}
				total.deltas += st.deltas
				total.gaps += st.gaps
				total.errs += st.errs
			}
			if total.deltas != tt.deltas || total.gaps != tt.gaps || total.errs != tt.errs || c.last != tt.last {
				t.Errorf("deltas %d gaps %d errs %d last %d; want %d %d %d %d",
					total.deltas, total.gaps, total.errs, c.last, tt.deltas, tt.gaps, tt.errs, tt.last)
			}
			if s := h.summary(); s.Count != tt.deltas || tt.deltas > 0 && (s.P50 < 4 || s.P50 > 1000) {
				t.Errorf("latency %+v, want %d samples of about 5 ms", s, tt.deltas)
			}
		})
	}
}
