package web

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/citywall/citywall/internal/connlimit"
)

// connGuard is the outermost handler: it keeps a caller without a token from
// holding connections. A request body must arrive within
// server.read_timeout; a connection whose request shows a valid token is
// marked authenticated (connlimit); a refused request (401, 413, 429) and
// a failed one whose body was left unread close their connection rather
// than wait for a body nobody will read.
func (s *Server) connGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Credentials are checked once here; the route that needs them
		// admits or refuses the caller (admit), counting failures.
		r, res := s.auth.withAuth(r)
		if res.ok {
			connlimit.Authenticated(r.Context())
		}
		gw := &guardWriter{ResponseWriter: w}
		rc := http.NewResponseController(w)
		if hasBody(r) && !isWebSocketRoute(r) {
			_ = rc.SetReadDeadline(time.Now().Add(s.cfg.Server.ReadTimeout))
			// A copy of the request carries the wrapped body, so net/http
			// still sees its own body and knows how much of it is unread.
			r = r.WithContext(r.Context())
			gw.body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			r.Body = gw.body
		}
		next.ServeHTTP(gw, r)
		if gw.closing && hasBody(r) {
			// net/http would otherwise read up to 256 KiB of the unread
			// body before closing, waiting for bytes that may never come.
			_ = rc.SetReadDeadline(time.Now())
		}
	})
}

// hasBody: a request with Content-Length 0 (and no chunked body) has none
// to wait for.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// isWebSocketRoute: these connections live for hours once upgraded; their
// reads are bounded by the ping/pong deadlines instead.
func isWebSocketRoute(r *http.Request) bool {
	return r.URL.Path == "/ws" || strings.HasPrefix(r.URL.Path, "/ws/")
}

// deadlineBody lifts the read deadline once the body has been read to its
// end: a handler that then takes long (a durable write) must not have its
// request cancelled by net/http's background read timing out.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done.Swap(true) {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// guardWriter closes the connection after a refusal.
type guardWriter struct {
	http.ResponseWriter
	body        *deadlineBody // nil: the request had no body, or is a WebSocket's
	wroteHeader bool
	closing     bool // Connection: close was sent
}

func (w *guardWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if closeAfter(code, w.body) {
			w.closing = true
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func closeAfter(code int, body *deadlineBody) bool {
	switch {
	case code == http.StatusUnauthorized, code == http.StatusRequestEntityTooLarge, code == http.StatusTooManyRequests:
		return true
	case code >= 400:
		return body != nil && !body.done.Load()
	}
	return false
}

func (w *guardWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *guardWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on (streamed answers).
func (w *guardWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection to a WebSocket upgrader.
func (w *guardWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}
