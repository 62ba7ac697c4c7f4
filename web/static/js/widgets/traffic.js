// Traffic widget: main road segments by congestion level (speed against
// free flow, 1 smooth – 4 jammed) with a sparkline of speed, jam alerts,
// stale badges, and the open incidents (accidents, road works, closures).
// Data: hub state topic feeds/traffic; history: GET /api/v1/feeds/{id}/history.
// opts: {roads: [ids], keyOnly: false, hours: 6, maxRoads: 12}

import { feedsT } from '../feeds/strings.js';
import { COLORS, ensureCSS, h, History, sparkline, fmt, badge, watchConn, redrawRows, showStatus } from '../feeds/common.js';

const STATES = ['nodata', 'smooth', 'slow', 'congested', 'jammed'];

export function mount(el, ctx) {
  ensureCSS();
  let opts = { ...(ctx.opts || {}) };
  const t = feedsT(ctx.lang);
  const root = h('div', 'fd-panel fd-traffic');
  const head = h('div', 'fd-head');
  const status = h('span', 'fd-status');
  head.append(h('h2', 'fd-title', t('traffic.title')), status);
  const summary = h('div', 'fd-summary');
  const list = h('div', 'fd-body fd-roads');
  const incHead = h('h3', 'fd-section-title', t('incidents'));
  const incList = h('div', 'fd-incidents');
  root.append(head, summary, list, incHead, incList);
  el.replaceChildren(root);

  let hist = new History(opts.hours || 6);
  const state = new Map();
  // Times in the city's zone, whatever zone the wall PC is set to.
  const zone = (ctx.pub && ctx.pub.city && ctx.pub.city.timezone) || 'Asia/Shanghai';
  let timeFmt;
  try {
    timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  } catch (err) {
    timeFmt = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  }
  const hhmm = (iso) => timeFmt.format(new Date(iso));
  let conn = 'connecting';
  const rows = new Map();

  const roads = () => [...state.values()]
    .filter((v) => v.kind === 'road' && (!opts.roads || opts.roads.includes(v.id)) && (!opts.keyOnly || v.key))
    .sort((a, b) => (b.level - a.level) || (a.value / a.free_flow) - (b.value / b.free_flow))
    .slice(0, opts.maxRoads || 12);

  const row = (v) => {
    let r = rows.get(v.id);
    if (!r) {
      const el = h('div', 'fd-row fd-road');
      el.dataset.id = v.id;
      const name = h('div', 'fd-name');
      name.append(h('span', 'fd-name-main', t.label(v)), h('span', 'fd-name-sub', t.sub(v)));
      r = { el, name, value: h('div', 'fd-value'), badges: h('div', 'fd-badges'), canvas: h('canvas', 'fd-spark') };
      el.append(r.name, r.value, r.badges, r.canvas);
      rows.set(v.id, r);
      hist.load(v.id).then(() => draw(v.id));
    }
    const color = v.stale ? COLORS.stale : COLORS.level[v.level] || COLORS.nodata;
    r.el.className = 'fd-row fd-road fd-level-' + v.level + (v.stale ? ' fd-is-stale' : '');
    r.value.replaceChildren(h('span', 'fd-num', fmt(v.value, 0)), h('span', 'fd-unit', 'km/h'));
    r.value.style.color = color;
    r.badges.replaceChildren(badge(t('state.' + STATES[v.level] || 'nodata'), COLORS.level[v.level] || COLORS.nodata));
    if (v.jam) r.badges.append(badge(t('jam'), COLORS.danger));
    if (v.stale) r.badges.append(badge(t('stale'), COLORS.stale));
    return r;
  };

  const draw = (id) => {
    const v = state.get(id);
    const r = rows.get(id);
    if (!v || !r) return;
    sparkline(r.canvas, hist.get(id), {
      hours: hist.hours, min: 0, max: v.free_flow,
      color: v.stale ? COLORS.stale : COLORS.level[v.level] || '#4fc3ff',
      lines: [{ v: v.free_flow * 0.3, color: COLORS.level[4] }],
    });
  };

  const render = () => {
    const rs = roads();
    const counts = [0, 0, 0, 0, 0];
    for (const v of state.values()) if (v.kind === 'road') counts[v.level]++;
    summary.textContent = t('roads.summary', { a: counts[1], b: counts[2], c: counts[3], d: counts[4] });
    const keep = new Set(rs.map((v) => v.id));
    for (const id of [...rows.keys()]) if (!keep.has(id)) rows.delete(id);
    list.replaceChildren(...rs.map((v) => row(v).el));
    for (const v of rs) draw(v.id);
    const incs = [...state.entries()].filter(([k]) => k.startsWith('incident:')).map(([, v]) => v)
      .sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    if (!incs.length) incList.replaceChildren(h('div', 'fd-empty', t('incidents.none')));
    else {
      incList.replaceChildren(...incs.slice(0, 6).map((v) => {
        const e = h('div', 'fd-incident fd-incident-' + v.type);
        const road = state.get(v.road);
        e.append(badge(t('incident.' + v.type), v.type === 'accident' ? COLORS.danger : COLORS.warning),
          h('span', 'fd-incident-text', v.summary || (road ? t.label(road) : '')),
          h('span', 'fd-incident-time', hhmm(v.time)));
        return e;
      }));
    }
    showStatus(status, root, conn, state, t);
  };

  const sub = ctx.hub.subscribe('feeds/traffic', (u, topic) => {
    if (u.type === 'snapshot') {
      state.clear();
      for (const [k, v] of topic.state) { state.set(k, v); hist.add(v); }
    } else {
      for (const k of u.del || []) state.delete(k);
      for (const [k, v] of Object.entries(u.set || {})) { state.set(k, v); hist.add(v); }
    }
    render();
  }, { kind: 'state' });
  const unwatch = watchConn(ctx.hub, (s) => { conn = s || 'connecting'; render(); });
  const stopRedraw = redrawRows(root, rows, draw);

  return {
    update(next) {
      opts = { ...opts, ...(next || {}) };
      if (next && next.hours && next.hours !== hist.hours) { hist.destroy(); hist = new History(next.hours); rows.clear(); }
      render();
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
