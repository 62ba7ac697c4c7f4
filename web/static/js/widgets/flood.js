// Flood widget: reservoirs (level against warning and flood-limit levels,
// inflow and outflow), waterlogging points (depth against thresholds) and
// rain gauges, each with a sparkline of the last hours and a stale badge.
// Data: hub state topic feeds/flood; history: GET /api/v1/feeds/{id}/history.
// opts: {kinds: ["reservoir","waterlogging","rain"], stations: [ids], hours: 6}

import { feedsT } from '../feeds/strings.js';
import { COLORS, ensureCSS, h, History, sparkline, fmt, badge, watchConn, redrawRows, showStatus } from '../feeds/common.js';

const KINDS = ['reservoir', 'waterlogging', 'rain'];
const DIGITS = { reservoir: 2, waterlogging: 0, rain: 1 };

export function mount(el, ctx) {
  ensureCSS();
  let opts = { ...(ctx.opts || {}) };
  const t = feedsT(ctx.lang);
  const root = h('div', 'fd-panel fd-flood');
  const head = h('div', 'fd-head');
  const title = h('h2', 'fd-title', t('flood.title'));
  const status = h('span', 'fd-status');
  head.append(title, status);
  const body = h('div', 'fd-body');
  root.append(head, body);
  el.replaceChildren(root);

  let hist = new History(opts.hours || 6);
  let state = new Map();
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
      const sec = h('section', 'fd-section');
      sec.append(h('h3', 'fd-section-title', t(kind)));
      for (const v of list) {
        const row = h('div', 'fd-row fd-' + v.kind);
        row.dataset.id = v.id;
        const name = h('div', 'fd-name');
        name.append(h('span', 'fd-name-main', t.label(v)), h('span', 'fd-name-sub', t.sub(v)));
        const value = h('div', 'fd-value');
        const detail = h('div', 'fd-detail');
        const badges = h('div', 'fd-badges');
        const canvas = h('canvas', 'fd-spark');
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
    r.value.append(h('span', 'fd-num', fmt(v.value, DIGITS[v.kind])), h('span', 'fd-unit', v.unit));
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
    if (u.type === 'snapshot') {
      state = new Map();
      for (const [k, v] of topic.state) state.set(k, v);
      const known = [...rows.keys()].join();
      const now = [...state.values()].filter((v) => v.kind && wanted(v)).map((v) => v.id).join();
      if (known !== now) build();
      for (const id of rows.keys()) { hist.add(state.get(id)); render(id); }
    } else {
      for (const k of u.del || []) state.delete(k);
      let rebuild = false;
      for (const [k, v] of Object.entries(u.set || {})) {
        if (!state.has(k) && v.kind && wanted(v)) rebuild = true;
        state.set(k, v);
      }
      if (rebuild) build();
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
      el.replaceChildren();
    },
  };
}
