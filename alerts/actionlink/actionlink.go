// Package actionlink makes and checks the links that alert messages carry
// back to the team page: signed with a key the centre's instances share,
// naming one alert, good for acknowledging and resolving it once each, and
// expiring. Whoever holds the link may do exactly that and nothing else,
// without a token.
package actionlink

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Actions a link allows.
const (
	ActionAck     = "ack"
	ActionResolve = "resolve"
)

var actions = []string{ActionAck, ActionResolve}

// Errors of Check, told apart with errors.Is.
var (
	ErrInvalid    = errors.New("not a valid link")
	ErrExpired    = errors.New("the link has expired")
	ErrOtherAlert = errors.New("the link is for another alert")
	ErrAction     = errors.New("the link does not allow this action")
	ErrUsed       = errors.New("the link has already been used for this")
)

// Store keeps what links need across restarts and instances: the signing
// key and the (nonce, action) pairs already used.
type Store interface {
	// Key returns the signing key, making and keeping one the first time.
	Key(ctx context.Context) ([]byte, error)
	// Use marks action done with nonce; false when it already was. The
	// record may be dropped after until (the link has expired by then).
	Use(ctx context.Context, nonce, action string, until time.Time) (bool, error)
}

// Claims is what a link says.
type Claims struct {
	Alert   string
	Expires time.Time
	Nonce   string
}

// Links issues and checks links.
type Links struct {
	key []byte
	st  Store
	ttl time.Duration
	now func() time.Time
}

// New returns links signed with the store's key, valid for ttl.
func New(ctx context.Context, st Store, ttl time.Duration, now func() time.Time) (*Links, error) {
	key, err := st.Key(ctx)
	if err != nil {
		return nil, fmt.Errorf("link key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("link key: %d bytes, want at least 32", len(key))
	}
	if now == nil {
		now = time.Now
	}
	return &Links{key: key, st: st, ttl: ttl, now: now}, nil
}

// NewKey returns a random signing key.
func NewKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand never fails on supported systems
	return k
}

// Token returns a new token for alert: base64url("alert\nexpires\nnonce")
// "." base64url(HMAC-SHA256(key, that)).
func (l *Links) Token(alert string) string {
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	body := alert + "\n" + strconv.FormatInt(l.now().Add(l.ttl).Unix(), 10) + "\n" + base64.RawURLEncoding.EncodeToString(nonce)
	return base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + l.sign(body)
}

func (l *Links) sign(body string) string {
	h := hmac.New(sha256.New, l.key)
	h.Write([]byte("citywall action link\n" + body))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// Read checks a token's signature and expiry and returns what it says.
func (l *Links) Read(token string) (Claims, error) {
	b64, sig, ok := strings.Cut(token, ".")
	if !ok || len(token) > 1024 {
		return Claims{}, ErrInvalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil || !hmac.Equal([]byte(sig), []byte(l.sign(string(raw)))) {
		return Claims{}, ErrInvalid
	}
	parts := strings.Split(string(raw), "\n")
	if len(parts) != 3 {
		return Claims{}, ErrInvalid
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	c := Claims{Alert: parts[0], Expires: time.Unix(exp, 0), Nonce: parts[2]}
	if !l.now().Before(c.Expires) {
		return c, ErrExpired
	}
	return c, nil
}

// Check reads token as a link to alert and, for an action, uses it up:
// once an action has been done through a link, the same link cannot do it
// again.
func (l *Links) Check(ctx context.Context, token, alert, action string) (Claims, error) {
	c, err := l.Read(token)
	if err != nil {
		return c, err
	}
	if c.Alert != alert {
		return c, ErrOtherAlert
	}
	if action == "" {
		return c, nil
	}
	if !slices.Contains(actions, action) {
		return c, ErrAction
	}
	first, err := l.st.Use(ctx, c.Nonce, action, c.Expires)
	if err != nil {
		return c, fmt.Errorf("record the link's use: %w", err)
	}
	if !first {
		return c, ErrUsed
	}
	return c, nil
}
