package app_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/geo/ticket"
)

// TestLifecycle walks a ticket through its closed loop, one event per post,
// and reads its state back after each step.
func TestLifecycle(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 0)
	created := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	x := newTicket("LIFE-1", lat, lng).with("created", created.Format(time.RFC3339))
	if code, res := s.postTickets(x.json()); code != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("post ticket: %d %+v", code, res)
	}
	if st, _ := s.state("LIFE-1"); st.Status != "" || len(st.Events) != 0 || st.Ticket.ID != "LIFE-1" {
		t.Fatalf("state before any event: %+v", st)
	}

	at := func(m int) time.Time { return created.Add(time.Duration(m) * time.Minute) }
	steps := []struct {
		body string
		typ  ticket.EventType
	}{
		{fmt.Sprintf(`{"type":"received","time":%q}`, at(1).Format(time.RFC3339)), ticket.EventReceived},
		// The ticket named in the body as well as in the path.
		{fmt.Sprintf(`{"ticket":"LIFE-1","type":"dispatched","time":%q,"department":"市政市容委"}`, at(3).Format(time.RFC3339)), ticket.EventDispatched},
		// Another zone, capitals: normalised.
		{fmt.Sprintf(`{"type":"RESPONDED","time":%q}`, at(20).In(time.FixedZone("", 8*3600)).Format(time.RFC3339)), ticket.EventResponded},
		{fmt.Sprintf(`{"type":"resolved","time":%q,"note":"已清理完毕"}`, at(60).Format(time.RFC3339)), ticket.EventResolved},
		{fmt.Sprintf(`{"type":"visited","time":%q,"satisfaction":"satisfied"}`, at(90).Format(time.RFC3339)), ticket.EventVisited},
	}
	for i, step := range steps {
		code, res := s.postEvents("LIFE-1", step.body)
		if code != http.StatusOK || res.Accepted != 1 || res.Items[0].ID != "LIFE-1" {
			t.Fatalf("event %s: %d %+v", step.typ, code, res)
		}
		st, _ := s.state("LIFE-1")
		if st.Status != step.typ || len(st.Events) != i+1 {
			t.Errorf("after %s: status %q with %d events", step.typ, st.Status, len(st.Events))
		}
	}
	st, _ := s.state("LIFE-1")
	if !st.DispatchedAt.Equal(at(3)) || !st.RespondedAt.Equal(at(20)) || !st.ResolvedAt.Equal(at(60)) {
		t.Errorf("dispatched %v responded %v resolved %v", st.DispatchedAt, st.RespondedAt, st.ResolvedAt)
	}
	if st.Satisfaction != ticket.Satisfied {
		t.Errorf("satisfaction %q", st.Satisfaction)
	}
	if st.Events[1].Department != "市政市容委" || st.Events[3].Note != "已清理完毕" {
		t.Errorf("department or note lost: %+v", st.Events)
	}
	if st.Overdue(time.Now(), 30*time.Minute) {
		t.Error("responded 17 minutes after dispatch, yet overdue")
	}

	t.Run("repeated event", func(t *testing.T) {
		s := s.with(t)
		code, res := s.postEvents("LIFE-1", steps[4].body)
		if code != http.StatusOK || res.Duplicates != 1 || res.Items[0].Status != ticket.StatusDuplicate {
			t.Errorf("%d %+v", code, res)
		}
		code, res = s.postEvents("LIFE-1", "["+steps[0].body+","+steps[2].body+"]")
		if code != http.StatusOK || res.Duplicates != 2 {
			t.Errorf("batch of repeats: %d %+v", code, res)
		}
		if st, _ := s.state("LIFE-1"); len(st.Events) != 5 {
			t.Errorf("%d events after repeats, want 5", len(st.Events))
		}
	})

	t.Run("late event lands in time order", func(t *testing.T) {
		s := s.with(t)
		y := newTicket("LIFE-2", lat, lng).with("created", created.Format(time.RFC3339))
		s.postTickets(y.json())
		ndjson := strings.Join([]string{
			fmt.Sprintf(`{"type":"dispatched","time":%q}`, at(10).Format(time.RFC3339)),
			fmt.Sprintf(`{"type":"received","time":%q}`, at(1).Format(time.RFC3339)),
		}, "\n")
		code, _, b := s.do(http.MethodPost, "/api/v1/tickets/LIFE-2/events", s.tokens[config.RoleIngest], "application/x-ndjson", strings.NewReader(ndjson))
		if res := decodeResult(t, code, b); code != http.StatusOK || res.Accepted != 2 {
			t.Fatalf("%d %s", code, b)
		}
		st, _ := s.state("LIFE-2")
		if st.Status != ticket.EventDispatched || st.Events[0].Type != ticket.EventReceived {
			t.Errorf("status %q events %+v", st.Status, st.Events)
		}
		if !st.Overdue(time.Now(), 30*time.Minute) {
			t.Error("dispatched two hours ago without a response, yet not overdue")
		}
	})

	t.Run("readers see the state", func(t *testing.T) {
		s := s.with(t)
		var got ticket.State
		s.getJSON("/api/v1/tickets/LIFE-1", s.tokens[config.RoleWall], &got)
		if got.Status != ticket.EventVisited {
			t.Errorf("wall reads status %q", got.Status)
		}
	})
	if n, _ := metric(t, s.reg, "citywall_ingest_events_rejected_total", nil); n != 0 {
		t.Errorf("%v events counted as rejected, none were", n)
	}
	code, _ := s.postEvents("LIFE-1", `{"type":"escalated","time":"2026-01-01T00:00:00Z"}`)
	if n, _ := metric(t, s.reg, "citywall_ingest_events_rejected_total", map[string]string{"reason": "type"}); code != 422 || n != 1 {
		t.Errorf("an event of unknown type: %d, counted %v under reason type", code, n)
	}
}
