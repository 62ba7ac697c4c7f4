package redact

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	basic := base64.StdEncoding.EncodeToString([]byte("camuser:S3cretPassA"))
	for _, tc := range []struct{ in, gone, kept string }{
		{"RTSP/1.0 403 Forbidden (Authorization: Basic " + basic + ")", basic, "403 Forbidden"},
		{"bad status: Authorization: basic " + basic, basic, "bad status"},
		{`401 (Authorization: Digest username="camuser", realm="c", nonce="abc", response="f00d")`, "camuser", "401"},
		{"dial rtsp://admin:pw@10.0.0.1:554/x failed", "admin:pw", "10.0.0.1:554/x"},
		{"echo " + basic + " in the middle", basic, "in the middle"},
		{"echo " + strings.TrimRight(basic, "=") + " unpadded", strings.TrimRight(basic, "="), "unpadded"},
		{"Bearer wall-tok-1234567890abcdef", "wall-tok", "Bearer"},
		{"camera gate-1 offline: connection refused", "", "camera gate-1 offline: connection refused"},
		{"H3 cell 8840a6a4e7fffff in window 15m", "", "8840a6a4e7fffff"},
	} {
		got := String(tc.in)
		if tc.gone != "" && strings.Contains(got, tc.gone) {
			t.Errorf("String(%q) = %q: still shows %q", tc.in, got, tc.gone)
		}
		if !strings.Contains(got, tc.kept) {
			t.Errorf("String(%q) = %q: lost %q", tc.in, got, tc.kept)
		}
	}
}

func TestRedactor(t *testing.T) {
	raw := "rtsp://admin:p%40ss:w0rd@10.1.2.3:554/Streaming/101"
	r := New(append(URL(raw, "rtsp://xxxxx@10.1.2.3:554/Streaming/101"), Password("cam", "hunter22")...)...)
	for _, msg := range []string{
		`parse "` + raw + `": invalid`,
		"auth p@ss:w0rd failed",
		"auth p%40ss:w0rd failed",
		"admin:p@ss:w0rd",
		"user cam:hunter22 pass hunter22",
		"echo " + base64.StdEncoding.EncodeToString([]byte("hunter22")),
		"echo " + base64.URLEncoding.EncodeToString([]byte("admin:p@ss:w0rd")),
	} {
		got := r.String(msg)
		for _, secret := range []string{"w0rd", "admin:", "hunter22", base64.StdEncoding.EncodeToString([]byte("hunter22"))} {
			if strings.Contains(got, secret) {
				t.Errorf("%q → %q shows %q", msg, got, secret)
			}
		}
	}
	if got := (*Redactor)(nil).String("Basic " + base64.StdEncoding.EncodeToString([]byte("a:b"))); strings.Contains(got, "YTpi") {
		t.Errorf("nil redactor: %q", got)
	}
}

func FuzzString(f *testing.F) {
	f.Add("RTSP/1.0 403 (Authorization: Basic Y2FtdXNlcjpTM2NyZXRQYXNzQQ==)")
	f.Add("rtsp://a:b@h/x")
	f.Fuzz(func(t *testing.T, s string) {
		once := String(s)
		if twice := String(once); twice != once {
			t.Fatalf("not stable: %q → %q → %q", s, once, twice)
		}
	})
}
