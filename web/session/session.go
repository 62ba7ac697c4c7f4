// Package session keeps browsers' sign-ins on the server: a random id in
// the cookie, bound to the name of the token it was made from and to a
// digest of that token, with an idle and an absolute expiry. Signing out
// deletes it; a token removed from the configuration or rotated ends every
// session made from it. Stores: memory, a file in the data directory, or
// Redis, shared by every instance.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Session is one sign-in.
type Session struct {
	Name    string    `json:"name"` // the token's name
	Key     string    `json:"key"`  // TokenKey of the token it was made from
	Created time.Time `json:"created"`
	Seen    time.Time `json:"seen"` // last use, to within touchEvery
}

// Store keeps sessions by the digest of their id: what it holds does not
// open a session.
type Store interface {
	Get(ctx context.Context, key string) (Session, bool, error)
	// Put stores s; ttl is how long it may live at most from now.
	Put(ctx context.Context, key string, s Session, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
}

// ErrNoSession: the id is unknown, expired or signed out.
var ErrNoSession = errors.New("no such session")

// Options of a Manager.
type Options struct {
	Idle time.Duration // a session unused this long ends
	Max  time.Duration // a session ends this long after sign-in, used or not
	Now  func() time.Time
}

// Manager makes, checks and ends sessions.
type Manager struct {
	store Store
	o     Options
}

// touchEvery bounds the writes of a session's last use to one a minute
// (or a hundredth of the idle time, when shorter).
const touchEvery = time.Minute

// New returns a Manager over store.
func New(store Store, o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{store: store, o: o}
}

// MaxAge is how long a session may live at most: the cookie's Max-Age.
func (m *Manager) MaxAge() time.Duration { return m.o.Max }

// TokenKey is what binds a session to its token: a digest, so rotating
// the token ends the session and the store does not hold the token.
func TokenKey(token string) string {
	h := sha256.Sum256([]byte("citywall session token\x00" + token))
	return hex.EncodeToString(h[:16])
}

func storeKey(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// Create makes a session for the token named name with key TokenKey(token)
// and returns its id: 256 random bits, new for every sign-in.
func (m *Manager) Create(ctx context.Context, name, key string) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	now := m.o.Now()
	if err := m.store.Put(ctx, storeKey(id), Session{Name: name, Key: key, Created: now, Seen: now}, m.ttl(now, now)); err != nil {
		return "", fmt.Errorf("store session: %w", err)
	}
	return id, nil
}

// ttl is how long a session created at created and seen at seen may live
// from now on.
func (m *Manager) ttl(created, seen time.Time) time.Duration {
	end := min(created.Add(m.o.Max).UnixNano(), seen.Add(m.o.Idle).UnixNano())
	return time.Duration(end - m.o.Now().UnixNano())
}

// Check returns the session id opens, and notes its use. ErrNoSession when
// there is none (unknown, expired or signed out).
func (m *Manager) Check(ctx context.Context, id string) (Session, error) {
	if len(id) != 64 {
		return Session{}, ErrNoSession
	}
	k := storeKey(id)
	s, ok, err := m.store.Get(ctx, k)
	if err != nil {
		return Session{}, fmt.Errorf("read session: %w", err)
	}
	if !ok {
		return Session{}, ErrNoSession
	}
	now := m.o.Now()
	if ttl := m.ttl(s.Created, s.Seen); ttl <= 0 {
		_ = m.store.Delete(ctx, k)
		return Session{}, ErrNoSession
	}
	if now.Sub(s.Seen) >= min(touchEvery, m.o.Idle/100) {
		s.Seen = now
		if ttl := m.ttl(s.Created, s.Seen); ttl > 0 {
			_ = m.store.Put(ctx, k, s, ttl) // a lost touch shortens the session by at most touchEvery
		}
	}
	return s, nil
}

// End signs the session id out.
func (m *Manager) End(ctx context.Context, id string) error {
	return m.store.Delete(ctx, storeKey(id))
}
