package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citywall/citywall/alerts"
	"github.com/citywall/citywall/cluster/redistest"
	"github.com/citywall/citywall/config"
	"github.com/citywall/citywall/internal/testkit"
)

// robotLinks is a DingTalk robot that keeps the links of the messages it
// receives.
type robotLinks struct {
	mu    sync.Mutex
	texts []string
}

func (r *robotLinks) serve(w http.ResponseWriter, req *http.Request) {
	var m struct {
		Markdown struct {
			Text string `json:"text"`
		} `json:"markdown"`
	}
	body, _ := io.ReadAll(req.Body)
	_ = json.Unmarshal(body, &m)
	r.mu.Lock()
	r.texts = append(r.texts, m.Markdown.Text)
	r.mu.Unlock()
	_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
}

var linkRe = regexp.MustCompile(`https://wall\.example\.gov\.cn(/team-link\?[^)\s]+)`)

// link waits for a message and returns the path and query of its link.
func (r *robotLinks) link(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		texts := append([]string(nil), r.texts...)
		r.mu.Unlock()
		for _, x := range texts {
			if m := linkRe.FindStringSubmatch(x); m != nil {
				return m[1]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no message with a link: %q", r.texts)
	return ""
}

// linkServer starts a server whose alerts go to a DingTalk robot with
// links under server.public_url, and fires one cluster alert.
func linkServer(t *testing.T) (*server, string) {
	robot := &robotLinks{}
	hook := httptest.NewServer(http.HandlerFunc(robot.serve))
	t.Cleanup(hook.Close)
	s := startServer(t, func(c *config.Config) {
		alertConfig(t, "")(c)
		c.Server.PublicURL = "https://wall.example.gov.cn/"
		c.Alerts.Webhooks = []config.Webhook{{URL: hook.URL + "/robot/send?access_token=tok", Kind: config.WebhookDingTalk, Secret: "SECrobot"}}
	})
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "cluster", Kind: "burst", Fingerprint: "cluster/供水排水/link",
		Severity: "critical", Title: "龙华区供水排水聚集：30分钟内9件（预期0.3）", TitleEn: "Cluster of water reports in Longhua",
		District: "龙华区", Category: "供水排水", Lat: 20.0325, Lng: 110.3235, Cameras: []string{"road-binhai"},
		CameraInfo: []alerts.CameraRef{{ID: "road-binhai", Name: "滨海大道国贸路口", NameEn: "Binhai Ave at Guomao Rd"}},
		Cluster:    &alerts.Cluster{Count: 9, Expected: 0.3, Score: 21, Window: "30m"}}); err != nil {
		t.Fatal(err)
	}
	return s, robot.link(t)
}

// TestAlertLinkAPI: the link in a robot's message shows its alert and
// acknowledges and resolves it without a token; it is refused for another
// alert or action, and is no bearer token for the rest of the API.
func TestAlertLinkAPI(t *testing.T) {
	s, link := linkServer(t)
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	id, tok := u.Query().Get("a"), u.Query().Get("t")
	if id == "" || tok == "" {
		t.Fatalf("link %s", link)
	}
	code, hdr, body := s.do(http.MethodGet, link, "", "", nil)
	if code != http.StatusOK || !strings.Contains(string(body), "js/teamlink.js") || hdr.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("the page: %d %v", code, hdr)
	}
	var a alertView
	s.getJSON("/api/v1/link/alerts/"+url.PathEscape(id)+"?token="+url.QueryEscape(tok), "", &a)
	if a.ID != id || a.State != "firing" || len(a.CameraInfo) != 1 {
		t.Fatalf("alert through the link: %+v", a)
	}
	post := func(path, body string) (int, []byte) {
		code, _, b := s.do(http.MethodPost, path, "", "application/json", strings.NewReader(body))
		return code, b
	}
	api := "/api/v1/link/alerts/" + url.PathEscape(id)
	tokJSON, _ := json.Marshal(tok)
	code, body = post("/api/v1/link/alerts/other/ack", `{"token":`+string(tokJSON)+`}`)
	checkError(t, "another alert", code, body, http.StatusForbidden, "link_invalid", "another alert")
	code, _, body = s.do(http.MethodGet, "/api/v1/link/alerts/other?token="+url.QueryEscape(tok), "", "", nil)
	checkError(t, "another alert shown", code, body, http.StatusForbidden, "link_invalid")
	code, body = post(api+"/silence", `{"token":`+string(tokJSON)+`}`)
	checkError(t, "another action", code, body, http.StatusForbidden, "link_invalid", "action")
	code, body = post(api+"/ack", `{"token":"`+tok[:len(tok)-3]+`xyz"}`)
	checkError(t, "tampered", code, body, http.StatusForbidden, "link_invalid")
	code, body = post(api+"/resolve", `{"token":`+string(tokJSON)+`}`)
	checkError(t, "resolve without a reason", code, body, http.StatusBadRequest, "reason_required")
	code, _, body = s.do(http.MethodPost, "/api/v1/alerts/"+url.PathEscape(id)+"/ack", tok, "application/json", nil)
	checkError(t, "the link's token as a bearer token", code, body, http.StatusUnauthorized, "unauthorized")

	code, body = post(api+"/ack", `{"token":`+string(tokJSON)+`,"name":"张三"}`)
	if code != http.StatusOK {
		t.Fatalf("ack through the link: %d %s", code, body)
	}
	if x, _ := s.app.Manager().Get(id); x.State != alerts.StateAcknowledged || x.AckedBy != "link:张三" {
		t.Errorf("after the ack: %s by %q", x.State, x.AckedBy)
	}
	code, body = post(api+"/ack", `{"token":`+string(tokJSON)+`}`)
	checkError(t, "a second ack", code, body, http.StatusConflict, "conflict")
	code, body = post(api+"/resolve", `{"token":`+string(tokJSON)+`,"reason":"阀门已关闭"}`)
	if code != http.StatusOK {
		t.Fatalf("resolve through the link: %d %s", code, body)
	}
	// Resolved: the link shows the alert as resolved and does nothing more.
	s.getJSON(api+"?token="+url.QueryEscape(tok), "", &a)
	if a.State != "resolved" || a.Reason != "阀门已关闭" {
		t.Errorf("after resolving: %+v", a)
	}
	code, body = post(api+"/resolve", `{"token":`+string(tokJSON)+`,"reason":"again"}`)
	checkError(t, "a second resolve", code, body, http.StatusConflict, "conflict")
	if strings.Contains(s.logs.String(), "SECrobot") || strings.Contains(s.logs.String(), "access_token=tok") {
		t.Error("the log shows the robot's secret or key")
	}
}

// TestNoPublicURLNoLink: without server.public_url the messages carry no
// link, the log says so, and the link API answers 404.
func TestNoPublicURLNoLink(t *testing.T) {
	robot := &robotLinks{}
	hook := httptest.NewServer(http.HandlerFunc(robot.serve))
	defer hook.Close()
	s := startServer(t, func(c *config.Config) {
		alertConfig(t, "")(c)
		c.Alerts.Webhooks = []config.Webhook{{URL: hook.URL, Kind: config.WebhookDingTalk}}
	})
	if err := s.app.Manager().Fire(context.Background(), alerts.Signal{Source: "feed", Fingerprint: "f", Title: "水位超警", District: "龙华区"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		robot.mu.Lock()
		n := len(robot.texts)
		robot.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no message")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(robot.texts[0], "team-link") {
		t.Errorf("a link without public_url: %s", robot.texts[0])
	}
	if n := strings.Count(s.logs.String(), "server.public_url is not set"); n != 1 {
		t.Errorf("the log says %d times that there is no public URL, want once", n)
	}
	code, _, body := s.do(http.MethodGet, "/api/v1/link/alerts/x?token=y", "", "", nil)
	checkError(t, "links off", code, body, http.StatusNotFound, "not_found", "public_url")
}

// linkStatus is what the link page shows.
type linkStatus struct {
	Cards  int    `json:"cards"`
	Title  string `json:"title"`
	Meta   string `json:"meta"`
	Cams   string `json:"cams"`
	Ack    bool   `json:"ack"`
	Res    bool   `json:"res"`
	Done   string `json:"done"`
	Banner string `json:"banner"`
}

const linkProbe = `(() => {
  const $ = (s) => document.querySelector(s);
  const card = $('#list .card');
  const shown = (s) => !!$(s) && $(s).getClientRects().length > 0; // laid out: neither hidden nor display: none
  return {
    cards: document.querySelectorAll('#list .card').length,
    title: card ? card.querySelector('.card-title').textContent : '',
    meta: card ? card.querySelector('.card-meta').textContent : '',
    cams: card && card.querySelector('.cams') ? card.querySelector('.cams').textContent : '',
    ack: shown('#ack'), res: shown('#resolve'),
    done: shown('#done') ? $('#done').textContent : '',
    banner: shown('#banner') ? $('#banner').textContent : '',
  };
})()`

// TestAlertLinkInBrowser opens the link of a robot's message on a
// phone-sized screen in headless Chromium, with no session: the alert
// shows with its camera; Acknowledge takes it, Resolve with a reason ends
// it.
func TestAlertLinkInBrowser(t *testing.T) {
	s, link := linkServer(t)
	b := startBrowser(t, 45*time.Second, 390, 844)
	bctx := b.ctx
	if err := chromedp.Do(bctx, chromedp.Navigate(s.url+link)); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	probe := func(what string, ok func(linkStatus) bool) linkStatus {
		t.Helper()
		st, done := evalUntil(t, bctx, "read the page", linkProbe, 20*time.Second, 100*time.Millisecond, ok)
		if !done {
			t.Fatalf("waiting for %s: page %+v", what, st)
		}
		return st
	}
	st := probe("the alert", func(st linkStatus) bool { return st.Cards == 1 })
	if !strings.Contains(st.Title, "龙华区供水排水聚集") || !strings.Contains(st.Cams, "滨海大道国贸路口") || !st.Ack || !st.Res || st.Banner != "" {
		t.Errorf("the page: %+v", st)
	}
	screenshot(t, bctx, "team-link-390x844.png")
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { document.querySelector('#name').value = '李四'; document.querySelector('#ack').click(); return true; })()`)); err != nil {
		t.Fatalf("tap Acknowledge: %v", err)
	}
	st = probe("the acknowledgement", func(st linkStatus) bool { return st.Done != "" })
	if st.Ack || !strings.Contains(st.Meta, "link:李四") || st.Banner != "" {
		t.Errorf("after acknowledging: %+v", st)
	}
	id, _ := url.Parse(link)
	if x, _ := s.app.Manager().Get(id.Query().Get("a")); x.State != alerts.StateAcknowledged || x.AckedBy != "link:李四" {
		t.Errorf("alert after the tap: %s by %q", x.State, x.AckedBy)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(() => { document.querySelector('#reason').value = '阀门已关闭'; document.querySelector('#resolve').click(); return true; })()`)); err != nil {
		t.Fatalf("tap Resolve: %v", err)
	}
	st = probe("the resolution", func(st linkStatus) bool {
		return !st.Res && st.Done != "" && strings.Contains(st.Meta, "阀门已关闭")
	})
	if x, _ := s.app.Manager().Get(id.Query().Get("a")); x.State != alerts.StateResolved {
		t.Errorf("alert after resolving: %s", x.State)
	}
	screenshot(t, bctx, "team-link-resolved-390x844.png")
	b.checkConsole()
}

// TestAlertLinkAcrossInstances: two instances on one Redis share the
// links' key: a link in a message the leader sent works on the other
// instance too, and the alert it acknowledges is acknowledged on both.
func TestAlertLinkAcrossInstances(t *testing.T) {
	robot := &robotLinks{}
	hook := httptest.NewServer(http.HandlerFunc(robot.serve))
	defer hook.Close()
	cfg, tokens := testConfig(t)
	cfg.Redis.Addrs = []string{redistest.Addr(t)}
	cfg.Redis.Prefix = redistest.Prefix(t)
	alertConfig(t, "")(&cfg)
	cfg.Alerts.StateFile = ""
	cfg.Server.PublicURL = "https://wall.example.gov.cn"
	cfg.Alerts.Webhooks = []config.Webhook{{URL: hook.URL + "/robot/send?access_token=tok", Kind: config.WebhookDingTalk}}
	a := startInstance(t, cfg, tokens, time.Now)
	b := startInstance(t, cfg, tokens, time.Now)
	if err := a.app.Manager().Fire(context.Background(), alerts.Signal{Source: "feed", Fingerprint: "f/link", Title: "南渡江水位超警",
		District: "龙华区"}); err != nil {
		t.Fatal(err)
	}
	link := robot.link(t)
	u, _ := url.Parse(link)
	id, tok := u.Query().Get("a"), u.Query().Get("t")
	tokJSON, _ := json.Marshal(tok)
	for _, s := range []*server{a, b} {
		testkit.Eventually(t, "the alert on "+s.url, 10*time.Second, 20*time.Millisecond, func() bool {
			_, ok := s.app.Manager().Get(id)
			return ok
		})
		var x alertView
		s.getJSON("/api/v1/link/alerts/"+url.PathEscape(id)+"?token="+url.QueryEscape(tok), "", &x)
		if x.ID != id {
			t.Fatalf("the link on %s: %+v", s.url, x)
		}
	}
	code, _, body := b.do(http.MethodPost, "/api/v1/link/alerts/"+url.PathEscape(id)+"/ack", "", "application/json",
		strings.NewReader(`{"token":`+string(tokJSON)+`}`))
	if code != http.StatusOK {
		t.Fatalf("ack on the other instance: %d %s", code, body)
	}
	testkit.Eventually(t, "the ack on both instances", 10*time.Second, 20*time.Millisecond, func() bool {
		x, _ := a.app.Manager().Get(id)
		return x.State == alerts.StateAcknowledged && x.AckedBy == "link"
	})
}
