package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/webhook"
	"github.com/citywall/citywall/internal/testkit"
)

func note(id string, teams ...string) alerts.Notification {
	a := alerts.Alert{ID: id, Signal: alerts.Signal{Source: "cluster", Title: "龙华区供水排水聚集", TitleEn: "Cluster"}}
	return alerts.Notification{Event: alerts.EventFiring, Alert: a, Teams: teams, Time: time.Now()}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func run(t *testing.T, s *webhook.Sender) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	testkit.Eventually(t, what, 10*time.Second, 5*time.Millisecond, ok)
}

func TestRetriesUntilDelivered(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	var got webhook.Payload
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if n <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		_ = json.Unmarshal(body, &got)
		mu.Unlock()
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content type %q", ct)
		}
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	s := webhook.New([]webhook.Target{{Name: "robot", URL: srv.URL + "/hook?key=secret"}},
		webhook.Options{Backoff: 10 * time.Millisecond, Attempts: 5, Registerer: reg})
	run(t, s)
	s.Notify(context.Background(), note("A1", "water"))
	waitFor(t, "delivery", func() bool { return counter(t, reg, "citywall_alerts_webhook_deliveries_total") == 1 })
	if n := calls.Load(); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if r := counter(t, reg, "citywall_alerts_webhook_retries_total"); r != 2 {
		t.Errorf("retries_total = %v, want 2", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if got.MsgType != "text" || !strings.Contains(got.Text.Content, "龙华区供水排水聚集") || got.Alert.ID != "A1" || got.Event != alerts.EventFiring {
		t.Errorf("payload %+v", got)
	}
	if len(s.DeadLetters()) != 0 {
		t.Errorf("dead letters %v", s.DeadLetters())
	}
}

func TestDeadLetters(t *testing.T) {
	var fails, bad atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fails.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer failing.Close()
	rejecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bad.Add(1)
		w.WriteHeader(http.StatusBadRequest)
	}))
	defer rejecting.Close()
	reg := prometheus.NewRegistry()
	s := webhook.New([]webhook.Target{
		{Name: "down", URL: failing.URL + "/?key=secret-key"},
		{Name: "picky", URL: rejecting.URL},
		{Name: "other-team", URL: rejecting.URL, Teams: []string{"meilan"}},
	}, webhook.Options{Backoff: 5 * time.Millisecond, Attempts: 3, Registerer: reg})
	run(t, s)
	s.Notify(context.Background(), note("A2", "water"))
	waitFor(t, "two dead letters", func() bool { return len(s.DeadLetters()) == 2 })
	if n := fails.Load(); n != 3 {
		t.Errorf("a 500 was tried %d times, want 3", n)
	}
	if n := bad.Load(); n != 1 {
		t.Errorf("a 400 was tried %d times, want 1 (not worth retrying) and the other team's hook never", n)
	}
	for _, d := range s.DeadLetters() {
		if d.AlertID != "A2" || d.Event != "firing" || d.Error == "" {
			t.Errorf("dead letter %+v", d)
		}
		if strings.Contains(d.Error, "secret") || strings.Contains(d.Host, "secret") {
			t.Errorf("dead letter leaks the URL's key: %+v", d)
		}
	}
	if v := counter(t, reg, "citywall_alerts_webhook_dead_letters_total"); v != 2 {
		t.Errorf("dead_letters_total = %v", v)
	}
}

func TestUnreachableTargetIsRetriedThenDeadLettered(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	s := webhook.New([]webhook.Target{{Name: "gone", URL: url}}, webhook.Options{Backoff: 5 * time.Millisecond, Attempts: 2})
	run(t, s)
	s.Notify(context.Background(), note("A3"))
	waitFor(t, "dead letter", func() bool { return len(s.DeadLetters()) == 1 })
	if d := s.DeadLetters()[0]; d.Attempts != 2 {
		t.Errorf("attempts %d, want 2", d.Attempts)
	}
}
