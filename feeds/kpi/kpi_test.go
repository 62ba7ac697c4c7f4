package kpi_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citywall/citywall/feeds/kpi"
	"github.com/citywall/citywall/geo/ticket"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var cst, _ = time.LoadLocation("Asia/Shanghai")

func at(day, hm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", day+" "+hm, cst)
	if err != nil {
		panic(err)
	}
	return t
}

// fixture is a known sequence for Friday 2026-11-20 (and the Friday
// before), reported the next morning at 09:00. The expected figures are
// worked out by hand in TestKnownDay.
func fixture(t *testing.T) (*kpi.Tracker, time.Time) {
	t.Helper()
	now := at("2026-11-21", "09:00:00")
	tr := kpi.New(kpi.Options{Location: cst, Now: func() time.Time { return now }})
	calls := []struct {
		c      kpi.Call
		status ticket.PostStatus
	}{
		{kpi.Call{ID: "c1", Type: kpi.Offered, Time: at("2026-11-20", "09:00:00")}, ticket.StatusAccepted},
		{kpi.Call{ID: "c1", Type: kpi.Answered, Time: at("2026-11-20", "09:00:10"), Wait: 10}, ticket.StatusAccepted},
		{kpi.Call{ID: "c2", Type: kpi.Offered, Time: at("2026-11-20", "09:01:00")}, ticket.StatusAccepted},
		{kpi.Call{ID: "c2", Type: kpi.Answered, Time: at("2026-11-20", "09:01:20"), Wait: 20}, ticket.StatusAccepted},
		{kpi.Call{ID: "c3", Type: kpi.Answered, Time: at("2026-11-20", "10:00:30"), Wait: 30}, ticket.StatusAccepted}, // offered implied at 10:00:00
		{kpi.Call{ID: "c4", Type: kpi.Offered, Time: at("2026-11-20", "11:00:00")}, ticket.StatusAccepted},
		{kpi.Call{ID: "c4", Type: kpi.Abandoned, Time: at("2026-11-20", "11:01:00"), Wait: 60}, ticket.StatusAccepted},
		{kpi.Call{ID: "c5", Type: kpi.Offered, Time: at("2026-11-20", "23:59:50")}, ticket.StatusAccepted},
		{kpi.Call{ID: "c5", Type: kpi.Answered, Time: at("2026-11-21", "00:00:20"), Wait: 30}, ticket.StatusAccepted}, // counts for the 20th
		{kpi.Call{ID: "c1", Type: kpi.Offered, Time: at("2026-11-20", "09:00:00")}, ticket.StatusDuplicate},
		{kpi.Call{ID: "c1", Type: kpi.Answered, Time: at("2026-11-20", "09:00:10"), Wait: 10}, ticket.StatusDuplicate},
		{kpi.Call{ID: "c3", Type: kpi.Offered, Time: at("2026-11-20", "10:00:00")}, ticket.StatusDuplicate},
		{kpi.Call{ID: "c4", Type: kpi.Answered, Time: at("2026-11-20", "11:02:00"), Wait: 120}, ticket.StatusRejected},
		{kpi.Call{ID: "c6", Type: kpi.Offered, Time: at("2026-11-21", "09:30:00")}, ticket.StatusRejected}, // 30 min in the future
		{kpi.Call{ID: "c7", Type: kpi.Offered, Time: at("2026-10-01", "09:00:00")}, ticket.StatusRejected}, // older than the days kept
		{kpi.Call{ID: "d1", Type: kpi.Offered, Time: at("2026-11-13", "09:00:00")}, ticket.StatusAccepted},
		{kpi.Call{ID: "d2", Type: kpi.Offered, Time: at("2026-11-13", "15:00:00")}, ticket.StatusAccepted},
	}
	for i, c := range calls {
		if st, reason := tr.Call(c.c); st != c.status {
			t.Fatalf("call %d (%s %s): %s %q, want %s", i, c.c.ID, c.c.Type, st, reason, c.status)
		}
	}

	store := ticket.NewStore(ticket.StoreOptions{Retention: 30 * 24 * time.Hour, MaxTickets: 1000})
	add := func(id string, created time.Time) {
		tk := ticket.Ticket{ID: id, Channel: ticket.ChannelPhone, Category: "供水排水", Lat: 20.02, Lng: 110.33, Created: created}
		if err := tk.Normalize(now); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Add(tk); err != nil {
			t.Fatal(err)
		}
		tr.Ticket(tk)
		tr.Ticket(tk) // a second call for the same ticket counts nothing
	}
	ev := func(id string, typ ticket.EventType, when time.Time, sat ticket.Satisfaction) {
		e := ticket.Event{Ticket: id, Type: typ, Time: when, Satisfaction: sat}
		if typ == ticket.EventDispatched {
			e.Department = "水务局"
		}
		if err := e.Normalize(now); err != nil {
			t.Fatal(err)
		}
		st, changed, err := store.AddEvent(e)
		if err != nil || !changed {
			t.Fatalf("event %s %s: %v %v", id, typ, changed, err)
		}
		tr.TicketState(st)
	}
	d := "2026-11-20"
	add("T1", at(d, "09:00:00"))
	ev("T1", ticket.EventDispatched, at(d, "09:05:00"), "")
	ev("T1", ticket.EventResponded, at(d, "09:20:00"), "")
	ev("T1", ticket.EventResolved, at(d, "12:00:00"), "")
	ev("T1", ticket.EventVisited, at(d, "15:00:00"), ticket.Satisfied)
	add("T2", at(d, "09:30:00"))
	ev("T2", ticket.EventDispatched, at(d, "09:35:00"), "")
	ev("T2", ticket.EventResponded, at(d, "10:15:00"), "") // 40 minutes: late
	ev("T2", ticket.EventResolved, at(d, "18:00:00"), "")
	ev("T2", ticket.EventVisited, at("2026-11-21", "08:30:00"), ticket.Unsatisfied) // counts for the 21st
	add("T3", at(d, "10:00:00"))
	ev("T3", ticket.EventDispatched, at(d, "10:05:00"), "") // never responded: late; open 23 h: not overdue
	add("T4", at("2026-11-19", "08:00:00"))
	ev("T4", ticket.EventDispatched, at("2026-11-19", "08:05:00"), "")
	ev("T4", ticket.EventResponded, at("2026-11-19", "08:10:00"), "")
	ev("T4", ticket.EventDispatched, at(d, "08:00:00"), "") // passed on to another department
	ev("T4", ticket.EventResponded, at(d, "08:20:00"), "")
	ev("T4", ticket.EventResolved, at(d, "10:00:00"), "")
	ev("T4", ticket.EventVisited, at(d, "12:00:00"), ticket.BasicSatisfied)
	add("T5", at(d, "06:00:00"))
	ev("T5", ticket.EventDispatched, at(d, "06:05:00"), "")
	ev("T5", ticket.EventResponded, at(d, "06:10:00"), "")
	ev("T5", ticket.EventResolved, at(d, "07:00:00"), "")
	ev("T5", ticket.EventVisited, at(d, "09:00:00"), ticket.Satisfied)
	add("T6", at(d, "01:00:00")) // never handled: 32 h open, overdue
	// Due on the 20th (created on the 19th, 24 h to handle): P1 and P2
	// resolved in time, P3 never, T4 (above) two hours late.
	add("P1", at("2026-11-19", "10:00:00"))
	ev("P1", ticket.EventResolved, at("2026-11-19", "15:00:00"), "")
	add("P2", at("2026-11-19", "12:00:00"))
	ev("P2", ticket.EventResolved, at("2026-11-19", "23:00:00"), "")
	add("P3", at("2026-11-19", "14:00:00"))
	add("L1", at("2026-11-13", "09:00:00"))
	add("L2", at("2026-11-13", "20:00:00"))
	return tr, now
}

func val(r kpi.Rate) float64 {
	if r.Value == nil {
		return -1
	}
	return *r.Value
}

func TestKnownDay(t *testing.T) {
	tr, now := fixture(t)
	day, err := tr.ParseDate("2026-11-20")
	if err != nil {
		t.Fatal(err)
	}
	r := tr.Day(day, now)
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("calls offered", r.CallsOffered, 5)
	check("calls answered", r.CallsAnswered, 4)
	check("calls abandoned", r.CallsAbandoned, 1)
	check("answer rate", val(r.AnswerRate), 0.8)
	check("average wait", *r.AvgWait, 22.5) // (10+20+30+30)/4
	check("calls last week", r.CallsLastWeek, 2)
	check("tickets", r.Tickets, 5) // T1 T2 T3 T5 T6
	check("tickets last week", r.TicketsLastWeek, 2)
	check("volume change", *r.VolumeChange, 1.5)
	check("response 30m", r.Response, kpi.Rate{Value: r.Response.Value, Num: 3, Den: 5}) // T1 T4 T5 on time; T2 late, T3 none
	check("response value", val(r.Response), 0.6)
	check("completion", val(r.Completion), 0.5) // due on the 20th: P1 P2 in time; P3 never resolved, T4 late
	check("completion den", r.Completion.Den, 4)
	check("open", r.Open, 2)
	check("satisfaction", val(r.Satisfaction), 1.0) // T1 T4 T5 visited on the 20th; T2's visit was on the 21st
	check("satisfaction den", r.Satisfaction.Den, 3)
	check("direct resolution", val(r.DirectResolve), 0.75) // T4 was dispatched twice
	check("hour 9 calls", r.Hourly[9].Offered, 2)
	check("hour 23 calls", r.Hourly[23].Offered, 1)
	check("hour 9 tickets", r.Hourly[9].Tickets, 2)
	check("15-min bin 09:00", r.Volume[36], 1)
	check("15-min bin 09:30", r.Volume[38], 1)
	check("now bin of a past day", r.NowBin, 95)

	// The next day so far: the late visit, and last week's comparison
	// stops at the same time of day (09:00), so L2 at 20:00 is not in it.
	today := tr.Today()
	check("today date", today.Date, "2026-11-21")
	check("today satisfaction den", today.Satisfaction.Den, 1)
	check("today satisfaction", val(today.Satisfaction), 0.0)
	check("today tickets", today.Tickets, 0)
	check("today now bin", today.NowBin, 36)
	if today.AnswerRate.Value != nil {
		t.Errorf("no calls today, answer rate %v", *today.AnswerRate.Value)
	}
}

// TestDailyReportGolden renders the fixed day as CSV and compares it with
// testdata/daily-2026-11-20.csv (go test -update rewrites it).
func TestDailyReportGolden(t *testing.T) {
	tr, now := fixture(t)
	day, _ := tr.ParseDate("2026-11-20")
	var buf bytes.Buffer
	if err := tr.Day(day, now).CSV(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "daily-2026-11-20.csv")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("CSV differs from %s:\n%s", golden, buf.String())
	}
	var html bytes.Buffer
	if err := tr.Day(day, now).HTML(&html, "en", "Haikou"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Haikou 12345 hotline daily report — 2026-11-20", "Answer rate", "80.0 %", "150.0 %", "3 / 5"} {
		if !strings.Contains(html.String(), s) {
			t.Errorf("English HTML lacks %q", s)
		}
	}
	html.Reset()
	_ = tr.Day(day, now).HTML(&html, "zh", "海口")
	for _, s := range []string{`lang="zh-CN"`, "海口 12345热线日报", "接通率", "满意率"} {
		if !strings.Contains(html.String(), s) {
			t.Errorf("Chinese HTML lacks %q", s)
		}
	}
	if _, err := tr.ParseDate("2026-02-30"); err == nil {
		t.Error("2026-02-30 parsed")
	}
}

func TestDecodeCalls(t *testing.T) {
	cases := []struct{ body, reason string }{
		{`{"type":"offered","time":"2026-11-20T09:00:00+08:00"}`, "id: required"},
		{`{"id":"a","type":"ringing","time":"2026-11-20T09:00:00+08:00"}`, `type: "ringing" not one of`},
		{`{"id":"a","type":"answered","time":"2026-11-20T09:00:00+08:00"}`, "wait_s: required with answered"},
		{`{"id":"a","type":"answered","time":"2026-11-20T09:00:00+08:00","wait_s":"NaN"}`, "wait_s: NaN not a number"},
		{`{"id":"a","type":"answered","time":"2026-11-20T09:00:00+08:00","wait_s":1e400}`, "not a finite number"},
		{`{"id":"a","type":"abandoned","time":"2026-11-20T09:00:00+08:00","wait_s":-3}`, "out of range"},
		{`{"id":"a","type":"offered","time":"yesterday"}`, `time: "yesterday" not RFC 3339`},
		{`{"id":"a","type":"offered"}`, "time: required"},
		{`"a"`, "item: must be a JSON object"},
	}
	for _, c := range cases {
		items, err := kpi.DecodeCalls(strings.NewReader(c.body), 0)
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		if items[0].Err == nil || !strings.Contains(items[0].Err.Error(), c.reason) {
			t.Errorf("%s: %v, want %q", c.body, items[0].Err, c.reason)
		}
	}
	for _, body := range []string{``, `[`, `{"id":`, `[{}] x`} {
		if _, err := kpi.DecodeCalls(strings.NewReader(body), 0); err == nil {
			t.Errorf("%q decoded", body)
		}
	}
	items, err := kpi.DecodeCalls(strings.NewReader("{\"id\":\"a\",\"type\":\"offered\",\"time\":\"2026-11-20T09:00:00+08:00\"}\n{\"id\":\"a\",\"type\":\"answered\",\"time\":\"2026-11-20T09:00:12+08:00\",\"wait_s\":\"12\"}\n"), 0)
	if err != nil || len(items) != 2 || items[1].Err != nil || items[1].Call.Wait != 12 {
		t.Fatalf("NDJSON: %v %+v", err, items)
	}
}

func FuzzDecodeCalls(f *testing.F) {
	f.Add(`[{"id":"a","type":"offered","time":"2026-11-20T09:00:00+08:00"},{"id":"a","type":"answered","time":"2026-11-20T09:00:12+08:00","wait_s":12}]`)
	f.Add(`{"id":"b","type":"abandoned","time":"2026-11-20T09:00:00Z","wait_s":"1e309"}`)
	f.Add("{\"id\":\"c\"}\n{")
	now := at("2026-11-21", "09:00:00")
	tr := kpi.New(kpi.Options{Location: cst, Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, body string) {
		items, err := kpi.DecodeCalls(strings.NewReader(body), 50)
		if err != nil {
			return
		}
		for _, it := range items {
			if it.Err != nil {
				continue
			}
			st, reason := tr.Call(it.Call)
			if st == ticket.StatusRejected && reason == "" {
				t.Fatalf("rejected without reason: %+v", it.Call)
			}
		}
		r := tr.Today()
		if r.AnswerRate.Value != nil && (*r.AnswerRate.Value < 0 || *r.AnswerRate.Value > 1) {
			t.Fatalf("answer rate %v", *r.AnswerRate.Value)
		}
	})
}
