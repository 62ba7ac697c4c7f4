// Package soak is `citywall bench soak`: it keeps pages of a running
// server open in headless Chromium, as a wall's displays stay open for
// weeks, and samples at intervals what grows when something leaks: each
// page's JavaScript heap after a garbage collection, its DOM nodes, event
// listeners and documents, the browser's resident memory, and the server's
// heap, goroutines and resident memory from /metrics.
package soak

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
)

// Options are the flags of `citywall bench soak`.
type Options struct {
	Server   string        // base URL of the running server
	Token    string        // admin token: /metrics and the pages
	Pages    []string      // paths (with query) to keep open; the token is added
	Width    int           // viewport
	Height   int           // viewport
	Duration time.Duration // how long to keep them open
	Every    time.Duration // between samples
	Settle   time.Duration // before the first sample (pages load, video starts)
	Shots    string        // directory for a screenshot of each page at the end; "": none
	Log      io.Writer     // progress; nil: none
}

// Sample is one reading.
type Sample struct {
	At         time.Duration
	Pages      []PageSample
	BrowserPSS int64 // bytes, every Chromium process of this run (proportional set size)
	ServerHeap int64 // go_memstats_heap_inuse_bytes
	ServerRSS  int64 // process_resident_memory_bytes
	Goroutines int64
}

// PageSample is one page's reading, after a forced garbage collection.
type PageSample struct {
	JSHeap    int64
	Nodes     int64
	Listeners int64
	Documents int64
}

// Main runs `citywall bench soak`.
func Main(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	var o Options
	pages := fs.String("pages", "/wall/main?monitor=0,/wall/main?monitor=2,/wall/main?monitor=7,/console", "comma-separated paths to keep open (the token is added); the default is the demo wall's map, cameras and widgets, and the console")
	fs.StringVar(&o.Server, "server", "http://127.0.0.1:8080", "the running server")
	fs.StringVar(&o.Token, "token", os.Getenv("CITYWALL_TOKEN"), "admin token (default $CITYWALL_TOKEN); never printed")
	fs.IntVar(&o.Width, "width", 1920, "viewport width")
	fs.IntVar(&o.Height, "height", 1080, "viewport height")
	fs.DurationVar(&o.Duration, "duration", 30*time.Minute, "how long to keep the pages open")
	fs.DurationVar(&o.Every, "every", time.Minute, "between samples")
	fs.DurationVar(&o.Settle, "settle", time.Minute, "before the first sample")
	fs.StringVar(&o.Shots, "shots", "", "directory for a screenshot of each page at the end (page0.png …)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench soak: unexpected argument %q", fs.Arg(0))
	}
	if o.Token == "" {
		return errors.New("bench soak: -token (or $CITYWALL_TOKEN) is needed: an admin token of the server")
	}
	for _, p := range strings.Split(*pages, ",") {
		if p = strings.TrimSpace(p); p != "" {
			o.Pages = append(o.Pages, p)
		}
	}
	o.Log = os.Stderr
	samples, err := Run(context.Background(), o)
	if len(samples) > 0 {
		Report(stdout, o, samples)
	}
	if err != nil {
		return fmt.Errorf("bench soak: %w", err)
	}
	return nil
}

// Run opens the pages and samples them until o.Duration has passed.
func Run(ctx context.Context, o Options) ([]Sample, error) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		return nil, fmt.Errorf("chromium not found (%v): apt-get install chromium", err)
	}
	dir, err := os.MkdirTemp("", "citywall-soak-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, o.Settle+o.Duration+5*time.Minute)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A wall's displays are never in the background: keep timers and
		// rendering at full rate in every tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(o.Width, o.Height))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx); err != nil {
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	var tabs []context.Context
	for i, p := range o.Pages {
		tab := bctx
		if i > 0 {
			tab, _ = chromedp.NewContext(bctx)
		}
		u, err := pageURL(o.Server, p, o.Token)
		if err != nil {
			return nil, err
		}
		enable := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, t, performance.Enable, performance.EnableParams{})
			return chromedp.Void{}, err
		}
		if err := chromedp.Do(tab, chromedp.EmulateViewport(int64(o.Width), int64(o.Height)), enable, chromedp.Navigate(u)); err != nil {
			return nil, fmt.Errorf("open %s: %w", p, err)
		}
		tabs = append(tabs, tab)
	}
	logf(o.Log, "%d pages open; first sample in %s", len(tabs), o.Settle)
	start := time.Now()
	var out []Sample
	next := o.Settle
	for {
		if d := time.Until(start.Add(next)); d > 0 {
			select {
			case <-ctx.Done():
				return out, ctx.Err()
			case <-time.After(d):
			}
		}
		s := Sample{At: time.Since(start)}
		for i, tab := range tabs {
			ps, err := samplePage(tab)
			if err != nil {
				return out, fmt.Errorf("sample %s: %w", o.Pages[i], err)
			}
			s.Pages = append(s.Pages, ps)
		}
		s.BrowserPSS = processPSS(dir)
		if err := serverMetrics(ctx, o, &s); err != nil {
			return out, err
		}
		out = append(out, s)
		logf(o.Log, "%s: browser %.0f MB, server heap %.0f MB", s.At.Round(time.Second), mb(s.BrowserPSS), mb(s.ServerHeap))
		if next >= o.Settle+o.Duration {
			return out, screenshots(tabs, o.Shots)
		}
		next += o.Every
	}
}

// screenshots saves what each page shows, to see that it was still live.
func screenshots(tabs []context.Context, dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, tab := range tabs {
		png, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			return fmt.Errorf("screenshot of page %d: %w", i, err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("page%d.png", i)), png, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func pageURL(server, path, token string) (string, error) {
	u, err := url.Parse(strings.TrimRight(server, "/") + path)
	if err != nil {
		return "", fmt.Errorf("page %q: %w", path, err)
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func samplePage(tab context.Context) (PageSample, error) {
	return chromedp.Run(tab, func(ctx context.Context, t *chromedp.Target) (PageSample, error) {
		var ps PageSample
		if _, err := cdp.Call(ctx, t, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
			return ps, err
		}
		res, err := cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			return ps, err
		}
		for _, m := range res.Metrics {
			v := int64(m.Value)
			switch m.Name {
			case "JSHeapUsedSize":
				ps.JSHeap = v
			case "Nodes":
				ps.Nodes = v
			case "JSEventListeners":
				ps.Listeners = v
			case "Documents":
				ps.Documents = v
			}
		}
		return ps, nil
	})
}

// processPSS sums the proportional set size (resident memory, shared
// pages split between their sharers, so nothing is counted twice) of the
// processes whose command line names dir: the run's user data directory,
// which every Chromium process of the run carries.
func processPSS(dir string) int64 {
	ents, _ := os.ReadDir("/proc")
	var sum int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmd), dir) {
			continue
		}
		roll, err := os.ReadFile(filepath.Join("/proc", e.Name(), "smaps_rollup"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(roll), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				sum += kb << 10
			}
		}
	}
	return sum
}

func serverMetrics(ctx context.Context, o Options, s *Sample) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(o.Server, "/")+"/metrics", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("server metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("server metrics: %s (an admin token is needed)", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		switch name {
		case "go_memstats_heap_inuse_bytes":
			s.ServerHeap = int64(f)
		case "process_resident_memory_bytes":
			s.ServerRSS = int64(f)
		case "go_goroutines":
			s.Goroutines = int64(f)
		}
	}
	return sc.Err()
}

// Report prints one row per sample and the change from the first sample
// to the last, per hour.
func Report(w io.Writer, o Options, ss []Sample) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "at\t")
	for i := range o.Pages {
		fmt.Fprintf(tw, "p%d heap MB\tp%d nodes\tp%d listeners\t", i, i, i)
	}
	fmt.Fprint(tw, "browser PSS MB\tserver heap MB\tserver RSS MB\tgoroutines\t\n")
	row := func(s Sample) {
		fmt.Fprintf(tw, "%s\t", s.At.Round(time.Second))
		for _, p := range s.Pages {
			fmt.Fprintf(tw, "%.1f\t%d\t%d\t", mb(p.JSHeap), p.Nodes, p.Listeners)
		}
		fmt.Fprintf(tw, "%.0f\t%.1f\t%.0f\t%d\t\n", mb(s.BrowserPSS), mb(s.ServerHeap), mb(s.ServerRSS), s.Goroutines)
	}
	for _, s := range ss {
		row(s)
	}
	tw.Flush()
	if len(ss) < 2 {
		return
	}
	a, b := ss[0], ss[len(ss)-1]
	h := (b.At - a.At).Hours()
	fmt.Fprintf(w, "\nchange per hour over %s:\n", (b.At - a.At).Round(time.Second))
	for i, p := range o.Pages {
		fmt.Fprintf(w, "  %s: heap %+.2f MB, nodes %+.0f, listeners %+.0f, documents %d → %d\n", p,
			mb(b.Pages[i].JSHeap-a.Pages[i].JSHeap)/h, float64(b.Pages[i].Nodes-a.Pages[i].Nodes)/h,
			float64(b.Pages[i].Listeners-a.Pages[i].Listeners)/h, a.Pages[i].Documents, b.Pages[i].Documents)
	}
	fmt.Fprintf(w, "  browser PSS %+.1f MB, server heap %+.1f MB, server RSS %+.1f MB, goroutines %+.0f\n",
		mb(b.BrowserPSS-a.BrowserPSS)/h, mb(b.ServerHeap-a.ServerHeap)/h, mb(b.ServerRSS-a.ServerRSS)/h, float64(b.Goroutines-a.Goroutines)/h)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
