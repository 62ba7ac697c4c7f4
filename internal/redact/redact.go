// Package redact hides credentials in text bound for a log line, an alert
// or a status a browser reads: the user part of URLs, the value of
// "Basic …", "Digest …" and "Bearer …" authorizations (a camera may echo
// its Authorization header back in an RTSP status line), and base64 of a
// "user:password" pair anywhere. A Redactor also knows particular
// secrets (a camera's URL, user and password) and hides them in any
// spelling it is given.
package redact

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Mask stands in for what is hidden.
const Mask = "xxxxx"

var (
	userinfo = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s"']+@`)
	scheme   = regexp.MustCompile(`(?i)\b(basic|bearer)(\s+|=)[A-Za-z0-9+/_.~=-]+`)
	digest   = regexp.MustCompile(`(?i)\bdigest\s+[^\r\n]*`)
	b64      = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}={0,2}`)
)

// String hides the credentials of the generic forms in s.
func String(s string) string {
	s = userinfo.ReplaceAllString(s, "${1}"+Mask+"@")
	s = digest.ReplaceAllString(s, "Digest "+Mask)
	s = scheme.ReplaceAllStringFunc(s, func(m string) string {
		i := strings.IndexFunc(m, func(r rune) bool { return unicode.IsSpace(r) || r == '=' })
		return m[:i+1] + Mask
	})
	return b64.ReplaceAllStringFunc(s, func(m string) string {
		if isCredential(m) {
			return Mask
		}
		return m
	})
}

// isCredential reports whether m is base64 (standard or URL alphabet,
// padded or not) of printable text holding a colon: a user:password pair.
func isCredential(m string) bool {
	raw := strings.TrimRight(m, "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(raw)
		if err != nil || len(b) < 3 {
			continue
		}
		colon, printable := false, true
		for _, c := range b {
			if c == ':' {
				colon = true
			}
			if c < 0x20 || c > 0x7e {
				printable = false
				break
			}
		}
		if colon && printable {
			return true
		}
	}
	return false
}

// Redactor hides known secrets, then the generic forms.
type Redactor struct {
	r *strings.Replacer
}

// Secret is a text to hide and what it becomes.
type Secret struct{ Text, Shown string }

// New returns a Redactor of secrets: each is hidden as written, escaped
// for a URL path or query, and in base64; secrets shorter than 2 bytes
// are ignored.
func New(secrets ...Secret) *Redactor {
	type pair struct{ from, to string }
	var ps []pair
	for _, s := range secrets {
		to := s.Shown
		if to == "" {
			to = Mask
		}
		if len(s.Text) < 2 || s.Text == to {
			continue
		}
		ps = append(ps, pair{s.Text, to}, pair{url.PathEscape(s.Text), to}, pair{url.QueryEscape(s.Text), to})
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			ps = append(ps, pair{enc.EncodeToString([]byte(s.Text)), Mask})
		}
	}
	// Longest first, so a secret inside another is not left half-shown.
	sort.SliceStable(ps, func(i, j int) bool { return len(ps[i].from) > len(ps[j].from) })
	var args []string
	for _, p := range ps {
		args = append(args, p.from, p.to)
	}
	return &Redactor{r: strings.NewReplacer(args...)}
}

// String hides r's secrets and the generic forms in s. A nil Redactor
// hides the generic forms only.
func (r *Redactor) String(s string) string {
	if r != nil && r.r != nil {
		s = r.r.Replace(s)
	}
	return String(s)
}

// URL returns the secrets of a URL with credentials: the URL (shown as
// shown), its user:password as written and decoded, and its password.
func URL(raw, shown string) []Secret {
	out := []Secret{{raw, shown}}
	// The user part as written in the URL, escapes and all.
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			ui := rest[:at]
			if c := strings.Index(ui, ":"); c >= 0 {
				out = append(out, Secret{Text: ui}, Secret{Text: ui[c+1:]})
			}
		}
	}
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, Secret{Text: u.User.Username() + ":" + p}, Secret{Text: p})
		}
	}
	return out
}

// Password returns the secrets of a separate user and password.
func Password(user, pass string) []Secret {
	if pass == "" {
		return nil
	}
	return []Secret{{Text: user + ":" + pass}, {Text: pass}}
}
