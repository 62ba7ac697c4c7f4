package app_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/demo/city"
)

// cspListener runs in every document of a tab before the page's own
// scripts and keeps each securitypolicyviolation the document raises:
// what was blocked, by which directive, from where.
const cspListener = `(() => {
  const seen = [];
  Object.defineProperty(window, '__cspViolations', { value: seen });
  document.addEventListener('securitypolicyviolation', (e) => {
    seen.push(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' in ' + (e.sourceFile || e.documentURI) +
      ':' + e.lineNumber + (e.sample ? ' (' + e.sample + ')' : ''));
  });
})()`

// cspPage is one page the server serves and how to tell it has rendered.
type cspPage struct {
	name  string
	open  string // path and query (a token is added by the test)
	role  config.Role
	ready string // JS, true once the page shows what it is for
	html  string // the file under web/static it serves, "" for a page made by the server
}

// cspTab opens a tab of w×h that records CSP violations in every document
// it loads and its console, then loads rawURL.
func (b *browser) cspTab(rawURL string, w, h int64) (context.Context, context.CancelFunc) {
	b.t.Helper()
	tctx, cancel := chromedp.NewContext(b.ctx)
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(w, h)); err != nil {
		b.t.Fatalf("new tab: %v", err)
	}
	if _, err := chromedp.Call(tctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspListener}); err != nil {
		b.t.Fatalf("listen for CSP violations: %v", err)
	}
	b.listen(tctx)
	if err := chromedp.Do(tctx, chromedp.Navigate(rawURL)); err != nil {
		b.t.Fatalf("open %s: %v", rawURL, err)
	}
	return tctx, cancel
}

// cspViolations fails t for every violation the tab's document recorded
// and returns how many there were.
func cspViolations(t *testing.T, tab context.Context, name string) int {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.__cspViolations || ['the CSP listener is missing from ' + location.href]`))
	if err != nil {
		t.Errorf("%s: read its CSP violations: %v", name, err)
		return 0
	}
	for _, x := range v {
		t.Errorf("%s: Content Security Policy violation: %s", name, x)
	}
	return len(v)
}

// cspConsole are console messages that are CSP reports.
var cspConsole = regexp.MustCompile(`(?i)content security policy|Refused to (apply|load|execute|connect|frame|create)`)

// TestNoCSPViolationOnAnyPage opens every page the server serves in
// headless Chromium, each with a token of a role that may open it, on the
// demo city (data, cameras, an alert and its link): the wall, each
// display of the command wall, the patrol console, the feeds, the team
// page, the camera page, the daily report in both languages, the link of
// an alert message, the sign-in page, the page for a bad token and the
// page that asks before a link from another site signs in, and the
// analysis view once it is built in. It waits until
// each shows what it is for, then fails on any securitypolicyviolation
// event and on any console message of the CSP. Every HTML file under
// web/static must be on its list, so a new page cannot go unchecked. The
// listener itself is checked first on a page that breaks the server's own
// policy.
func TestNoCSPViolationOnAnyPage(t *testing.T) {
	robot := &robotLinks{}
	hook := httptest.NewServer(http.HandlerFunc(robot.serve))
	t.Cleanup(hook.Close)
	cfg, tokens := demoWalls(t, t.TempDir())
	cfg.Demo.PerDay = 2700
	cfg.Server.PublicURL = "https://wall.example.gov.cn/"
	cfg.Alerts.StateFile = filepath.Join(t.TempDir(), "alerts.json")
	cfg.Alerts.Teams = []config.AlertTeam{
		{ID: "longhua", Name: "龙华区应急队", NameEn: "Longhua team", Members: []config.TeamMember{{Name: "team-1"}}, Districts: []string{"龙华区"}},
		{ID: "duty", Name: "值班长", Members: []config.TeamMember{{Name: "commander-1"}}},
	}
	cfg.Alerts.EscalateTo = []string{"duty"}
	cfg.Alerts.Webhooks = []config.Webhook{{URL: hook.URL + "/robot/send?access_token=tok", Kind: config.WebhookDingTalk, Secret: "SECrobot"}}
	s := startWith(t, cfg, tokens)
	cam := city.Cameras()[0]
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "cluster", Kind: "burst", Fingerprint: "cluster/供水排水/csp",
		Severity: "critical", Title: "龙华区供水排水聚集：30分钟内9件（预期0.3）", TitleEn: "Cluster of water reports in Longhua",
		District: "龙华区", Category: "供水排水", Lat: cam.Lat, Lng: cam.Lng, Cameras: []string{cam.ID},
		CameraInfo: []alerts.CameraRef{{ID: cam.ID, Name: cam.Name, NameEn: cam.NameEn}},
		Cluster:    &alerts.Cluster{Count: 9, Expected: 0.3, Score: 21, Window: "30m"}}); err != nil {
		t.Fatal(err)
	}
	link := robot.link(t)

	// A page of another port that links to the wall with a token: the
	// server answers its click with the page that asks before signing in.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if r.URL.Path == "/broken" {
			// The listener's own check: a page under the server's policy
			// with an inline style element, a style attribute and an
			// inline script.
			w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'")
			fmt.Fprint(w, `<!doctype html><style>body{color:red}</style><p style="color:red">x</p><script>document.title='ran'</script>`)
			return
		}
		fmt.Fprintf(w, `<!doctype html><a id="go" href="%s">wall</a>`, s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]))
	})}
	go func() { _ = other.Serve(ln) }()
	t.Cleanup(func() { _ = other.Close() })
	otherURL := "http://" + ln.Addr().String()

	b := startBrowser(t, 8*time.Minute, 1920, 1080, chromedp.Flag("disable-quic", true))

	t.Run("listener", func(t *testing.T) {
		tab, closeTab := b.cspTab(otherURL+"/broken", 800, 600)
		defer closeTab()
		v, _ := evalUntil(t, tab, "the broken page", `(window.__cspViolations || []).length`, 10*time.Second, 100*time.Millisecond,
			func(n int) bool { return n >= 3 })
		if v < 3 {
			t.Fatalf("the listener saw %d violations on a page with three, want 3", v)
		}
	})
	b.mu.Lock()
	b.errs = nil // the broken page's own reports
	b.mu.Unlock()
	b.expectBecause(regexp.MustCompile(`status of 401 .*token=not-a-token`), "the page for a bad token is answered 401")

	connOpen := `(document.querySelector('#conn') || {className: ''}).className.includes('conn-open')`
	cases := []cspPage{
		{name: "sign-in", open: "/login?next=/wall", ready: `!!document.querySelector('form input[name=token]')`},
		{name: "sign-in with a bad token", open: "/wall?token=not-a-token", ready: `!!document.querySelector('.err')`},
		{name: "wall", open: "/wall", role: config.RoleWall, html: "wall.html",
			ready: connOpen + ` && document.querySelectorAll('.tile-hot .hot-row').length >= 3 && !!document.querySelector('.tile-map canvas.maplibregl-canvas')`},
		{name: "wall display", open: "/wall/main?monitor=0", role: config.RoleWall, html: "wall.html",
			ready: connOpen + ` && document.querySelectorAll('.tile').length > 0 && !!document.querySelector('.tile-map canvas.maplibregl-canvas')`},
		{name: "command wall whole", open: "/wall/main", role: config.RoleWall, html: "wall.html",
			ready: connOpen + ` && [...document.querySelectorAll('.tile video')].some((v) => v.currentTime > 0)`},
		{name: "console", open: "/console", role: config.RolePatrol, html: "console.html",
			ready: connOpen + ` && document.querySelectorAll('#set-select option').length > 0 && !!(window.citywallConsole.map && window.citywallConsole.map.map.loaded())`},
		{name: "feeds", open: "/feeds", role: config.RoleWall, html: "feeds.html",
			ready: `document.querySelectorAll('#w-flood .fd-row').length > 0 && document.querySelectorAll('#w-kpi .fd-tile-value').length > 0 && !!(window.citywallFeeds && window.citywallFeeds.map && window.citywallFeeds.map.map.getLayer('flood-station'))`},
		{name: "team", open: "/team", role: config.RoleTeam, html: "team.html",
			ready: connOpen + ` && document.querySelectorAll('#list .card').length > 0`},
		{name: "team (commander)", open: "/team?lang=en", role: config.RoleCommander, html: "team.html", ready: connOpen},
		{name: "camera", open: "/camera?camera=" + url.QueryEscape(cam.ID), role: config.RoleWall, html: "camera.html",
			ready: `(window.citywallTiles || []).some((t) => t.player.video.currentTime > 0)`},
		{name: "daily report", open: "/api/v1/reports/daily", role: config.RoleWall,
			ready: `getComputedStyle(document.querySelector('#metrics')).borderCollapse === 'collapse'`},
		{name: "daily report (en)", open: "/api/v1/reports/daily?lang=en", role: config.RoleWall,
			ready: `getComputedStyle(document.querySelector('#hourly')).borderCollapse === 'collapse'`},
		{name: "analysis", open: "/analysis", role: config.RoleCommander, html: "analysis.html",
			ready: `(window.citywallAnalysis || {}).ready >= 1 && document.querySelectorAll('#an-areas-list button').length > 0`},
		{name: "team link", open: link, html: "team-link.html",
			ready: `document.querySelectorAll('#list .card').length === 1`},
		{name: "analysis", open: "/analysis", role: config.RoleCommander, html: "analysis.html",
			ready: `document.readyState === 'complete' && !!document.body && document.body.innerText.trim().length > 0`},
	}
	// A page whose file this build does not have yet is not served.
	cases = slices.DeleteFunc(cases, func(c cspPage) bool {
		_, err := os.Stat(filepath.Join("../web/static", c.html))
		return c.html != "" && err != nil
	})

	// Every page under web/static is opened here.
	files, err := filepath.Glob("../web/static/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("the pages under web/static: %v %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		if !slices.ContainsFunc(cases, func(c cspPage) bool { return c.html == name }) {
			t.Errorf("web/static/%s is a page this test does not open: add it", name)
		}
	}

	open := func(t *testing.T, name, rawURL, ready string) {
		t.Helper()
		tab, closeTab := b.cspTab(rawURL, 1920, 1080)
		defer closeTab()
		if _, ok := evalUntil(t, tab, name, ready, 60*time.Second, 250*time.Millisecond, func(v bool) bool { return v }); !ok {
			body, _ := chromedp.Run(tab, chromedp.Evaluate[string](`location.href + ': ' + (document.body ? document.body.innerText.slice(0, 300) : '')`))
			t.Errorf("%s did not render: %s", name, body)
		}
		time.Sleep(2 * time.Second) // what renders after the first data
		cspViolations(t, tab, name)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := s.url + c.open
			if c.role != "" {
				sep := "?"
				if strings.Contains(c.open, "?") {
					sep = "&"
				}
				u += sep + "token=" + url.QueryEscape(s.tokens[c.role])
				if strings.HasPrefix(c.open, "/api/") {
					// An API page takes the session of a page opened with
					// the token (or a bearer token, which a tab cannot send).
					_, closeWarm := b.cspTab(s.url+"/feeds?token="+url.QueryEscape(s.tokens[c.role]), 800, 600)
					closeWarm()
					u = s.url + c.open
				}
			}
			open(t, c.name, u, c.ready)
		})
	}
	t.Run("sign-in asked for a link from another site", func(t *testing.T) {
		tab, closeTab := b.cspTab(otherURL+"/", 1280, 800)
		defer closeTab()
		if err := chromedp.Do(tab, chromedp.Click(chromedp.ID("go"))); err != nil {
			t.Fatalf("follow the link: %v", err)
		}
		if _, ok := evalUntil(t, tab, "the confirm page", `location.origin === `+fmt.Sprintf("%q", s.url)+` && !!document.body && document.body.innerText.includes('Sign in as')`,
			20*time.Second, 100*time.Millisecond, func(v bool) bool { return v }); !ok {
			t.Fatal("the link from another site did not open the page that asks")
		}
		time.Sleep(time.Second)
		cspViolations(t, tab, "confirm sign-in")
	})

	b.mu.Lock()
	for _, e := range b.errs {
		if cspConsole.MatchString(e) {
			t.Errorf("console: %s", e)
		}
	}
	b.mu.Unlock()
	b.checkConsole()
}
