// The wall page: the layout engine. A display opens /wall/{id}?monitor=k
// and shows monitor k's part of the wall's canvas (the whole canvas, scaled
// to fit, without monitor); /wall shows the default wall. The wall's state
// comes from the hub topic wall/{id}: every display of a wall applies the
// same delta, so all monitors switch together. Each tile mounts one widget
// module, web/static/js/widgets/<kind>.js, by dynamic import; a kind whose
// module does not load gets a placeholder tile.

import { Hub } from './hub.js';
import { makeT, makeClock } from './i18n.js';
import { api, pickLang } from './kit.js';
import { strings } from './widgets/common.js';

const STALE_AFTER = 5 * 60 * 1000; // ms without data before the corner says so
const BANNER_AFTER = 1500; // ms offline before the banner shows
const FONT_PER_HEIGHT = 0.016; // root font size per monitor pixel height: 34.6 px on a 2160-line monitor

const $ = (id) => document.getElementById(id);
const lang = pickLang();
const t = makeT(lang);
const s = strings(lang);

async function getJSON(url, what) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await api(url); // a 401 signs in again (kit.js)
    } catch (err) {
      const delay = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() * 0.5);
      showBanner(t('banner.loading'), what + ': ' + String(err.message || err));
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function showBanner(text, detail) {
  $('banner-text').textContent = text;
  $('banner-detail').textContent = detail || '';
  $('banner').hidden = false;
  document.body.classList.add('is-offline');
}

function hideBanner() {
  $('banner').hidden = true;
  document.body.classList.remove('is-offline');
}

// modules caches each widget kind's import: one request per kind per page.
// Kinds the server does not have are not asked for.
const modules = new Map();
let built = null; // Set of widget kinds built in, from /api/v1/walls
function loadWidget(kind) {
  if (!/^[a-z0-9_-]+$/.test(kind)) return Promise.reject(new Error('bad kind ' + kind));
  if (built && !built.has(kind)) return Promise.reject(new Error('no module for ' + kind));
  if (!modules.has(kind)) modules.set(kind, import(`./widgets/${kind}.js`));
  return modules.get(kind);
}

// Tile is one mounted widget in the stage.
class Tile {
  constructor(stage, spec, geom, ctx) {
    this.spec = spec;
    this.key = JSON.stringify([spec.kind, spec.opts || null]);
    this.el = document.createElement('section');
    this.el.className = 'tile panel tile-' + spec.kind;
    this.el.dataset.tile = spec.id;
    this.el.dataset.kind = spec.kind;
    this.body = document.createElement('div');
    this.body.className = 'tile-body';
    this.el.append(this.body);
    this.place(geom);
    stage.append(this.el);
    this.widget = null;
    this.dead = false;
    this.opts = { ...(spec.opts || {}) };
    if (spec.kind === 'video') this.opts.stream = this.opts.stream || 'sub';
    this.ctx = { ...ctx, opts: this.opts, tile: spec.id };
  }

  place(g) {
    Object.assign(this.el.style, { left: g.x + 'px', top: g.y + 'px', width: g.w + 'px', height: g.h + 'px' });
  }

  async mount(slot) {
    if (this.spec.kind === 'video') this.setCamera(slot, false);
    let mod;
    try {
      mod = await loadWidget(this.spec.kind);
      if (typeof mod.mount !== 'function') throw new Error('no mount()');
    } catch (err) {
      if (!this.dead) this.placeholder(err);
      return;
    }
    if (this.dead) return;
    try {
      this.widget = mod.mount(this.body, this.ctx) || null;
      this.el.classList.add('tile-mounted');
    } catch (err) {
      console.error('widget', this.spec.kind, err);
      this.placeholder(err);
    }
  }

  placeholder(err) {
    this.el.classList.add('tile-placeholder');
    const box = document.createElement('div');
    box.className = 'placeholder';
    const k = document.createElement('div');
    k.className = 'placeholder-kind';
    k.textContent = s('kind.' + this.spec.kind) + (lang === 'en' ? '' : ' · ' + this.spec.kind);
    const m = document.createElement('div');
    m.className = 'placeholder-text';
    m.textContent = s('placeholder');
    box.append(k, m);
    if (this.spec.kind === 'video' && this.opts.camera) {
      const c = document.createElement('div');
      c.className = 'placeholder-text';
      c.textContent = this.opts.camera;
      box.append(c);
    }
    this.body.replaceChildren(box);
    box.title = String((err && err.message) || err || '');
  }

  // setCamera switches a video slot's camera in place.
  setCamera(slot, update = true) {
    const cam = (slot && slot.camera) || '';
    const src = (slot && slot.source) || 'none';
    this.el.dataset.camera = cam;
    this.el.dataset.source = src;
    this.el.classList.toggle('tile-alert-camera', src === 'alert');
    // Where the slot's camera comes from, when it is not the set: an alert
    // or a hand push. It sits over the widget, whatever the widget is.
    const label = src === 'alert' ? s('cam.alert') : src === 'push' ? s('cam.push') + (slot.by ? ' · ' + slot.by : '') : '';
    if (label && !this.badge) {
      this.badge = document.createElement('div');
      this.badge.className = 'slot-badge';
      this.el.append(this.badge);
    }
    if (this.badge) {
      this.badge.textContent = label;
      this.badge.hidden = !label;
      this.badge.classList.toggle('slot-badge-alert', src === 'alert');
    }
    if (cam === (this.opts.camera || '') && update) return;
    this.opts.camera = cam;
    if (update && this.widget && typeof this.widget.update === 'function') {
      try { this.widget.update({ camera: cam }); } catch (err) { console.error(err); }
    }
  }

  destroy() {
    this.dead = true;
    if (this.widget && typeof this.widget.destroy === 'function') {
      try { this.widget.destroy(); } catch (err) { console.error(err); }
    }
    this.widget = null;
    this.el.remove();
  }
}

async function main() {
  const pub = await getJSON('/api/v1/public', 'public');
  const walls = await getJSON('/api/v1/walls', 'walls');
  const city = pub.city || {};
  const clock = makeClock(lang, city.timezone || undefined);
  const m = location.pathname.match(/^\/wall\/([a-z0-9_-]+)\/?$/);
  const wallId = m ? m[1] : walls.default;
  const params = new URLSearchParams(location.search);
  const monitorParam = params.get('monitor');
  const catalog = new Map((walls.cameras || []).map((c) => [c.id, c]));
  if (walls.modules && Array.isArray(walls.modules.widgets)) built = new Set(walls.modules.widgets);
  const layers = walls.modules && Array.isArray(walls.modules.layers) ? new Set(walls.modules.layers) : null;

  const hub = new Hub();
  const stage = $('stage');
  const viewport = $('viewport');
  let frame = null; // {wall, layoutKey, W, H, region}
  let tiles = new Map(); // tile id -> Tile
  let lastLayout = '';
  const applied = []; // {version, at}: when this display applied each wall version
  const ctx = {
    hub, lang, t, pub, clock, wall: wallId, catalog, layers, camerasURL: '/api/v1/cameras',
  };

  const fit = () => {
    if (!frame) return;
    const { W, H } = frame;
    const w = frame.wall;
    const [mw, mh] = w.monitor;
    let region = { x: 0, y: 0, w: W, h: H };
    const k = monitorParam == null ? -1 : Number(monitorParam);
    if (Number.isInteger(k) && k >= 0 && k < w.rows * w.cols) {
      region = { x: (k % w.cols) * mw, y: Math.floor(k / w.cols) * mh, w: mw, h: mh };
    }
    frame.region = region;
    const vw = viewport.clientWidth || innerWidth;
    const vh = viewport.clientHeight || innerHeight;
    const scale = Math.min(vw / region.w, vh / region.h);
    const ox = (vw - region.w * scale) / 2 - region.x * scale;
    const oy = (vh - region.h * scale) / 2 - region.y * scale;
    stage.style.width = W + 'px';
    stage.style.height = H + 'px';
    stage.style.transform = `translate(${ox}px, ${oy}px) scale(${scale})`;
    document.documentElement.style.fontSize = (mh * FONT_PER_HEIGHT).toFixed(2) + 'px';
    document.documentElement.style.setProperty('--monitor-w', mw + 'px');
    document.documentElement.style.setProperty('--monitor-h', mh + 'px');
    document.body.dataset.monitor = k >= 0 ? String(k) : 'all';
  };
  addEventListener('resize', fit);

  // Monitor edges on the whole-canvas view, so a supervisor sees the bezels.
  const drawBezels = (w) => {
    for (const e of stage.querySelectorAll('.bezel')) e.remove();
    const [mw, mh] = w.monitor;
    for (let c = 1; c < w.cols; c++) {
      const b = document.createElement('div');
      b.className = 'bezel bezel-v';
      b.style.left = c * mw + 'px';
      stage.append(b);
    }
    for (let r = 1; r < w.rows; r++) {
      const b = document.createElement('div');
      b.className = 'bezel bezel-h';
      b.style.top = r * mh + 'px';
      stage.append(b);
    }
  };

  const geom = (tile, layout) => {
    const [gw, gh] = layout.grid;
    const cw = frame.W / gw;
    const ch = frame.H / gh;
    return { x: tile.x * cw, y: tile.y * ch, w: tile.w * cw, h: tile.h * ch };
  };
  const visible = (g) => {
    const r = frame.region;
    return g.x < r.x + r.w && r.x < g.x + g.w && g.y < r.y + r.h && r.y < g.y + g.h;
  };

  // apply brings the stage to the topic's state.
  const apply = (state) => {
    const w = state.get('wall');
    const layout = state.get('layout');
    const slots = state.get('slots') || {};
    const control = state.get('control') || {};
    if (!w || !layout || !Array.isArray(layout.tiles)) return;
    const W = w.canvas ? w.canvas[0] : w.cols * w.monitor[0];
    const H = w.canvas ? w.canvas[1] : w.rows * w.monitor[1];
    const frameKey = JSON.stringify([w.rows, w.cols, w.monitor]);
    if (!frame || frame.key !== frameKey) {
      frame = { key: frameKey, wall: w, W, H, region: null };
      fit();
      drawBezels(w);
    }
    const layoutKey = JSON.stringify(layout);
    if (layoutKey !== lastLayout) {
      lastLayout = layoutKey;
      const next = new Map();
      for (const spec of layout.tiles) {
        const g = geom(spec, layout);
        if (!visible(g)) continue;
        const old = tiles.get(spec.id);
        const key = JSON.stringify([spec.kind, spec.opts || null]);
        if (old && old.key === key) {
          old.place(g);
          next.set(spec.id, old);
          tiles.delete(spec.id);
          continue;
        }
        const tile = new Tile(stage, spec, g, ctx);
        next.set(spec.id, tile);
        tile.mount(slots[spec.id]);
      }
      for (const old of tiles.values()) old.destroy();
      tiles = next;
    }
    for (const [id, tile] of tiles) {
      if (tile.spec.kind === 'video') tile.setCamera(slots[id]);
    }
    document.body.classList.remove('is-loading');
    const title = (lang === 'en' ? w.name_en || w.name : w.name) + ' · ' + (lang === 'en' ? layout.name_en || layout.name : layout.name);
    if (document.title !== title) document.title = title;
    if (control.version != null) {
      const rec = { version: control.version, at: performance.timeOrigin + performance.now(), painted: 0 };
      applied.push(rec);
      // The frame after the change: when the monitor shows it.
      requestAnimationFrame(() => { rec.painted = performance.timeOrigin + performance.now(); });
      if (applied.length > 64) applied.splice(0, applied.length - 64);
      document.body.dataset.version = String(control.version);
    }
  };

  hub.subscribe('wall/' + wallId, (u, topic) => {
    if (u.type === 'snapshot' || u.type === 'delta') apply(topic.state);
  }, { kind: 'state' });
  hub.addEventListener('topicerror', (e) => {
    if (e.detail.topic === 'wall/' + wallId) showBanner(s('wall.unknown'), e.detail.reason || e.detail.code);
  });

  // Connection state: the corner dot, the banner after a short grace, and
  // a sign-in check now and then while the server keeps refusing.
  let status = { state: 'connecting' };
  let offlineSince = Date.now();
  hub.addEventListener('status', (e) => {
    status = e.detail;
    if (status.state === 'open') offlineSince = 0;
    else if (!offlineSince) offlineSince = Date.now();
    if (status.state === 'closed' && status.attempt > 0 && status.attempt % 4 === 0) {
      api('/api/v1/public').catch(() => {}); // only to learn of an ended session: a 401 signs in again
    }
    renderConn();
  });
  const renderConn = () => {
    const now = Date.now();
    const cls = 'conn stage-conn conn-' + status.state;
    if ($('conn').className !== cls) $('conn').className = cls;
    const text = t('conn.' + status.state);
    if ($('conn-text').textContent !== text) $('conn-text').textContent = text;
    const idle = hub.lastDataAt ? now - hub.lastDataAt : 0;
    const stale = status.state === 'open' && idle > STALE_AFTER;
    $('stale').hidden = !stale;
    if (stale) $('stale').textContent = t('stale', { m: Math.floor(idle / 60000) });
    document.body.classList.toggle('is-disconnected', status.state !== 'open');
    if (status.state === 'stopped') {
      showBanner(t('banner.stopped', { reason: status.reason || status.code }), '');
    } else if (offlineSince && now - offlineSince > BANNER_AFTER) {
      const detail = status.retryAt ? t('banner.retry', {
        n: status.attempt, s: Math.max(0, Math.ceil((status.retryAt - now) / 1000)),
      }) : '';
      showBanner(t('banner.reconnecting'), detail);
    } else {
      hideBanner();
    }
  };
  setInterval(renderConn, 1000);

  // A handle for tests and for someone debugging a wall on site.
  window.citywall = { hub, wall: wallId, applied, clock, get tiles() { return tiles; }, get frame() { return frame; } };
  hub.start();
  renderConn();
}

main();
