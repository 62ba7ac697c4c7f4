package web

import (
	"fmt"
	"mime"
	"net/http"
	"slices"
)

// Error code of a browser request that does not come from this server's
// own pages.
const codeCrossOrigin = "cross_origin"

// Media types a request body may have. NDJSON is documented for the
// ingest routes only; they check it themselves (readBody).
var (
	bodyTypesJSON  = []string{"application/json", "application/x-ndjson", "application/ndjson", "application/jsonl"}
	bodyTypesLogin = []string{"application/x-www-form-urlencoded"} // the sign-in form
)

// Paths whose unsafe requests act on the browser's session whether or not
// it sends one: signing in replaces it, signing out ends it.
const (
	pathLogin  = "/login"
	pathLogout = "/logout"
)

// guardUnsafe keeps other sites' pages from acting with a browser's
// session. SameSite=Strict does not: another port of the same host, or a
// sibling host, is the same site, and the browser sends the cookie along.
// So a request that changes something (any method but GET, HEAD and
// OPTIONS) and is authenticated by the cookie, or signs in or out, must
// show it comes from this server's own pages: its Origin is this server
// (or one of server.origins, as for /ws), or, without Origin, its
// Sec-Fetch-Site is same-origin or none. Programs send their token in the
// Authorization header, which no other site can make a browser send, and
// are not asked.
//
// Every request body must be JSON (NDJSON where documented): a form
// (urlencoded, multipart or text/plain) is what a page of another site can
// send without asking the server first, so it is refused with 415. The
// sign-in form is the one form the server takes. A program's body without
// a Content-Type is read as JSON, as it always was.
func (s *Server) guardUnsafe(next http.Handler) http.Handler {
	ownOrigin := OriginChecker(s.cfg.Server.Origins)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		session := r.URL.Path == pathLogin || r.URL.Path == pathLogout
		if !session && r.Header.Get("Authorization") == "" {
			_, err := r.Cookie(SessionCookie)
			session = err == nil
		}
		if session {
			if why := fromOwnPage(r, ownOrigin); why != "" {
				s.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path, "why", why)
				writeError(w, http.StatusForbidden, codeCrossOrigin, why)
				return
			}
		}
		allowed := bodyTypesJSON
		if r.URL.Path == pathLogin {
			allowed = bodyTypesLogin
		}
		if why := bodyTypeProblem(r, allowed, session); why != "" {
			writeError(w, http.StatusUnsupportedMediaType, codeUnsupportedType, why)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromOwnPage says why r does not show that one of this server's pages
// sent it ("" when it does).
func fromOwnPage(r *http.Request, ownOrigin func(*http.Request) bool) string {
	if o := r.Header.Get("Origin"); o != "" {
		if ownOrigin(r) {
			return ""
		}
		return fmt.Sprintf("Origin %q is not this server: a request with the session cookie must come from this server's own pages (programs send Authorization: Bearer)", o)
	}
	switch sfs := r.Header.Get("Sec-Fetch-Site"); sfs {
	case "same-origin", "none":
		return ""
	case "":
		return "a request with the session cookie must show its Origin (or Sec-Fetch-Site): programs send Authorization: Bearer instead"
	default:
		return fmt.Sprintf("Sec-Fetch-Site %q: a request with the session cookie must come from this server's own pages", sfs)
	}
}

// bodyTypeProblem says why r's body may not be read as one of the media
// types allowed ("" when it may, or when it has no body). A program's body
// without a Content-Type is read as JSON; a browser's must say what it is
// (mustSay): a page of another site can send an untyped body too.
func bodyTypeProblem(r *http.Request, allowed []string, mustSay bool) string {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return ""
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		if !mustSay {
			return ""
		}
		return fmt.Sprintf("a body needs a Content-Type: send %s", allowed[0])
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Sprintf("content type %q unreadable: send %s", ct, allowed[0])
	}
	if !slices.Contains(allowed, mt) {
		return fmt.Sprintf("content type %q: send %s", mt, allowed[0])
	}
	return ""
}
