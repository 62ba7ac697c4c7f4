package app_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/citywall/citywall/config"
)

// TestSessionsAreServerSide: every sign-in gets its own session; signing
// out ends it on the server (the old cookie is refused afterwards); a
// session survives a restart of the server on the same data directory;
// removing or changing its token ends it; behind a TLS proxy the cookie is
// Secure.
func TestSessionsAreServerSide(t *testing.T) {
	cfg, tokens := testConfig(t)
	cfg.Server.BehindTLSProxy = true
	s := startWith(t, cfg, tokens)
	opens := func(s *server, c *http.Cookie) bool {
		code, _, _ := s.doHeader("GET", "/api/v1/public", http.Header{"Cookie": {c.String()}}, nil)
		return code == http.StatusOK
	}

	a := s.sessionFor(tokens[config.RoleCommander])
	b := s.sessionFor(tokens[config.RoleCommander])
	if a.Value == b.Value {
		t.Fatal("two sign-ins got the same session")
	}
	if !a.Secure || !a.HttpOnly || a.MaxAge != int(cfg.Auth.SessionMax.Seconds()) {
		t.Errorf("cookie %+v: want Secure (server.behind_tls_proxy), HttpOnly, Max-Age auth.session_max", a)
	}
	if !opens(s, a) || !opens(s, b) {
		t.Fatal("fresh sessions refused")
	}
	code, h, _ := s.doHeader("POST", "/logout", http.Header{"Cookie": {a.String()}, "Origin": {s.url}}, nil)
	if c := sessionCookie(t, h); code != http.StatusSeeOther || c == nil || c.MaxAge >= 0 {
		t.Errorf("logout: %d %v", code, h)
	}
	if opens(s, a) {
		t.Error("the cookie opens the API after logging out")
	}
	if !opens(s, b) {
		t.Error("logging one browser out ended another's session")
	}
	// Signing in again ends the session the browser held.
	_, h, _ = s.doHeader("GET", "/wall?token="+url.QueryEscape(tokens[config.RoleWall]), http.Header{"Cookie": {b.String()}, "Sec-Fetch-Site": {"none"}}, nil)
	if c := sessionCookie(t, h); c == nil || !opens(s, c) || opens(s, b) {
		t.Errorf("sign-in over a session: new %v, old still opens: %v", c, opens(s, b))
	}
	// Signing in again with the token the session was made from keeps it:
	// a wall PC opens its eight displays in one browser at once, and each
	// display's sign-in must not end the session the others are using.
	wall := s.sessionFor(tokens[config.RoleWall])
	code, h, _ = s.doHeader("GET", "/wall?token="+url.QueryEscape(tokens[config.RoleWall]), http.Header{"Cookie": {wall.String()}, "Sec-Fetch-Site": {"none"}}, nil)
	if code != http.StatusSeeOther || !opens(s, wall) {
		t.Errorf("a second sign-in with the same token: %d, the session it held still opens: %v", code, opens(s, wall))
	}
	if c := sessionCookie(t, h); c != nil {
		t.Errorf("a second sign-in with the same token set a new cookie %v", c)
	}
	team := s.sessionFor(tokens[config.RoleTeam])

	// A restart on the same data directory keeps the sessions.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s = startWith(t, cfg, tokens)
	if !opens(s, wall) || !opens(s, team) {
		t.Fatal("sessions lost in a restart")
	}
	if opens(s, a) {
		t.Error("a session ended before the restart opens after it")
	}

	// The wall's token changes, the team's token is removed.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	var kept []config.Token
	for _, tk := range cfg.Auth.Tokens {
		switch tk.Name {
		case "wall-1":
			tk.Token += "-rotated"
		case "team-1":
			continue
		}
		kept = append(kept, tk)
	}
	cfg.Auth.Tokens = kept
	s = startWith(t, cfg, tokens)
	if opens(s, wall) {
		t.Error("a session of a rotated token opens")
	}
	if opens(s, team) {
		t.Error("a session of a removed token opens")
	}
}
