// HeatLayer draws H3 cells on a CityMap by WebGL: a GeoJSON source of the
// cells' outlines with their counts, a fill layer coloured on the GPU by
// the ramp below (a square-root scale from 1 to the top count), the counts
// of the hottest cells as text, and only the changed cells sent to
// MapLibre's worker on each hub delta (GeoJSONSource.updateData), never the
// whole map. HeatLegend is the ramp's legend.

const SOURCE = 'heat';
const TOP_SOURCE = 'heat-top';
const MIN_SCALE = 5; // the colour scale never tops out below this count
const TOP_N = 5; // the hottest cells carry their count

// The colour ramp for a dark background: low counts are a translucent deep
// red that still stands out from the background, the top is white. Stops
// are [t, r, g, b, alpha].
export const RAMP = [
  [0.0, 118, 20, 32, 0.66],
  [0.22, 168, 26, 34, 0.8],
  [0.45, 226, 66, 28, 0.9],
  [0.68, 255, 146, 30, 0.95],
  [0.86, 255, 222, 90, 1],
  [1.0, 255, 255, 240, 1],
];

// The ramp as a CSS gradient, for legends.
export const RAMP_CSS = 'linear-gradient(to right, ' +
  RAMP.map(([t, r, g, b, a]) => `rgba(${r},${g},${b},${a}) ${Math.round(t * 100)}%`).join(', ') + ')';

// rampT places a count on the ramp: a square-root scale from 1 (the
// lowest colour) to max (white), so a few very hot cells do not leave every
// other cell the same dark red.
export function rampT(v, max) {
  if (v <= 1 || max <= 1) return v >= max ? 1 : 0;
  return Math.min(1, (Math.sqrt(v) - 1) / (Math.sqrt(max) - 1));
}

// valueOf accepts a bare count or an object with a count.
export function valueOf(v) {
  if (typeof v === 'number') return v;
  if (v && typeof v.count === 'number') return v.count;
  return 0;
}

// scaleFor is the colour scale's top for the largest count max: a round
// number at or above it (1, 1.5, 2, 3, 5, 7 times a power of ten), so the
// paint changes — which re-colours every cell on the GPU — only when the
// top crosses a step, not on every delta.
export function scaleFor(max) {
  if (max <= MIN_SCALE) return MIN_SCALE;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const f of [1, 1.5, 2, 3, 5, 7, 10]) if (f * p >= max) return f * p;
  return 10 * p;
}

// colorExpr colours a cell of count v on the ramp with top scale.
function colorExpr(scale) {
  const d = Math.max(1e-6, Math.sqrt(Math.max(scale, 1)) - 1);
  const t = ['/', ['-', ['sqrt', ['max', ['get', 'v'], 1]], 1], d];
  const stops = [];
  for (const [at, r, g, b, a] of RAMP) stops.push(at, `rgba(${r},${g},${b},${a})`);
  return ['interpolate', ['linear'], t, ...stops];
}

const EMPTY = () => ({ type: 'FeatureCollection', features: [] });

// Events: 'stats' {cells, drawn, missing, scale} after each change.
export class HeatLayer extends EventTarget {
  // cm is a CityMap, cells a CellStore; beforeId names the layer to draw
  // under (the cells sit over land and districts, under borders and roads).
  constructor(cm, cells, beforeId) {
    super();
    this.cm = cm;
    this.cells = cells;
    this.data = new Map(); // the hub topic's state: id -> count
    this.present = new Set(); // ids in the source
    this.pending = new Set(); // ids waiting for their outline
    this.scale = MIN_SCALE;
    this.topKey = '';
    this.ready = false;
    const map = cm.map;
    const rem = cm.rem || 16;
    const add = () => {
      if (this.dead) return;
      const before = beforeId && map.getLayer(beforeId) ? beforeId : undefined;
      map.addSource(SOURCE, { type: 'geojson', data: EMPTY(), promoteId: 'h3', buffer: 16, tolerance: 0.2 });
      map.addLayer({ id: 'heat', type: 'fill', source: SOURCE,
        paint: { 'fill-color': colorExpr(this.scale), 'fill-outline-color': 'rgba(6,11,20,0.6)' } }, before);
      map.addSource(TOP_SOURCE, { type: 'geojson', data: EMPTY() });
      map.addLayer({ id: 'heat-top', type: 'symbol', source: TOP_SOURCE,
        layout: { 'text-field': ['to-string', ['get', 'v']], 'text-font': ['Noto Sans CJK SC Bold'], 'text-size': 0.85 * rem,
          // Beside the cell, not on it: at the city-wide zoom a cell is
          // smaller than its number, which would hide the cell's colour.
          'text-anchor': 'left', 'text-offset': [0.55, 0],
          'text-allow-overlap': true, 'text-ignore-placement': true },
        paint: { 'text-color': '#ffffff', 'text-halo-color': 'rgba(20,6,6,0.9)', 'text-halo-width': 0.15 * rem } });
      this.ready = true;
      this.setData(this.data);
    };
    if (map.isStyleLoaded()) add(); else map.once('load', add);
    this._onLoaded = () => this._flushPending();
    cells.addEventListener('loaded', this._onLoaded);
  }

  _feature(id, outline, v) {
    const ring = [];
    for (let i = 0; i < outline.length; i += 2) ring.push(this.cm.toLngLat(outline[i], outline[i + 1]));
    ring.push(ring[0]);
    return { type: 'Feature', properties: { h3: id, v }, geometry: { type: 'Polygon', coordinates: [ring] } };
  }

  // setData replaces every cell: a snapshot. state is the hub topic's own
  // Map, which later deltas change in place.
  setData(state) {
    this.data = state;
    if (!this.ready) return;
    const features = [];
    this.present.clear();
    this.pending.clear();
    for (const [id, raw] of state) {
      const v = valueOf(raw);
      if (!(v > 0)) continue;
      const o = this.cells.get(id);
      if (o) {
        features.push(this._feature(id, o, v));
        this.present.add(id);
      } else if (o === undefined) this.pending.add(id);
    }
    this.cm.map.getSource(SOURCE).setData({ type: 'FeatureCollection', features });
    this._after();
  }

  // applyDelta sends only what a hub delta changed; the state already
  // holds it.
  applyDelta(set, del) {
    if (!this.ready) return;
    const add = [];
    const update = [];
    const remove = [];
    if (del) {
      for (const id of del) {
        this.pending.delete(id);
        if (this.present.delete(id)) remove.push(id);
      }
    }
    if (set) {
      for (const id in set) {
        const v = valueOf(set[id]);
        if (!(v > 0)) {
          this.pending.delete(id);
          if (this.present.delete(id)) remove.push(id);
          continue;
        }
        if (this.present.has(id)) {
          update.push({ id, addOrUpdateProperties: [{ key: 'v', value: v }] });
          continue;
        }
        const o = this.cells.get(id);
        if (o) {
          add.push(this._feature(id, o, v));
          this.present.add(id);
        } else if (o === undefined) this.pending.add(id);
      }
    }
    if (add.length || update.length || remove.length) this.cm.map.getSource(SOURCE).updateData({ add, update, remove });
    this._after();
  }

  _flushPending() {
    if (!this.ready || !this.pending.size) return;
    const add = [];
    for (const id of this.pending) {
      const o = this.cells.outlines.get(id);
      if (o === undefined) continue;
      this.pending.delete(id);
      const v = valueOf(this.data.get(id));
      if (o && v > 0 && !this.present.has(id)) {
        add.push(this._feature(id, o, v));
        this.present.add(id);
      }
    }
    if (add.length) this.cm.map.getSource(SOURCE).updateData({ add });
    this._after();
  }

  // _after sets the colour scale and the hottest cells' counts from the
  // whole state, then reports.
  _after() {
    let max = 0;
    const top = [];
    for (const [id, raw] of this.data) {
      const v = valueOf(raw);
      if (!(v > 0) || !this.present.has(id)) continue;
      if (v > max) max = v;
      if (top.length === TOP_N && v <= top[TOP_N - 1].v) continue;
      let i = top.length;
      while (i > 0 && top[i - 1].v < v) i--;
      top.splice(i, 0, { id, v });
      if (top.length > TOP_N) top.pop();
    }
    const s = scaleFor(max);
    if (s !== this.scale) {
      this.scale = s;
      this.cm.map.setPaintProperty('heat', 'fill-color', colorExpr(s));
    }
    const key = top.map((c) => c.id + ':' + c.v).join(',');
    if (key !== this.topKey) {
      this.topKey = key;
      this.cm.map.getSource(TOP_SOURCE).setData({ type: 'FeatureCollection', features: top.map((c) => ({
        type: 'Feature', properties: { v: c.v }, geometry: { type: 'Point', coordinates: this._centre(this.cells.outlines.get(c.id)) },
      })) });
    }
    this.dispatchEvent(new CustomEvent('stats', {
      detail: { cells: this.data.size, drawn: this.present.size, missing: this.pending.size, max, scale: this.scale },
    }));
  }

  _centre(o) {
    let lat = 0;
    let lng = 0;
    const n = o.length / 2;
    for (let i = 0; i < o.length; i += 2) { lat += o[i]; lng += o[i + 1]; }
    return this.cm.toLngLat(lat / n, lng / n);
  }

  destroy() {
    this.dead = true;
    this.cells.removeEventListener('loaded', this._onLoaded);
  }
}

// niceNumber rounds down to 1, 2 or 5 times a power of ten.
function niceNumber(v) {
  if (v < 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const f = v / p;
  return (f >= 5 ? 5 : f >= 2 ? 2 : 1) * p;
}

// HeatLegend is the ramp with counts where they fall on it, in el.
export class HeatLegend {
  constructor(el, title, formatNumber) {
    this.fmt = formatNumber || String;
    this.key = '';
    const box = document.createElement('div');
    box.className = 'heatmap-legend';
    const head = document.createElement('div');
    head.className = 'heatmap-legend-title';
    head.textContent = title;
    const bar = document.createElement('div');
    bar.className = 'heatmap-legend-bar';
    bar.style.background = RAMP_CSS;
    const ticks = document.createElement('div');
    ticks.className = 'heatmap-legend-ticks';
    this.ticks = [];
    for (let i = 0; i < 5; i++) {
      const s = document.createElement('span');
      this.ticks.push(s);
      ticks.append(s);
    }
    box.append(head, bar, ticks);
    el.append(box);
    this.el = box;
  }

  // update labels 1, a few round numbers and the top.
  update(scale) {
    const top = Math.max(1, Math.round(scale));
    const pos = (v) => rampT(v, top);
    const vals = [1];
    for (const f of [0.25, 0.5, 0.75]) {
      const v = niceNumber((1 + f * (Math.sqrt(top) - 1)) ** 2);
      if (v > vals[vals.length - 1]) vals.push(v);
    }
    // Drop labels that would crowd each other or the top one.
    const shown = vals.filter((v, i) => (i === 0 || pos(v) - pos(vals[i - 1]) >= 0.2) && pos(top) - pos(v) >= 0.2);
    if (top > 1 || shown.length === 0) shown.push(top);
    const key = shown.join(',');
    if (key === this.key) return;
    this.key = key;
    shown.forEach((v, i) => {
      const s = this.ticks[i];
      s.hidden = false;
      s.textContent = this.fmt(v);
      s.style.left = (pos(v) * 100).toFixed(1) + '%';
      s.className = i === 0 ? 'tick-first' : i === shown.length - 1 ? 'tick-last' : '';
    });
    for (let i = shown.length; i < this.ticks.length; i++) this.ticks[i].hidden = true;
  }
}
