package web

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/citywall/citywall/internal/logkit"
)

// RequestIDHeader names a request: taken from the request when it carries
// a usable one (a load balancer's or a client's), made here otherwise, and
// echoed in the response. Every log line of the request carries it as
// request_id.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an id taken from a request.
const maxRequestID = 128

// requestID is the id the request brought, or a new one: an id from
// outside is kept only when it is short and made of characters safe in a
// log line and a header (letters, digits, - _ . : /, as UUIDs and trace ids
// are).
func requestID(r *http.Request) string {
	if id := r.Header.Get(RequestIDHeader); id != "" && len(id) <= maxRequestID && safeID(id) {
		return id
	}
	return fmt.Sprintf("%016x", rand.Uint64())
}

func safeID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '_' || c == '.' || c == ':' || c == '/':
		default:
			return false
		}
	}
	return true
}

// withRequestLog gives each request its id (context and response header)
// and, at debug level, logs one line when it ends: method, path (never the
// query, which may carry a token), status, bytes, duration.
func (s *Server) withRequestLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestID(r)
		w.Header().Set(RequestIDHeader, id)
		ctx := logkit.WithRequestID(r.Context(), id)
		r = r.WithContext(ctx)
		if !s.httpLog.Enabled(ctx, slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		rec := &recorder{ResponseWriter: w}
		began := time.Now()
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		s.httpLog.LogAttrs(ctx, slog.LevelDebug, "http request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", status), slog.Int64("bytes", rec.bytes),
			slog.Float64("ms", float64(time.Since(began).Microseconds())/1000),
			slog.String("remote", r.RemoteAddr))
	})
}

// logError logs a failure of the request in r's context (so with its
// request id), always with its cause.
func (s *Server) logError(r *http.Request, msg string, err error, attrs ...any) {
	s.httpLog.ErrorContext(r.Context(), msg, append(attrs, logkit.Err, err)...)
}

// recorder notes a response's status and size. It passes Flush and Hijack
// through, which the event streams and WebSocket upgrades need.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("web: the response writer cannot be hijacked")
	}
	if r.status == 0 {
		r.status = http.StatusSwitchingProtocols
	}
	return h.Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
