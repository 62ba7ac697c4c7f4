package web

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/citywall/citywall/internal/authlimit"
	"github.com/citywall/citywall/internal/ratelog"
)

const codeTooManyFailures = "too_many_failures"

// authGate counts, logs and slows down failed authentication (see package
// authlimit for the slowing down).
type authGate struct {
	limiter *authlimit.Limiter
	log     *slog.Logger
	logs    ratelog.Limiter // one line per address and reason every 10 s

	failures *prometheus.CounterVec
	delayed  prometheus.Counter
}

func newAuthGate(l *authlimit.Limiter, log *slog.Logger, reg prometheus.Registerer) *authGate {
	g := &authGate{
		limiter: l, log: log,
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "citywall_auth_failures_total",
			Help: "Requests refused for their credentials, by reason: no_credentials, bad_scheme (Authorization not Bearer), bad_token, bad_session (unknown, expired or ended), session_store (the store could not be read), throttled (refused unchecked, its address having failed too often).",
		}, []string{"reason"}),
		delayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "citywall_auth_delayed_total",
			Help: "Credentials held for their turn before being checked, their address having failed too often (auth.failure_burst).",
		}),
	}
	for _, r := range []string{failNoCredentials, failBadScheme, failBadToken, failBadSession, failSessionStore, failThrottled} {
		g.failures.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(g.failures, g.delayed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "citywall_auth_addresses",
			Help: "Source addresses whose failed authentication is remembered (auth.failure_addresses bounds them).",
		}, func() float64 { return float64(l.Len()) }))
	}
	return g
}

// caller admits the request on the credentials its headers show (checked
// once by the outermost handler); see admit.
func (s *Server) caller(w http.ResponseWriter, r *http.Request, deny func()) (principal, bool) {
	res, ok := r.Context().Value(authKey{}).(authResult)
	if !ok {
		res = s.auth.resolve(r)
	}
	return s.admit(w, r, res, deny)
}

// admit lets the caller of res through, or refuses it: deny answers a
// plain refusal (401 in the route's own form); an address that has failed
// too often is answered 429 with Retry-After instead. A credential from
// such an address waits for its turn before its answer goes out, unless
// it has succeeded from there before (authlimit). Every refusal is
// counted and logged (rate-limited), with the address and the reason,
// never the credential.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, res authResult, deny func()) (principal, bool) {
	g := s.authGate
	addr := remoteIP(r)
	if !res.ok && res.fail == failNoCredentials {
		g.failed(r, addr, failNoCredentials, false)
		deny()
		return principal{}, false
	}
	var d authlimit.Decision
	if res.session {
		// A session id is 256 random bits, not guessed: checked at once.
		d.Slowed = g.limiter.Slowed(addr)
	} else {
		d = g.limiter.Admit(addr, res.cred)
	}
	if d.Refuse {
		g.failed(r, addr, failThrottled, true)
		tooManyFailures(w, d.RetryAfter)
		return principal{}, false
	}
	if d.Wait > 0 {
		g.delayed.Inc()
		t := time.NewTimer(d.Wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return principal{}, false // gone; nobody to answer
		}
	}
	if res.ok {
		g.limiter.Succeed(addr, res.cred)
		return res.p, true
	}
	if res.fail == failSessionStore {
		// Not the caller's failure: no budget spent.
		g.failed(r, addr, res.fail, false)
		deny()
		return principal{}, false
	}
	g.limiter.Fail(addr)
	g.failed(r, addr, res.fail, d.Slowed)
	if d.Slowed {
		tooManyFailures(w, g.limiter.RetryAfter(addr))
		return principal{}, false
	}
	deny()
	return principal{}, false
}

// failed counts a refusal and logs it, at most one line per address and
// reason every 10 s (the next says how many were held back).
func (g *authGate) failed(r *http.Request, addr, reason string, slowed bool) {
	g.failures.WithLabelValues(reason).Inc()
	ok, held := g.logs.Allow(reason + " " + addr)
	if !ok {
		return
	}
	level := slog.LevelWarn
	if reason == failNoCredentials {
		level = slog.LevelInfo // every browser's first page
	}
	g.log.Log(r.Context(), level, "authentication failed", "addr", addr, "reason", reason,
		"method", r.Method, "path", r.URL.Path, "slowed", slowed, "similar_not_logged", held)
}

// tooManyFailures answers 429 with the seconds until the address's next
// turn (guardWriter closes the connection after it).
func tooManyFailures(w http.ResponseWriter, after time.Duration) {
	secs := max(int(math.Ceil(after.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, codeTooManyFailures,
		fmt.Sprintf("too many failed authentications from this address; retry in %d s", secs))
}

// remoteIP is the IP address the request's connection comes from, as
// connlimit counts it: the TCP peer (behind a proxy, the proxy's).
func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
