package soak

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunSamplesAGrowingPage keeps a page open in real Chromium that adds
// a DOM node every 50 ms and never drops it, against a server whose
// /metrics wants the token: the samples see the nodes grow, the server's
// figures come through, and the token never reaches the report.
func TestRunSamplesAGrowingPage(t *testing.T) {
	const token = "s3cret-token"
	mux := http.NewServeMux()
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != token {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `<!doctype html><body><script>
setInterval(() => document.body.appendChild(document.createElement('div')), 50);
</script></body>`)
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "# HELP go_goroutines x\ngo_goroutines 42\ngo_memstats_heap_inuse_bytes 1.048576e+07\nprocess_resident_memory_bytes 3.145728e+07\n")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	o := Options{Server: srv.URL, Token: token, Pages: []string{"/page"}, Width: 800, Height: 600,
		Duration: 2 * time.Second, Every: time.Second, Settle: time.Second, Shots: t.TempDir()}
	ss, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 {
		t.Fatalf("%d samples, want 3 (at 1 s, 2 s and 3 s)", len(ss))
	}
	first, last := ss[0], ss[len(ss)-1]
	if last.Pages[0].Nodes <= first.Pages[0].Nodes+5 {
		t.Errorf("nodes %d → %d: the page's growth is not seen", first.Pages[0].Nodes, last.Pages[0].Nodes)
	}
	if first.Pages[0].JSHeap <= 0 || first.Pages[0].Documents < 1 {
		t.Errorf("page sample %+v: no heap or document", first.Pages[0])
	}
	if first.BrowserPSS < 10<<20 {
		t.Errorf("browser PSS %d bytes: Chromium's processes were not found", first.BrowserPSS)
	}
	if first.ServerHeap != 10<<20 || first.ServerRSS != 30<<20 || first.Goroutines != 42 {
		t.Errorf("server figures %+v", first)
	}
	if fi, err := os.Stat(filepath.Join(o.Shots, "page0.png")); err != nil || fi.Size() == 0 {
		t.Errorf("no screenshot: %v", err)
	}
	var rep bytes.Buffer
	Report(&rep, o, ss)
	if !strings.Contains(rep.String(), "change per hour") || strings.Contains(rep.String(), token) {
		t.Errorf("report:\n%s", rep.String())
	}
}

// TestMetricsNeedAnAdminToken: a token /metrics refuses is a clear error,
// not a run of zeros.
func TestMetricsNeedAnAdminToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	defer srv.Close()
	var s Sample
	err := serverMetrics(context.Background(), Options{Server: srv.URL, Token: "t"}, &s)
	if err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Fatalf("err = %v, want one saying an admin token is needed", err)
	}
}

func TestMainNeedsAToken(t *testing.T) {
	t.Setenv("CITYWALL_TOKEN", "")
	err := Main([]string{"-server", "http://127.0.0.1:1"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "-token") {
		t.Fatalf("err = %v, want one naming -token", err)
	}
}
