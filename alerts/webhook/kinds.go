package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kinds of target: the body and the signature each receiver expects.
const (
	KindGeneric  = "generic"
	KindWeCom    = "wecom"
	KindDingTalk = "dingtalk"
	KindFeishu   = "feishu"
)

// SignatureHeader carries a generic target's signature:
// "sha256=" and the hex HMAC-SHA256 of the body keyed by the secret.
const SignatureHeader = "X-Citywall-Signature"

// request builds one post to t: each kind's body, signed as its platform
// documents, at now (DingTalk and Feishu refuse an old timestamp, so every
// attempt is signed anew).
func request(ctx context.Context, t Target, p Payload, m *message, now time.Time) (*http.Request, error) {
	target := t.URL
	var body any
	switch t.Kind {
	case KindWeCom:
		body = wecomBody(m)
	case KindDingTalk:
		body = dingtalkBody(m)
		if t.Secret != "" {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			u, err := url.Parse(t.URL)
			if err != nil {
				return nil, fmt.Errorf("target url does not parse")
			}
			q := u.Query()
			q.Set("timestamp", ts)
			q.Set("sign", DingTalkSign(t.Secret, ts))
			u.RawQuery = q.Encode()
			target = u.String()
		}
	case KindFeishu:
		fb := feishuBody(m)
		if t.Secret != "" {
			fb.Timestamp = strconv.FormatInt(now.Unix(), 10)
			fb.Sign = FeishuSign(t.Secret, fb.Timestamp)
		}
		body = fb
	case KindGeneric, "":
		p.Text.Content = m.generic
		p.Link = m.Link
		body = p
	default:
		return nil, fmt.Errorf("unknown kind %q", t.Kind)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("target url does not parse")
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if (t.Kind == KindGeneric || t.Kind == "") && t.Secret != "" {
		req.Header.Set(SignatureHeader, GenericSign(t.Secret, b))
	}
	return req, nil
}

// DingTalkSign is a DingTalk robot's 加签: base64 of HMAC-SHA256 keyed by
// the secret over "timestamp\nsecret" (timestamp in milliseconds). The
// caller URL-encodes it into the query (url.Values does).
func DingTalkSign(secret, timestamp string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// FeishuSign is a Feishu / Lark bot's signature: base64 of HMAC-SHA256
// keyed by "timestamp\nsecret" over nothing (timestamp in seconds).
func FeishuSign(secret, timestamp string) string {
	h := hmac.New(sha256.New, []byte(timestamp+"\n"+secret))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// GenericSign is the value of SignatureHeader for body.
func GenericSign(secret string, body []byte) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

// wecomBody is a WeCom group robot's message. Markdown mentions by userid
// (<@userid>) only; someone known by mobile alone is reached by a text
// message's mentioned_mobile_list, so then the message goes as text.
func wecomBody(m *message) any {
	var ids, mobiles []string
	byMobile := false
	for _, p := range m.Mentions {
		if p.UserID != "" {
			ids = append(ids, p.UserID)
		} else if p.Mobile != "" {
			mobiles = append(mobiles, p.Mobile)
			byMobile = true
		}
	}
	if byMobile {
		type text struct {
			Content             string   `json:"content"`
			MentionedList       []string `json:"mentioned_list,omitempty"`
			MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
		}
		return struct {
			MsgType string `json:"msgtype"`
			Text    text   `json:"text"`
		}{"text", text{Content: m.text(""), MentionedList: ids, MentionedMobileList: mobiles}}
	}
	var at []string
	for _, id := range ids {
		at = append(at, "<@"+id+">")
	}
	return struct {
		MsgType  string            `json:"msgtype"`
		Markdown map[string]string `json:"markdown"`
	}{"markdown", map[string]string{"content": m.markdown(strings.Join(at, " "))}}
}

// dingtalkBody is a DingTalk custom robot's markdown message: the people
// in at.atMobiles / at.atUserIds are called only when the text names them
// too (@mobile, @userId).
func dingtalkBody(m *message) any {
	type at struct {
		AtMobiles []string `json:"atMobiles,omitempty"`
		AtUserIDs []string `json:"atUserIds,omitempty"`
		IsAtAll   bool     `json:"isAtAll"`
	}
	var a at
	var names []string
	for _, p := range m.Mentions {
		switch {
		case p.Mobile != "":
			a.AtMobiles = append(a.AtMobiles, p.Mobile)
			names = append(names, "@"+p.Mobile)
		case p.UserID != "":
			a.AtUserIDs = append(a.AtUserIDs, p.UserID)
			names = append(names, "@"+p.UserID)
		}
	}
	return struct {
		MsgType  string            `json:"msgtype"`
		Markdown map[string]string `json:"markdown"`
		At       at                `json:"at"`
	}{"markdown", map[string]string{"title": m.Title, "text": m.markdown(strings.Join(names, " "))}, a}
}

type feishuMessage struct {
	Timestamp string            `json:"timestamp,omitempty"`
	Sign      string            `json:"sign,omitempty"`
	MsgType   string            `json:"msg_type"`
	Content   map[string]string `json:"content"`
}

// feishuBody is a Feishu / Lark bot's text message; it mentions by
// open_id or user_id only (<at user_id="ou_…">name</at>).
func feishuBody(m *message) feishuMessage {
	var at []string
	for _, p := range m.Mentions {
		if p.UserID != "" {
			at = append(at, fmt.Sprintf(`<at user_id="%s">%s</at>`, p.UserID, p.Name))
		}
	}
	return feishuMessage{MsgType: "text", Content: map[string]string{"text": m.text(strings.Join(at, " "))}}
}

// robotAnswer is what the robots answer: WeCom and DingTalk
// {"errcode":0,"errmsg":"ok"}, Feishu {"code":0,"msg":"success"} (older
// bots {"StatusCode":0,"StatusMessage":"success"}). Each answers an
// error with HTTP 200 and a code in the body.
type robotAnswer struct {
	ErrCode       *int   `json:"errcode"`
	ErrMsg        string `json:"errmsg"`
	Code          *int   `json:"code"`
	Msg           string `json:"msg"`
	StatusCode    *int   `json:"StatusCode"`
	StatusMessage string `json:"StatusMessage"`
}

// checkAnswer reads a 2xx answer: nil when the robot took the message.
func checkAnswer(kind string, body []byte) error {
	if kind == KindGeneric || kind == "" {
		return nil
	}
	var a robotAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("%s answered something unreadable: %q", kind, cut(string(body), 200))
	}
	code, msg := a.ErrCode, a.ErrMsg
	if kind == KindFeishu {
		code, msg = a.Code, a.Msg
		if code == nil {
			code, msg = a.StatusCode, a.StatusMessage
		}
	}
	switch {
	case code == nil:
		return fmt.Errorf("%s answered without a result code: %q", kind, cut(string(body), 200))
	case *code != 0:
		return &robotError{kind: kind, code: *code, msg: cut(msg, 300)}
	}
	return nil
}

// robotError is a robot's refusal in a 2xx answer.
type robotError struct {
	kind string
	code int
	msg  string
}

func (e *robotError) Error() string {
	return fmt.Sprintf("%s answered code %d: %s", e.kind, e.code, e.msg)
}
