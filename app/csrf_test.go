package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/config"
)

// sameSite is a page on another port of the server's own host: the same
// site, so a SameSite=Strict cookie goes along with its requests.
const sameSite = "http://127.0.0.1:18999"

// csrfServer is the demo walls with one open alert, and the id of that
// alert.
func csrfServer(t *testing.T) (*server, string) {
	t.Helper()
	cfg, tokens := demoWalls(t, t.TempDir())
	s := startWith(t, cfg, tokens)
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "cluster", Kind: "burst", Fingerprint: "cluster/csrf",
		Severity: "critical", Title: "龙华区供水排水聚集", District: "龙华区", Category: "供水排水", Lat: 20.0325, Lng: 110.3235}); err != nil {
		t.Fatal(err)
	}
	return s, s.app.Manager().Open()[0].ID
}

// sessionFor signs a browser in with token and returns its session cookie.
func (s *server) sessionFor(token string) *http.Cookie {
	s.t.Helper()
	_, h, _ := s.doHeader("GET", "/wall?token="+url.QueryEscape(token), http.Header{"Sec-Fetch-Site": {"none"}}, nil)
	c := sessionCookie(s.t, h)
	if c == nil {
		s.t.Fatalf("no session for the token: %v", h)
	}
	return c
}

// slot is what the main wall shows in slot id.
func (s *server) slot(id string) string {
	s.t.Helper()
	var v wallView
	s.getJSON("/api/v1/walls/main", s.tokens[config.RoleWall], &v)
	return v.Slots[id].Camera
}

// TestSameSiteCSRF: a request with the session cookie changes something
// only when it shows it comes from the server's own pages; every body is
// JSON; logout, sign-in and the ?token= exchange cannot be driven by
// another page of the same site; programs with a bearer token are not
// asked.
func TestSameSiteCSRF(t *testing.T) {
	s, alertID := csrfServer(t)
	cookie := s.sessionFor(s.tokens[config.RoleCommander])
	push := func(slot string, h http.Header) (int, []byte) {
		h.Set("Content-Type", "application/json")
		if h.Get("Authorization") == "" {
			h.Set("Cookie", cookie.String())
		}
		code, _, b := s.doHeader("POST", "/api/v1/walls/main/push", h, strings.NewReader(`{"slot":"`+slot+`","camera":"road-binhai","for":"168h"}`))
		return code, b
	}

	t.Run("cookie from another page", func(t *testing.T) {
		s := s.with(t)
		for _, c := range []struct {
			name string
			h    http.Header
			say  string
		}{
			{"another port", http.Header{"Origin": {sameSite}, "Sec-Fetch-Site": {"same-site"}}, sameSite},
			{"another host", http.Header{"Origin": {"http://evil.example"}}, "evil.example"},
			{"opaque origin", http.Header{"Origin": {"null"}}, "null"},
			{"same-site without Origin", http.Header{"Sec-Fetch-Site": {"same-site"}}, "same-site"},
			{"cross-site without Origin", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "cross-site"},
			{"neither header", http.Header{}, "Origin"},
		} {
			code, b := push("v3", c.h)
			checkError(t, c.name, code, b, http.StatusForbidden, "cross_origin", c.say)
		}
		if cam := s.slot("v3"); cam == "road-binhai" {
			t.Errorf("a refused push took effect: v3 shows %q", cam)
		}
	})
	t.Run("cookie from the server's own page", func(t *testing.T) {
		s := s.with(t)
		for i, h := range []http.Header{
			{"Origin": {s.url}, "Sec-Fetch-Site": {"same-origin"}},
			{"Sec-Fetch-Site": {"same-origin"}},
		} {
			slot := []string{"v1", "v2"}[i]
			if code, b := push(slot, h); code != http.StatusOK {
				t.Errorf("push %d: %d %s", i, code, b)
			}
			if cam := s.slot(slot); cam != "road-binhai" {
				t.Errorf("push %d: %s shows %q", i, slot, cam)
			}
		}
	})
	t.Run("bearer token from anywhere", func(t *testing.T) {
		s := s.with(t)
		h := bearer(s.tokens[config.RoleCommander])
		h.Set("Origin", sameSite)
		if code, b := push("v4", h); code != http.StatusOK {
			t.Errorf("bearer push: %d %s", code, b)
		}
	})

	t.Run("every body is JSON", func(t *testing.T) {
		s := s.with(t)
		lat, lng := spot(t, 0)
		for _, c := range []struct{ path, role, body string }{
			{"/api/v1/tickets", "admin", newTicket("CSRF-1", lat, lng).json()},
			{"/api/v1/alerts/" + alertID + "/ack", "commander", `{"note":"x"}`},
			{"/api/v1/silences", "commander", `{"category":"供水排水","comment":"x","duration":"168h"}`},
			{"/api/v1/walls/main/layout", "commander", `{"layout":"six"}`},
		} {
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
				h := bearer(s.tokens[config.Role(c.role)])
				h.Set("Content-Type", ct)
				code, _, b := s.doHeader("POST", c.path, h, strings.NewReader(c.body))
				mention, _, _ := strings.Cut(ct, ";")
				checkError(t, c.path+" as "+ct, code, b, http.StatusUnsupportedMediaType, "unsupported_media_type", mention, "application/json")
			}
			// A browser's body must say what it is.
			h := http.Header{"Cookie": {s.sessionFor(s.tokens[config.RoleAdmin]).String()}, "Origin": {s.url}}
			code, _, b := s.doHeader("POST", c.path, h, strings.NewReader(c.body))
			checkError(t, c.path+" from a page without a type", code, b, http.StatusUnsupportedMediaType, "unsupported_media_type", "Content-Type")
		}
		if code, _, _ := s.do("GET", "/api/v1/tickets/CSRF-1", s.tokens[config.RoleAdmin], "", nil); code != http.StatusNotFound {
			t.Errorf("a ticket posted as text/plain: GET answers %d, want 404", code)
		}
		if a, _ := s.app.Manager().Get(alertID); a.State != alerts.StateFiring {
			t.Errorf("an ack posted as text/plain took effect: %s", a.State)
		}
		if n := len(s.app.Manager().Silences()); n != 0 {
			t.Errorf("%d silences after posts as text/plain", n)
		}
	})

	t.Run("logout from another page", func(t *testing.T) {
		s := s.with(t)
		c := s.sessionFor(s.tokens[config.RoleWall])
		h := http.Header{"Cookie": {c.String()}, "Origin": {sameSite}, "Sec-Fetch-Site": {"same-site"}}
		code, rh, b := s.doHeader("POST", "/logout", h, nil)
		checkError(t, "cross-site logout", code, b, http.StatusForbidden, "cross_origin", sameSite)
		if sessionCookie(t, rh) != nil {
			t.Error("a refused logout cleared the cookie")
		}
		code, rh, _ = s.doHeader("GET", "/logout", http.Header{"Cookie": {c.String()}}, nil)
		if code == http.StatusSeeOther || sessionCookie(t, rh) != nil {
			t.Errorf("GET /logout signed out: %d %v", code, rh)
		}
		if code, _, b := s.doHeader("GET", "/api/v1/public", http.Header{"Cookie": {c.String()}}, nil); code != http.StatusOK {
			t.Errorf("the session after refused logouts: %d %s", code, b)
		}
	})
	t.Run("sign-in from another page", func(t *testing.T) {
		s := s.with(t)
		form := url.Values{"token": {s.tokens[config.RoleWall]}, "next": {"/wall"}}
		h := http.Header{"Origin": {sameSite}, "Content-Type": {"application/x-www-form-urlencoded"}}
		code, rh, b := s.doHeader("POST", "/login", h, strings.NewReader(form.Encode()))
		checkError(t, "cross-site sign-in", code, b, http.StatusForbidden, "cross_origin", sameSite)
		if sessionCookie(t, rh) != nil {
			t.Error("a cross-site sign-in set a session")
		}
		h.Set("Origin", s.url)
		h.Set("Content-Type", "text/plain")
		code, _, b = s.doHeader("POST", "/login", h, strings.NewReader(form.Encode()))
		checkError(t, "sign-in as text/plain", code, b, http.StatusUnsupportedMediaType, "unsupported_media_type", "text/plain")
	})
	t.Run("token exchange from another page", func(t *testing.T) {
		s := s.with(t)
		wallTok := s.tokens[config.RoleWall]
		for _, c := range []struct {
			name string
			h    http.Header
		}{
			{"same-site navigation", http.Header{"Cookie": {cookie.String()}, "Sec-Fetch-Site": {"same-site"}}},
			{"cross-site navigation", http.Header{"Cookie": {cookie.String()}, "Sec-Fetch-Site": {"cross-site"}}},
			{"same-site, no session yet", http.Header{"Sec-Fetch-Site": {"same-site"}}},
			{"old browser with a session", http.Header{"Cookie": {cookie.String()}}},
		} {
			code, rh, b := s.doHeader("GET", "/wall?token="+url.QueryEscape(wallTok), c.h, nil)
			if code != http.StatusOK || sessionCookie(t, rh) != nil || !strings.Contains(string(b), `action="/login"`) || !strings.Contains(string(b), "wall-1") {
				t.Errorf("%s: %d %v, want the confirm form and no new session\n%s", c.name, code, rh, b)
			}
		}
		// The confirm form posts from the server's own page.
		form := url.Values{"token": {wallTok}, "next": {"/wall"}}
		code, rh, _ := s.login(form.Get("token"), "/wall")
		if code != http.StatusSeeOther || sessionCookie(t, rh) == nil {
			t.Errorf("confirmed sign-in: %d %v", code, rh)
		}
		for _, sfs := range []string{"none", "same-origin"} {
			c := s.sessionFor(s.tokens[config.RoleCommander])
			code, rh, _ := s.doHeader("GET", "/wall?token="+url.QueryEscape(wallTok), http.Header{"Cookie": {c.String()}, "Sec-Fetch-Site": {sfs}}, nil)
			if code != http.StatusSeeOther || sessionCookie(t, rh) == nil {
				t.Errorf("Sec-Fetch-Site %s: %d %v, want a session", sfs, code, rh)
			}
		}
	})
	var who struct{ Name string }
	code, _, b := s.doHeader("GET", "/api/v1/public", http.Header{"Cookie": {cookie.String()}}, nil)
	if err := json.Unmarshal(b, &who); code != http.StatusOK || err != nil {
		t.Errorf("the commander's session at the end: %d %s", code, b)
	}
}
