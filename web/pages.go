package web

import (
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/citywall/citywall/config"
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
			if _, ok := s.auth.byToken(tok); !ok {
				s.loginForm(w, r.URL.Path, http.StatusUnauthorized, true)
				return
			}
			s.setSession(w, r, tok)
			q := r.URL.Query()
			q.Del("token")
			target := r.URL.Path
			if len(q) > 0 {
				target += "?" + q.Encode()
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return
		}
		p, ok := s.auth.authenticate(r)
		if !ok {
			s.loginForm(w, r.URL.RequestURI(), http.StatusUnauthorized, false)
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

func (s *Server) setSession(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    sessionValue(token),
		Path:     "/",
		HttpOnly: true,
		Secure:   r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
		MaxAge:   400 * 24 * 3600, // walls stay signed in; revoking the token ends it
	})
}

var loginTmpl = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>citywall · 登录 Sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/css/login.css"></head>
<body><main class="login"><h1>城市运行监测 · citywall</h1>
{{if .Bad}}<p class="err">令牌无效 · Invalid token</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="next" value="{{.Next}}">
<label>访问令牌 Access token <input name="token" type="password" autocomplete="current-password" autofocus required></label>
<button type="submit">登录 Sign in</button></form></main></body></html>`))

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
	if _, ok := s.auth.byToken(tok); !ok {
		s.loginForm(w, next, http.StatusUnauthorized, true)
		return
	}
	s.setSession(w, r, tok)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
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
