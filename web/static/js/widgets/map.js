// Map widget: the heat map with district outlines (heatmap.js), new
// tickets as pulses, camera markers from the `cameras` topic (positions
// from the wall's catalogue until the topic has them), and any extra
// layers listed in opts.layers, loaded from ../layers/<name>.js when such a
// module exists (ctx.layers lists those built in). opts: {res, window, category, layers, cameras: bool}.

import { CellStore } from '../cells.js';
import { HeatMap } from '../heatmap.js';
import { mercX, mercY } from '../geo.js';
import { frame, strings, StateBadge, el } from './common.js';

const CAMERA_COLORS = {
  live: '#39d98a', connecting: '#ffb020', idle: '#7fb8ff', stalled: '#ffb020',
  offline: '#ff3b3b', unsupported: '#ff3b3b',
};

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
  const badge = new StateBadge(f.badge, hub, lang);
  const m = pub.map || {};
  const cells = new CellStore();
  const map = new HeatMap(f.body, cells, {
    center: Array.isArray(opts.center) && opts.center.length === 2 ? opts.center
      : (Array.isArray(m.center) && m.center.length === 2 ? m.center : [20.03, 110.33]),
    zoom: Number.isFinite(opts.zoom) ? opts.zoom : (Number.isFinite(m.zoom) ? m.zoom : 11.5),
    tileUrl: m.tile_url || '',
    tileCrs: m.tile_crs || 'wgs84',
    formatNumber: t.num,
    units: { km: t('unit.km'), m: t('unit.m') },
    areas: Array.isArray(pub.districts) ? pub.districts : [],
  });
  map.setLegendTitle(t('map.legend'));

  // The overlay: camera markers and extra layers, redrawn after the map.
  const overlay = el('canvas', 'map-overlay');
  f.body.append(overlay);
  const octx = overlay.getContext('2d');
  const project = (lat, lng) => {
    if (map.tf) [lat, lng] = map.tf(lat, lng);
    return [map._x(mercX(lng)), map._y(mercY(lat))];
  };
  const layers = [];
  let raf = 0;
  const redraw = () => {
    raf = 0;
    const W = map.canvas.width;
    const H = map.canvas.height;
    if (overlay.width !== W || overlay.height !== H) {
      overlay.width = W;
      overlay.height = H;
    }
    octx.clearRect(0, 0, W, H);
    for (const l of layers) {
      try { l.draw(octx, project); } catch (err) { console.error('map layer', l.name, err); }
    }
    if (showCameras) drawCameras(W);
  };
  const invalidate = () => { if (!raf) raf = requestAnimationFrame(redraw); };
  // Layers that do not call invalidate still move: redraw now and then.
  const every = setInterval(() => { if (layers.length) invalidate(); }, 2000);
  map.addEventListener('stats', (e) => { meta.stats = e.detail; renderMeta(); invalidate(); });

  // Camera markers.
  const showCameras = opts.cameras !== false;
  let camState = null;
  const camSub = showCameras ? hub.subscribe('cameras', (u, topic) => { camState = topic.state; invalidate(); }, { kind: 'state' }) : null;
  const drawCameras = (W) => {
    const dpr = map.dpr || 1;
    const r = Math.max(6, W / 220); // a marker reads from the back of the room
    const seen = new Set();
    const draw = (c) => {
      const lat = Number(c.lat);
      const lng = Number(c.lng);
      if (!Number.isFinite(lat) || !Number.isFinite(lng) || seen.has(c.id)) return;
      seen.add(c.id);
      const [x, y] = project(lat, lng);
      octx.beginPath();
      octx.moveTo(x, y - r * 1.3);
      octx.lineTo(x + r, y);
      octx.lineTo(x, y + r * 1.3);
      octx.lineTo(x - r, y);
      octx.closePath();
      octx.fillStyle = CAMERA_COLORS[c.state] || '#7fb8ff';
      octx.fill();
      octx.lineWidth = 1.5 * dpr;
      octx.strokeStyle = 'rgba(3,7,13,0.9)';
      octx.stroke();
    };
    if (camState) for (const [id, c] of camState) draw({ id, ...(ctx.catalog && ctx.catalog.get(id)), ...c });
    if (ctx.catalog) for (const c of ctx.catalog.values()) draw(camState && camState.get(c.id) ? { ...c, ...camState.get(c.id) } : c);
    meta.cameras = seen.size;
  };

  // Extra layers from other modules; a missing one is left out quietly.
  let dead = false;
  for (const name of Array.isArray(opts.layers) ? opts.layers : []) {
    if (name === 'cameras' || !/^[a-z0-9_-]+$/.test(name)) continue;
    if (ctx.layers && !ctx.layers.has(name)) continue; // not in this build
    import(`../layers/${name}.js`).then((mod) => {
      if (dead || typeof mod.layer !== 'function') return;
      const l = mod.layer({ hub, lang, t, pub, opts, invalidate });
      if (l && typeof l.draw === 'function') {
        l.name = name;
        layers.push(l);
        invalidate();
      }
    }, () => {});
  }

  // Heat and ticket pulses.
  const meta = { stats: null, cameras: 0 };
  const renderMeta = () => {
    const parts = [t('window.' + win), category === 'all' ? t('category.all') : category];
    if (meta.stats && meta.stats.cells > 0) parts.push(t('map.cells', { n: t.num(meta.stats.cells) }));
    if (meta.cameras) parts.push(s('map.cameras', { n: meta.cameras }));
    const text = parts.join(' · ');
    if (f.meta.textContent !== text) f.meta.textContent = text;
  };
  const heat = hub.subscribe(`heat/${res}/${win}/${category}`, (u, topic) => {
    badge.touch();
    if (u.type === 'snapshot') map.setData(topic.state);
    else map.invalidate();
  }, { kind: 'state' });
  const tickets = hub.subscribe('tickets', (u) => {
    if (u.type === 'delta' && u.event) map.pulse(Number(u.event.lat), Number(u.event.lng), !!u.event.urgent);
  }, { kind: 'events', maxEvents: 50 });
  renderMeta();

  return {
    update() {},
    destroy() {
      dead = true;
      cancelAnimationFrame(raf);
      clearInterval(every);
      heat.close();
      tickets.close();
      if (camSub) camSub.close();
      for (const l of layers) { try { l.destroy && l.destroy(); } catch (err) { console.error(err); } }
      layers.length = 0;
      badge.destroy();
      map.destroy();
      cells.close();
      root.replaceChildren();
    },
  };
}
