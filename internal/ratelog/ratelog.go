// Package ratelog keeps a log line that an outsider can provoke (a failed
// login, a cut client) from flooding the log: per key, at most one line per
// interval, and the line that goes out says how many were held back.
//
// A hand-written limiter rather than golang.org/x/time/rate: the count of
// suppressed lines is what an operator needs, and that package does not keep
// it.
package ratelog

import (
	"sync"
	"time"
)

// maxKeys bounds the keys remembered; past it the oldest state is dropped
// (its next line simply goes out).
const maxKeys = 4096

// Limiter allows one line per key per Every.
type Limiter struct {
	Every time.Duration // 0: 10 s
	Now   func() time.Time

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	last       time.Time
	suppressed int
}

// Allow reports whether a line for key may go out now and, when it may,
// how many lines for key were held back since the last one.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	every := l.Every
	if every <= 0 {
		every = 10 * time.Second
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = map[string]*state{}
	}
	s, seen := l.keys[key]
	if !seen {
		if len(l.keys) >= maxKeys {
			for k, v := range l.keys {
				if now.Sub(v.last) >= every {
					delete(l.keys, k)
				}
			}
			if len(l.keys) >= maxKeys {
				l.keys = map[string]*state{}
			}
		}
		l.keys[key] = &state{last: now}
		return true, 0
	}
	if now.Sub(s.last) < every {
		s.suppressed++
		return false, 0
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	return true, n
}
