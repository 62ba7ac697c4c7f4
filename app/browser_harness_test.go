package app_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser is one headless Chromium for a test. ctx is its first tab;
// tab opens more. The console errors and exceptions of every tab it
// listens to are kept for checkConsole.
type browser struct {
	t     testing.TB
	ctx   context.Context
	mu    sync.Mutex
	errs  []string
	allow []allowedConsole
	wg    sync.WaitGroup
}

// allowedConsole is a console error the test expects; why, when set, is
// said in the log.
type allowedConsole struct {
	re  *regexp.Regexp
	why string
}

// startBrowser starts headless Chromium with a window of w×h (and its
// first tab's viewport the same), listens to the first tab's console, and
// closes it all when the test ends. A missing chromium fails the test: the
// browser tests need Debian's chromium package. extra adds allocator
// options to the common ones.
func startBrowser(t testing.TB, timeout time.Duration, w, h int64, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): this test needs Debian's chromium package: apt-get install chromium", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(w), int(h)),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, append(opts, extra...)...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	b := &browser{t: t, ctx: bctx}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
		b.wg.Wait()
	})
	// Start the browser, then listen to the page's console before it loads.
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b.listen(bctx)
	return b
}

// listen keeps the console errors and exceptions of tab.
func (b *browser) listen(tab context.Context) {
	messages := chromedp.Console(tab)
	b.wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				b.mu.Lock()
				b.errs = append(b.errs, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line+1))
				b.mu.Unlock()
			}
		}
	})
}

// expect lets through console errors the test causes on purpose.
func (b *browser) expect(pattern string) {
	b.expectBecause(regexp.MustCompile(pattern), "")
}

// expectBecause lets through console errors matching re, saying why.
func (b *browser) expectBecause(re *regexp.Regexp, why string) {
	b.mu.Lock()
	b.allow = append(b.allow, allowedConsole{re: re, why: why})
	b.mu.Unlock()
}

// tab opens a new tab of w×h on url and records its console errors.
func (b *browser) tab(rawURL string, w, h int64) context.Context {
	tctx, _ := b.tabClosable(rawURL, w, h)
	return tctx
}

// tabClosable is tab with the function that closes it.
func (b *browser) tabClosable(rawURL string, w, h int64) (context.Context, context.CancelFunc) {
	b.t.Helper()
	tctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(w, h)); err != nil {
		b.t.Fatalf("new tab: %v", err)
	}
	b.listen(tctx)
	if err := chromedp.Do(tctx, chromedp.Navigate(rawURL)); err != nil {
		b.t.Fatalf("open %s: %v", rawURL, err)
	}
	return tctx, cancel
}

// checkConsole fails the test for every console error or exception the
// pages logged so far, but those it expects.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errs {
		i := slices.IndexFunc(b.allow, func(a allowedConsole) bool { return a.re.MatchString(e) })
		switch {
		case i < 0:
			b.t.Errorf("page console: %s", e)
		case b.allow[i].why != "":
			b.t.Logf("page console (expected: %s): %s", b.allow[i].why, e)
		default:
			b.t.Logf("page console (expected): %s", e)
		}
	}
}

// evalUntil evaluates js in tab every pause until ok accepts the result or
// within has passed, and returns the last result and whether ok accepted
// it. A promise is awaited. A failure to evaluate fails the test, the
// message starting with what.
func evalUntil[T any](t testing.TB, tab context.Context, what, js string, within, pause time.Duration, ok func(T) bool) (T, bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v, err := chromedp.Run(tab, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok(v) {
			return v, true
		}
		if time.Now().After(deadline) {
			return v, false
		}
		time.Sleep(pause)
	}
}

// artifact keeps data as name in $CITYWALL_ARTIFACTS (a temporary
// directory when it is not set) and logs where.
func artifact(t testing.TB, name string, data []byte) {
	t.Helper()
	dir := os.Getenv("CITYWALL_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Errorf("write %s: %v", path, err)
		return
	}
	t.Logf("artifact: %s (%d bytes)", path, len(data))
}

// screenshot keeps a screenshot of tab as the artifact name; a tab that
// cannot be captured is logged, not failed.
func screenshot(t testing.TB, tab context.Context, name string) {
	t.Helper()
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	artifact(t, name, shot)
}
