package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/web/session"
)

// SessionCookie carries a browser's session id (package session): random,
// new at every sign-in, ended by signing out, by its expiry, or by its
// token leaving the configuration or changing.
const SessionCookie = "citywall_session"

// principal is an authenticated caller.
type principal struct {
	Name  string
	Roles []config.Role
}

func (p principal) has(roles ...config.Role) bool {
	if slices.Contains(p.Roles, config.RoleAdmin) {
		return true
	}
	for _, r := range roles {
		if slices.Contains(p.Roles, r) {
			return true
		}
	}
	return false
}

func (p principal) roleNames() []string {
	out := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		out[i] = string(r)
	}
	return out
}

// Who may do what. Admin may do everything.
var (
	rolesRead   = []config.Role{config.RoleWall, config.RoleCommander, config.RolePatrol, config.RoleTeam}
	rolesIngest = []config.Role{config.RoleIngest}
	rolesAdmin  = []config.Role{config.RoleAdmin}
)

// authenticator resolves bearer tokens and session cookies.
type authenticator struct {
	tokens   []config.Token
	keys     []string // session.TokenKey of each token
	sessions *session.Manager
	log      *slog.Logger
}

func newAuthenticator(tokens []config.Token, sessions *session.Manager, log *slog.Logger) *authenticator {
	a := &authenticator{tokens: tokens, sessions: sessions, log: log}
	for _, t := range tokens {
		a.keys = append(a.keys, session.TokenKey(t.Token))
	}
	return a
}

// Failure reasons, the label of citywall_auth_failures_total. A bounded
// set: never the token, the session id or the address.
const (
	failNoCredentials = "no_credentials" // none shown where they were needed
	failBadScheme     = "bad_scheme"     // an Authorization header that is not "Bearer …"
	failBadToken      = "bad_token"      // a token no configured one matches (header, link or sign-in form)
	failBadSession    = "bad_session"    // a session cookie unknown, expired, ended, or of a token since removed or changed
	failSessionStore  = "session_store"  // the session store could not be read
	failThrottled     = "throttled"      // refused unchecked: its address failed too often (429)
)

// authResult is the check of a request's credentials.
type authResult struct {
	p    principal
	ok   bool
	fail string // why not, when !ok
	// cred identifies a token to the failure limiter (session.TokenKey,
	// never the token); "" for a session cookie, which is not guessed.
	cred    string
	session bool
}

type authKey struct{}

// withAuth checks r's credentials once; authenticate reads the result.
func (a *authenticator) withAuth(r *http.Request) (*http.Request, authResult) {
	res := a.resolve(r)
	return r.WithContext(context.WithValue(r.Context(), authKey{}, res)), res
}

// authenticate returns the caller or false, from the check the outermost
// handler made (or a new one).
func (a *authenticator) authenticate(r *http.Request) (principal, bool) {
	res, ok := r.Context().Value(authKey{}).(authResult)
	if !ok {
		res = a.resolve(r)
	}
	return res.p, res.ok
}

// resolve checks r's bearer token or session cookie. Comparison is
// constant-time over every configured token so timing does not reveal a
// prefix.
func (a *authenticator) resolve(r *http.Request) authResult {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return authResult{fail: failBadScheme}
		}
		return a.resolveToken(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		res := authResult{session: true}
		res.p, res.ok, res.fail = a.bySession(r.Context(), c.Value)
		return res
	}
	return authResult{fail: failNoCredentials}
}

// resolveToken checks a token however it came (header, sign-in form,
// ?token= link).
func (a *authenticator) resolveToken(tok string) authResult {
	res := authResult{cred: session.TokenKey(tok)}
	if res.p, res.ok = a.byToken(tok); !res.ok {
		res.fail = failBadToken
	}
	return res
}

// bySession returns the caller of a session: its token must still be
// configured, under the same name and unchanged.
func (a *authenticator) bySession(ctx context.Context, id string) (principal, bool, string) {
	s, err := a.sessions.Check(ctx, id)
	if err != nil {
		if !errors.Is(err, session.ErrNoSession) {
			a.log.Warn("session store", "err", err)
			return principal{}, false, failSessionStore
		}
		return principal{}, false, failBadSession
	}
	for i, t := range a.tokens {
		if t.Name == s.Name && subtle.ConstantTimeCompare([]byte(a.keys[i]), []byte(s.Key)) == 1 {
			return principal{Name: t.Name, Roles: t.Roles}, true, ""
		}
	}
	return principal{}, false, failBadSession
}

func (a *authenticator) byToken(tok string) (principal, bool) {
	found := -1
	for i, t := range a.tokens {
		if subtle.ConstantTimeCompare([]byte(t.Token), []byte(tok)) == 1 {
			found = i
		}
	}
	if found < 0 {
		return principal{}, false
	}
	t := a.tokens[found]
	return principal{Name: t.Name, Roles: t.Roles}, true
}
