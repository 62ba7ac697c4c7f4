package app_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/uber/h3-go/v4"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/web"
)

var (
	readRoles   = []config.Role{config.RoleWall, config.RoleCommander, config.RolePatrol, config.RoleTeam, config.RoleAdmin}
	ingestRoles = []config.Role{config.RoleIngest, config.RoleAdmin}
)

// leaks reports what of the server's secrets and role model a body shows.
func (s *server) leaks(body string) []string {
	var out []string
	for _, tok := range s.tokens {
		if strings.Contains(body, tok) {
			out = append(out, "a token")
		}
	}
	for _, r := range config.Roles {
		if strings.Contains(strings.ToLower(body), `"`+string(r)+`"`) || strings.Contains(body, " "+string(r)+" ") {
			out = append(out, "role "+string(r))
		}
	}
	return out
}

// TestRoles: every route answers 401 without a valid token and 403 to a
// token without the role, and says nothing more.
func TestRoles(t *testing.T) {
	s := startServer(t, nil)
	lat, lng := spot(t, 0)
	c8, _ := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, 8)
	if code, res := s.postTickets(newTicket("ROLE-1", lat, lng).json()); code != 200 || res.Accepted != 1 {
		t.Fatalf("setup: %d %+v", code, res)
	}
	routes := []struct {
		method, path string
		body         string
		allowed      []config.Role
	}{
		{"GET", "/metrics", "", []config.Role{config.RoleAdmin}},
		{"GET", "/api/v1/public", "", readRoles},
		{"GET", "/api/v1/cells?ids=" + c8.String(), "", readRoles},
		{"GET", "/api/v1/heat?res=8&window=1h", "", readRoles},
		{"GET", "/api/v1/hot?window=1h", "", readRoles},
		{"GET", "/api/v1/tickets/ROLE-1", "", append(slices.Clone(readRoles), config.RoleIngest)},
		{"POST", "/api/v1/tickets", newTicket("ROLE-1", lat, lng).json(), ingestRoles},
		{"POST", "/api/v1/tickets/ROLE-1/events", `{"type":"received","time":"2026-01-01T00:00:00Z"}`, ingestRoles},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			s := s.with(t)
			send := func(header string) (int, http.Header, []byte) {
				req, _ := http.NewRequest(rt.method, s.url+rt.path, strings.NewReader(rt.body))
				if header != "" {
					req.Header.Set("Authorization", header)
				}
				if rt.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				resp, err := s.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var b strings.Builder
				_, _ = ioCopy(&b, resp)
				return resp.StatusCode, resp.Header, []byte(b.String())
			}
			for _, c := range []struct{ name, header string }{
				{"no token", ""},
				{"wrong token", "Bearer " + strings.Repeat("x", 32)},
				{"a token's prefix", "Bearer " + s.tokens[config.RoleAdmin][:16]},
				{"basic", "Basic " + s.tokens[config.RoleAdmin]},
				{"token without scheme", s.tokens[config.RoleAdmin]},
			} {
				code, h, b := send(c.header)
				checkError(t, c.name, code, b, http.StatusUnauthorized, "unauthorized")
				if !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s: WWW-Authenticate %q", c.name, h.Get("WWW-Authenticate"))
				}
				if l := s.leaks(string(b)); len(l) > 0 {
					t.Errorf("%s: 401 body shows %v: %s", c.name, l, b)
				}
			}
			for _, role := range config.Roles {
				code, _, b := send("Bearer " + s.tokens[role])
				if slices.Contains(rt.allowed, role) {
					if code != http.StatusOK {
						t.Errorf("%s: %d %s, want 200", role, code, b)
					}
					continue
				}
				checkError(t, string(role), code, b, http.StatusForbidden, "forbidden")
				if l := s.leaks(string(b)); len(l) > 0 {
					t.Errorf("%s: 403 body shows %v: %s", role, l, b)
				}
			}
		})
	}

	t.Run("open routes", func(t *testing.T) {
		s := s.with(t)
		for _, p := range []string{"/healthz", "/readyz", "/js/wall.js", "/static/css/wall.css", "/favicon.svg"} {
			if code, _, b := s.do("GET", p, "", "", nil); code != http.StatusOK {
				t.Errorf("GET %s without a token: %d %s", p, code, b)
			}
		}
	})
	t.Run("security headers", func(t *testing.T) {
		s := s.with(t)
		_, h, _ := s.do("GET", "/api/v1/public", s.tokens[config.RoleWall], "", nil)
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("CSP %q", csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("headers %v", h)
		}
	})
}

func ioCopy(b *strings.Builder, resp *http.Response) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

// TestWebSocketAuth: /ws wants a token or session and a browser's own
// origin; the subscribe check applies the roles.
func TestWebSocketAuth(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Server.Origins = []string{"console.citywall.local:8443"} })
	own := "http://" + strings.TrimPrefix(s.url, "http://")

	t.Run("no token", func(t *testing.T) {
		s := s.with(t)
		_, resp, err := s.dialWS(nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial without a token: %v %v", err, resp)
		}
		b := readAll(resp)
		checkError(t, "ws without a token", resp.StatusCode, b, 401, "unauthorized")
	})
	t.Run("wrong token", func(t *testing.T) {
		s := s.with(t)
		_, resp, err := s.dialWS(bearer("not-a-token-at-all-0000"))
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial with a wrong token: %v %v", err, resp)
		}
	})
	t.Run("foreign origin", func(t *testing.T) {
		s := s.with(t)
		h := bearer(s.tokens[config.RoleWall])
		h.Set("Origin", "http://evil.example")
		_, resp, err := s.dialWS(h)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial from a foreign origin: %v %v", err, resp)
		}
		if l := s.leaks(string(readAll(resp))); len(l) > 0 {
			t.Errorf("403 shows %v", l)
		}
	})
	for name, origin := range map[string]string{"own origin": own, "listed origin": "https://console.citywall.local:8443", "no origin": ""} {
		t.Run(name, func(t *testing.T) {
			s := s.with(t)
			h := bearer(s.tokens[config.RoleWall])
			if origin != "" {
				h.Set("Origin", origin)
			}
			conn, resp, err := s.dialWS(h)
			if err != nil {
				t.Fatalf("dial with origin %q: %v (%v)", origin, err, resp)
			}
			c := newWSClient(t, conn)
			hello := c.next()
			if hello.Type != "hello" || hello.Name != "wall-1" || !slices.Equal(hello.Roles, []string{"wall"}) || hello.Build != "test-build" {
				t.Errorf("hello %s", hello.Raw)
			}
			if l := s.leaks(hello.Raw); slices.Contains(l, "a token") {
				t.Errorf("hello shows a token: %s", hello.Raw)
			}
		})
	}
	t.Run("ingest token is refused before the upgrade", func(t *testing.T) {
		s := s.with(t)
		conn, resp, err := s.dialWS(bearer(s.tokens[config.RoleIngest]))
		if err == nil {
			_ = conn.Close()
			t.Fatal("an ingest token, which may subscribe to nothing, opened /ws")
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("ingest token on /ws: %v %v, want 403", resp, err)
		}
	})
	t.Run("bad requests keep the connection", func(t *testing.T) {
		s := s.with(t)
		c := s.connect(s.tokens[config.RolePatrol])
		for _, req := range []map[string]any{
			{"op": "subscribe", "id": 1, "topic": "heat/5/1h/all"},
			{"op": "subscribe", "id": 2, "topic": "heat/8/2h/all"},
			{"op": "subscribe", "id": 3, "topic": "nope"},
			{"op": "unsubscribe", "id": 4, "topic": "stats"},
			{"op": "fly", "id": 5},
		} {
			c.send(req)
			m := c.waitFor("an error", func(m wsMsg) bool { return m.Type == "error" })
			if m.Reason == "" {
				t.Errorf("%v: %s", req, m.Raw)
			}
		}
		c.send(map[string]any{"op": "ping", "id": 9})
		if m := c.waitFor("pong", func(m wsMsg) bool { return m.Type == "pong" }); m.ID != 9 {
			t.Errorf("pong %s", m.Raw)
		}
	})
}

func readAll(resp *http.Response) []byte {
	var b strings.Builder
	_, _ = ioCopy(&b, resp)
	return []byte(b.String())
}

// TestSessionCookie: a page opened with ?token= trades it for a session
// cookie that is not the token, and the cookie opens the page, the API and
// the WebSocket.
func TestSessionCookie(t *testing.T) {
	s := startServer(t, nil)
	wallTok := s.tokens[config.RoleWall]

	code, h, b := s.do("GET", "/wall?token="+url.QueryEscape(wallTok)+"&res=9", "", "", nil)
	if code != http.StatusSeeOther {
		t.Fatalf("GET /wall?token=: %d %s", code, b)
	}
	if loc := h.Get("Location"); loc != "/wall?res=9" {
		t.Errorf("redirect to %q, want /wall?res=9 without the token", loc)
	}
	cookie := sessionCookie(t, h)
	if cookie == nil {
		t.Fatalf("no %s cookie in %v", web.SessionCookie, h["Set-Cookie"])
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", cookie)
	}
	if cookie.Value == "" || strings.Contains(cookie.Value, wallTok) || strings.Contains(wallTok, cookie.Value) {
		t.Errorf("cookie value %q is or contains the token", cookie.Value)
	}

	withCookie := func(method, path string, c *http.Cookie) (int, http.Header, []byte) {
		req, _ := http.NewRequest(method, s.url+path, nil)
		req.AddCookie(c)
		resp, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header, readAll(resp)
	}
	code, h, b = withCookie("GET", "/wall?res=9", cookie)
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(strings.ToLower(string(b)), "<!doctype html") {
		t.Errorf("GET /wall with the cookie: %d %s %.80s", code, h.Get("Content-Type"), b)
	}
	if code, _, b := withCookie("GET", "/api/v1/public", cookie); code != http.StatusOK {
		t.Errorf("GET /api/v1/public with the cookie: %d %s", code, b)
	}
	if code, _, _ := withCookie("GET", "/metrics", cookie); code != http.StatusForbidden {
		t.Errorf("GET /metrics with a wall session: %d", code)
	}
	forged := *cookie
	forged.Value = strings.Repeat("0", len(cookie.Value))
	if code, _, _ := withCookie("GET", "/api/v1/public", &forged); code != http.StatusUnauthorized {
		t.Errorf("forged cookie: %d", code)
	}
	if code, _, b := withCookie("GET", "/wall", &forged); code != http.StatusUnauthorized || !strings.Contains(string(b), `action="/login"`) {
		t.Errorf("forged cookie on /wall: %d, want the login form", code)
	}

	t.Run("ws with the cookie", func(t *testing.T) {
		s := s.with(t)
		h := http.Header{"Cookie": {cookie.String()}, "Origin": {s.url}}
		conn, resp, err := s.dialWS(h)
		if err != nil {
			t.Fatalf("dial with the session cookie: %v %v", err, resp)
		}
		c := newWSClient(t, conn)
		if m := c.next(); m.Type != "hello" || m.Name != "wall-1" {
			t.Errorf("hello %s", m.Raw)
		}
		c.subscribe("hot/1h")
	})
	t.Run("bad token on the page", func(t *testing.T) {
		s := s.with(t)
		code, h, b := s.do("GET", "/wall?token=wrong-token-1234567890", "", "", nil)
		if code != http.StatusUnauthorized || sessionCookie(t, h) != nil || !strings.Contains(string(b), `action="/login"`) {
			t.Errorf("%d %v", code, h)
		}
		if strings.Contains(string(b), "wrong-token-1234567890") {
			t.Error("the login form echoes the bad token")
		}
	})
	t.Run("no token on the page", func(t *testing.T) {
		s := s.with(t)
		code, _, b := s.do("GET", "/wall?res=8", "", "", nil)
		if code != http.StatusUnauthorized || !strings.Contains(string(b), `name="next" value="/wall?res=8"`) {
			t.Errorf("%d %s", code, b)
		}
	})
	t.Run("ingest token on the page", func(t *testing.T) {
		s := s.with(t)
		code, _, b := s.do("GET", "/wall", s.tokens[config.RoleIngest], "", nil)
		checkError(t, "ingest on /wall", code, b, http.StatusForbidden, "forbidden")
	})
	t.Run("every sign-in its own session", func(t *testing.T) {
		s := s.with(t)
		_, h, _ := s.do("GET", "/wall?token="+url.QueryEscape(wallTok), "", "", nil)
		if c := sessionCookie(t, h); c == nil || c.Value == cookie.Value {
			t.Errorf("second visit got the first one's session: %v", c)
		}
		_, h, _ = s.do("GET", "/wall?token="+url.QueryEscape(s.tokens[config.RoleCommander]), "", "", nil)
		if c := sessionCookie(t, h); c == nil || c.Value == cookie.Value {
			t.Errorf("another token got the same session")
		}
	})
}

func sessionCookie(t testing.TB, h http.Header) *http.Cookie {
	t.Helper()
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == web.SessionCookie {
			return c
		}
	}
	return nil
}

// login posts the sign-in form as the login page does, from the server's
// own origin.
func (s *server) login(token, next string) (int, http.Header, []byte) {
	s.t.Helper()
	form := url.Values{"token": {token}, "next": {next}}
	h := http.Header{"Origin": {s.url}, "Content-Type": {"application/x-www-form-urlencoded"}}
	return s.doHeader("POST", "/login", h, strings.NewReader(form.Encode()))
}

// TestLogin: the form signs in with a token and sends the browser back to
// a page of this server only.
func TestLogin(t *testing.T) {
	s := startServer(t, nil)
	login := func(token, next string) (int, http.Header, []byte) { return s.login(token, next) }
	code, h, _ := login(s.tokens[config.RoleTeam], "/wall?res=9")
	if code != http.StatusSeeOther || h.Get("Location") != "/wall?res=9" || sessionCookie(t, h) == nil {
		t.Errorf("good login: %d %v", code, h)
	}
	code, h, b := login("wrong-token-1234567890", "/wall")
	if code != http.StatusUnauthorized || sessionCookie(t, h) != nil || !strings.Contains(string(b), "<form") {
		t.Errorf("bad login: %d %v %s", code, h, b)
	}
	if strings.Contains(string(b), "wrong-token-1234567890") {
		t.Error("the form echoes the bad token")
	}
	code, h, _ = login("", "/wall")
	if code != http.StatusUnauthorized || sessionCookie(t, h) != nil {
		t.Errorf("empty token: %d", code)
	}

	for _, next := range []string{
		"//evil.com", "//evil.com/wall", "https://evil.com", "http:/evil.com", `/\evil.com`, `\\evil.com`,
		"evil.com", "javascript:alert(1)", "", "/\t/evil.com", "/\n/evil.com", "/\r/evil.com",
	} {
		t.Run("next "+strings.NewReplacer("/", "∕", "\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(next), func(t *testing.T) {
			s := s.with(t)
			code, h, _ := login(s.tokens[config.RoleWall], next)
			loc := h.Get("Location")
			if code != http.StatusSeeOther || loc != "/wall" {
				t.Errorf("next %q: %d to %q, want /wall", next, code, loc)
			}
			// The login page carries next into its form.
			_, _, b := s.do("GET", "/login?next="+url.QueryEscape(next), "", "", nil)
			if !strings.Contains(string(b), `name="next" value="/wall"`) {
				t.Errorf("login page keeps next %q: %s", next, b)
			}
		})
	}

	t.Run("logout", func(t *testing.T) {
		s := s.with(t)
		code, h, _ := s.doHeader("POST", "/logout", http.Header{"Origin": {s.url}}, nil)
		c := sessionCookie(t, h)
		if code != http.StatusSeeOther || h.Get("Location") != "/login" || c == nil || c.MaxAge >= 0 {
			t.Errorf("logout: %d %v", code, h)
		}
	})
}
