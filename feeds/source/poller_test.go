package source_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citywall/citywall/feeds"
	"github.com/citywall/citywall/feeds/source"
	"github.com/citywall/citywall/internal/testkit"
)

// recorder is an Alerter that keeps what it is told.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) Fire(_ context.Context, a feeds.Alert) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "fire "+a.Fingerprint)
	return nil
}

func (r *recorder) Clear(_ context.Context, fp string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "clear "+fp)
	return nil
}

func (r *recorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.log {
		if l == s {
			return true
		}
	}
	return false
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, what, within, 20*time.Millisecond, cond)
}

func testStation(interval time.Duration) feeds.Station {
	return feeds.Station{ID: "wl-a", Kind: feeds.Waterlogging, Name: "甲下穿", Lat: 20.01, Lng: 110.31, Interval: interval, Warn: 15, Limit: 30}
}

func sourceState(f *feeds.Feed, name string) (state, reason string, stale bool) {
	var v struct {
		State, Reason string
		Stale         bool
	}
	_ = json.Unmarshal(f.Snapshot(feeds.TopicFlood)["source:"+name], &v)
	return v.State, v.Reason, v.Stale
}

// TestPollerDown polls a JSON URL that then fails (HTTP 503, then a body
// that is not JSON, then a closed port): the source shows the error with
// its reason, the station and the source go stale and raise alerts, and
// when the URL answers again everything recovers and the alerts clear.
func TestPollerDown(t *testing.T) {
	var mode atomic.Value
	mode.Store("up")
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret-token" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		switch mode.Load() {
		case "503":
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		case "garbage":
			fmt.Fprint(w, "<html>gateway error</html>")
		default:
			i := n.Add(1)
			fmt.Fprintf(w, `[{"station":"wl-a","time":%q,"depth":%d,"unit":"mm"}]`, time.Now().Format(time.RFC3339Nano), 10*i)
		}
	}))
	defer srv.Close()

	rec := &recorder{}
	f, err := feeds.New(feeds.Options{Stations: []feeds.Station{testStation(300 * time.Millisecond)}, StaleFactor: 3, Alerter: rec})
	if err != nil {
		t.Fatal(err)
	}
	f.AddSource("hydro", "poll", 200*time.Millisecond)
	p := &source.Poller{Name: "hydro", URL: srv.URL, Token: "s3cret-token", Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond, Sink: f}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = f.Run(ctx) })
	wg.Go(func() { _ = p.Run(ctx) })
	defer func() { cancel(); wg.Wait() }()

	eventually(t, "a first poll", 5*time.Second, func() bool { s, _, _ := sourceState(f, "hydro"); return s == feeds.SourceOK && f.Stats().Accepted > 0 })

	mode.Store("503")
	eventually(t, "the error state", 5*time.Second, func() bool {
		s, reason, _ := sourceState(f, "hydro")
		return s == feeds.SourceError && reason == "fetch: HTTP 503"
	})
	eventually(t, "the stale alerts", 5*time.Second, func() bool {
		return rec.has("fire feeds/source/hydro/stale") && rec.has("fire feeds/wl-a/stale")
	})
	if _, _, stale := sourceState(f, "hydro"); !stale {
		t.Error("the source is not shown as stale")
	}
	mode.Store("garbage")
	eventually(t, "a body error", 5*time.Second, func() bool {
		_, reason, _ := sourceState(f, "hydro")
		return strings.HasPrefix(reason, "body: ")
	})

	mode.Store("up")
	eventually(t, "recovery", 5*time.Second, func() bool {
		s, _, stale := sourceState(f, "hydro")
		return s == feeds.SourceOK && !stale && rec.has("clear feeds/source/hydro/stale") && rec.has("clear feeds/wl-a/stale")
	})

	// A closed port: the reason names the failure but never the token.
	srv.Close()
	eventually(t, "connection refused", 5*time.Second, func() bool {
		s, reason, _ := sourceState(f, "hydro")
		return s == feeds.SourceError && strings.HasPrefix(reason, "fetch: ")
	})
	_, reason, _ := sourceState(f, "hydro")
	if strings.Contains(reason, "s3cret") {
		t.Errorf("reason leaks the token: %q", reason)
	}
}
