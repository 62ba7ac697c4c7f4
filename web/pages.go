package web

import (
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/web/session"
)

// OriginChecker accepts requests without Origin (programs), the server's
// own host, and the configured extra hosts.
func OriginChecker(extra []string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		o := r.Header.Get("Origin")
		if o == "" {
			return true
		}
		u, err := url.Parse(o)
		if err != nil {
			return false
		}
		if strings.EqualFold(u.Host, r.Host) {
			return true
		}
		for _, h := range extra {
			if strings.EqualFold(u.Host, h) {
				return true
			}
		}
		return false
	}
}

// page serves one embedded HTML page to callers with a session. A first
// visit with ?token=… turns the token into a session cookie and reloads the
// page without it, so the token does not stay in the address bar or the
// browser's history.
func (s *Server) page(roles []config.Role, name string, static fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.URL.Query().Get("token"); tok != "" {
			p, ok := s.admit(w, r, s.auth.resolveToken(tok), func() {
				s.loginForm(w, r.URL.Path, http.StatusUnauthorized, true)
			})
			if !ok {
				return
			}
			q := r.URL.Query()
			q.Del("token")
			target := r.URL.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			if !s.mayExchange(r) {
				s.confirmForm(w, p.Name, tok, target)
				return
			}
			if s.setSession(w, r, p.Name, tok) {
				http.Redirect(w, r, target, http.StatusSeeOther)
			}
			return
		}
		p, ok := s.caller(w, r, func() {
			s.loginForm(w, r.URL.RequestURI(), http.StatusUnauthorized, false)
		})
		if !ok {
			return
		}
		if !p.has(roles...) {
			writeError(w, http.StatusForbidden, codeForbidden, "this token's roles may not open this page")
			return
		}
		data, err := fs.ReadFile(static, name)
		if err != nil {
			writeError(w, http.StatusNotFound, codeNotFound, "page not built in")
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(data)
	})
}

// setSession signs the browser in as the token named name: a new session
// replaces the one it held. A session the browser holds that was made from
// this same token is kept as it is: a wall PC opens its displays in one
// browser at once, each with the token in its address, and one display's
// sign-in must not end the session the others are already using. false:
// the session could not be stored, and the browser has been told.
func (s *Server) setSession(w http.ResponseWriter, r *http.Request, name, token string) bool {
	key := session.TokenKey(token)
	if c, err := r.Cookie(SessionCookie); err == nil {
		if held, err := s.auth.sessions.Check(r.Context(), c.Value); err == nil && held.Key == key && held.Name == name {
			return true
		}
	}
	s.endSession(r)
	id, err := s.auth.sessions.Create(r.Context(), name, key)
	if err != nil {
		s.log.Error("sign-in", "err", err)
		writeError(w, http.StatusServiceUnavailable, codeUnavailable, "the session could not be stored; try again")
		return false
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    id,
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil || s.cfg.Server.BehindTLSProxy,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   int(s.auth.sessions.MaxAge().Seconds()),
	})
	return true
}

// endSession ends the session the browser holds, if any.
func (s *Server) endSession(r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := s.auth.sessions.End(r.Context(), c.Value); err != nil {
			s.log.Warn("sign-out", "err", err)
		}
	}
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>citywall · 登录 Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/login.css"></head>
<body><main class="login"><h1>城市运行监测 · citywall</h1>
{{if .Bad}}<p class="err">令牌无效 · Invalid token</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="next" value="{{.Next}}">
<label>访问令牌 Access token <input name="token" type="password" autocomplete="current-password" autofocus required></label>
<button type="submit">登录 Sign in</button></form></main></body></html>`))

// mayExchange says whether a page opened with ?token= may sign the
// browser in at once. Typed in, opened from a bookmark or another program
// (Sec-Fetch-Site none) or from this server's own pages it may; from
// another site, the same one included (another port of this host), it may
// not: that page could swap a commander's session for a wall's, or sign a
// browser in as someone else. A browser too old to send Sec-Fetch-Site is
// signed in only when it holds no session yet.
func (s *Server) mayExchange(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "none", "same-origin":
		return true
	case "":
		_, err := r.Cookie(SessionCookie)
		return err != nil
	}
	return false
}

var confirmTmpl = template.Must(template.New("confirm").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>citywall · 登录 Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/login.css"></head>
<body><main class="login"><h1>城市运行监测 · citywall</h1>
<p>此链接来自其他网页。以 <b>{{.Name}}</b> 身份登录？· This link came from another page. Sign in as <b>{{.Name}}</b>?</p>
<form method="post" action="/login"><input type="hidden" name="next" value="{{.Next}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit">登录 Sign in</button></form></main></body></html>`))

// confirmForm asks before a link from another site signs the browser in:
// the form posts from this server's own page, so the sign-in passes the
// origin check.
func (s *Server) confirmForm(w http.ResponseWriter, name, token, next string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_ = confirmTmpl.Execute(w, struct{ Name, Token, Next string }{name, token, safeNext(next)})
}

func (s *Server) loginForm(w http.ResponseWriter, next string, status int, bad bool) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = loginTmpl.Execute(w, struct {
		Next string
		Bad  bool
	}{safeNext(next), bad})
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.loginForm(w, r.URL.Query().Get("next"), http.StatusOK, false)
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	tok := r.PostFormValue("token")
	next := safeNext(r.PostFormValue("next"))
	p, ok := s.admit(w, r, s.auth.resolveToken(tok), func() {
		s.loginForm(w, next, http.StatusUnauthorized, true)
	})
	if !ok {
		return
	}
	if s.setSession(w, r, p.Name, tok) {
		http.Redirect(w, r, next, http.StatusSeeOther)
	}
}

// handleLogout ends the session on the server, so the cookie is refused
// afterwards even where the browser keeps it, and clears it.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	s.endSession(r)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil || s.cfg.Server.BehindTLSProxy, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps redirects on this server. Browsers drop tabs and line
// breaks from a Location and read a backslash as a slash, so "/\t/evil.com"
// would leave it as surely as "//evil.com".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return "/wall"
	}
	return next
}
