package ingestload

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunIngest runs the ingest load briefly end to end: every posted
// ticket is accepted and counted on the map.
func TestRunIngest(t *testing.T) {
	rep, err := RunIngest(context.Background(), IngestOptions{Duration: 500 * time.Millisecond, Posters: 2, Batch: 200})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tickets == 0 || rep.Rejected != 0 || rep.Posts == 0 {
		t.Fatalf("report %+v", rep)
	}
	if int64(rep.Posts)*200 != rep.Tickets {
		t.Errorf("%d posts of 200 but %d tickets accepted", rep.Posts, rep.Tickets)
	}
	if rep.CellsCounted == 0 || rep.H3PerSecond <= 0 {
		t.Errorf("no cells counted or no h3 rate: %+v", rep)
	}
	if s := rep.String(); !strings.Contains(s, "tickets/s") {
		t.Errorf("report text: %s", s)
	}
}
