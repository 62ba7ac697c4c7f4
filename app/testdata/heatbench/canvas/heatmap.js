// HeatMap draws H3 cells coloured by count on a canvas, in Web Mercator,
// over a dark background or an XYZ tile basemap. It redraws only when
// something changed, and only one frame per change.

import { crsTransform, mercX, mercY, unmercX, unmercY, metresPerWorldUnit } from './geo.js';

// The colour ramp for a dark background: low counts are a translucent deep
// red that still stands out from the background, the top is white. Stops
// are [t, r, g, b, alpha].
const RAMP = [
  [0.0, 118, 20, 32, 0.66],
  [0.22, 168, 26, 34, 0.8],
  [0.45, 226, 66, 28, 0.9],
  [0.68, 255, 146, 30, 0.95],
  [0.86, 255, 222, 90, 1],
  [1.0, 255, 255, 240, 1],
];
const LEVELS = 48;
const CHUNK = 128; // polygons per fill call

function rampAt(t) {
  let i = 1;
  while (i < RAMP.length - 1 && RAMP[i][0] < t) i++;
  const a = RAMP[i - 1];
  const b = RAMP[i];
  const f = Math.max(0, Math.min(1, (t - a[0]) / (b[0] - a[0])));
  const c = (k) => a[k] + (b[k] - a[k]) * f;
  return [Math.round(c(1)), Math.round(c(2)), Math.round(c(3)), +c(4).toFixed(3)];
}

const LUT = Array.from({ length: LEVELS }, (_, i) => {
  const [r, g, b, al] = rampAt(i / (LEVELS - 1));
  return `rgba(${r},${g},${b},${al})`;
});

// The ramp as a CSS gradient, for legends outside the canvas.
export const RAMP_CSS = 'linear-gradient(to right, ' +
  RAMP.map(([t, r, g, b, a]) => `rgba(${r},${g},${b},${a}) ${Math.round(t * 100)}%`).join(', ') + ')';

// rampT places a count on the ramp: a square-root scale from 1 (the
// lowest colour) to max (white), so a few very hot cells do not leave every
// other cell the same dark red.
export function rampT(v, max) {
  if (v <= 1 || max <= 1) return v >= max ? 1 : 0;
  return Math.min(1, (Math.sqrt(v) - 1) / (Math.sqrt(max) - 1));
}

function levelOf(v, max) {
  return Math.round(rampT(v, max) * (LEVELS - 1));
}

// niceNumber rounds down to 1, 2 or 5 times a power of ten.
function niceNumber(v) {
  if (v < 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const f = v / p;
  return (f >= 5 ? 5 : f >= 2 ? 2 : 1) * p;
}

// valueOf accepts a bare count or an object with a count.
function valueOf(v) {
  if (typeof v === 'number') return v;
  if (v && typeof v.count === 'number') return v.count;
  return 0;
}

const BG = '#060b14';

const DEFAULTS = {
  center: [20.03, 110.33],
  zoom: 11.5,
  // map.zoom is meant for a map this many CSS px on its short side, about
  // what a 1920×1080 desktop shows when someone sets the zoom up; larger and
  // smaller maps zoom in or out so every screen shows that same area.
  refShortSide: 1024,
  tileUrl: '',
  tileCrs: 'wgs84',
  tileMaxZoom: 18,
  tileCache: 300, // images kept
  minScale: 5, // the colour scale never tops out below this count
  riseMs: 700, // time constants of the colour scale following the max
  fallMs: 4000,
  labelTop: 5, // label the hottest cells with their count when they are big enough
  pulseMax: 40,
};

// Events: 'stats' {cells, drawn, missing, max, scale}, after a redraw;
// drawMs holds how long the last full redraw took.
export class HeatMap extends EventTarget {
  constructor(el, cells, opts = {}) {
    super();
    this.el = el;
    this.cells = cells;
    this.opts = { ...DEFAULTS, ...opts };
    this.data = new Map();
    this.proj = new WeakMap(); // outline -> Float64Array of world x, y
    this.tf = crsTransform(this.opts.tileCrs);
    this.scale = this.opts.minScale; // current colour-scale top, eased
    this.target = this.opts.minScale;
    this.pulses = [];
    this.tiles = new Map(); // url -> {img, ok, failedAt}
    this._dirty = false;
    this._raf = 0;
    this._fxRaf = 0;
    this._lastFrame = 0;
    this._legendKey = '';

    el.classList.add('heatmap');
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'heatmap-base';
    this.fx = document.createElement('canvas');
    this.fx.className = 'heatmap-fx';
    this.ctx = this.canvas.getContext('2d', { alpha: false });
    this.fxCtx = this.fx.getContext('2d');
    el.append(this.canvas, this.fx);
    this._buildLegend();
    this._buildScaleBar();

    this._onLoaded = () => this.invalidate();
    cells.addEventListener('loaded', this._onLoaded);
    this._ro = new ResizeObserver(() => this._resize());
    this._ro.observe(el);
    this._onDpr = () => this._resize();
    window.addEventListener('resize', this._onDpr);
    this.setView(this.opts.center, this.opts.zoom);
  }

  // setData shows a map of cell id -> count. The map may be the hub topic's
  // own state, updated in place; call invalidate() after each change.
  setData(map) {
    this.data = map instanceof Map ? map : new Map(Object.entries(map || {}));
    // A new layer or a fresh snapshot sets the colour scale at once; only
    // deltas ease it.
    let max = 0;
    for (const v of this.data.values()) {
      const n = valueOf(v);
      if (n > max) max = n;
    }
    this.scale = this.target = Math.max(this.opts.minScale, max);
    this.invalidate();
  }

  setView(center, zoom) {
    const [lat, lng] = this.tf ? this.tf(center[0], center[1]) : center;
    this.centerLat = lat;
    this.cx = mercX(lng);
    this.cy = mercY(lat);
    this.zoom = zoom;
    this._resize();
  }

  // setLegendTitle changes the text above the legend ramp.
  setLegendTitle(text) {
    this.legendTitle.textContent = text;
  }

  // pulse marks a new ticket with an expanding ring.
  pulse(lat, lng, urgent = false) {
    if (!Number.isFinite(lat) || !Number.isFinite(lng)) return;
    if (this.tf) [lat, lng] = this.tf(lat, lng);
    if (this.pulses.length >= this.opts.pulseMax) this.pulses.shift();
    this.pulses.push({ x: mercX(lng), y: mercY(lat), t0: performance.now(), urgent });
    if (!this._fxRaf) this._fxRaf = requestAnimationFrame((t) => this._drawFx(t));
  }

  invalidate() {
    this._dirty = true;
    if (!this._raf) this._raf = requestAnimationFrame((t) => this._frame(t));
  }

  destroy() {
    cancelAnimationFrame(this._raf);
    cancelAnimationFrame(this._fxRaf);
    this._ro.disconnect();
    window.removeEventListener('resize', this._onDpr);
    this.cells.removeEventListener('loaded', this._onLoaded);
    for (const t of this.tiles.values()) t.img.src = '';
    this.tiles.clear();
    this.pulses.length = 0;
    this.el.replaceChildren();
  }

  _resize() {
    // A wall display scales its whole canvas with a CSS transform: the
    // element's layout size is in the wall's pixels, its box on screen in
    // the display's. Device pixels per layout pixel is both factors, so
    // lines, labels and the scale bar keep their size on every monitor.
    const r = this.el.getBoundingClientRect();
    const lw = this.el.offsetWidth || r.width;
    const lh = this.el.offsetHeight || r.height;
    const dpr = (window.devicePixelRatio || 1) * (lw > 0 && r.width > 0 ? r.width / lw : 1);
    const w = Math.max(1, Math.round(lw * dpr));
    const h = Math.max(1, Math.round(lh * dpr));
    this.dpr = dpr;
    this.cssW = lw;
    this.cssH = lh;
    const short = Math.max(1, Math.min(lw, lh));
    this.zEff = this.zoom + Math.log2(short / this.opts.refShortSide);
    this.k = 256 * 2 ** this.zEff * dpr; // device px per world unit
    this._remPx = 0; // the root font size follows the viewport
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.fx.width = w;
      this.fx.height = h;
    }
    this._updateScaleBar();
    this.invalidate();
  }

  _frame(now) {
    this._raf = 0;
    const dt = this._lastFrame ? Math.min(1000, now - this._lastFrame) : 16;
    this._lastFrame = now;
    // Ease the colour scale towards the visible maximum: up fast, down slowly,
    // so one delta does not make the whole map flash.
    const tau = this.target > this.scale ? this.opts.riseMs : this.opts.fallMs;
    this.scale += (this.target - this.scale) * (1 - Math.exp(-dt / tau));
    const easing = Math.abs(this.target - this.scale) > this.target * 0.004;
    if (!easing) this.scale = this.target;
    if (this._dirty || easing) {
      this._dirty = false;
      const t0 = performance.now();
      this._draw();
      this.drawMs = performance.now() - t0;
    }
    if (easing && !this._raf) this._raf = requestAnimationFrame((t) => this._frame(t));
    else if (!this._raf) this._lastFrame = 0;
  }

  _draw() {
    const { ctx, canvas } = this;
    const W = canvas.width;
    const H = canvas.height;
    ctx.fillStyle = BG;
    ctx.fillRect(0, 0, W, H);
    if (this.opts.tileUrl) this._drawTiles(W, H);
    this._drawGraticule(W, H);
    this._drawAreas();
    this._drawCells(W, H);
    this._drawVignette(W, H);
  }

  // world to device pixels
  _x(x) { return (x - this.cx) * this.k + this.canvas.width / 2; }
  _y(y) { return (y - this.cy) * this.k + this.canvas.height / 2; }

  _drawCells(W, H) {
    const { ctx, k } = this;
    const ox = W / 2 - this.cx * k;
    const oy = H / 2 - this.cy * k;
    const buckets = Array.from({ length: LEVELS }, () => []);
    const scale = Math.max(this.opts.minScale, this.scale);
    let visibleMax = 0;
    let drawn = 0;
    let missing = 0;
    let cellPx = 0;
    const top = [];
    const margin = 60 * this.dpr;
    for (const [id, raw] of this.data) {
      const v = valueOf(raw);
      if (!(v > 0)) continue;
      const outline = this.cells.get(id);
      if (!outline) {
        if (outline === undefined) missing++;
        continue;
      }
      const p = this._projected(outline);
      // p ends with the bounding box: minX, minY, maxX, maxY
      const n = p.length - 4;
      const x0 = p[n] * k + ox;
      const y0 = p[n + 1] * k + oy;
      const x1 = p[n + 2] * k + ox;
      const y1 = p[n + 3] * k + oy;
      if (x1 < -margin || y1 < -margin || x0 > W + margin || y0 > H + margin) continue;
      if (v > visibleMax) visibleMax = v;
      if (!cellPx) cellPx = x1 - x0;
      buckets[levelOf(v, scale)].push(p);
      drawn++;
      if (this.opts.labelTop > 0) this._keepTop(top, v, (x0 + x1) / 2, (y0 + y1) / 2);
    }
    // Gaps between cells keep neighbours apart when they are big enough to
    // show them; tiny cells would turn into outlines only.
    const gap = cellPx > 14 * this.dpr ? Math.min(2.5 * this.dpr, cellPx * 0.06) : 0;
    ctx.lineJoin = 'round';
    ctx.lineWidth = gap;
    ctx.strokeStyle = 'rgba(6,11,20,0.85)';
    for (let i = 0; i < LEVELS; i++) {
      const list = buckets[i];
      if (list.length === 0) continue;
      ctx.fillStyle = LUT[i];
      // Fill in chunks: the rasteriser slows down far more than linearly on
      // one path with thousands of subpaths.
      for (let c = 0; c < list.length; c += CHUNK) {
        const end = Math.min(list.length, c + CHUNK);
        ctx.beginPath();
        for (let q = c; q < end; q++) {
          const p = list[q];
          const n = p.length - 4;
          ctx.moveTo(p[0] * k + ox, p[1] * k + oy);
          for (let j = 2; j < n; j += 2) ctx.lineTo(p[j] * k + ox, p[j + 1] * k + oy);
          ctx.closePath();
        }
        ctx.fill();
        if (gap) ctx.stroke();
      }
    }
    // Only whole counts are meaningful, and the top must not sit below the
    // minimum; a new target restarts the easing.
    const target = Math.max(this.opts.minScale, visibleMax);
    if (target !== this.target) {
      this.target = target;
      if (!this._raf) this._raf = requestAnimationFrame((t) => this._frame(t));
    }
    if (top.length) this._drawLabels(top, cellPx);
    this._updateLegend(scale);
    this.dispatchEvent(new CustomEvent('stats', {
      detail: { cells: this.data.size, drawn, missing, max: visibleMax, scale },
    }));
  }

  _keepTop(top, v, x, y) {
    const n = this.opts.labelTop;
    if (top.length === n && v <= top[n - 1].v) return;
    let i = top.length;
    while (i > 0 && top[i - 1].v < v) i--;
    top.splice(i, 0, { v, x, y });
    if (top.length > n) top.pop();
  }

  _drawLabels(top, cellPx) {
    const { ctx } = this;
    // Numbers too small to read from the back of the room are left out.
    const rem = this._rem();
    const size = Math.round(Math.min(cellPx * 0.28, 0.85 * rem * this.dpr));
    if (size < 0.55 * rem * this.dpr) return;
    ctx.font = `700 ${size}px "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.lineWidth = Math.max(2, size * 0.18);
    ctx.strokeStyle = 'rgba(20,6,6,0.85)';
    ctx.fillStyle = '#fff';
    for (const { v, x, y } of top) {
      const s = String(v);
      ctx.strokeText(s, x, y);
      ctx.fillText(s, x, y);
    }
  }

  _rem() {
    if (!this._remPx) this._remPx = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    return this._remPx;
  }

  // _projected returns the outline in world units (through the basemap's
  // coordinate system) followed by its bounding box, computed once per
  // outline and dropped with it.
  _projected(outline) {
    let p = this.proj.get(outline);
    if (p) return p;
    const n = outline.length;
    p = new Float64Array(n + 4);
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < n; i += 2) {
      let lat = outline[i];
      let lng = outline[i + 1];
      if (this.tf) [lat, lng] = this.tf(lat, lng);
      const x = mercX(lng);
      const y = mercY(lat);
      p[i] = x;
      p[i + 1] = y;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    p[n] = minX;
    p[n + 1] = minY;
    p[n + 2] = maxX;
    p[n + 3] = maxY;
    this.proj.set(outline, p);
    return p;
  }

  _drawGraticule(W, H) {
    const { ctx, k } = this;
    const lng0 = unmercX(this.cx - W / 2 / k);
    const lng1 = unmercX(this.cx + W / 2 / k);
    const lat1 = unmercY(this.cy - H / 2 / k);
    const lat0 = unmercY(this.cy + H / 2 / k);
    const span = lng1 - lng0;
    const steps = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];
    const step = steps.find((s) => span / s <= 14) || 10;
    ctx.lineWidth = Math.max(1, this.dpr);
    ctx.beginPath();
    for (let lng = Math.ceil(lng0 / step) * step; lng <= lng1; lng += step) {
      const x = Math.round(this._x(mercX(lng))) + 0.5;
      ctx.moveTo(x, 0);
      ctx.lineTo(x, H);
    }
    for (let lat = Math.ceil(lat0 / step) * step; lat <= lat1; lat += step) {
      const y = Math.round(this._y(mercY(lat))) + 0.5;
      ctx.moveTo(0, y);
      ctx.lineTo(W, y);
    }
    ctx.strokeStyle = this.opts.tileUrl ? 'rgba(140,180,230,0.10)' : 'rgba(110,150,210,0.085)';
    ctx.stroke();
    // A finer, fainter grid between the lines gives the plain background some
    // texture without looking like roads.
    if (!this.opts.tileUrl) {
      const fine = step / 5;
      ctx.beginPath();
      for (let lng = Math.ceil(lng0 / fine) * fine; lng <= lng1; lng += fine) {
        const x = Math.round(this._x(mercX(lng))) + 0.5;
        ctx.moveTo(x, 0);
        ctx.lineTo(x, H);
      }
      for (let lat = Math.ceil(lat0 / fine) * fine; lat <= lat1; lat += fine) {
        const y = Math.round(this._y(mercY(lat))) + 0.5;
        ctx.moveTo(0, y);
        ctx.lineTo(W, y);
      }
      ctx.strokeStyle = 'rgba(110,150,210,0.03)';
      ctx.stroke();
    }
  }

  // _drawAreas outlines the city's districts under the cells, so a wall
  // without a basemap still shows where a hot spot is. Names go at each
  // area's vertex centroid, in the page's language first.
  _drawAreas() {
    const areas = this.opts.areas || [];
    if (!areas.length) return;
    const { ctx } = this;
    if (!this._areaProj) {
      this._areaProj = areas.map((a) => ({
        name: document.documentElement.lang === 'en' && a.name_en ? a.name_en : a.name,
        pts: (a.polygon || []).map(([lat, lng]) => {
          if (this.tf) [lat, lng] = this.tf(lat, lng);
          return [mercX(lng), mercY(lat)];
        }),
      }));
    }
    ctx.lineWidth = Math.max(1.5, 1.5 * this.dpr);
    ctx.lineJoin = 'round';
    ctx.setLineDash([6 * this.dpr, 5 * this.dpr]);
    ctx.strokeStyle = 'rgba(120,170,235,0.35)';
    ctx.fillStyle = 'rgba(70,120,200,0.05)';
    for (const a of this._areaProj) {
      if (a.pts.length < 3) continue;
      ctx.beginPath();
      a.pts.forEach(([x, y], i) => (i ? ctx.lineTo(this._x(x), this._y(y)) : ctx.moveTo(this._x(x), this._y(y))));
      ctx.closePath();
      ctx.fill();
      ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.font = `600 ${Math.round(1.1 * this._rem() * this.dpr)}px "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillStyle = 'rgba(150,190,240,0.55)';
    for (const a of this._areaProj) {
      if (!a.pts.length) continue;
      let sx = 0;
      let sy = 0;
      for (const [x, y] of a.pts) { sx += x; sy += y; }
      ctx.fillText(a.name, this._x(sx / a.pts.length), this._y(sy / a.pts.length));
    }
  }

  _drawVignette(W, H) {
    const { ctx } = this;
    const g = ctx.createRadialGradient(W / 2, H / 2, Math.min(W, H) * 0.35, W / 2, H / 2, Math.hypot(W, H) / 2);
    g.addColorStop(0, 'rgba(6,11,20,0)');
    g.addColorStop(1, 'rgba(6,11,20,0.55)');
    ctx.fillStyle = g;
    ctx.fillRect(0, 0, W, H);
  }

  _drawTiles(W, H) {
    const { ctx } = this;
    const z = Math.max(0, Math.min(this.opts.tileMaxZoom, Math.round(this.zEff + Math.log2(this.dpr))));
    const n = 2 ** z;
    const size = this.k / n; // device px per tile
    const tx0 = Math.floor((this.cx - W / 2 / this.k) * n);
    const tx1 = Math.floor((this.cx + W / 2 / this.k) * n);
    const ty0 = Math.max(0, Math.floor((this.cy - H / 2 / this.k) * n));
    const ty1 = Math.min(n - 1, Math.floor((this.cy + H / 2 / this.k) * n));
    const now = Date.now();
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        const x = ((tx % n) + n) % n;
        const url = this.opts.tileUrl.replace('{z}', z).replace('{x}', x).replace('{y}', ty)
          .replace('{-y}', n - 1 - ty);
        const tile = this._tile(url, now);
        if (tile && tile.ok) {
          const px = Math.floor(this._x(tx / n));
          const py = Math.floor(this._y(ty / n));
          ctx.drawImage(tile.img, px, py, Math.ceil(size) + 1, Math.ceil(size) + 1);
        }
      }
    }
    // Darken the basemap so the cells, not the streets, catch the eye.
    ctx.fillStyle = 'rgba(6,11,20,0.7)';
    ctx.fillRect(0, 0, W, H);
  }

  _tile(url, now) {
    let t = this.tiles.get(url);
    if (t) {
      if (t.failedAt && now - t.failedAt > 60000) {
        this.tiles.delete(url); // try again
        t = null;
      } else {
        this.tiles.delete(url); // keep in use order for eviction
        this.tiles.set(url, t);
        return t;
      }
    }
    const img = new Image();
    t = { img, ok: false, failedAt: 0 };
    img.decoding = 'async';
    img.onload = () => { t.ok = true; this.invalidate(); };
    img.onerror = () => { t.failedAt = Date.now(); };
    img.src = url;
    this.tiles.set(url, t);
    while (this.tiles.size > this.opts.tileCache) {
      const oldest = this.tiles.keys().next().value;
      const o = this.tiles.get(oldest);
      o.img.onload = o.img.onerror = null;
      o.img.src = '';
      this.tiles.delete(oldest);
    }
    return t;
  }

  _drawFx(now) {
    this._fxRaf = 0;
    const { fxCtx: ctx, fx } = this;
    ctx.clearRect(0, 0, fx.width, fx.height);
    const life = 2600;
    while (this.pulses.length && now - this.pulses[0].t0 > life) this.pulses.shift();
    for (const p of this.pulses) {
      const f = Math.max(0, (now - p.t0) / life);
      const x = this._x(p.x);
      const y = this._y(p.y);
      const r = (6 + 46 * Math.sqrt(f)) * this.dpr;
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.lineWidth = (p.urgent ? 4 : 2.5) * this.dpr * (1 - f * 0.6);
      ctx.strokeStyle = p.urgent ? `rgba(255,70,70,${1 - f})` : `rgba(120,220,255,${0.9 * (1 - f)})`;
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(x, y, (p.urgent ? 5 : 3.5) * this.dpr, 0, Math.PI * 2);
      ctx.fillStyle = p.urgent ? `rgba(255,90,90,${1 - f})` : `rgba(180,240,255,${1 - f})`;
      ctx.fill();
    }
    if (this.pulses.length) this._fxRaf = requestAnimationFrame((t) => this._drawFx(t));
  }

  _buildLegend() {
    const box = document.createElement('div');
    box.className = 'heatmap-legend';
    this.legendTitle = document.createElement('div');
    this.legendTitle.className = 'heatmap-legend-title';
    const bar = document.createElement('div');
    bar.className = 'heatmap-legend-bar';
    bar.style.background = RAMP_CSS;
    const ticks = document.createElement('div');
    ticks.className = 'heatmap-legend-ticks';
    this.legendTicks = [];
    for (let i = 0; i < 5; i++) {
      const s = document.createElement('span');
      this.legendTicks.push(s);
      ticks.append(s);
    }
    box.append(this.legendTitle, bar, ticks);
    this.el.append(box);
  }

  // The legend labels sit where their counts fall on the ramp: 1, a few
  // round numbers, and the current top.
  _updateLegend(scale) {
    const top = Math.max(1, Math.round(scale));
    const pos = (v) => rampT(v, top);
    const vals = [1];
    for (const f of [0.25, 0.5, 0.75]) {
      // the count at ramp position f, rounded to a round number
      const v = niceNumber((1 + f * (Math.sqrt(top) - 1)) ** 2);
      if (v > vals[vals.length - 1]) vals.push(v);
    }
    // Drop labels that would crowd each other or the top one.
    const shown = vals.filter((v, i) => (i === 0 || pos(v) - pos(vals[i - 1]) >= 0.2) && pos(top) - pos(v) >= 0.2);
    if (top > 1 || shown.length === 0) shown.push(top);
    const key = shown.join(',');
    if (key === this._legendKey) return;
    this._legendKey = key;
    const fmt = this.opts.formatNumber || String;
    shown.forEach((v, i) => {
      const s = this.legendTicks[i];
      s.hidden = false;
      s.textContent = fmt(v);
      s.style.left = (pos(v) * 100).toFixed(1) + '%';
      s.className = i === 0 ? 'tick-first' : i === shown.length - 1 ? 'tick-last' : '';
    });
    for (let i = shown.length; i < this.legendTicks.length; i++) this.legendTicks[i].hidden = true;
  }

  _buildScaleBar() {
    this.scaleBar = document.createElement('div');
    this.scaleBar.className = 'heatmap-scalebar';
    this.scaleBarLine = document.createElement('div');
    this.scaleBarLine.className = 'heatmap-scalebar-line';
    this.scaleBarText = document.createElement('div');
    this.scaleBarText.className = 'heatmap-scalebar-text';
    this.scaleBar.append(this.scaleBarLine, this.scaleBarText);
    this.el.append(this.scaleBar);
  }

  _updateScaleBar() {
    if (!this.cssW) return;
    const mPerCssPx = metresPerWorldUnit(this.centerLat) / (256 * 2 ** this.zEff);
    const want = this.cssW * 0.12 * mPerCssPx;
    const pow = 10 ** Math.floor(Math.log10(want));
    const nice = [1, 2, 5, 10].map((f) => f * pow).filter((m) => m <= want).pop() || pow;
    this.scaleBarLine.style.width = (nice / mPerCssPx).toFixed(1) + 'px';
    const unit = this.opts.units || { km: 'km', m: 'm' };
    this.scaleBarText.textContent = nice >= 1000 ? `${nice / 1000} ${unit.km}` : `${nice} ${unit.m}`;
  }
}
