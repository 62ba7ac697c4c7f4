package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"

	"github.com/citywall/citywall/config"
)

// SessionCookie carries a browser's credential: an HMAC of its token, so the
// token itself is not stored in the cookie jar, and the same token always
// maps to the same session across server restarts.
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
	sessions map[string]int // session value → index in tokens
}

func newAuthenticator(tokens []config.Token) *authenticator {
	a := &authenticator{tokens: tokens, sessions: map[string]int{}}
	for i, t := range tokens {
		a.sessions[sessionValue(t.Token)] = i
	}
	return a
}

func sessionValue(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("citywall session v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// authenticate returns the caller or false. Comparison is constant-time
// over every configured token so timing does not reveal a prefix.
func (a *authenticator) authenticate(r *http.Request) (principal, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return principal{}, false
		}
		return a.byToken(strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		if i, ok := a.sessions[c.Value]; ok {
			t := a.tokens[i]
			return principal{Name: t.Name, Roles: t.Roles}, true
		}
	}
	return principal{}, false
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
