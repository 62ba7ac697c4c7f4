// Shared by the team page, the wall's alerts widget and its map layer:
// zh-CN/English strings of alerts and how one alert reads.

const S = {
  zh: {
    'title': '应急告警',
    'empty': '当前没有告警',
    'state.firing': '待确认',
    'state.acknowledged': '已确认',
    'state.resolved': '已解除',
    'escalated': '已升级',
    'silenced': '已静默',
    'ack': '确认接警',
    'resolve': '解除',
    'resolve.title': '解除告警：请填写原因',
    'resolve.ok': '解除',
    'cancel': '取消',
    'acked.by': '{who} 于 {time} 确认',
    'since': '{m} 分钟前',
    'since.now': '刚刚',
    'count': '{n} 件 / 预期 {e}',
    'cameras': '附近摄像头',
    'enable': '开启声音和通知',
    'enabled': '声音和通知已开启',
    'conn.connecting': '连接中',
    'conn.open': '已连接',
    'conn.closed': '已断开',
    'conn.stopped': '已停止',
    'error': '操作失败：{reason}',
    'session': '登录已失效，请重新打开团队链接。',
    'all': '全部告警',
    'teams': '团队：{teams}',
    'source.cluster': '聚集',
    'source.sla': '超时',
    'source.camera': '摄像头',
    'source.feed': '监测',
    'widget.title': '告警',
    'widget.open': '{n} 条未解除',
    'stale': '连接中断',
  },
  en: {
    'title': 'Emergency alerts',
    'empty': 'No alerts',
    'state.firing': 'Unacknowledged',
    'state.acknowledged': 'Acknowledged',
    'state.resolved': 'Resolved',
    'escalated': 'Escalated',
    'silenced': 'Silenced',
    'ack': 'Acknowledge',
    'resolve': 'Resolve',
    'resolve.title': 'Resolve the alert: give the reason',
    'resolve.ok': 'Resolve',
    'cancel': 'Cancel',
    'acked.by': 'acknowledged by {who} at {time}',
    'since': '{m} min ago',
    'since.now': 'just now',
    'count': '{n} reports / {e} expected',
    'cameras': 'Nearby cameras',
    'enable': 'Turn on sound and notifications',
    'enabled': 'Sound and notifications on',
    'conn.connecting': 'Connecting',
    'conn.open': 'Connected',
    'conn.closed': 'Disconnected',
    'conn.stopped': 'Stopped',
    'error': 'Failed: {reason}',
    'session': 'Your session has ended: open the team link again.',
    'all': 'All alerts',
    'teams': 'Teams: {teams}',
    'source.cluster': 'Cluster',
    'source.sla': 'Overdue',
    'source.camera': 'Camera',
    'source.feed': 'Feed',
    'widget.title': 'Alerts',
    'widget.open': '{n} open',
    'stale': 'Connection lost',
  },
};

export function langOf(search = location.search) {
  return new URLSearchParams(search).get('lang') === 'en' ? 'en' : 'zh';
}

// tr returns a translator for lang.
export function tr(lang) {
  const table = S[lang] || S.zh;
  return (key, vars = {}) => String(table[key] ?? S.zh[key] ?? key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ''));
}

export function title(a, lang) {
  return (lang === 'en' ? a.title_en || a.title : a.title || a.title_en) || a.id;
}

export function hhmm(ts) {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString('zh-CN', { hour: '2-digit', minute: '2-digit', hour12: false });
}

export function since(ts, t, now = Date.now()) {
  const m = Math.floor((now - new Date(ts).getTime()) / 60000);
  return m < 1 ? t('since.now') : t('since', { m });
}

// order puts firing before acknowledged, critical first, newest first.
export function order(list) {
  const rank = (a) => (a.state === 'firing' ? 0 : 1) * 2 + (a.severity === 'critical' ? 0 : 1);
  return list.slice().sort((x, y) => rank(x) - rank(y) || String(y.starts_at).localeCompare(String(x.starts_at)));
}

export function cameraNames(a, lang) {
  const info = Array.isArray(a.camera_info) ? a.camera_info : [];
  if (info.length) return info.map((c) => (lang === 'en' ? c.name_en || c.name : c.name) || c.id);
  return Array.isArray(a.cameras) ? a.cameras : [];
}

// el builds an element with text content only: alert text comes from
// tickets and is never parsed as HTML.
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
}
