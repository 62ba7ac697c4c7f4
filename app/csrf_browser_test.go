package app_test

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/wall"
)

// attackerPage is a page of another port of the server's host that tries,
// with the visiting browser's session, what issue #13 found: push a camera
// to the main wall for 168 h, switch its layout, release it, acknowledge an
// alert, create a 7-day silence, create a ticket with a text/plain form,
// and sign the browser out. %[1]s is the server, %[2]s the alert's id,
// %[3]s the form's field name: a ticket's JSON up to its last value, which
// the form's "=" and the field's value '"}' complete.
const attackerPage = `<!doctype html><html><head><meta charset="utf-8"><title>prize</title></head><body>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe>
<form id="ticket" method="post" action="%[1]s/api/v1/tickets" enctype="text/plain" target="sink1">
<input name="%[3]s" value='"}'></form>
<form id="logout" method="post" action="%[1]s/logout" target="sink2"></form>
<script>
const S = %[1]q;
const post = (path, body) => fetch(S + path, { method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) }).catch(() => {});
const loaded = (name) => new Promise((r) => { document.querySelector('iframe[name=' + name + ']').onload = r; setTimeout(r, 3000); });
(async () => {
  await post('/api/v1/walls/main/push', { slot: 'v3', camera: 'road-binhai', for: '168h' });
  await post('/api/v1/walls/main/layout', { layout: 'overview' });
  await post('/api/v1/walls/main/release', {});
  await post('/api/v1/alerts/' + %[2]q + '/ack', { note: 'pwned' });
  await post('/api/v1/silences', { category: '供水排水', comment: 'pwned', duration: '168h' });
  // A body-less request needs no content type: only the origin check stops it.
  await fetch(S + '/api/v1/walls/main/release', { method: 'POST', mode: 'no-cors', credentials: 'include' }).catch(() => {});
  let w = loaded('sink1'); document.getElementById('ticket').submit(); await w;
  w = loaded('sink2'); document.getElementById('logout').submit(); await w;
  document.title = 'done';
})();
</script></body></html>`

// TestCSRFInBrowser: headless Chromium signed in as a commander, then as
// an admin, visits a page on another port of 127.0.0.1 (the same site, so
// SameSite=Strict cookies go along) that tries every attack of issue #13;
// none takes effect, the browser stays signed in as it was, and a link of
// that page carrying a wall's token does not swap the session.
func TestCSRFInBrowser(t *testing.T) {
	s, alertID := csrfServer(t)
	var before struct{ Walls []wallView }
	s.getJSON("/api/v1/walls", s.tokens[config.RoleWall], &before)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := "http://" + ln.Addr().String()
	lat, lng := spot(t, 0)
	tk := newTicket("CSRF-FORM", lat, lng)
	delete(tk, "summary")
	field := strings.TrimSuffix(tk.json(), "}") + `,"summary":"x`
	page := fmt.Sprintf(attackerPage, s.url, alertID, html.EscapeString(field))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/swap" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, `<!doctype html><script>location.href = %q;</script>`, s.url+"/console?token="+url.QueryEscape(s.tokens[config.RoleWall]))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	b := startBrowser(t, 90*time.Second, 1280, 800)
	sessionValue := func() string {
		t.Helper()
		res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.url + "/"}})
		if err != nil {
			t.Fatalf("read cookies: %v", err)
		}
		for _, c := range res.Cookies {
			if c.Name == "citywall_session" {
				return c.Value
			}
		}
		return ""
	}
	for _, role := range []config.Role{config.RoleCommander, config.RoleAdmin} {
		t.Run(string(role), func(t *testing.T) {
			if err := chromedp.Do(b.ctx, chromedp.Navigate(s.url+"/console?token="+url.QueryEscape(s.tokens[role]))); err != nil {
				t.Fatalf("sign in: %v", err)
			}
			session := sessionValue()
			if session == "" {
				t.Fatal("no session after signing in")
			}
			if err := chromedp.Do(b.ctx, chromedp.Navigate(evil+"/")); err != nil {
				t.Fatalf("open the attacker's page: %v", err)
			}
			if _, ok := evalUntil(t, b.ctx, "the attacks", `document.title`, 20*time.Second, 100*time.Millisecond,
				func(v string) bool { return v == "done" }); !ok {
				t.Fatal("the attacker's page did not finish")
			}
			if v := sessionValue(); v != session {
				t.Errorf("the session changed (logged out or swapped): %q → %q", session, v)
			}
			// A link to a page with a wall's token: the browser is asked, not signed in.
			if err := chromedp.Do(b.ctx, chromedp.Navigate(evil+"/swap")); err != nil {
				t.Fatalf("open the swapping page: %v", err)
			}
			text, ok := evalUntil(t, b.ctx, "the page the link opens", `location.origin + ' ' + document.body.innerText`, 10*time.Second, 100*time.Millisecond,
				func(v string) bool { return strings.HasPrefix(v, s.url) })
			if !ok || !strings.Contains(text, "wall-1") || !strings.Contains(text, "Sign in as") {
				t.Errorf("the link opened %q, want the confirm page", text)
			}
			if v := sessionValue(); v != session {
				t.Errorf("a link from another site swapped the session: %q → %q", session, v)
			}
			code, _, body := s.doHeader("GET", "/console", http.Header{"Cookie": {"citywall_session=" + session}}, nil)
			if code != http.StatusOK {
				t.Errorf("the %s's session after the attacks: %d %.200s", role, code, body)
			}
		})
	}

	var after struct{ Walls []wallView }
	s.getJSON("/api/v1/walls", s.tokens[config.RoleWall], &after)
	if a, o := after.Walls[0], before.Walls[0]; a.Layout.ID != o.Layout.ID || a.Slots["v3"] != o.Slots["v3"] || a.Control.Source != o.Control.Source {
		t.Errorf("the main wall changed: layout %q → %q, v3 %+v → %+v, control %q → %q",
			o.Layout.ID, a.Layout.ID, o.Slots["v3"], a.Slots["v3"], o.Control.Source, a.Control.Source)
	}
	var audit struct{ Entries []wall.Entry }
	s.getJSON("/api/v1/audit", s.tokens[config.RoleWall], &audit)
	for _, e := range audit.Entries {
		if e.Who == "commander-1" || e.Who == "admin-1" {
			t.Errorf("audited change by the attacked browser: %+v", e)
		}
	}
	if x, _ := s.app.Manager().Get(alertID); x.State != alerts.StateFiring {
		t.Errorf("alert %s by %q", x.State, x.AckedBy)
	}
	if n := len(s.app.Manager().Silences()); n != 0 {
		t.Errorf("%d silences created", n)
	}
	if code, _, _ := s.do("GET", "/api/v1/tickets/CSRF-FORM", s.tokens[config.RoleAdmin], "", nil); code != http.StatusNotFound {
		t.Errorf("the text/plain form's ticket: GET answers %d, want 404", code)
	}
}
