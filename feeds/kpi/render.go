package kpi

import (
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"strconv"
)

// metric is one line of the daily report.
type metric struct {
	Key, Zh, En string
	Value       string
	Num, Den    string
}

func fmtRate(r Rate) string {
	if r.Value == nil {
		return ""
	}
	return strconv.FormatFloat(*r.Value, 'f', 4, 64)
}

func fmtPtr(p *float64, prec int) string {
	if p == nil {
		return ""
	}
	return strconv.FormatFloat(*p, 'f', prec, 64)
}

func (r Report) metrics() []metric {
	i := strconv.Itoa
	rateM := func(key, zh, en string, x Rate) metric {
		return metric{key, zh, en, fmtRate(x), i(x.Num), i(x.Den)}
	}
	return []metric{
		{"calls_offered", "来电量", "Calls offered", i(r.CallsOffered), "", ""},
		{"calls_answered", "接通量", "Calls answered", i(r.CallsAnswered), "", ""},
		{"calls_abandoned", "放弃量", "Calls abandoned", i(r.CallsAbandoned), "", ""},
		rateM("answer_rate", "接通率", "Answer rate", r.AnswerRate),
		{"avg_wait_s", "平均等待(秒)", "Average wait (s)", fmtPtr(r.AvgWait, 1), "", ""},
		{"calls_last_week", "上周同日来电量", "Calls, same weekday last week", i(r.CallsLastWeek), "", ""},
		{"tickets", "受理工单量", "Requests received", i(r.Tickets), "", ""},
		{"tickets_last_week", "上周同日工单量", "Requests, same weekday last week", i(r.TicketsLastWeek), "", ""},
		{"volume_change", "工单量同比上周", "Requests vs last week", fmtPtr(r.VolumeChange, 4), "", ""},
		rateM("response_30m", "30分钟响应率", "30-minute response", r.Response),
		rateM("completion", "办结率", "Completion rate", r.Completion),
		rateM("satisfaction", "满意率", "Satisfaction rate", r.Satisfaction),
		rateM("direct_resolution", "直办率", "Direct resolution rate", r.DirectResolve),
		{"open", "未办结", "Still open", i(r.Open), "", ""},
	}
}

// CSV writes the report as CSV with a header line: one metric a row,
// rates as fractions with their numerator and denominator.
func (r Report) CSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"date", "metric", "name_zh", "name_en", "value", "numerator", "denominator"})
	for _, m := range r.metrics() {
		_ = cw.Write([]string{r.Date, m.Key, m.Zh, m.En, m.Value, m.Num, m.Den})
	}
	for h, x := range r.Hourly {
		_ = cw.Write([]string{r.Date, fmt.Sprintf("hour_%02d_tickets", h), fmt.Sprintf("%02d时工单量", h), fmt.Sprintf("Requests %02d:00", h), strconv.Itoa(x.Tickets), "", ""})
		_ = cw.Write([]string{r.Date, fmt.Sprintf("hour_%02d_calls", h), fmt.Sprintf("%02d时来电量", h), fmt.Sprintf("Calls %02d:00", h), strconv.Itoa(x.Offered), "", ""})
	}
	cw.Flush()
	return cw.Error()
}

// HTML writes the report as a print-friendly page in zh-CN or English,
// titled with the city's name.
func (r Report) HTML(w io.Writer, lang, city string) error {
	type row struct {
		Name, Value, Detail string
	}
	en := lang == "en"
	var rows []row
	for _, m := range r.metrics() {
		name := m.Zh
		if en {
			name = m.En
		}
		v := m.Value
		if v == "" {
			v = "—"
		} else if m.Den != "" || m.Key == "volume_change" {
			f, _ := strconv.ParseFloat(m.Value, 64)
			v = strconv.FormatFloat(f*100, 'f', 1, 64) + " %"
			if m.Key == "volume_change" && f > 0 {
				v = "+" + v
			}
		}
		d := ""
		if m.Den != "" {
			d = m.Num + " / " + m.Den
		}
		rows = append(rows, row{name, v, d})
	}
	t := map[bool]map[string]string{
		false: {"lang": "zh-CN", "title": "12345热线日报", "metric": "指标", "value": "数值", "detail": "计算", "hour": "时段", "tickets": "工单", "calls": "来电", "asof": "统计截至", "zone": "时区"},
		true:  {"lang": "en", "title": "12345 hotline daily report", "metric": "Metric", "value": "Value", "detail": "From", "hour": "Hour", "tickets": "Requests", "calls": "Calls", "asof": "As of", "zone": "Time zone"},
	}[en]
	return reportTmpl.Execute(w, map[string]any{"T": t, "City": city, "R": r, "Rows": rows})
}

var reportTmpl = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="{{.T.lang}}"><head><meta charset="utf-8">
<title>{{.City}} {{.T.title}} {{.R.Date}}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/css/report.css">
</head><body>
<h1>{{.City}} {{.T.title}} — {{.R.Date}}</h1>
<p class="meta">{{.T.asof}} {{.R.AsOf.Format "2006-01-02 15:04:05 UTC"}} · {{.T.zone}} {{.R.Zone}}</p>
<table id="metrics"><thead><tr><th>{{.T.metric}}</th><th>{{.T.value}}</th><th>{{.T.detail}}</th></tr></thead><tbody>
{{range .Rows}}<tr><td>{{.Name}}</td><td class="n">{{.Value}}</td><td class="n">{{.Detail}}</td></tr>
{{end}}</tbody></table>
<table id="hourly"><thead><tr><th>{{.T.hour}}</th><th>{{.T.tickets}}</th><th>{{.T.calls}}</th></tr></thead><tbody>
{{range $h, $x := .R.Hourly}}<tr><td>{{printf "%02d:00" $h}}</td><td class="n">{{$x.Tickets}}</td><td class="n">{{$x.Offered}}</td></tr>
{{end}}</tbody></table>
</body></html>
`))
