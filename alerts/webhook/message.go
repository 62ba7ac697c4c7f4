package webhook

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/citywall/citywall/alerts"
)

// Member is a team member as a chat robot @-mentions the person.
type Member struct {
	Name   string // token name, for the log only
	Mobile string // DingTalk and WeCom mention by mobile
	UserID string // the platform's own id (WeCom userid, DingTalk userId, Feishu open_id)
}

// message is what every kind says about one notification, before each
// puts it in its own body.
type message struct {
	Title    string // one line: 【告警 Firing】龙华区供水排水聚集
	Lines    [][2]string
	Link     string // to the alert on the team page; "" when none
	Mentions []Member
	Items    []item // a digest's notifications, each a line of its own
	generic  string // a generic target's text.content, as earlier releases sent it, and the link
}

// item is one notification in a digest.
type item struct {
	Head string // 【告警 Firing】龙华区供水排水聚集
	Text string // place, state and id
	Link string
}

var verbs = map[alerts.Event][2]string{
	alerts.EventFiring:       {"告警", "Firing"},
	alerts.EventRenotify:     {"仍未确认", "Still unacknowledged"},
	alerts.EventEscalated:    {"超时升级", "Escalated"},
	alerts.EventAcknowledged: {"已确认", "Acknowledged"},
	alerts.EventResolved:     {"已解除", "Resolved"},
}

// mentioning are the events that call people: the others only tell.
var mentioning = []alerts.Event{alerts.EventFiring, alerts.EventRenotify, alerts.EventEscalated}

func newMessage(n alerts.Notification, link string, mentions []Member) *message {
	a := n.Alert
	v := verbs[n.Event]
	m := &message{Title: fmt.Sprintf("【%s %s】%s", v[0], v[1], a.Title), Link: link}
	if slices.Contains(mentioning, n.Event) {
		m.Mentions = mentions
	}
	add := func(label, value string) {
		if value != "" {
			m.Lines = append(m.Lines, [2]string{label, value})
		}
	}
	add("事件 Alert", a.TitleEn)
	place := a.District
	if a.Lat != 0 || a.Lng != 0 {
		place = strings.TrimPrefix(fmt.Sprintf("%s · %.5f, %.5f", place, a.Lat, a.Lng), " · ")
	}
	add("地点 Place", place)
	if c := a.Cluster; c != nil {
		add("工单 Tickets", fmt.Sprintf("%d 件，预期 %.1f 件（%s 内）· %d against %.1f expected in %s",
			c.Count, c.Expected, c.Window, c.Count, c.Expected, c.Window))
	}
	add("详情 Detail", cut(a.Detail, 300))
	add("摄像头 Cameras", cameras(a))
	add("状态 State", state(a))
	add("编号 ID", a.ID)
	m.generic = fmt.Sprintf("【%s】%s / %s (%s)", v[0], a.Title, a.TitleEn, a.ID)
	if a.AckedBy != "" && n.Event == alerts.EventAcknowledged {
		m.generic += " — " + a.AckedBy
	}
	if link != "" {
		m.generic += "\n" + link
	}
	return m
}

// newDigest is one message of several notifications (what waited for a
// robot's rate limit): a line each, with its own link; it calls everyone
// that one of them calls.
func newDigest(ns []alerts.Notification, links []string, mentions [][]Member) *message {
	m := &message{Title: fmt.Sprintf("【汇总 Digest】%d 条预警通知 · %d notifications", len(ns), len(ns))}
	seen := map[string]bool{}
	for i, n := range ns {
		a := n.Alert
		v := verbs[n.Event]
		parts := []string{a.District, state(a), a.ID}
		m.Items = append(m.Items, item{Head: fmt.Sprintf("【%s %s】%s", v[0], v[1], cut(a.Title, 40)),
			Text: strings.Join(slices.DeleteFunc(parts, func(s string) bool { return s == "" }), " · "), Link: links[i]})
		if !slices.Contains(mentioning, n.Event) {
			continue
		}
		for _, p := range mentions[i] {
			if !seen[p.Name] {
				seen[p.Name] = true
				m.Mentions = append(m.Mentions, p)
			}
		}
	}
	return m
}

// Message sizes the robots take: WeCom's markdown content 4096 bytes and
// its text 2048; the others take more, held to the same.
const (
	maxMarkdown = 4096
	maxText     = 2048
)

// fits says whether t's body of m is within what the robot takes (with
// room for the mentions, which each kind writes its own way).
func fits(t Target, m *message) bool {
	room := 100 * len(m.Mentions)
	return len(m.markdown(""))+room <= maxMarkdown && len(m.text(""))+room <= maxText
}

// cameras names the nearest cameras, nearest first.
func cameras(a alerts.Alert) string {
	var names []string
	for i, id := range a.Cameras {
		if i == 3 {
			names = append(names, fmt.Sprintf("+%d", len(a.Cameras)-3))
			break
		}
		name := id
		for _, c := range a.CameraInfo {
			if c.ID == id && c.Name != "" {
				name = c.Name
			}
		}
		names = append(names, name)
	}
	return strings.Join(names, "、")
}

func state(a alerts.Alert) string {
	var s string
	switch a.State {
	case alerts.StateFiring:
		s = "未确认 unacknowledged"
	case alerts.StateAcknowledged:
		s = "已确认 acknowledged · " + a.AckedBy
		if a.AckNote != "" {
			s += "：" + cut(a.AckNote, 100)
		}
	case alerts.StateResolved:
		s = "已解除 resolved · " + a.ResolvedBy
		if a.Reason != "" {
			s += "：" + cut(a.Reason, 100)
		}
	default:
		s = string(a.State)
	}
	if a.Level > 0 {
		s += "（已升级值班长 escalated）"
	}
	return s
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

const linkLabel = "打开处置 Open to acknowledge"

// markdown renders m for robots that take markdown (WeCom, DingTalk);
// mention is appended as it is.
func (m *message) markdown(mention string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s\n", mdEscape(m.Title))
	for _, l := range m.Lines {
		fmt.Fprintf(&b, "> **%s**：%s\n\n", l[0], mdEscape(l[1]))
	}
	for _, it := range m.Items {
		fmt.Fprintf(&b, "- **%s** %s", mdEscape(it.Head), mdEscape(it.Text))
		if it.Link != "" {
			fmt.Fprintf(&b, " [%s](%s)", "打开 Open", it.Link)
		}
		b.WriteString("\n")
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "[%s](%s)\n", linkLabel, m.Link)
	}
	if mention != "" {
		b.WriteString("\n" + mention)
	}
	return b.String()
}

// text renders m as plain text.
func (m *message) text(mention string) string {
	var b strings.Builder
	b.WriteString(m.Title + "\n")
	for _, l := range m.Lines {
		fmt.Fprintf(&b, "%s：%s\n", l[0], l[1])
	}
	for _, it := range m.Items {
		fmt.Fprintf(&b, "%s %s\n", it.Head, it.Text)
		if it.Link != "" {
			b.WriteString(it.Link + "\n")
		}
	}
	if m.Link != "" {
		fmt.Fprintf(&b, "%s：%s\n", linkLabel, m.Link)
	}
	if mention != "" {
		b.WriteString(mention)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// mdEscape keeps text from outside (titles, notes) from turning into
// markdown links or headings.
var mdEscape = strings.NewReplacer("[", "［", "]", "］", "<", "‹", ">", "›", "\n", " ", "#", "＃", "*", "＊", "`", "'").Replace
