// KPI widget: the hotline's figures for today in the city's zone — answer
// rate, average wait, calls and requests against the same weekday last
// week, 30-minute response, completion, satisfaction, direct resolution —
// and a sparkline of calls per 15 minutes, today against last week.
// Data: hub state topic kpi, key "today" (GET /api/v1/kpi has the same).
// opts: {} (none yet)

import { feedsT } from '../feeds/strings.js';
import { COLORS, panel, sparkline, fmt, badge, watchConn } from '../feeds/common.js';
import { el } from '../kit.js';

const TILES = [
  ['answer_rate', 'kpi.answer_rate', (r) => pct(r.answer_rate), (r) => frac(r.answer_rate), (r) => good(r.answer_rate, 0.95, 0.9)],
  ['avg_wait', 'kpi.avg_wait', (r) => fmt(r.avg_wait_s, 0), null, (r) => (r.avg_wait_s == null ? '' : r.avg_wait_s <= 20 ? 'good' : r.avg_wait_s <= 60 ? 'warn' : 'bad')],
  ['calls', 'kpi.calls', (r) => String(r.calls_offered), (r, t) => t('kpi.last_week', { n: r.calls_last_wk }), () => ''],
  ['tickets', 'kpi.tickets', (r) => String(r.tickets), (r, t) => (r.volume_change == null ? t('kpi.last_week', { n: r.tickets_last_wk }) : t('kpi.vs_last_week', { p: signed(r.volume_change) })), () => ''],
  ['response', 'kpi.response', (r) => pct(r.response_30m), (r) => frac(r.response_30m), (r) => good(r.response_30m, 0.95, 0.9)],
  ['completion', 'kpi.completion', (r) => pct(r.completion), (r) => frac(r.completion), (r) => good(r.completion, 0.95, 0.9)],
  ['satisfaction', 'kpi.satisfaction', (r) => pct(r.satisfaction), (r) => frac(r.satisfaction), (r) => good(r.satisfaction, 0.9, 0.8)],
  ['direct', 'kpi.direct', (r) => pct(r.direct_resolution), (r) => frac(r.direct_resolution), (r) => good(r.direct_resolution, 0.9, 0.8)],
];

function pct(x) { return x && x.value != null ? (x.value * 100).toFixed(1) : '—'; }
function frac(x) { return x && x.den ? `${x.num} / ${x.den}` : ''; }
function signed(v) { return (v > 0 ? '+' : '') + (v * 100).toFixed(1) + '%'; }
function good(x, ok, warn) {
  if (!x || x.value == null) return '';
  return x.value >= ok ? 'good' : x.value >= warn ? 'warn' : 'bad';
}

export function mount(host, ctx) {
  const t = feedsT(ctx.lang);
  const date = el('span', 'fd-meta');
  const { root, status } = panel(host, 'fd-kpi', t('kpi.title'), date);
  const grid = el('div', 'fd-kpi-grid');
  const tiles = new Map();
  for (const [key, label] of TILES) {
    const tile = el('div', 'fd-tile');
    tile.dataset.kpi = key;
    const value = el('div', 'fd-tile-value', '—');
    const unit = key === 'avg_wait' ? t('unit.s') : key === 'calls' ? t('unit.calls') : key === 'tickets' ? t('unit.tickets') : '%';
    const v = el('div', 'fd-tile-line');
    v.append(value, el('span', 'fd-unit', unit));
    const sub = el('div', 'fd-tile-sub');
    tile.append(el('div', 'fd-tile-label', t(label)), v, sub);
    grid.append(tile);
    tiles.set(key, { tile, value, sub });
  }
  const sparkBox = el('div', 'fd-kpi-spark');
  const canvas = el('canvas', 'fd-spark fd-spark-wide');
  sparkBox.append(el('div', 'fd-spark-label', t('kpi.volume')), canvas);
  const body = el('div', 'fd-kpi-body');
  body.append(grid, sparkBox);
  root.append(body);

  let rep = null;
  let conn = 'connecting';
  let lastAt = 0;

  const draw = () => {
    if (!rep) return;
    const bins = (arr) => arr.map((v, i) => ({ t: i, v }));
    // Today's line stops at the last complete quarter hour.
    const done = rep.now_bin == null || rep.now_bin >= 95 ? 96 : rep.now_bin;
    const today = bins(rep.calls_15m || []).slice(0, done);
    const last = bins(rep.calls_15m_last_wk || []);
    const x = (p, i, w) => (p.t / 95) * w;
    sparkline(canvas, [], {
      series: [{ pts: last, color: '#7d90ab', width: 1.5, x }, { pts: today, color: '#4fc3ff', width: 2.5, x }],
      min: 0,
    });
  };

  const render = () => {
    status.replaceChildren();
    const stale = lastAt && Date.now() - lastAt > 120000;
    if (conn !== 'open') status.append(badge(t(conn === 'connecting' ? 'connecting' : 'offline'), COLORS.stale));
    else if (stale) status.append(badge(t('stale'), COLORS.stale));
    root.classList.toggle('fd-offline', conn !== 'open');
    if (!rep) return;
    date.textContent = rep.date;
    for (const [key, , val, sub, cls] of TILES) {
      const x = tiles.get(key);
      x.value.textContent = val(rep);
      x.sub.textContent = sub ? sub(rep, t) : '';
      x.tile.className = 'fd-tile' + (cls(rep) ? ' fd-' + cls(rep) : '');
    }
    draw();
  };

  const sub = ctx.hub.subscribe('kpi', (u, topic) => {
    const v = topic.state.get('today');
    if (v) { rep = v; lastAt = Date.now(); }
    render();
  }, { kind: 'state' });
  const unwatch = watchConn(ctx.hub, (s) => { conn = s || 'connecting'; render(); });
  const timer = setInterval(render, 15000);
  const ro = new ResizeObserver(draw);
  ro.observe(root);

  return {
    update() { render(); },
    destroy() {
      sub.close();
      unwatch();
      clearInterval(timer);
      ro.disconnect();
      host.replaceChildren();
    },
  };
}
