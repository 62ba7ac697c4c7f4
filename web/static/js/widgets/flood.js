// Flood widget: reservoirs (level against warning and flood-limit levels,
// inflow and outflow), waterlogging points (depth against thresholds) and
// rain gauges, each with a sparkline of the last hours and a stale badge.
// Data: hub state topic feeds/flood; history: GET /api/v1/feeds/{id}/history.
// opts: {kinds: ["reservoir","waterlogging","rain"], stations: [ids], hours: 6}

import { feedsT } from '../feeds/strings.js';
import { COLORS, panel, History, sparkline, fmt, badge, watchConn, redrawRows, showStatus } from '../feeds/common.js';
import { el } from '../kit.js';

const KINDS = ['reservoir', 'waterlogging', 'rain'];
const DIGITS = { reservoir: 2, waterlogging: 0, rain: 1 };

export function mount(host, ctx) {
  let opts = { ...(ctx.opts || {}) };
  const t = feedsT(ctx.lang);
  const { root, status } = panel(host, 'fd-flood', t('flood.title'));
  const body = el('div', 'fd-body');
  root.append(body);

  let hist = new History(opts.hours || 6);
  let state = new Map(); // the topic's state, once it comes
  let conn = 'connecting';
  const rows = new Map(); // id -> {row, canvas, value, badges}

  const wanted = (v) => {
    const kinds = opts.kinds || KINDS;
    if (!kinds.includes(v.kind)) return false;
    return !opts.stations || opts.stations.includes(v.id);
  };

  const build = () => {
    body.replaceChildren();
    rows.clear();
    for (const kind of opts.kinds || KINDS) {
      const list = [...state.values()].filter((v) => v.kind === kind && wanted(v));
      if (!list.length) continue;
      const sec = el('section', 'fd-section');
      sec.append(el('h3', 'fd-section-title', t(kind)));
      for (const v of list) {
        const row = el('div', 'fd-row fd-' + v.kind);
        row.dataset.id = v.id;
        const name = el('div', 'fd-name');
        name.append(el('span', 'fd-name-main', t.label(v)), el('span', 'fd-name-sub', t.sub(v)));
        const value = el('div', 'fd-value');
        const detail = el('div', 'fd-detail');
        const badges = el('div', 'fd-badges');
        const canvas = el('canvas', 'fd-spark');
        row.append(name, value, badges, canvas, detail);
        sec.append(row);
        rows.set(v.id, { row, canvas, value, detail, badges });
        hist.load(v.id).then(() => draw(v.id));
      }
      body.append(sec);
    }
  };

  const render = (id) => {
    const v = state.get(id);
    const r = rows.get(id);
    if (!v || !r) return;
    const color = v.stale ? COLORS.stale : COLORS[v.state] || COLORS.nodata;
    r.row.className = 'fd-row fd-' + v.kind + ' fd-state-' + v.state + (v.stale ? ' fd-is-stale' : '');
    r.value.textContent = '';
    r.value.append(el('span', 'fd-num', fmt(v.value, DIGITS[v.kind])), el('span', 'fd-unit', v.unit));
    r.value.style.color = color;
    r.badges.replaceChildren(badge(t.state(v), COLORS[v.state] || COLORS.nodata));
    if (v.stale) r.badges.append(badge(t('stale'), COLORS.stale));
    if (v.kind === 'reservoir') {
      let s = `${t('warn')} ${fmt(v.warn, 2)} · ${t('limit')} ${fmt(v.limit, 2)} m`;
      if (v.inflow != null) s += ` · ${t('inflow')} ${fmt(v.inflow, 1)} / ${t('outflow')} ${fmt(v.outflow, 1)} m³/s`;
      r.detail.textContent = s;
    } else {
      r.detail.remove(); // the thresholds are the sparkline's dashed lines
    }
    draw(id);
  };

  const draw = (id) => {
    const v = state.get(id);
    const r = rows.get(id);
    if (!v || !r) return;
    const color = v.stale ? COLORS.stale : COLORS[v.state] || '#4fc3ff';
    sparkline(r.canvas, hist.get(id), {
      hours: hist.hours, color,
      lines: [{ v: v.warn, color: COLORS.warning }, { v: v.limit, color: COLORS.danger }],
      min: v.kind === 'reservoir' ? undefined : 0,
    });
  };

  const renderStatus = () => showStatus(status, root, conn, state, t);

  const sub = ctx.hub.subscribe('feeds/flood', (u, topic) => {
    state = topic.state; // the hub's own, read and never written here
    // A station without a row yet rebuilds the list; the others only
    // redraw their row.
    const shown = (v) => v && v.kind && wanted(v);
    if (u.type === 'snapshot') {
      const now = [...state.values()].filter(shown).map((v) => v.id);
      if ([...rows.keys()].join() !== now.join()) build();
      for (const id of rows.keys()) { hist.add(state.get(id)); render(id); }
    } else {
      if (Object.values(u.set || {}).some((v) => shown(v) && !rows.has(v.id))) build();
      for (const k of Object.keys(u.set || {})) { hist.add(state.get(k)); render(k); }
    }
    renderStatus();
  }, { kind: 'state' });
  const unwatch = watchConn(ctx.hub, (s) => { conn = s || 'connecting'; renderStatus(); });
  // Sparklines move with the clock even without new readings.
  const stopRedraw = redrawRows(root, rows, draw);

  return {
    update(next) {
      opts = { ...opts, ...(next || {}) };
      if (next && next.hours && next.hours !== hist.hours) { hist.destroy(); hist = new History(next.hours); }
      build();
      for (const id of rows.keys()) render(id);
    },
    destroy() {
      sub.close();
      unwatch();
      stopRedraw();
      hist.destroy();
      host.replaceChildren();
    },
  };
}
