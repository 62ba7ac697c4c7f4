// Shared by the team page, the wall's alerts widget and its map layer:
// zh-CN/English strings of alerts and how one alert reads.

import { el, translator } from './kit.js';

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
    'group.count': '{label} ×{n}',
    'group.acked': '已确认 {n} 条',
    'group.feed.waterlogging': '积水超警戒',
    'group.feed.jam': '道路严重拥堵',
    'group.feed.reservoir-warning': '水库超警戒水位',
    'group.feed.reservoir-flood-limit': '水库超汛限水位',
    'group.feed.stale': '监测数据中断',
    'group.feed.source-down': '数据源中断',
    'group.camera': '摄像头异常',
    'group.sla': '工单超时未响应',
    'group.cluster': '诉求聚集',
    'group.hotissue': '热点问题',
    'stale': '连接中断',
    'link.who': '来自告警消息的处置链接',
    'link.name': '您的姓名（可选）',
    'link.reason': '解除原因',
    'link.reason.required': '请填写解除原因',
    'link.done.ack': '已确认接警',
    'link.done.resolve': '已解除告警',
    'link.resolved.by': '{who} 已解除：{reason}',
    'link.link_invalid': '链接无效：请使用告警消息中的链接',
    'link.link_expired': '链接已过期：请登录团队页面处理',
    'link.link_used': '此链接已用于该操作',
    'link.conflict': '告警状态已变化，无法执行此操作',
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
    'conn.open': 'Connected', // the wall's shared word is "Live"
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
    'group.count': '{label} ×{n}',
    'group.acked': '{n} acknowledged',
    'group.feed.waterlogging': 'Waterlogging',
    'group.feed.jam': 'Severe congestion',
    'group.feed.reservoir-warning': 'Reservoirs above warning level',
    'group.feed.reservoir-flood-limit': 'Reservoirs above flood limit',
    'group.feed.stale': 'Stations without data',
    'group.feed.source-down': 'Data sources down',
    'group.camera': 'Camera trouble',
    'group.sla': 'Tickets not responded to',
    'group.cluster': 'Clusters of reports',
    'group.hotissue': 'Hot issues',
    'stale': 'Connection lost',
    'link.who': 'Opened from an alert message',
    'link.name': 'Your name (optional)',
    'link.reason': 'Why it is resolved',
    'link.reason.required': 'Give the reason it is resolved',
    'link.done.ack': 'Acknowledged',
    'link.done.resolve': 'Resolved',
    'link.resolved.by': 'resolved by {who}: {reason}',
    'link.link_invalid': 'This link is not valid: use the link in the alert message',
    'link.link_expired': 'This link has expired: sign in to the team page',
    'link.link_used': 'This link has already been used for that',
    'link.conflict': 'The alert has changed: that is no longer possible',
  },
};

// tr returns a translator for lang over the alerts' table.
export function tr(lang) {
  return translator(S, lang);
}

// head fills a team page's title, heading and language button's label
// (the button's link is the page's own: the team link keeps its alert and
// token in it).
export function head(t) {
  document.title = '12345 · ' + t('title');
  document.getElementById('title').textContent = t('title');
  document.getElementById('lang').textContent = t.lang === 'en' ? '中文' : 'EN';
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

// groups folds alerts of one source and kind in one state (a storm's
// waterlogging points, a morning's overdue tickets) into one entry once
// there are at least n of them (n < 1: never), so that they do not push
// the other alerts off a short list. list is in order(); each entry is
// {alert} or {group: [alerts...]}, placed where its first alert was.
export function groups(list, n) {
  const key = (a) => `${a.source}/${a.kind || ''}/${a.state}`;
  const by = new Map();
  for (const a of list) {
    if (!by.has(key(a))) by.set(key(a), []);
    by.get(key(a)).push(a);
  }
  const out = [];
  const done = new Set();
  for (const a of list) {
    const members = by.get(key(a));
    if (n < 1 || members.length < n) out.push({ alert: a });
    else if (!done.has(key(a))) {
      done.add(key(a));
      out.push({ group: members });
    }
  }
  return out;
}

// groupLabel names what a group's alerts are.
export function groupLabel(members, t, lang) {
  const a = members[0];
  for (const k of [`group.${a.source}.${a.kind}`, `group.${a.source}`]) if (t.has(k)) return t(k);
  return title(a, lang);
}

// groupPlaces says where a group's alerts are: their districts with a
// count each, busiest first, else the first titles.
export function groupPlaces(members, lang) {
  const n = new Map();
  for (const a of members) if (a.district) n.set(a.district, (n.get(a.district) || 0) + 1);
  if (n.size) return [...n].sort((x, y) => y[1] - x[1]).map(([d, c]) => `${d} ${c}`).join('、');
  const names = members.slice(0, 3).map((a) => title(a, lang));
  return names.join('、') + (members.length > 3 ? '…' : '');
}

export function cameraNames(a, lang) {
  const info = Array.isArray(a.camera_info) ? a.camera_info : [];
  if (info.length) return info.map((c) => (lang === 'en' ? c.name_en || c.name : c.name) || c.id);
  return Array.isArray(a.cameras) ? a.cameras : [];
}

// card is an alert's card as the team page and the link page show it:
// state, source, time, title, place, count, detail and who acknowledged
// or resolved it. t is tr(lang).
export function card(a, lang, t) {
  const c = el('article', `card sev-${a.severity} state-${a.state}`);
  c.dataset.id = a.id;
  const head = el('div', 'card-head');
  const tags = el('span');
  tags.append(el('span', `tag tag-${a.state}`, t('state.' + a.state)), ' ');
  if (a.level > 0) tags.append(el('span', 'tag tag-escalated', t('escalated')), ' ');
  if (a.silenced) tags.append(el('span', 'tag tag-silenced', t('silenced')), ' ');
  tags.append(el('span', 'tag', t('source.' + a.source) || a.source));
  head.append(tags, el('span', '', `${hhmm(a.starts_at)} · ${since(a.starts_at, t)}`));
  c.append(head, el('div', 'card-title', title(a, lang)));
  const meta = el('div', 'card-meta');
  if (a.district) meta.append(el('div', '', a.district));
  if (a.cluster) meta.append(el('div', '', t('count', { n: a.cluster.count, e: a.cluster.expected })));
  if (a.detail) meta.append(el('div', '', a.detail));
  if (a.acked_by) {
    const d = el('div');
    d.append(el('b', '', t('acked.by', { who: a.acked_by, time: hhmm(a.acked_at) })));
    meta.append(d);
  }
  if (a.resolved_by) meta.append(el('div', '', t('link.resolved.by', { who: a.resolved_by, reason: a.reason || '' })));
  c.append(meta);
  return c;
}
