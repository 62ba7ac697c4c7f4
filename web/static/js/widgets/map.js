// Map widget: the city map (citymap.js, MapLibre) with the heat of one H3
// topic as a WebGL layer (heatlayer.js), camera markers from the `cameras`
// topic (positions from the wall's catalogue until the topic has them), new
// tickets as pulses, and any extra layers listed in opts.layers, loaded
// from ../layers/<name>.js when such a module exists (ctx.layers lists
// those built in). opts: {res, window, category, layers, cameras: bool,
// center, zoom, bounds, district}.
//
// A layer module exports layer(ctx) returning {add(cm), destroy()}: its
// MapLibre sources and layers (cm.addLayers, by group), added once the map
// has loaded. Only the tickets' pulses, short-lived, are drawn on a canvas
// over the map.

import { CellStore } from '../cells.js';
import { CityMap } from '../citymap.js';
import { HeatLayer, HeatLegend } from '../heatlayer.js';
import { layer as cameraLayer } from '../layers/cameras.js';
import { frame, strings, StateBadge, el } from './common.js';

const PULSE_LIFE = 2600; // ms
const PULSE_MAX = 40;

export function mount(root, ctx) {
  const { hub, lang, t, pub } = ctx;
  const s = strings(lang);
  const opts = ctx.opts || {};
  const geo = pub.geo || {};
  const resolutions = (geo.resolutions || [7, 8, 9]).map(Number);
  const windows = geo.windows || ['15m', '1h', '24h'];
  const res = resolutions.includes(Number(opts.res)) ? Number(opts.res) : (resolutions.includes(8) ? 8 : resolutions[0]);
  const win = windows.includes(opts.window) ? opts.window : (windows.includes('1h') ? '1h' : windows[0]);
  const category = typeof opts.category === 'string' && opts.category ? opts.category : 'all';

  const f = frame(root, t('map.title'));
  f.body.classList.add('map');
  const box = el('div', 'citymap-box');
  const overlay = el('canvas', 'map-overlay');
  f.body.append(box, overlay);
  const badge = new StateBadge(f.badge, hub, lang);
  const legend = new HeatLegend(f.body, t('map.legend'), t.num);
  const cells = new CellStore();

  const meta = { stats: null, cameras: 0 };
  const renderMeta = () => {
    const parts = [t('window.' + win), category === 'all' ? t('category.all') : category];
    if (meta.stats && meta.stats.cells > 0) parts.push(t('map.cells', { n: t.num(meta.stats.cells) }));
    if (meta.cameras) parts.push(s('map.cameras', { n: meta.cameras }));
    const text = parts.join(' · ');
    if (f.meta.textContent !== text) f.meta.textContent = text;
  };
  renderMeta();

  let dead = false;
  let cm = null;
  let heat = null;
  const layers = []; // {name, l}
  const pulses = [];
  let raf = 0;

  // The overlay: ticket pulses, in the map canvas's pixels.
  const octx = overlay.getContext('2d');
  const project = (lat, lng) => {
    const [x, y] = cm.project(lat, lng);
    const k = cm.map.getPixelRatio();
    return [x * k, y * k];
  };
  const drawOverlay = (now) => {
    raf = 0;
    if (!cm) return;
    const c = cm.map.getCanvas();
    if (overlay.width !== c.width || overlay.height !== c.height) {
      overlay.width = c.width;
      overlay.height = c.height;
    }
    octx.clearRect(0, 0, overlay.width, overlay.height);
    while (pulses.length && now - pulses[0].t0 > PULSE_LIFE) pulses.shift();
    const k = cm.map.getPixelRatio();
    for (const p of pulses) {
      const a = Math.max(0, (now - p.t0) / PULSE_LIFE);
      const [x, y] = project(p.lat, p.lng);
      octx.beginPath();
      octx.arc(x, y, (6 + 46 * Math.sqrt(a)) * k, 0, Math.PI * 2);
      octx.lineWidth = (p.urgent ? 4 : 2.5) * k * (1 - a * 0.6);
      octx.strokeStyle = p.urgent ? `rgba(255,70,70,${1 - a})` : `rgba(120,220,255,${0.9 * (1 - a)})`;
      octx.stroke();
    }
    if (pulses.length) invalidate();
  };
  const invalidate = () => { if (!raf && !dead) raf = requestAnimationFrame(drawOverlay); };

  const addLayer = (name, l) => {
    l.name = name;
    if (typeof l.add !== 'function') return;
    layers.push(l);
    if (cm && cm.loaded) {
      try { l.add(cm); } catch (err) { console.error('map layer', name, err); }
    }
  };

  const lctx = { hub, lang, t, pub, opts, catalog: ctx.catalog, invalidate };
  if (opts.cameras !== false) {
    addLayer('cameras', cameraLayer({ ...lctx, count: (n) => { meta.cameras = n; renderMeta(); } }));
  }
  // Extra layers from other modules; a missing one is left out quietly.
  for (const name of Array.isArray(opts.layers) ? opts.layers : []) {
    if (name === 'cameras' || !/^[a-z0-9_-]+$/.test(name)) continue;
    if (ctx.layers && !ctx.layers.has(name)) continue; // not in this build
    import(`../layers/${name}.js`).then((mod) => {
      if (dead || typeof mod.layer !== 'function') return;
      const l = mod.layer(lctx);
      if (l) addLayer(name, l);
    }, () => {});
  }

  // Heat: a snapshot replaces the cells, a delta sends what it changed.
  const heatSub = hub.subscribe(`heat/${res}/${win}/${category}`, (u, topic) => {
    badge.touch();
    if (!heat) return; // the map's load applies the topic's state
    if (u.type === 'snapshot') heat.setData(topic.state);
    else heat.applyDelta(u.set, u.del);
  }, { kind: 'state' });
  const tickets = hub.subscribe('tickets', (u) => {
    if (u.type !== 'delta' || !u.event) return;
    const lat = Number(u.event.lat);
    const lng = Number(u.event.lng);
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) return;
    if (pulses.length >= PULSE_MAX) pulses.shift();
    pulses.push({ lat, lng, t0: performance.now(), urgent: !!u.event.urgent });
    invalidate();
  }, { kind: 'events', maxEvents: 50 });

  CityMap.create(box, {
    pub, lang,
    center: opts.center, zoom: opts.zoom, bounds: opts.bounds, district: opts.district,
  }).then((m) => {
    if (dead) { m.destroy(); return; }
    cm = m;
    f.body.citymap = m; // for tests and the console's tools
    heat = new HeatLayer(cm, cells, 'district-border');
    f.body.heat = heat; // for tests: what the heat layer holds
    heat.addEventListener('stats', (e) => {
      meta.stats = e.detail;
      legend.update(e.detail.scale);
      renderMeta();
    });
    if (heatSub.synced) heat.setData(heatSub.state);
    cm.map.on('render', invalidate);
    cm.ready.then(() => {
      if (dead) return;
      cm.loaded = true;
      for (const l of layers) {
        try { l.add(cm); } catch (err) { console.error('map layer', l.name, err); }
      }
      invalidate();
    });
  }, (err) => {
    console.error('map', err);
    f.body.append(el('div', 'placeholder-text', String(err.message || err)));
  });

  return {
    update() {},
    destroy() {
      dead = true;
      cancelAnimationFrame(raf);
      heatSub.close();
      tickets.close();
      for (const l of layers) { try { l.destroy && l.destroy(); } catch (err) { console.error(err); } }
      layers.length = 0;
      if (heat) heat.destroy();
      badge.destroy();
      if (cm) cm.destroy();
      cells.close();
      root.replaceChildren();
    },
  };
}
