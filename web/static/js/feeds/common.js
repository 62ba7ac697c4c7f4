// Shared parts of the feed widgets: the stylesheet, history fetching,
// sparklines and the colours of states.

import { el, api } from '../kit.js';

export const COLORS = {
  normal: '#39d98a',
  warning: '#ffb020',
  danger: '#ff3b3b',
  nodata: '#5d6f88',
  stale: '#7d90ab',
  level: ['#5d6f88', '#39d98a', '#ffd23f', '#ff8a1f', '#d0213a'], // congestion 0..4
};

// ensureCSS adds the widgets' stylesheet once per page.
function ensureCSS() {
  if (document.getElementById('feeds-css')) return;
  const link = document.createElement('link');
  link.id = 'feeds-css';
  link.rel = 'stylesheet';
  link.href = '/static/css/feeds.css';
  document.head.appendChild(link);
}

// panel builds a feeds widget's frame in host and returns its root and
// status line: root (fd-panel and cls) holds a head with the title, the
// extra elements and the status line; the widget appends its body.
export function panel(host, cls, title, ...extra) {
  ensureCSS();
  const root = el('div', 'fd-panel ' + cls);
  const head = el('div', 'fd-head');
  const status = el('span', 'fd-status');
  head.append(el('h2', 'fd-title', title), ...extra, status);
  root.append(head);
  host.replaceChildren(root);
  return { root, status };
}

// History keeps the recent points of stations, fetched once from the API
// and extended with live values.
export class History {
  constructor(hours) {
    this.hours = hours || 6;
    this.points = new Map(); // id -> [{t, v}]
    this.loading = new Set();
    this.aborter = new AbortController();
  }

  async load(id) {
    if (this.loading.has(id) || this.points.has(id)) return;
    this.loading.add(id);
    try {
      // A 401 is the page's to notice (the wall checks its session);
      // the sparkline stays empty.
      const body = await api(`/api/v1/feeds/${encodeURIComponent(id)}/history?hours=${this.hours}`,
        { signal: this.aborter.signal, unauthorized: 'throw' });
      const live = this.points.get(id) || [];
      const pts = (body.points || []).concat(live.filter((p) => !body.points.length || p.t > body.points[body.points.length - 1].t));
      this.points.set(id, pts);
    } catch (err) {
      if (err.name !== 'AbortError') this.points.set(id, this.points.get(id) || []);
    } finally {
      this.loading.delete(id);
    }
  }

  // add appends a live value if it is newer than the last point.
  add(v) {
    if (!v || v.value == null || !v.time) return;
    const t = Date.parse(v.time);
    const pts = this.points.get(v.id);
    if (!pts) return;
    if (pts.length && pts[pts.length - 1].t >= t) return;
    pts.push({ t, v: v.value });
    const cut = Date.now() - this.hours * 3600e3;
    while (pts.length && pts[0].t < cut) pts.shift();
  }

  get(id) { return this.points.get(id) || []; }

  destroy() { this.aborter.abort(); this.points.clear(); }
}

// sparkline draws points on a canvas sized to its box, with optional
// threshold lines ({v, color}) and a fixed time span ending now.
export function sparkline(canvas, pts, opts = {}) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const hgt = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== hgt) { canvas.width = w; canvas.height = hgt; }
  const c = canvas.getContext('2d');
  c.clearRect(0, 0, w, hgt);
  const lines = opts.lines || [];
  const series = opts.series || [{ pts, color: opts.color || '#4fc3ff' }];
  let lo = opts.min ?? Infinity;
  let hi = opts.max ?? -Infinity;
  for (const s of series) for (const p of s.pts) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); }
  for (const l of lines) { lo = Math.min(lo, l.v); hi = Math.max(hi, l.v); }
  if (!isFinite(lo) || !isFinite(hi)) return;
  if (hi - lo < 1e-9) { hi += 1; lo -= 1; }
  const pad = (hi - lo) * 0.08;
  lo -= pad; hi += pad;
  const t1 = opts.t1 ?? Date.now();
  const t0 = opts.t0 ?? t1 - (opts.hours || 6) * 3600e3;
  const X = (t) => ((t - t0) / (t1 - t0)) * w;
  const Y = (v) => hgt - ((v - lo) / (hi - lo)) * hgt;
  c.lineWidth = Math.max(1, dpr);
  for (const l of lines) {
    c.strokeStyle = l.color;
    c.setLineDash([4 * dpr, 4 * dpr]);
    c.beginPath(); c.moveTo(0, Y(l.v)); c.lineTo(w, Y(l.v)); c.stroke();
  }
  c.setLineDash([]);
  for (const s of series) {
    if (s.pts.length < 1) continue;
    c.strokeStyle = s.color;
    c.lineWidth = (s.width || 2) * dpr;
    c.beginPath();
    s.pts.forEach((p, i) => {
      const x = s.x ? s.x(p, i, w) : X(p.t);
      if (i === 0) c.moveTo(x, Y(p.v)); else c.lineTo(x, Y(p.v));
    });
    c.stroke();
  }
}

// fmt formats a number with a fixed count of decimals, or a dash.
export function fmt(v, digits) {
  return v == null || !isFinite(v) ? '—' : Number(v).toFixed(digits);
}

// badge is a small coloured label.
export function badge(text, color) {
  const b = el('span', 'fd-badge', text);
  b.style.borderColor = color;
  b.style.color = color;
  return b;
}

// watchConn reports the hub's connection state to fn(state).
export function watchConn(hub, fn) {
  const on = (e) => fn(e.detail && e.detail.state);
  hub.addEventListener('status', on);
  fn(hub.state);
  return () => hub.removeEventListener('status', on);
}

// stateLayer is a feed's map layer drawn from a hub state topic, the part
// the flood and traffic layers share. spec: {topic, name (of the GeoJSON
// source and the layer group), features(state, cm) (a FeatureCollection),
// images(cm) (adds the symbols' pictures), layers(cm) (the style layers),
// points(state) ([lat, lng] pairs for the extent)}. The source is replaced
// on every change of the topic, whose state is the hub's own, read and
// never written here; ctx: {hub, redraw?}, redraw() is called after each
// change.
export function stateLayer(ctx, spec) {
  let cm = null;
  const sub = ctx.hub.subscribe(spec.topic, () => {
    const src = cm && cm.map.getSource(spec.name);
    if (src) src.setData(spec.features(sub.state, cm));
    if (ctx.redraw) ctx.redraw();
  }, { kind: 'state' });

  return {
    // add puts the layer on cm, a CityMap whose style has loaded.
    add(map) {
      cm = map;
      spec.images(cm);
      cm.map.addSource(spec.name, { type: 'geojson', data: spec.features(sub.state, cm) });
      cm.addLayers(spec.name, spec.layers(cm));
    },
    // extent is [[south, west], [north, east]] of the layer's points, or null.
    extent() {
      return extentOf(spec.points(sub.state));
    },
    destroy() {
      sub.close();
      cm = null;
    },
  };
}

// redrawRows calls draw(id) for every row id of rows every 30 s (sparklines
// move with the clock even without new readings) and whenever root changes
// size; the returned function stops it.
export function redrawRows(root, rows, draw) {
  const all = () => { for (const id of rows.keys()) draw(id); };
  const timer = setInterval(all, 30000);
  const ro = new ResizeObserver(all);
  ro.observe(root);
  return () => { clearInterval(timer); ro.disconnect(); };
}

// showStatus fills a feeds widget's status line: a badge when the hub is
// not connected and one for every data source down or stale in state; the
// widget's root is marked offline while the hub is not connected.
export function showStatus(status, root, conn, state, t) {
  status.replaceChildren();
  if (conn !== 'open') status.append(badge(t(conn === 'connecting' ? 'connecting' : 'offline'), COLORS.stale));
  for (const [k, v] of state) {
    if (k.startsWith('source:') && (v.state === 'error' || v.stale)) status.append(badge(t('source.down', { name: v.name }), COLORS.danger));
  }
  root.classList.toggle('fd-offline', conn !== 'open');
}

// extentOf is [[south, west], [north, east]] of [lat, lng] points, or null.
export function extentOf(pts) {
  let s = 90, w = 180, n = -90, e = -180;
  for (const [lat, lng] of pts) {
    if (!Number.isFinite(lat) || !Number.isFinite(lng) || (lat === 0 && lng === 0)) continue;
    s = Math.min(s, lat); n = Math.max(n, lat); w = Math.min(w, lng); e = Math.max(e, lng);
  }
  return s <= n ? [[s, w], [n, e]] : null;
}
