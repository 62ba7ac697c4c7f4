// The analysis view: tickets by day or week over district × category ×
// channel, what rises fastest, the KPIs over the days held and the
// drill-down city → district → grid → tickets. Charts are Apache ECharts
// (vendored, loaded by the page as the global echarts); every chart's CSV
// is the API's own answer with format=csv.

import { el, api, pickLang, translator } from '../kit.js';

const lang = pickLang();

const STRINGS = {
  zh: {
    title: '12345 多维分析', from: '从', to: '至', group: '粒度', by: '分组', district: '区', category: '类别', channel: '渠道',
    day: '按日', week: '按周', subcategory: '小类', grid: '网格', all: '全部', counts: '工单量', drill: '区域下钻', rising: '上升最快',
    kpi: '每日指标', city: '全市', noGrid: '(无网格)', none: '(无)', phrasesCsv: '短语 CSV', recent: '近期', expected: '预期',
    phrase: '短语', change: '变化', samples: '示例', tickets: '工单', id: '编号', created: '时间', summary: '摘要', urgent: '紧急',
    held: '保留 {days} 天（{first} 至 {today}），共 {n} 件', loading: '加载中…', lastDays: '近 {n} 天', others: '其他',
    answer_rate: '接通率', response_30m: '30分钟响应率', completion: '按期办结率', satisfaction: '满意率', direct_resolution: '直办率',
    ticketsShown: '{shown} / {total} 件',
    ch_phone: '电话', ch_wechat: '微信', ch_app: 'App', ch_web: '网站', ch_sms: '短信', ch_mailbox: '市长信箱', 'ch_110-transfer': '110转接', 'ch_grid-patrol': '网格员',
  },
  en: {
    title: '12345 analysis', from: 'From', to: 'To', group: 'By', by: 'Split by', district: 'District', category: 'Category', channel: 'Channel',
    day: 'day', week: 'week', subcategory: 'Subcategory', grid: 'Grid', all: 'all', counts: 'Tickets', drill: 'Drill-down', rising: 'Rising fastest',
    kpi: 'Daily KPIs', city: 'City', noGrid: '(no grid)', none: '(none)', phrasesCsv: 'Phrases CSV', recent: 'recent', expected: 'expected',
    phrase: 'Phrase', change: 'change', samples: 'samples', tickets: 'Tickets', id: 'ID', created: 'Created', summary: 'Summary', urgent: 'Urgent',
    held: '{days} days kept ({first} to {today}), {n} tickets', loading: 'Loading…', lastDays: 'last {n} d', others: 'others',
    answer_rate: 'answer rate', response_30m: '30-min response', completion: 'completion', satisfaction: 'satisfaction', direct_resolution: 'direct resolution',
    ticketsShown: '{shown} of {total}',
    ch_phone: 'phone', ch_wechat: 'WeChat', ch_app: 'app', ch_web: 'web', ch_sms: 'SMS', ch_mailbox: "mayor's mailbox", 'ch_110-transfer': '110 transfer', 'ch_grid-patrol': 'grid patrol',
  },
};
const t = translator(STRINGS, lang);
const channelName = (c) => t('ch_' + c);

const $ = (id) => document.getElementById(id);

const COLORS = ['#4fa0ff', '#ff7a45', '#36cfc9', '#ffd666', '#b37feb', '#95de64', '#ff85c0', '#5cdbd3', '#ffc069', '#adc6ff'];
const TEXT = '#eaf1fb';
const TEXT2 = '#9db3cf';
const LINE = 'rgba(79,160,255,0.18)';
const MAX_SERIES = 8;

// Tooltips render on the canvas (richText): the HTML tooltip writes style
// attributes, which the page's content security policy refuses.
const baseOption = () => ({
  color: COLORS,
  backgroundColor: 'transparent',
  textStyle: { color: TEXT, fontSize: fontSize() },
  tooltip: { trigger: 'axis', renderMode: 'richText', confine: true },
  grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
  animation: false,
});

function fontSize() {
  return Math.max(12, Math.min(22, Math.round(window.innerWidth * 0.0075)));
}

// query fetches an analysis endpoint (kit.js's api: a 401 sends the
// browser to sign in).
function query(path, params = {}) {
  return api(apiURL(path, params));
}

function apiURL(path, params) {
  const u = new URL('/api/v1/analysis/' + path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== '' && v != null) u.searchParams.set(k, v);
  return u.pathname + u.search;
}

function csvLink(id, path, params) {
  $(id).href = apiURL(path, { ...params, format: 'csv' });
}

const state = {
  meta: null, from: '', to: '', group: 'day', by: 'district', district: '', category: '', channel: '',
  drill: { district: null, grid: null }, risingDays: 1,
};

function filters() {
  return { from: state.from, to: state.to, district: state.district, category: state.category, channel: state.channel };
}

function option(select, value, label) {
  const o = el('option', null, label);
  o.value = value;
  select.append(o);
}

function fillSelect(id, values, label = (v) => v) {
  const s = $(id);
  s.replaceChildren();
  option(s, '', t('all'));
  for (const v of values) option(s, v, label(v));
}

const charts = {};

function chart(id) {
  if (!charts[id]) {
    const c = window.echarts.init($(id), null, { renderer: 'canvas' });
    // The chart follows its box: the drill-down's list and a window
    // resize change it.
    new ResizeObserver(() => c.resize()).observe($(id));
    charts[id] = c;
  }
  return charts[id];
}

function label(dim, v) {
  if (dim === 'channel') return channelName(v);
  if (v === '') return dim === 'grid' ? t('noGrid') : t('none');
  return v;
}

async function loadCounts() {
  const params = { ...filters(), group: state.group, by: state.by };
  const c = await query('counts', params);
  csvLink('an-counts-csv', 'counts', params);
  const shown = c.series.slice(0, MAX_SERIES);
  const series = shown.map((s) => ({
    name: s.key.map((v, i) => label(c.by[i], v)).join(' / '),
    type: state.group === 'week' ? 'bar' : 'line',
    stack: state.group === 'week' ? 'n' : undefined,
    symbolSize: 6,
    data: s.counts,
  }));
  if (c.series.length > MAX_SERIES) {
    const rest = c.totals.map((n, i) => n - shown.reduce((a, s) => a + s.counts[i], 0));
    series.push({ name: t('others'), type: state.group === 'week' ? 'bar' : 'line', stack: state.group === 'week' ? 'n' : undefined, data: rest });
  }
  const o = baseOption();
  chart('an-counts-chart').setOption({
    ...o,
    legend: { type: 'scroll', top: 0, textStyle: { color: TEXT, fontSize: fontSize() }, pageTextStyle: { color: TEXT2 } },
    xAxis: { type: 'category', data: c.periods, axisLabel: { color: TEXT2, fontSize: fontSize() } },
    yAxis: { type: 'value', minInterval: 1, axisLabel: { color: TEXT2, fontSize: fontSize() }, splitLine: { lineStyle: { color: LINE } } },
    series,
  }, true);
  return c;
}

async function loadAreas() {
  const { district, grid } = state.drill;
  const params = { ...filters(), district: district ?? state.district };
  renderCrumbs();
  const list = $('an-areas-list');
  const ticketsBox = $('an-tickets');
  if (grid != null) {
    params.grid = grid;
    const res = await query('tickets', { ...params, limit: 500 });
    csvLink('an-areas-csv', 'tickets', { ...params, limit: 5000 });
    $('an-areas-chart').hidden = true;
    list.hidden = true;
    ticketsBox.hidden = false;
    renderTickets(res);
    return res;
  }
  const res = await query('areas', params);
  csvLink('an-areas-csv', 'areas', params);
  $('an-areas-chart').hidden = false;
  list.hidden = false;
  ticketsBox.hidden = true;
  const dim = res.level === 'city' ? 'district' : 'grid';
  const names = res.areas.map((a) => label(dim, a.name));
  const c = chart('an-areas-chart');
  c.setOption({
    ...baseOption(),
    tooltip: { trigger: 'axis', renderMode: 'richText', confine: true, axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 40, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, axisLabel: { color: TEXT2, fontSize: fontSize() }, splitLine: { lineStyle: { color: LINE } } },
    yAxis: { type: 'category', inverse: true, data: names, axisLabel: { color: TEXT, fontSize: fontSize() } },
    series: [{ name: t('tickets'), type: 'bar', data: res.areas.map((a) => a.tickets), label: { show: true, position: 'right', color: TEXT } }],
  }, true);
  c.off('click');
  c.on('click', (p) => drill(res.areas[p.dataIndex].name));
  list.replaceChildren();
  for (const a of res.areas) {
    const b = el('button', null, label(dim, a.name));
    b.type = 'button';
    b.dataset.area = a.name;
    b.append(el('span', 'an-n', String(a.tickets)));
    b.addEventListener('click', () => drill(a.name));
    list.append(b);
  }
  return res;
}

function renderTickets(res) {
  const box = $('an-tickets');
  const tbl = el('table');
  const head = el('tr');
  for (const k of ['created', 'id', 'category', 'subcategory', 'channel', 'summary']) head.append(el('th', null, t(k)));
  tbl.append(el('thead'));
  tbl.firstChild.append(head);
  const body = el('tbody');
  for (const x of res.tickets) {
    const tr = el('tr');
    tr.dataset.id = x.id;
    tr.append(el('td', 'an-num', new Date(x.created).toLocaleString(lang === 'en' ? 'en-GB' : 'zh-CN', { hour12: false })),
      el('td', null, x.id), el('td', null, x.category), el('td', null, x.subcategory), el('td', null, channelName(x.channel)),
      el('td', null, (x.urgent ? '⚠ ' : '') + x.summary));
    body.append(tr);
  }
  tbl.append(body);
  box.replaceChildren(el('p', 'an-sample', t('ticketsShown', { shown: res.tickets.length, total: res.total })), tbl);
}

function renderCrumbs() {
  const nav = $('an-crumbs');
  nav.replaceChildren();
  const { district, grid } = state.drill;
  const crumb = (text, here, go) => {
    const b = el('button', here ? 'an-here' : null, text);
    b.type = 'button';
    b.disabled = here;
    b.addEventListener('click', go);
    nav.append(b);
  };
  crumb(t('city'), district == null, () => { state.drill = { district: null, grid: null }; loadAreas().catch(fail); });
  if (district != null) {
    nav.append(el('span', null, '›'));
    crumb(label('district', district), grid == null, () => { state.drill = { district, grid: null }; loadAreas().catch(fail); });
  }
  if (grid != null) {
    nav.append(el('span', null, '›'));
    crumb(label('grid', grid), true, () => {});
  }
}

// drill goes one level down from where the drill-down is: a district's
// grids, then a grid's tickets.
function drill(name) {
  if (state.drill.district == null && !state.district) state.drill = { district: name, grid: null };
  else state.drill = { district: state.drill.district ?? state.district, grid: name };
  return loadAreas().catch(fail);
}

async function loadRising() {
  const base = { district: state.district, category: state.category, channel: state.channel, to: state.to, days: state.risingDays };
  const sub = await query('rising', { ...base, kind: 'subcategory', limit: 10 });
  csvLink('an-rising-csv', 'rising', { ...base, kind: 'subcategory', limit: 10 });
  const items = sub.items;
  chart('an-rising-chart').setOption({
    ...baseOption(),
    tooltip: { trigger: 'axis', renderMode: 'richText', confine: true, axisPointer: { type: 'shadow' } },
    legend: { top: 0, textStyle: { color: TEXT, fontSize: fontSize() } },
    grid: { left: 8, right: 40, top: 36, bottom: 8, containLabel: true },
    xAxis: { type: 'value', axisLabel: { color: TEXT2, fontSize: fontSize() }, splitLine: { lineStyle: { color: LINE } } },
    yAxis: { type: 'category', inverse: true, data: items.map((i) => i.name + ' · ' + i.category), axisLabel: { color: TEXT, fontSize: fontSize() } },
    series: [
      { name: t('recent'), type: 'bar', data: items.map((i) => i.recent), label: { show: true, position: 'right', color: TEXT } },
      { name: t('expected'), type: 'bar', data: items.map((i) => i.expected), itemStyle: { color: '#3b5478' } },
    ],
  }, true);
  const ph = await query('rising', { ...base, kind: 'phrase', limit: 10 });
  csvLink('an-phrases-csv', 'rising', { ...base, kind: 'phrase', limit: 10 });
  const tbl = el('table');
  const head = el('tr');
  for (const [k, cls] of [['phrase'], ['category'], ['recent', 'an-num'], ['expected', 'an-num'], ['change', 'an-num'], ['samples']]) head.append(el('th', cls, t(k)));
  tbl.append(head);
  for (const p of ph.items) {
    const tr = el('tr');
    tr.dataset.phrase = p.name;
    const change = p.change == null ? 'new' : (p.change >= 0 ? '+' : '') + Math.round(p.change * 100) + '%';
    tr.append(el('td', 'an-up', p.name), el('td', null, p.category), el('td', 'an-num', String(p.recent)),
      el('td', 'an-num', String(p.expected)), el('td', 'an-num an-up', change), el('td', 'an-sample', (p.samples || []).join(' | ')));
    tbl.append(tr);
  }
  $('an-phrases').replaceChildren(tbl);
  return { sub, ph };
}

async function loadKPI() {
  const res = await query('kpi', {});
  csvLink('an-kpi-csv', 'kpi', {});
  const days = res.days;
  const rates = ['answer_rate', 'response_30m', 'completion', 'satisfaction', 'direct_resolution'];
  chart('an-kpi-chart').setOption({
    ...baseOption(),
    legend: { type: 'scroll', top: 0, textStyle: { color: TEXT, fontSize: fontSize() }, pageTextStyle: { color: TEXT2 } },
    xAxis: { type: 'category', data: days.map((d) => d.date.slice(5)), axisLabel: { color: TEXT2, fontSize: fontSize() } },
    yAxis: [
      { type: 'value', minInterval: 1, axisLabel: { color: TEXT2, fontSize: fontSize() }, splitLine: { lineStyle: { color: LINE } } },
      { type: 'value', min: 0, max: 100, axisLabel: { color: TEXT2, fontSize: fontSize(), formatter: '{value}%' }, splitLine: { show: false } },
    ],
    series: [
      { name: t('tickets'), type: 'bar', data: days.map((d) => d.tickets), itemStyle: { color: '#2f5d8f' } },
      ...rates.map((k) => ({
        name: t(k), type: 'line', yAxisIndex: 1, connectNulls: false, symbolSize: 6,
        data: days.map((d) => (d[k] == null ? null : Math.round(d[k] * 1000) / 10)),
      })),
    ],
  }, true);
  return res;
}

function fail(err) {
  const s = $('an-status');
  s.textContent = String(err.message || err);
  s.classList.add('an-err');
}

let loaded = null;

async function loadAll() {
  const s = $('an-status');
  s.classList.remove('an-err');
  const m = state.meta;
  s.textContent = t('held', { days: m.days, first: m.first, today: m.today, n: m.tickets });
  loaded = Promise.all([loadCounts(), loadAreas(), loadRising(), loadKPI()]);
  await loaded;
  window.citywallAnalysis.ready++;
}

async function main() {
  for (const e of document.querySelectorAll('[data-s]')) e.textContent = t(e.dataset.s);
  document.title = '12345 · ' + t('title');
  $('an-title').textContent = t('title');
  const m = await query('meta');
  state.meta = m;
  state.from = m.first;
  state.to = m.today;
  for (const id of ['an-from', 'an-to']) { $(id).min = m.first; $(id).max = m.today; }
  $('an-from').value = state.from;
  $('an-to').value = state.to;
  const g = $('an-group');
  option(g, 'day', t('day'));
  option(g, 'week', t('week'));
  const by = $('an-by');
  for (const v of ['district', 'category', 'channel', 'district,category', 'category,channel', 'district,channel', 'subcategory', 'grid']) {
    option(by, v, v.split(',').map((d) => t(d)).join(' × '));
  }
  fillSelect('an-district', m.districts);
  fillSelect('an-category', m.categories);
  fillSelect('an-channel', m.channels, channelName);
  const rd = $('an-rising-days');
  for (const n of [1, 3, 7]) option(rd, String(n), t('lastDays', { n }));
  const bind = (id, key, reload) => $(id).addEventListener('change', (e) => {
    state[key] = key === 'risingDays' ? Number(e.target.value) : e.target.value;
    if (key === 'district') state.drill = { district: null, grid: null };
    reload().catch(fail);
  });
  bind('an-from', 'from', loadAll);
  bind('an-to', 'to', loadAll);
  bind('an-group', 'group', loadCounts);
  bind('an-by', 'by', loadCounts);
  bind('an-district', 'district', loadAll);
  bind('an-category', 'category', loadAll);
  bind('an-channel', 'channel', loadAll);
  bind('an-rising-days', 'risingDays', loadRising);
  await loadAll();
}

window.citywallAnalysis = { state, charts, drill, ready: 0, reload: () => loadAll(), loadAreas, loadCounts };
main().catch(fail);
