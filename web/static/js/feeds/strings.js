// Strings of the flood, traffic and KPI widgets and map layers, zh-CN first.
// Kept here rather than in i18n.js so the feeds own their wording.

const zh = {
  'flood.title': '防汛监测',
  'traffic.title': '主干道路况',
  'kpi.title': '热线运行指标',
  'reservoir': '水库',
  'waterlogging': '积水点',
  'rain': '雨量站',
  'level': '水位',
  'warn': '警戒',
  'limit': '汛限',
  'inflow': '入库',
  'outflow': '出库',
  'depth': '积水',
  'state.nodata': '无数据',
  'state.normal': '正常',
  'state.warning': '超警戒',
  'state.danger': '危险',
  'state.warning.reservoir': '超警戒',
  'state.danger.reservoir': '超汛限',
  'state.warning.rain': '大雨',
  'state.danger.rain': '暴雨',
  'state.smooth': '畅通',
  'state.slow': '缓行',
  'state.congested': '拥堵',
  'state.jammed': '严重拥堵',
  'stale': '数据中断',
  'offline': '离线',
  'connecting': '连接中',
  'source.down': '数据源中断：{name}',
  'incidents': '交通事件',
  'incidents.none': '暂无交通事件',
  'incident.accident': '事故',
  'incident.roadworks': '施工',
  'incident.closure': '封闭',
  'jam': '拥堵告警',
  'roads.summary': '畅通 {a} · 缓行 {b} · 拥堵 {c} · 严重 {d}',
  'kpi.answer_rate': '接通率',
  'kpi.avg_wait': '平均等待',
  'kpi.calls': '今日来电',
  'kpi.tickets': '今日受理',
  'kpi.response': '30分钟响应率',
  'kpi.completion': '办结率',
  'kpi.satisfaction': '满意率',
  'kpi.direct': '直办率',
  'kpi.vs_last_week': '较上周同期 {p}',
  'kpi.last_week': '上周同期 {n}',
  'kpi.volume': '来电量（每15分钟） 今日 / 上周同日',
  'unit.s': '秒',
  'unit.calls': '通',
  'unit.tickets': '件',
  'nodata': '—',
  'updated': '{m} 分钟前',
};

const en = {
  'flood.title': 'Flood watch',
  'traffic.title': 'Main roads',
  'kpi.title': 'Hotline KPIs',
  'reservoir': 'Reservoirs',
  'waterlogging': 'Waterlogging',
  'rain': 'Rain gauges',
  'level': 'Level',
  'warn': 'warning',
  'limit': 'flood limit',
  'inflow': 'in',
  'outflow': 'out',
  'depth': 'Depth',
  'state.nodata': 'No data',
  'state.normal': 'Normal',
  'state.warning': 'Warning',
  'state.danger': 'Danger',
  'state.warning.reservoir': 'Above warning',
  'state.danger.reservoir': 'Above flood limit',
  'state.warning.rain': 'Heavy rain',
  'state.danger.rain': 'Rainstorm',
  'state.smooth': 'Smooth',
  'state.slow': 'Slow',
  'state.congested': 'Congested',
  'state.jammed': 'Jammed',
  'stale': 'STALE',
  'offline': 'Offline',
  'connecting': 'Connecting',
  'source.down': 'Source down: {name}',
  'incidents': 'Incidents',
  'incidents.none': 'No incidents',
  'incident.accident': 'Accident',
  'incident.roadworks': 'Road works',
  'incident.closure': 'Closure',
  'jam': 'Jam alert',
  'roads.summary': 'Smooth {a} · Slow {b} · Congested {c} · Jammed {d}',
  'kpi.answer_rate': 'Answer rate',
  'kpi.avg_wait': 'Average wait',
  'kpi.calls': 'Calls today',
  'kpi.tickets': 'Requests today',
  'kpi.response': '30-min response',
  'kpi.completion': 'Completion',
  'kpi.satisfaction': 'Satisfaction',
  'kpi.direct': 'Direct resolution',
  'kpi.vs_last_week': '{p} vs last week',
  'kpi.last_week': 'last week {n}',
  'kpi.volume': 'Calls per 15 min, today / same day last week',
  'unit.s': 's',
  'unit.calls': '',
  'unit.tickets': '',
  'nodata': '—',
  'updated': '{m} min ago',
};

// feedsT returns t(key, vars) for lang ('zh' | 'en').
export function feedsT(lang) {
  const table = lang === 'en' ? en : zh;
  const t = (key, vars) => {
    let s = table[key] ?? zh[key] ?? key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  };
  t.lang = lang === 'en' ? 'en' : 'zh';
  t.label = (v) => (t.lang === 'en' && v.name_en ? v.name_en : v.name);
  t.sub = (v) => (t.lang === 'en' ? v.name : v.name_en || '');
  t.state = (v) => {
    const k = 'state.' + v.state + '.' + v.kind;
    return table[k] ? table[k] : t('state.' + v.state);
  };
  return t;
}
