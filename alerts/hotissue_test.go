package alerts_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/phrase"
	"github.com/citywall/citywall/alerts/scan"
	"github.com/citywall/citywall/alerts/surge"
	"github.com/citywall/citywall/geo/ticket"
)

// TestHotIssueSourceRaisesSurgeAndPhrase learns three weeks of a steady
// city, then sends a district-wide surge of 停水 whose summaries share new
// words: one surge alert (one episode across its scales) and one phrase
// alert reach the manager, with their details, and clear once quiet.
func TestHotIssueSourceRaisesSurgeAndPhrase(t *testing.T) {
	rec := &recorder{}
	m := newManager(t, nil, rec, nil)
	base := scan.NewBaseline(scan.BaselineOptions{Res: 8})
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	hs, err := alerts.NewHotIssueSource(m, base, alerts.HotIssueOptions{
		Surge:  surge.Options{Threshold: 15, WeekThreshold: 1000},
		Phrase: phrase.Options{Threshold: 25},
		Places: []string{"龙华区", "美兰区"}, Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []struct{ cat, sub, text string }{
		{"供水排水", "停水", "家里停水了，什么时候恢复"},
		{"城市管理", "道路脏乱", "路边垃圾堆积多日无人清理"},
		{"交通出行", "违停挪车", "车辆被堵住无法驶出，请求挪车"},
	}
	districts := []struct {
		name string
		ll   h3.LatLng
	}{{"龙华区", h3.LatLng{Lat: 20.02, Lng: 110.32}}, {"美兰区", h3.LatLng{Lat: 20.04, Lng: 110.36}}}
	seq := 0
	mk := func(at time.Time, k, d int, text string) ticket.Ticket {
		seq++
		dd := districts[d]
		return ticket.Ticket{ID: fmt.Sprint("T", seq), Category: kinds[k].cat, Subcategory: kinds[k].sub, Summary: text,
			Lat: dd.ll.Lat + (rng.Float64()-0.5)*0.02, Lng: dd.ll.Lng + (rng.Float64()-0.5)*0.02, District: dd.name, Created: at}
	}
	for at := now.Add(-21 * 24 * time.Hour); at.Before(now.Add(-time.Hour)); at = at.Add(3 * time.Minute) {
		k, d := rng.IntN(len(kinds)), rng.IntN(2)
		tk := mk(at, k, d, kinds[k].text)
		cell, _ := h3.LatLngToCell(h3.LatLng{Lat: tk.Lat, Lng: tk.Lng}, 8)
		_ = base.Observe(cell, tk.Category, tk.Created)
		hs.Learn(tk)
	}
	hs.Recalibrate(context.Background()) // expected counts and thresholds from the learnt weeks
	hs.Ticket(mk(now.Add(-30*time.Minute), 1, 1, kinds[1].text))
	for i := range 40 {
		hs.Ticket(mk(now.Add(-time.Duration(i)*time.Minute), 0, 0, "小区突然停水，水龙头流出黄泥水"))
	}
	hs.ScanOnce(context.Background(), now)
	open := m.Open()
	var surgeAlert, phraseAlert *alerts.Alert
	for i, a := range open {
		if a.Source != alerts.SourceHotIssue || a.HotIssue == nil {
			t.Fatalf("alert %+v: want source hotissue with details", a)
		}
		switch a.HotIssue.Kind {
		case surge.KindSurge:
			if surgeAlert != nil {
				t.Errorf("two surge alerts: %q and %q", surgeAlert.Fingerprint, a.Fingerprint)
			}
			surgeAlert = &open[i]
		case "phrase":
			phraseAlert = &open[i]
		}
	}
	if surgeAlert == nil || phraseAlert == nil {
		t.Fatalf("open alerts %+v: want a surge and a phrase", open)
	}
	h := surgeAlert.HotIssue
	if surgeAlert.Category != "供水排水" || h.Count < 40 || h.Expected <= 0 || h.Rise < 1 || len(h.Scales) < 2 || h.Scale == "" {
		t.Errorf("surge alert %+v %+v", surgeAlert.Signal, h)
	}
	if h.Scale == surge.ScaleDistrict && surgeAlert.District != "龙华区" {
		t.Errorf("district surge routed to district %q", surgeAlert.District)
	}
	p := phraseAlert.HotIssue
	if !strings.Contains(p.Phrase, "黄泥") || len(p.Samples) == 0 || len(p.Districts) == 0 || p.Districts[0].Category != "龙华区" {
		t.Errorf("phrase alert %+v", p)
	}
	if strings.Contains(p.Phrase, "停水") {
		t.Errorf("phrase %q carries the subcategory's usual words", p.Phrase)
	}
	// Quiet for longer than the episodes' quiet time: both clear.
	now = now.Add(3 * time.Hour)
	hs.ScanOnce(context.Background(), now)
	if open := m.Open(); len(open) != 0 {
		t.Errorf("%d alerts still open after 3 quiet hours", len(open))
	}
}
