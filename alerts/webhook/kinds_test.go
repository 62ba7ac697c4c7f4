package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/alerts/webhook"
)

// clusterNote is a firing cluster alert with everything a message shows.
func clusterNote(ev alerts.Event, teams ...string) alerts.Notification {
	a := alerts.Alert{ID: "A42", State: alerts.StateFiring, Teams: teams, Signal: alerts.Signal{
		Source: "cluster", Title: "龙华区供水排水聚集", TitleEn: "Water cluster in Longhua", District: "龙华区",
		Lat: 20.0301, Lng: 110.3302, Cameras: []string{"cam-3", "cam-7"},
		CameraInfo: []alerts.CameraRef{{ID: "cam-3", Name: "金贸路口"}, {ID: "cam-7", Name: "滨海大道"}},
		Cluster:    &alerts.Cluster{Count: 12, Expected: 2.3, Window: "30m"},
	}}
	if ev == alerts.EventAcknowledged {
		a.State, a.AckedBy = alerts.StateAcknowledged, "team-longhua-1"
	}
	if ev == alerts.EventEscalated {
		a.Level = 1
	}
	return alerts.Notification{Event: ev, Alert: a, Teams: teams, Time: time.Now()}
}

var directory = map[string][]webhook.Member{
	"longhua": {{Name: "team-1", Mobile: "13800000001", UserID: "ou_team1"}, {Name: "team-2", Mobile: "13800000002"}},
	"duty":    {{Name: "commander-1", Mobile: "13900000009", UserID: "ou_duty"}},
}

// receiver is a robot: check reads one post as the platform would and
// returns the robot's answer, or an error saying what it refused.
type receiver struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	posts []map[string]any
	errs  []error
}

func newReceiver(t *testing.T, check func(r *http.Request, body []byte, msg map[string]any) (string, error)) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var msg map[string]any
		err := json.Unmarshal(body, &msg)
		answer := ""
		if err == nil {
			answer, err = check(r, body, msg)
		}
		rc.mu.Lock()
		rc.posts = append(rc.posts, msg)
		if err != nil {
			rc.errs = append(rc.errs, err)
		}
		rc.mu.Unlock()
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) last() map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.errs) > 0 {
		rc.t.Fatalf("the receiver refused: %v", rc.errs)
	}
	if len(rc.posts) == 0 {
		rc.t.Fatal("nothing posted")
	}
	return rc.posts[len(rc.posts)-1]
}

// get walks a decoded JSON body: get(m, "markdown", "text").
func get(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func str(m map[string]any, path ...string) string { s, _ := get(m, path...).(string); return s }

func strs(m map[string]any, path ...string) []string {
	var out []string
	for _, x := range func() []any { l, _ := get(m, path...).([]any); return l }() {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

func hmacB64(key, msg string) string {
	h := hmac.New(sha256.New, []byte(key))
	h.Write([]byte(msg))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

const link = "https://wall.example.gov.cn/team-link?a=A42&t=xyz"

// try sends n to t once through a sender with the directory and a link.
func try(t *testing.T, tg webhook.Target, n alerts.Notification) (webhook.Answer, error) {
	t.Helper()
	s := webhook.New([]webhook.Target{tg}, webhook.Options{
		Members: func(team string) []webhook.Member { return directory[team] },
		Link:    func(alerts.Alert) string { return link },
	})
	return s.Try(context.Background(), tg, n)
}

func wantLines(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, w := range append(wants, "龙华区供水排水聚集", "龙华区", "12", "2.3", "30m", "金贸路口", "滨海大道", link) {
		if !strings.Contains(text, w) {
			t.Errorf("message lacks %q:\n%s", w, text)
		}
	}
}

// TestDingTalk: markdown, signed as DingTalk documents 加签 (the query's
// timestamp in ms and sign = urlEncode(base64(HmacSHA256(secret,
// timestamp+"\n"+secret)))), the members by mobile in at.atMobiles and
// named in the text.
func TestDingTalk(t *testing.T) {
	const secret = "SEC0123456789abcdef"
	rc := newReceiver(t, func(r *http.Request, _ []byte, msg map[string]any) (string, error) {
		q := r.URL.Query()
		if q.Get("access_token") != "tok123" {
			return "", fmt.Errorf("access_token %q", q.Get("access_token"))
		}
		ts := q.Get("timestamp")
		ms, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
			return `{"errcode":310000,"errmsg":"timestamp"}`, fmt.Errorf("timestamp %q", ts)
		}
		want := hmacB64(secret, ts+"\n"+secret)
		if q.Get("sign") != want {
			return `{"errcode":310000,"errmsg":"sign not match"}`, fmt.Errorf("sign %q, want %q", q.Get("sign"), want)
		}
		if strings.ContainsAny(want, "+/=") && !strings.Contains(r.URL.RawQuery, "sign="+strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(want)) {
			return "", fmt.Errorf("sign not URL-encoded: %s", r.URL.RawQuery)
		}
		if str(msg, "msgtype") != "markdown" || str(msg, "markdown", "title") == "" || str(msg, "markdown", "text") == "" {
			return `{"errcode":300001,"errmsg":"param error"}`, fmt.Errorf("body %v", msg)
		}
		return `{"errcode":0,"errmsg":"ok"}`, nil
	})
	tg := webhook.Target{Name: "ding", URL: rc.srv.URL + "/robot/send?access_token=tok123", Kind: webhook.KindDingTalk, Secret: secret}
	a, err := try(t, tg, clusterNote(alerts.EventFiring, "longhua"))
	if err != nil || a.Status != 200 || !strings.Contains(a.Body, `"errcode":0`) {
		t.Fatalf("answer %+v, %v", a, err)
	}
	msg := rc.last()
	text := str(msg, "markdown", "text")
	wantLines(t, text, "@13800000001", "@13800000002")
	if got := strs(msg, "at", "atMobiles"); !slices.Equal(got, []string{"13800000001", "13800000002"}) {
		t.Errorf("atMobiles %v", got)
	}
	if get(msg, "at", "isAtAll") != false {
		t.Errorf("isAtAll %v", get(msg, "at", "isAtAll"))
	}

	// Escalated: the duty commander too; acknowledged: nobody is called.
	if _, err := try(t, tg, clusterNote(alerts.EventEscalated, "longhua", "duty")); err != nil {
		t.Fatal(err)
	}
	if got := strs(rc.last(), "at", "atMobiles"); !slices.Contains(got, "13900000009") {
		t.Errorf("escalation mentions %v, want the duty commander", got)
	}
	if _, err := try(t, tg, clusterNote(alerts.EventAcknowledged, "longhua")); err != nil {
		t.Fatal(err)
	}
	msg = rc.last()
	if got := strs(msg, "at", "atMobiles"); len(got) != 0 || strings.Contains(str(msg, "markdown", "text"), "@138") {
		t.Errorf("acknowledged mentions %v", got)
	}
	if !strings.Contains(str(msg, "markdown", "text"), "team-longhua-1") {
		t.Errorf("acknowledged message does not say who: %s", str(msg, "markdown", "text"))
	}
}

// TestFeishu: text, signed as Feishu documents (body's timestamp in
// seconds and sign = base64(HmacSHA256(key=timestamp+"\n"+secret, ""))),
// members by user id as <at user_id="…">.
func TestFeishu(t *testing.T) {
	const secret = "feishu-secret-42"
	rc := newReceiver(t, func(r *http.Request, _ []byte, msg map[string]any) (string, error) {
		ts := str(msg, "timestamp")
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || time.Since(time.Unix(sec, 0)).Abs() > time.Hour {
			return `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, fmt.Errorf("timestamp %q", ts)
		}
		if want := hmacB64(ts+"\n"+secret, ""); str(msg, "sign") != want {
			return `{"code":19021,"msg":"sign match fail"}`, fmt.Errorf("sign %q, want %q", str(msg, "sign"), want)
		}
		if str(msg, "msg_type") != "text" || str(msg, "content", "text") == "" {
			return `{"code":9499,"msg":"Bad Request"}`, fmt.Errorf("body %v", msg)
		}
		return `{"code":0,"data":{},"msg":"success"}`, nil
	})
	tg := webhook.Target{Name: "lark", URL: rc.srv.URL + "/open-apis/bot/v2/hook/abcd-1234", Kind: webhook.KindFeishu, Secret: secret}
	if _, err := try(t, tg, clusterNote(alerts.EventFiring, "longhua")); err != nil {
		t.Fatal(err)
	}
	text := str(rc.last(), "content", "text")
	wantLines(t, text, `<at user_id="ou_team1">team-1</at>`)
	if strings.Contains(text, "team-2") {
		t.Errorf("a member without a user id cannot be mentioned on Feishu: %s", text)
	}
}

// TestWeCom: markdown mentioning by <@userid>; when someone is known by
// mobile only, text with mentioned_mobile_list (markdown cannot).
func TestWeCom(t *testing.T) {
	rc := newReceiver(t, func(r *http.Request, _ []byte, msg map[string]any) (string, error) {
		if r.URL.Query().Get("key") != "wk" {
			return `{"errcode":93000,"errmsg":"invalid webhook url"}`, fmt.Errorf("key")
		}
		switch str(msg, "msgtype") {
		case "markdown":
			if c := str(msg, "markdown", "content"); c == "" || len(c) > 4096 {
				return `{"errcode":40058,"errmsg":"markdown.content exceed max length 4096"}`, fmt.Errorf("content %d bytes", len(c))
			}
		case "text":
			if c := str(msg, "text", "content"); c == "" || len(c) > 2048 {
				return `{"errcode":40058,"errmsg":"content exceed max length 2048"}`, fmt.Errorf("content %d bytes", len(c))
			}
		default:
			return `{"errcode":40008,"errmsg":"invalid message type"}`, fmt.Errorf("msgtype %v", msg["msgtype"])
		}
		return `{"errcode":0,"errmsg":"ok"}`, nil
	})
	tg := webhook.Target{Name: "wecom", URL: rc.srv.URL + "/cgi-bin/webhook/send?key=wk", Kind: webhook.KindWeCom}
	if _, err := try(t, tg, clusterNote(alerts.EventFiring, "duty")); err != nil {
		t.Fatal(err)
	}
	msg := rc.last()
	wantLines(t, str(msg, "markdown", "content"), "<@ou_duty>")

	if _, err := try(t, tg, clusterNote(alerts.EventFiring, "longhua")); err != nil {
		t.Fatal(err)
	}
	msg = rc.last()
	if str(msg, "msgtype") != "text" {
		t.Fatalf("a member known by mobile only: %v, want text", msg["msgtype"])
	}
	wantLines(t, str(msg, "text", "content"))
	if got := strs(msg, "text", "mentioned_mobile_list"); !slices.Equal(got, []string{"13800000002"}) {
		t.Errorf("mentioned_mobile_list %v", got)
	}
	if got := strs(msg, "text", "mentioned_list"); !slices.Equal(got, []string{"ou_team1"}) {
		t.Errorf("mentioned_list %v", got)
	}
}

// TestGeneric: the JSON of earlier releases and, with a secret,
// X-Citywall-Signature: sha256=hex(HMAC-SHA256(secret, body)).
func TestGeneric(t *testing.T) {
	const secret = "generic-secret"
	rc := newReceiver(t, func(r *http.Request, body []byte, msg map[string]any) (string, error) {
		h := hmac.New(sha256.New, []byte(secret))
		h.Write(body)
		if want := "sha256=" + hex.EncodeToString(h.Sum(nil)); r.Header.Get(webhook.SignatureHeader) != want {
			return "", fmt.Errorf("signature %q, want %q", r.Header.Get(webhook.SignatureHeader), want)
		}
		return "", nil
	})
	tg := webhook.Target{Name: "siem", URL: rc.srv.URL, Kind: webhook.KindGeneric, Secret: secret}
	if _, err := try(t, tg, clusterNote(alerts.EventFiring, "longhua")); err != nil {
		t.Fatal(err)
	}
	msg := rc.last()
	if str(msg, "msgtype") != "text" || str(msg, "event") != "firing" || str(msg, "alert", "id") != "A42" || str(msg, "link") != link ||
		!strings.Contains(str(msg, "text", "content"), "龙华区供水排水聚集") {
		t.Errorf("payload %v", msg)
	}
}

// TestRobotErrorIsAFailure: DingTalk answers 200 with errcode 310000 when
// the signature is wrong: retried, then a dead letter with the robot's
// reason and neither the secret nor the access token.
func TestRobotErrorIsAFailure(t *testing.T) {
	rc := newReceiver(t, func(*http.Request, []byte, map[string]any) (string, error) {
		return `{"errcode":310000,"errmsg":"sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq] token tok123secret"}`, nil
	})
	tg := webhook.Target{Name: "ding", URL: rc.srv.URL + "/robot/send?access_token=tok123secret", Kind: webhook.KindDingTalk, Secret: "SECwrong"}
	s := webhook.New([]webhook.Target{tg}, webhook.Options{Attempts: 3, Backoff: time.Millisecond})
	run(t, s)
	s.Notify(context.Background(), clusterNote(alerts.EventFiring, "longhua"))
	waitFor(t, "dead letter", func() bool { return len(s.DeadLetters()) == 1 })
	d := s.DeadLetters()[0]
	if d.Attempts != 3 || !strings.Contains(d.Error, "310000") || !strings.Contains(d.Error, "sign not match") {
		t.Errorf("dead letter %+v", d)
	}
	if strings.Contains(d.Error, "tok123secret") || strings.Contains(d.Error, "SECwrong") || strings.Contains(d.Host, "tok123") {
		t.Errorf("dead letter leaks a secret: %+v", d)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.posts) != 3 {
		t.Errorf("%d posts, want 3", len(rc.posts))
	}
}

// FuzzAnswer: no robot answer makes the reader panic, and only an answer
// with a zero result code is taken as delivered.
func FuzzAnswer(f *testing.F) {
	for _, s := range []string{`{"errcode":0,"errmsg":"ok"}`, `{"errcode":310000,"errmsg":"sign not match"}`,
		`{"code":0,"msg":"success"}`, `{"StatusCode":0}`, `{"code":"0"}`, `null`, ``, `<html>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, kind := range []string{webhook.KindDingTalk, webhook.KindFeishu, webhook.KindWeCom} {
			err := webhook.CheckAnswer(kind, []byte(body))
			if err == nil && !strings.Contains(body, "0") {
				t.Errorf("%s took %q as delivered", kind, body)
			}
		}
	})
}
