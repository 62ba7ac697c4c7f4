package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/config"
)

// fromAddr is an HTTP transport whose connections come from the loopback
// address ip (127.0.0.0/8 is all loopback on Linux).
func fromAddr(ip string) *http.Transport {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: wait}
	return &http.Transport{DialContext: d.DialContext}
}

// authAttempt sends GET path with the Authorization header h (none when
// empty) over tr and returns the status, Retry-After and body.
func authAttempt(t *testing.T, tr *http.Transport, url, h string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if h != "" {
		req.Header.Set("Authorization", h)
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
}

// TestFailedAuthentication: 200 wrong tokens from one address are all
// counted (bad_token, then throttled once the address is slowed), logged in
// a bounded number of lines that show the address and the reason and
// never a token; past auth.failure_burst they are answered 429 with
// Retry-After. The wall token, used from that address before, still works
// at once; a right token new to the address is slowed, not locked out;
// another address is not concerned; missing credentials and a non-Bearer
// header are counted under their own reasons.
func TestFailedAuthentication(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Auth.FailureBurst = 10
		c.Auth.FailureInterval = 2 * time.Second
		c.Auth.FailureMaxWait = 2500 * time.Millisecond
	})
	api := s.url + "/api/v1/public"
	here, there := fromAddr("127.0.0.1"), fromAddr("127.0.0.2")
	defer here.CloseIdleConnections()
	defer there.CloseIdleConnections()
	failures := func(reason string) float64 {
		v, _ := metric(t, s.reg, "citywall_auth_failures_total", map[string]string{"reason": reason})
		return v
	}
	delayed := func() float64 {
		v, _ := metric(t, s.reg, "citywall_auth_delayed_total", nil)
		return v
	}

	// The wall in use before the guessing starts.
	if code, _, body := authAttempt(t, here, api, "Bearer "+s.tokens[config.RoleWall]); code != 200 {
		t.Fatalf("wall token before: %d %s", code, body)
	}

	const guesses = 200
	var mu sync.Mutex
	statuses := map[int]int{}
	var firstFour []int
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				code, retry, body := authAttempt(t, here, api, fmt.Sprintf("Bearer wrong-guess-%04d-abcdefgh", i))
				mu.Lock()
				statuses[code]++
				mu.Unlock()
				switch code {
				case http.StatusUnauthorized:
				case http.StatusTooManyRequests:
					if n, err := strconv.Atoi(retry); err != nil || n < 1 {
						t.Errorf("429 with Retry-After %q", retry)
					}
					if !strings.Contains(body, "too_many_failures") {
						t.Errorf("429 body %s", body)
					}
				default:
					t.Errorf("wrong token: %d %s", code, body)
				}
			}
		})
	}
	// The first ones one at a time: within the budget they are plain 401s.
	for i := range 4 {
		code, _, _ := authAttempt(t, here, api, fmt.Sprintf("Bearer wrong-guess-%04d-abcdefgh", guesses+i))
		firstFour = append(firstFour, code)
		mu.Lock()
		statuses[code]++
		mu.Unlock()
	}
	for i := range guesses - 4 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	for i, c := range firstFour {
		if c != http.StatusUnauthorized {
			t.Errorf("guess %d within the budget: %d, want 401", i, c)
		}
	}
	t.Logf("200 wrong tokens: %v; failures bad_token %v, throttled %v; delayed %v",
		statuses, failures("bad_token"), failures("throttled"), delayed())
	if n := statuses[http.StatusUnauthorized]; n != 10 {
		t.Errorf("%d answered 401, want the budget's 10", n)
	}
	if n := statuses[http.StatusTooManyRequests]; n != guesses-10 {
		t.Errorf("%d answered 429, want %d", n, guesses-10)
	}
	if got := failures("bad_token") + failures("throttled"); got != guesses {
		t.Errorf("failures counted: %v, want %d", got, guesses)
	}
	if failures("throttled") < guesses/2 {
		t.Errorf("only %v refused unchecked", failures("throttled"))
	}

	// The wall's token passes at once: no wait.
	before := delayed()
	if code, _, body := authAttempt(t, here, api, "Bearer "+s.tokens[config.RoleWall]); code != 200 {
		t.Fatalf("wall token after the guessing: %d %s", code, body)
	}
	if d := delayed(); d != before {
		t.Errorf("the known wall token waited its turn (delayed %v → %v)", before, d)
	}
	// A right token new to the slowed address waits its turn or is told
	// when to come back, then works: slowed, not locked out.
	before = delayed()
	var codes []int
	for len(codes) < 10 {
		code, retry, body := authAttempt(t, here, api, "Bearer "+s.tokens[config.RoleTeam])
		codes = append(codes, code)
		if code == 200 {
			break
		}
		if code != http.StatusTooManyRequests {
			t.Fatalf("right token new to the slowed address: %d %s", code, body)
		}
		n, _ := strconv.Atoi(retry)
		time.Sleep(time.Duration(n) * time.Second)
	}
	if codes[len(codes)-1] != 200 {
		t.Fatalf("right token new to the slowed address never got in: %v", codes)
	}
	if codes[0] != http.StatusTooManyRequests && delayed() == before {
		t.Errorf("right token new to the slowed address got in at once: %v", codes)
	}
	t.Logf("right token new to the slowed address: %v, delayed %v → %v", codes, before, delayed())

	// Another address: 401 at once, and its right tokens are not held.
	before = delayed()
	if code, _, _ := authAttempt(t, there, api, "Bearer wrong-guess-other-abcdefgh"); code != http.StatusUnauthorized {
		t.Errorf("another address, wrong token: %d, want 401", code)
	}
	if code, _, _ := authAttempt(t, there, api, "Bearer "+s.tokens[config.RoleCommander]); code != 200 {
		t.Errorf("another address, right token: %d", code)
	}
	if d := delayed(); d != before {
		t.Errorf("another address waited (delayed %v → %v)", before, d)
	}

	// Other reasons.
	if code, _, _ := authAttempt(t, there, api, ""); code != http.StatusUnauthorized {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := authAttempt(t, there, api, "Basic d2FsbDpzZWNyZXRzZWNyZXQ="); code != http.StatusUnauthorized {
		t.Errorf("basic: %d", code)
	}
	if failures("no_credentials") < 1 || failures("bad_scheme") != 1 {
		t.Errorf("no_credentials %v, bad_scheme %v", failures("no_credentials"), failures("bad_scheme"))
	}

	// The log: few lines, with address and reason, no token.
	var lines []string
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, `msg="authentication failed"`) {
			lines = append(lines, l)
		}
	}
	var here1 int
	for _, l := range lines {
		if strings.Contains(l, "addr=127.0.0.1 ") {
			here1++
			if !strings.Contains(l, "reason=") || !strings.Contains(l, "component=auth") {
				t.Errorf("log line without reason or component: %s", l)
			}
		}
	}
	if here1 == 0 || here1 > 6 {
		t.Errorf("%d log lines for 127.0.0.1's %d failures, want 1..6:\n%s", here1, guesses, strings.Join(lines, "\n"))
	}
	logs := s.logs.String()
	for _, secret := range []string{"wrong-guess", "abcdefgh", "d2FsbDpzZWNyZXRzZWNyZXQ", s.tokens[config.RoleWall], s.tokens[config.RoleTeam]} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	t.Logf("log lines:\n%s", strings.Join(lines, "\n"))
}

// TestFailedSignIn: the sign-in form and a ?token= link are counted and
// slowed like a bearer token.
func TestFailedSignIn(t *testing.T) {
	s := startServer(t, func(c *config.Config) {
		c.Auth.FailureBurst = 3
		c.Auth.FailureInterval = time.Minute
		c.Auth.FailureMaxWait = 0
	})
	tr := fromAddr("127.0.0.3")
	defer tr.CloseIdleConnections()
	signIn := func(tok string) int {
		form := url.Values{"token": {tok}, "next": {"/wall"}}
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, s.url+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", s.url)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	link := func(tok string) int {
		req, _ := http.NewRequest(http.MethodGet, s.url+"/wall?token="+url.QueryEscape(tok), nil)
		req.Header.Set("Sec-Fetch-Site", "none")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var got []int
	got = append(got, signIn("wrong-sign-in-1-abcdef"), link("wrong-link-1-abcdef"), signIn("wrong-sign-in-2-abcdef"))
	got = append(got, signIn("wrong-sign-in-3-abcdef"), link("wrong-link-2-abcdef"))
	want := []int{401, 401, 401, 429, 429}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sign-ins and links: %v, want %v", got, want)
	}
	if v, _ := metric(t, s.reg, "citywall_auth_failures_total", map[string]string{"reason": "bad_token"}); v != 3 {
		t.Errorf("bad_token %v, want 3", v)
	}
	if v, _ := metric(t, s.reg, "citywall_auth_failures_total", map[string]string{"reason": "throttled"}); v != 2 {
		t.Errorf("throttled %v, want 2", v)
	}
	// Another address signs in.
	other := fromAddr("127.0.0.4")
	defer other.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, s.url+"/wall?token="+url.QueryEscape(s.tokens[config.RoleWall]), nil)
	req.Header.Set("Sec-Fetch-Site", "none")
	resp, err := other.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-in by link from another address: %d, want 303", resp.StatusCode)
	}
}
