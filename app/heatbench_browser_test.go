package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/config"
)

// heatSpare is how many cells beyond n the page knows outlines for: the
// cells a delta adds come from them.
const heatSpare = 100

// heatTop is how many cells keep the highest counts, untouched by deltas,
// so the colour scale and the labelled hottest cells stay the same and a
// delta costs its cells only (the canvas renderer would otherwise ease its
// scale over many frames).
const heatTop = 5

// heatCells returns n+heatSpare H3 cells of resolution 9 round the demo
// city's centre, nearest first, and the first n cells' counts.
func heatCells(tb testing.TB, n int) ([]string, []int) {
	tb.Helper()
	c, err := h3.LatLngToCell(h3.LatLng{Lat: 20.03, Lng: 110.33}, 9)
	if err != nil {
		tb.Fatal(err)
	}
	rings, err := h3.GridDiskDistances(c, 129) // 50,311 cells
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, r := range rings {
		for _, cell := range r {
			ids = append(ids, cell.String())
		}
	}
	if len(ids) < n+heatSpare {
		tb.Fatalf("%d cells round the centre, want %d", len(ids), n+heatSpare)
	}
	ids = ids[:n+heatSpare]
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	counts := make([]int, n)
	for i := range counts {
		if i < heatTop {
			counts[i] = 200 - i
		} else {
			counts[i] = 1 + rng.IntN(40)
		}
	}
	return ids, counts
}

// heatDeltas makes hub delta messages of 500 set cells on a map of a
// constant size: 400 cells get new counts, 100 new cells come in and 100
// cells go (del), as when a window slides.
type heatDeltas struct {
	rng     *rand.Rand
	present []string // cells on the map but the heatTop hottest
	spare   []string // cells not on the map
	seq     int
}

func newHeatDeltas(ids []string, n int) *heatDeltas {
	return &heatDeltas{
		rng:     rand.New(rand.NewPCG(2, uint64(n))),
		present: slices.Clone(ids[heatTop:n]),
		spare:   slices.Clone(ids[n:]),
	}
}

func (d *heatDeltas) next() string {
	d.seq++
	d.rng.Shuffle(len(d.present), func(i, j int) { d.present[i], d.present[j] = d.present[j], d.present[i] })
	gone := slices.Clone(d.present[:heatSpare])
	set := make(map[string]int, 500)
	for _, id := range d.present[heatSpare : heatSpare+400] {
		set[id] = 1 + d.rng.IntN(40)
	}
	for _, id := range d.spare {
		set[id] = 1 + d.rng.IntN(40)
	}
	d.present = append(d.present[heatSpare:], d.spare...)
	d.spare = gone
	msg, _ := json.Marshal(map[string]any{"type": "delta", "topic": "heat/9/1h/all", "seq": d.seq,
		"data": map[string]any{"set": set, "del": gone}})
	return string(msg)
}

// heatBenchPage serves the benchmark's page (testdata/heatbench, the old
// canvas renderer in it) and the cells' ids and counts under /bench/, and
// passes everything else to s with the wall's token: the page and today's
// scripts, basemap and cell outlines share one origin, and the page has no
// content security policy of its own.
func heatBenchPage(tb testing.TB, s *server) string {
	tb.Helper()
	target, err := url.Parse(s.url)
	if err != nil {
		tb.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	token := s.tokens[config.RoleWall]
	mux := http.NewServeMux()
	mux.Handle("/bench/", http.StripPrefix("/bench/", http.FileServer(http.Dir(filepath.Join("testdata", "heatbench")))))
	mux.HandleFunc("GET /bench/cells.json", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < heatTop || n > 50000 {
			http.Error(w, "n: want 5..50000", http.StatusBadRequest)
			return
		}
		ids, counts := heatCells(tb, n)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"ids": ids, "counts": counts})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+token)
		proxy.ServeHTTP(w, r)
	})
	hs := httptest.NewServer(mux)
	tb.Cleanup(hs.Close)
	return hs.URL
}

// chromiumProcs sums the CPU time (s) of every process of the Chromium
// whose profile is dir, and the resident memory (MB) of its renderers.
func chromiumProcs(tb testing.TB, dir string) (cpu, rendererMB float64) {
	tb.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmd, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(cmd, []byte("--user-data-dir="+dir)) {
			continue
		}
		pdir := filepath.Dir(p)
		if stat, err := os.ReadFile(filepath.Join(pdir, "stat")); err == nil {
			// The fields after the command's closing parenthesis: utime and
			// stime are the 12th and 13th, in clock ticks (100 a second).
			f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseFloat(f[11], 64)
				s, _ := strconv.ParseFloat(f[12], 64)
				cpu += (u + s) / 100
			}
		}
		if !bytes.Contains(cmd, []byte("--type=renderer")) {
			continue
		}
		status, _ := os.ReadFile(filepath.Join(pdir, "status"))
		for _, line := range strings.Split(string(status), "\n") {
			if kb, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				v, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 64)
				rendererMB += v / 1024
			}
		}
	}
	return cpu, rendererMB
}

// jsHeap forces a full garbage collection in the page and returns its
// main thread's JavaScript heap in use and its array buffers' backing
// stores (the outlines are Float64Arrays), in MB. MapLibre's workers have
// heaps of their own, not in this figure: the renderer's resident memory
// covers them.
func jsHeap(tb testing.TB, tab context.Context) (heap, buffers float64) {
	tb.Helper()
	u, err := chromedp.Run(tab, func(ctx context.Context, t *chromedp.Target) (runtime.GetHeapUsageResult, error) {
		if _, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			return runtime.GetHeapUsageResult{}, err
		}
		return cdp.Call(ctx, t, runtime.GetHeapUsage, cdp.Empty{})
	})
	if err != nil {
		tb.Fatalf("heap usage: %v", err)
	}
	return u.UsedSize / 1e6, u.BackingStorageSize / 1e6
}

// loadAvg is the machine's load average over 1, 5 and 15 minutes, for the
// benchmarks' logs: the machine is shared.
func loadAvg() string {
	load, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(load))[:3], " ")
}

// BenchmarkWallHeatDelta measures a heat delta of 500 cells (400 counts
// changed, 100 cells in, 100 out) from its arrival in the page to the next
// frame, with 5,000 and 50,000 cells on the map, in headless Chromium at
// 3840x2160 with the map filling the page (software WebGL and software
// canvas: SwiftShader, as on the CI machine), for today's renderer
// (MapLibre: CityMap and HeatLayer) and the canvas HeatMap it replaced
// (commit ac859f6, in testdata/heatbench/canvas), both on one page
// (testdata/heatbench) at the same view. Each op is one delta; 250 ms
// pass between deltas, the shortest interval at which the hub sends one
// heat topic's deltas.
//
// It reports the cost of a frame of the unchanged map (a redraw asked for
// three times before the deltas, the median ms to the next frame after it:
// redraw-frame-ms) and per delta: ms from arrival to the next animation frame after
// the one that drew it (p50, p95: frame-p50-ms, frame-p95-ms), to the
// drawn frame (drawn-p50-ms), the synchronous apply (apply-p50-ms), and
// Chromium's CPU time (all its processes, cpu-ms/delta, including the
// pause); and after setup and a forced garbage collection, the page's
// main-thread JS heap (heap-MB, array buffers included) and the renderer
// process's resident memory (renderer-RSS-MB, MapLibre's workers
// included).
func BenchmarkWallHeatDelta(b *testing.B) {
	s := demoWallServerQuiet(b)
	page := heatBenchPage(b, s) + "/bench/bench.html"
	for _, n := range []int{5000, 50000} {
		for _, renderer := range []string{"maplibre", "canvas"} {
			b.Run(fmt.Sprintf("cells=%d/renderer=%s", n, renderer), func(b *testing.B) {
				benchHeatDelta(b, page, renderer, n)
			})
		}
	}
}

func benchHeatDelta(b *testing.B, page, renderer string, n int) {
	profile := b.TempDir()
	br := startBrowser(b, 15*time.Minute, 3840, 2160,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true))
	tab := br.ctx
	if err := chromedp.Do(tab, chromedp.Navigate(page)); err != nil {
		b.Fatal(err)
	}
	if _, ok := evalUntil(b, tab, "the benchmark page", `typeof window.heatbench === 'object'`, 20*time.Second, 100*time.Millisecond, func(v bool) bool { return v }); !ok {
		b.Fatal("the benchmark page did not load")
	}
	type setupResult struct {
		Cells, Drawn, W, H int
	}
	t0 := time.Now()
	st, err := chromedp.Run(tab, chromedp.Evaluate[setupResult](fmt.Sprintf(`heatbench.setup(%q, %d)`, renderer, n), chromedp.EvalAwaitPromise))
	if err != nil {
		msg, _ := chromedp.Run(tab, chromedp.Evaluate[string](`heatbench.error`))
		b.Fatalf("setup: %v %s", err, msg)
	}
	if st.Cells != n || st.W != 3840 || st.H != 2160 {
		b.Fatalf("setup: %+v, want %d cells on a 3840x2160 map", st, n)
	}
	heap, buffers := jsHeap(b, tab)
	cpu0, rss := chromiumProcs(b, profile)
	b.Logf("%s, %d cells (%d drawn in view), map %dx%d: set up in %.1f s; after GC: JS heap %.1f MB + array buffers %.1f MB, renderer RSS %.0f MB; load average %s",
		renderer, st.Cells, st.Drawn, st.W, st.H, time.Since(t0).Seconds(), heap, buffers, rss, loadAvg())

	type redrawResult struct{ Drawn, Frame float64 }
	rd, err := chromedp.Run(tab, chromedp.Evaluate[redrawResult](`heatbench.redraws()`, chromedp.EvalAwaitPromise))
	if err != nil {
		b.Fatalf("redraw: %v", err)
	}
	b.Logf("%s, %d cells: a redraw of the unchanged map: drawn %.1f ms, next frame %.1f ms (median of 3); load average %s",
		renderer, n, rd.Drawn, rd.Frame, loadAvg())

	type deltaResult struct {
		Apply, Drawn, Frame float64
		Content             float64 // MapLibre: ms to the worker's new data
		Cells, Shown        int
		Renders             int // frames the map rendered from the new data to idle
	}
	deltas := newHeatDeltas(func() []string { ids, _ := heatCells(b, n); return ids }(), n)
	var apply, drawn, frame, content []float64
	ops, renders := 0, 0
	for b.Loop() {
		msg := deltas.next()
		r, err := chromedp.Run(tab, chromedp.Evaluate[deltaResult](`heatbench.delta(`+jsString(msg)+`)`, chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatalf("delta: %v", err)
		}
		if r.Cells != n {
			b.Fatalf("after delta %d the page holds %d cells, want %d", ops+1, r.Cells, n)
		}
		apply, drawn, frame, content = append(apply, r.Apply), append(drawn, r.Drawn), append(frame, r.Frame), append(content, r.Content)
		ops++
		renders += r.Renders
		time.Sleep(250 * time.Millisecond)
	}
	b.StopTimer()
	cpu1, _ := chromiumProcs(b, profile)
	pct := func(v []float64, p int) float64 {
		v = slices.Sorted(slices.Values(v))
		return v[(len(v)-1)*p/100]
	}
	b.Logf("%s, %d cells, %d deltas: to frame p50 %.1f / p95 %.1f / max %.1f ms, drawn p50 %.1f ms, apply p50 %.2f ms, worker's data p50 %.1f ms, %.1f map frames per delta; Chromium CPU %.0f ms per delta; load average %s",
		renderer, n, ops, pct(frame, 50), pct(frame, 95), pct(frame, 100), pct(drawn, 50), pct(apply, 50), pct(content, 50), float64(renders)/float64(ops), (cpu1-cpu0)*1000/float64(ops), loadAvg())
	for i := range frame {
		b.Logf("delta %d: apply %.1f, worker's data %.1f, drawn %.1f, next frame %.1f ms", i+1, apply[i], content[i], drawn[i], frame[i])
	}
	b.ReportMetric(pct(frame, 50), "frame-p50-ms")
	b.ReportMetric(pct(frame, 95), "frame-p95-ms")
	b.ReportMetric(pct(drawn, 50), "drawn-p50-ms")
	b.ReportMetric(pct(apply, 50), "apply-p50-ms")
	b.ReportMetric((cpu1-cpu0)*1000/float64(ops), "cpu-ms/delta")
	b.ReportMetric(rd.Frame, "redraw-frame-ms")
	b.ReportMetric(heap+buffers, "heap-MB")
	b.ReportMetric(rss, "renderer-RSS-MB")
	br.checkConsole()
}
