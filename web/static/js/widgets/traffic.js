// Traffic widget: main road segments by congestion level (speed against
// free flow, 1 smooth – 4 jammed) with a sparkline of speed, jam alerts,
// stale badges, and the open incidents (accidents, road works, closures).
// Data: hub state topic feeds/traffic; history: GET /api/v1/feeds/{id}/history.
// opts: {roads: [ids], keyOnly: false, hours: 6, maxRoads: 12}

import { feedsT } from '../feeds/strings.js';
import { COLORS, panel, History, sparkline, fmt, badge, watchConn, redrawRows, showStatus } from '../feeds/common.js';
import { el } from '../kit.js';

const STATES = ['nodata', 'smooth', 'slow', 'congested', 'jammed'];

export function mount(host, ctx) {
  let opts = { ...(ctx.opts || {}) };
  const t = feedsT(ctx.lang);
  const { root, status } = panel(host, 'fd-traffic', t('traffic.title'));
  const summary = el('div', 'fd-summary');
  const list = el('div', 'fd-body fd-roads');
  const incHead = el('h3', 'fd-section-title', t('incidents'));
  const incList = el('div', 'fd-incidents');
  root.append(summary, list, incHead, incList);

  let hist = new History(opts.hours || 6);
  let state = new Map(); // the topic's state, once it comes
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
      const e = el('div', 'fd-row fd-road');
      e.dataset.id = v.id;
      const name = el('div', 'fd-name');
      name.append(el('span', 'fd-name-main', t.label(v)), el('span', 'fd-name-sub', t.sub(v)));
      r = { el: e, name, value: el('div', 'fd-value'), badges: el('div', 'fd-badges'), canvas: el('canvas', 'fd-spark') };
      e.append(r.name, r.value, r.badges, r.canvas);
      rows.set(v.id, r);
      hist.load(v.id).then(() => draw(v.id));
    }
    const color = v.stale ? COLORS.stale : COLORS.level[v.level] || COLORS.nodata;
    r.el.className = 'fd-row fd-road fd-level-' + v.level + (v.stale ? ' fd-is-stale' : '');
    r.value.replaceChildren(el('span', 'fd-num', fmt(v.value, 0)), el('span', 'fd-unit', 'km/h'));
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
    if (!incs.length) incList.replaceChildren(el('div', 'fd-empty', t('incidents.none')));
    else {
      incList.replaceChildren(...incs.slice(0, 6).map((v) => {
        const e = el('div', 'fd-incident fd-incident-' + v.type);
        const road = state.get(v.road);
        e.append(badge(t('incident.' + v.type), v.type === 'accident' ? COLORS.danger : COLORS.warning),
          el('span', 'fd-incident-text', v.summary || (road ? t.label(road) : '')),
          el('span', 'fd-incident-time', hhmm(v.time)));
        return e;
      }));
    }
    showStatus(status, root, conn, state, t);
  };

  const sub = ctx.hub.subscribe('feeds/traffic', (u, topic) => {
    state = topic.state; // the hub's own, read and never written here
    for (const k of u.type === 'snapshot' ? state.keys() : Object.keys(u.set || {})) hist.add(state.get(k));
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
      host.replaceChildren();
    },
  };
}
