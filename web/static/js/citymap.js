// CityMap is every map of citywall: MapLibre GL JS (vendored, its CSP build)
// over one of three basemaps (map.basemap):
// - builtin: sea and land, the districts with their names, the main roads
//   and the reservoirs, from /api/v1/basemap;
// - pmtiles: the centre's vector tiles from a PMTiles archive citywall
//   serves (/api/v1/basemap.pmtiles), read with range requests by the
//   vendored pmtiles library, drawn with the embedded dark style below;
// - xyz: raster tiles from a template (map.tile_url), in WGS84 or GCJ-02.
// By default it fits the city's districts to its own size, and fits again
// when it is resized; a fixed centre and zoom, bounds or one district
// override that.
//
// Names are MapLibre text layers drawn with the fonts the browser has: no
// style names a glyph server, so MapLibre rasterises every glyph locally
// (TinySDF), CJK with localIdeographFontFamily. Nothing is fetched for text,
// which an air-gapped wall could not fetch anyway.

import { crsTransform } from './geo.js';
import { api } from './kit.js';

const VENDOR = '/static/vendor/maplibre-gl/';

let loading = null;

// loadMapLibre adds MapLibre's script and stylesheet once and resolves to
// the global maplibregl.
export function loadMapLibre() {
  if (window.maplibregl) return Promise.resolve(window.maplibregl);
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = VENDOR + 'maplibre-gl.css';
    document.head.append(css);
    const s = document.createElement('script');
    s.src = VENDOR + 'maplibre-gl-csp.js';
    s.onload = () => {
      window.maplibregl.setWorkerUrl(VENDOR + 'maplibre-gl-csp-worker.js');
      resolve(window.maplibregl);
    };
    s.onerror = () => { loading = null; reject(new Error('maplibre-gl did not load')); };
    document.head.append(s);
  });
  return loading;
}

let pmtilesLoading = null;

// loadPMTiles adds the pmtiles library once and lets MapLibre read
// pmtiles:// sources through it.
function loadPMTiles(ml) {
  if (pmtilesLoading) return pmtilesLoading;
  pmtilesLoading = new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = '/static/vendor/pmtiles/pmtiles.js';
    s.onload = () => {
      ml.addProtocol('pmtiles', new window.pmtiles.Protocol().tile);
      resolve();
    };
    s.onerror = () => { pmtilesLoading = null; reject(new Error('pmtiles did not load')); };
    document.head.append(s);
  });
  return pmtilesLoading;
}

let basemap = null;

// loadBasemap fetches the builtin basemap's GeoJSON once per page. A 401
// is the page's to notice (the wall checks its session); the map is drawn
// without the basemap meanwhile.
export function loadBasemap() {
  if (!basemap) {
    basemap = api('/api/v1/basemap', { unauthorized: 'throw' })
      .catch((err) => { basemap = null; throw err; });
  }
  return basemap;
}

// The builtin basemap's colours: dark, with the land a step above the sea
// and the districts' borders and the main roads the brightest lines, so
// that from 4 m the coast and the districts read at once and the heat
// stays on top.
export const COLORS = {
  sea: '#04101f',
  land: '#0e1a2b',
  district: 'rgba(70,120,200,0.06)',
  border: '#5f8fd0',
  road: '#6c7f99',
  keyRoad: '#9fb2cc',
  water: '#1d4f80',
  label: 'rgba(175,205,245,0.85)',
  waterLabel: '#79aee6',
};

const BORDER_WIDTH = 2.5; // CSS px

// transformed returns a GeoJSON geometry with every position moved by tf.
function transformed(geom, tf) {
  if (!tf) return geom;
  const walk = (c) => (typeof c[0] === 'number' ? (([lat, lng]) => [lng, lat])(tf(c[1], c[0])) : c.map(walk));
  return { ...geom, coordinates: walk(geom.coordinates) };
}

// The label fonts: the first a browser has wins; sans-serif at the end.
export const FONT = ['Noto Sans CJK SC Bold', 'Source Han Sans SC Bold', 'Microsoft YaHei Bold', 'PingFang SC Semibold'];
export const IDEOGRAPH_FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif";

// labelPoints returns the points of the districts' and reservoirs' names.
function labelPoints(fc, districts, lang, tf) {
  const name = (p) => (lang === 'en' && p.name_en ? p.name_en : p.name);
  const features = [];
  const add = (kind, text, lat, lng) => {
    if (!text) return;
    if (tf) [lat, lng] = tf(lat, lng);
    features.push({ type: 'Feature', properties: { kind, name: text }, geometry: { type: 'Point', coordinates: [lng, lat] } });
  };
  for (const d of districts) {
    if ((d.polygon || []).length < 3) continue;
    const [lat, lng] = centroid(d.polygon);
    add('district', name(d), lat, lng);
  }
  for (const f of fc.features || []) {
    const p = f.properties || {};
    if (p.kind === 'reservoir') add('reservoir', name(p), f.geometry.coordinates[1], f.geometry.coordinates[0]);
  }
  return { type: 'FeatureCollection', features };
}

// districtLayers are the districts' fills and borders every basemap
// shares (the heat goes between them).
function districtLayers() {
  return [
    { id: 'district-fill', type: 'fill', source: 'districts', paint: { 'fill-color': COLORS.district } },
    { id: 'district-border', type: 'line', source: 'districts', paint: { 'line-color': COLORS.border, 'line-width': BORDER_WIDTH, 'line-opacity': 0.85 } },
  ];
}

// labelLayers are the names of the districts and reservoirs, on top.
function labelLayers(rem) {
  return [
    { id: 'district-label', type: 'symbol', source: 'labels', filter: ['==', ['get', 'kind'], 'district'],
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 1.5 * rem, 'text-letter-spacing': 0.1, 'text-allow-overlap': true, 'text-ignore-placement': true },
      paint: { 'text-color': COLORS.label, 'text-halo-color': '#02060c', 'text-halo-width': 0.2 * rem, 'text-halo-blur': 0.1 * rem } },
    { id: 'reservoir-label', type: 'symbol', source: 'labels', filter: ['==', ['get', 'kind'], 'reservoir'],
      layout: { 'text-field': ['get', 'name'], 'text-font': FONT, 'text-size': 0.95 * rem, 'text-anchor': 'top', 'text-offset': [0, 0.6] },
      paint: { 'text-color': COLORS.waterLabel, 'text-halo-color': '#02060c', 'text-halo-width': 0.15 * rem } },
  ];
}

function builtinStyle(fc, tf, tileUrl, labels, rem) {
  const pick = (kinds) => ({
    type: 'FeatureCollection',
    features: fc.features.filter((f) => kinds.includes(f.properties.kind))
      .map((f) => ({ ...f, geometry: transformed(f.geometry, tf) })),
  });
  const sources = {
    land: { type: 'geojson', data: pick(['land']) },
    sea: { type: 'geojson', data: pick(['sea']) },
    districts: { type: 'geojson', data: pick(['district']) },
    roads: { type: 'geojson', data: pick(['road']) },
    reservoirs: { type: 'geojson', data: pick(['reservoir']) },
  };
  const layers = [{ id: 'background', type: 'background', paint: { 'background-color': tileUrl ? '#060b14' : COLORS.sea } }];
  if (tileUrl) {
    sources.tiles = { type: 'raster', tiles: [tileUrl.replace('{-y}', '{y}')], tileSize: 256, scheme: tileUrl.includes('{-y}') ? 'tms' : 'xyz', maxzoom: 18 };
    layers.push({ id: 'tiles', type: 'raster', source: 'tiles', paint: { 'raster-brightness-max': 0.45, 'raster-saturation': -0.4 } });
  } else {
    layers.push({ id: 'land', type: 'fill', source: 'land', paint: { 'fill-color': COLORS.land, 'fill-antialias': false } });
  }
  layers.push(...districtLayers());
  if (!tileUrl) {
    // Over the districts: their outlines run out into the sea.
    layers.push({ id: 'sea', type: 'fill', source: 'sea', paint: { 'fill-color': COLORS.sea, 'fill-antialias': false } });
  }
  layers.push(
    { id: 'roads', type: 'line', source: 'roads', layout: { 'line-cap': 'round', 'line-join': 'round' },
      paint: { 'line-color': ['case', ['get', 'key'], COLORS.keyRoad, COLORS.road], 'line-width': ['case', ['get', 'key'], 4, 2.5], 'line-opacity': 0.7 } },
    { id: 'reservoirs', type: 'circle', source: 'reservoirs',
      paint: { 'circle-color': COLORS.water, 'circle-radius': 0.3 * rem, 'circle-stroke-color': '#4f8fd0', 'circle-stroke-width': 1.5 } },
  );
  if (labels) {
    sources.labels = { type: 'geojson', data: labels };
    layers.push(...labelLayers(rem));
  }
  return { version: 8, sources, layers };
}

// pmtilesStyle is the embedded dark style of a vector basemap in the
// Protomaps basemap schema (layers earth, water, landuse, roads,
// boundaries, places, buildings), in the builtin basemap's colours; the
// OpenMapTiles schema's layers (water, landcover, transportation,
// boundary, place) are styled alike, so a city extract of either build
// draws. Source layers an archive lacks draw nothing. The layers the
// tests and the heat layer find by id (land, sea, district-border, roads)
// keep the builtin's ids.
function pmtilesStyle(fc, archive, labels, lang, rem) {
  const src = 'basemap';
  const v = (id, layer, type, paint, extra = {}) => ({ id, type, source: src, 'source-layer': layer, paint, ...extra });
  const roadKinds = (kinds) => ['in', ['get', 'kind'], ['literal', kinds]];
  const omtRoad = (classes) => ['in', ['get', 'class'], ['literal', classes]];
  const major = ['highway', 'major_road', 'motorway', 'trunk', 'primary'];
  const name = lang === 'en'
    ? ['coalesce', ['get', 'name:en'], ['get', 'name_en'], ['get', 'name']]
    : ['coalesce', ['get', 'name:zh-Hans'], ['get', 'name:zh'], ['get', 'name_zh'], ['get', 'name']];
  const sources = {
    [src]: { type: 'vector', url: 'pmtiles://' + new URL(archive, location.href).href },
    districts: { type: 'geojson', data: { type: 'FeatureCollection', features: (fc.features || []).filter((f) => f.properties.kind === 'district') } },
  };
  const layers = [
    { id: 'background', type: 'background', paint: { 'background-color': COLORS.sea } },
    v('land', 'earth', 'fill', { 'fill-color': COLORS.land, 'fill-antialias': false }),
    v('landuse', 'landuse', 'fill', { 'fill-color': '#122238', 'fill-opacity': 0.6 }),
    v('landcover', 'landcover', 'fill', { 'fill-color': '#122238', 'fill-opacity': 0.5 }),
    ...districtLayers(),
    // Over the districts, as on the builtin basemap: their outlines run
    // out into the sea.
    v('sea', 'water', 'fill', { 'fill-color': COLORS.sea, 'fill-antialias': false }),
    v('buildings', 'buildings', 'fill', { 'fill-color': '#16263c', 'fill-opacity': 0.7 }, { minzoom: 14 }),
    v('building', 'building', 'fill', { 'fill-color': '#16263c', 'fill-opacity': 0.7 }, { minzoom: 14 }),
    v('minor-roads', 'roads', 'line', { 'line-color': COLORS.road, 'line-width': 1.2, 'line-opacity': 0.5 },
      { filter: ['!', roadKinds(major)], minzoom: 12, layout: { 'line-cap': 'round', 'line-join': 'round' } }),
    v('roads', 'roads', 'line', { 'line-color': ['case', roadKinds(['highway', 'motorway']), COLORS.keyRoad, COLORS.road], 'line-width': ['case', roadKinds(['highway', 'motorway']), 4, 2.5], 'line-opacity': 0.7 },
      { filter: roadKinds(major), layout: { 'line-cap': 'round', 'line-join': 'round' } }),
    v('transportation', 'transportation', 'line', { 'line-color': ['case', omtRoad(['motorway', 'trunk']), COLORS.keyRoad, COLORS.road], 'line-width': ['case', omtRoad(['motorway', 'trunk']), 4, 1.5], 'line-opacity': 0.6 },
      { filter: omtRoad(['motorway', 'trunk', 'primary', 'secondary', 'tertiary']), layout: { 'line-cap': 'round', 'line-join': 'round' } }),
    v('boundaries', 'boundaries', 'line', { 'line-color': COLORS.border, 'line-width': 1, 'line-opacity': 0.4, 'line-dasharray': [3, 2] }),
    v('boundary', 'boundary', 'line', { 'line-color': COLORS.border, 'line-width': 1, 'line-opacity': 0.4, 'line-dasharray': [3, 2] }),
    ...['places', 'place'].map((layer) => v('place-label-' + layer, layer, 'symbol',
      { 'text-color': 'rgba(160,185,220,0.75)', 'text-halo-color': '#02060c', 'text-halo-width': 0.12 * rem },
      { layout: { 'text-field': name, 'text-font': FONT, 'text-size': 0.85 * rem } })),
  ];
  if (labels) {
    sources.labels = { type: 'geojson', data: labels };
    layers.push(...labelLayers(rem));
  }
  return { version: 8, sources, layers };
}

// bboxOf returns [[west, south], [east, north]] of the districts' outlines.
export function bboxOf(districts) {
  let w = 180, s = 90, e = -180, n = -90;
  for (const d of districts || []) {
    for (const [lat, lng] of d.polygon || []) {
      w = Math.min(w, lng); e = Math.max(e, lng); s = Math.min(s, lat); n = Math.max(n, lat);
    }
  }
  return w <= e ? [[w, s], [e, n]] : null;
}

// centroid is the area centroid of a [lat, lng] ring, a good spot for its name.
function centroid(poly) {
  let a = 0, x = 0, y = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [yi, xi] = poly[i];
    const [yj, xj] = poly[j];
    const f = xj * yi - xi * yj;
    a += f; x += (xj + xi) * f; y += (yj + yi) * f;
  }
  return a ? [y / (3 * a), x / (3 * a)] : poly[0];
}

// pixelRatio is device pixels per layout pixel of el: a wall display scales
// the whole stage with a CSS transform, so the map renders at the size it
// is shown at.
function pixelRatio(el) {
  const r = el.getBoundingClientRect();
  const lw = el.offsetWidth || r.width;
  return (window.devicePixelRatio || 1) * (lw > 0 && r.width > 0 ? r.width / lw : 1);
}

// The map layers' groups, bottom to top: whatever order their modules load
// in, a road's congestion stays under the flood stations, and both under
// the cameras and the alerts.
const GROUPS = ['traffic', 'flood', 'cameras', 'alerts', 'tools'];

// CityMap options: pub (/api/v1/public), lang, interactive (default
// false: the map shows the view it fits; true: staff pan and zoom, north
// stays up), center [lat, lng] and zoom, bounds [[lat, lng], [lat, lng]]
// or district (a name) to override the fit, labels (default true).
export class CityMap extends EventTarget {
  static async create(container, opts) {
    const [ml, fc] = await Promise.all([loadMapLibre(), loadBasemap().catch(() => ({ features: [] }))]);
    const m = ((opts && opts.pub) || {}).map || {};
    if (m.basemap === 'pmtiles') await loadPMTiles(ml);
    return new CityMap(ml, container, fc, opts);
  }

  constructor(ml, container, fc, opts = {}) {
    super();
    this.ml = ml;
    this.opts = opts;
    const pub = opts.pub || {};
    const m = pub.map || {};
    this.tf = crsTransform(m.tile_url ? m.tile_crs : 'wgs84');
    this.districts = Array.isArray(pub.districts) ? pub.districts : [];
    this.container = container;
    container.classList.add('citymap');
    // Sizes follow the page's root font, which the wall sets per monitor,
    // so names and markers read from the back of the room.
    this.rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
    const lang = opts.lang === 'en' ? 'en' : 'zh';
    const labels = opts.labels === false ? null : labelPoints(fc, this.districts, lang, this.tf);
    const style = m.basemap === 'pmtiles' && m.pmtiles_url
      ? pmtilesStyle(fc, m.pmtiles_url, labels, lang, this.rem)
      : builtinStyle(fc, this.tf, m.tile_url || '', labels, this.rem);
    this.map = new ml.Map({
      container,
      style,
      localIdeographFontFamily: IDEOGRAPH_FONT,
      interactive: !!opts.interactive,
      attributionControl: false,
      pixelRatio: pixelRatio(container),
      fadeDuration: 0,
      // preserveDrawingBuffer: the tests and a screenshot read the picture back.
      canvasContextAttributes: { antialias: false, preserveDrawingBuffer: true },
      maxCanvasSize: [8192, 8192],
    });
    this.map.addControl(new ml.ScaleControl({ maxWidth: 220, unit: 'metric' }), 'bottom-left');
    if (opts.interactive) {
      // North up, as on the wall: a box or a marker means the same there.
      this.map.dragRotate.disable();
      this.map.touchZoomRotate.disableRotation();
      this.map.keyboard.disableRotation();
      // A view someone moved is kept when the map is resized.
      this.map.on('movestart', (e) => { if (e.originalEvent) this.moved = true; });
    }
    this.fitted = null;
    this.fit();
    this.ready = new Promise((resolve) => this.map.once('load', resolve));
    this._ro = new ResizeObserver(() => this._resized());
    this._ro.observe(container);
  }

  // project returns the CSS pixel position of a WGS84 point in the map's box.
  project(lat, lng) {
    if (this.tf) [lat, lng] = this.tf(lat, lng);
    const p = this.map.project([lng, lat]);
    return [p.x, p.y];
  }

  // unproject returns the WGS84 [lat, lng] at a CSS pixel of the map's box
  // (a basemap in GCJ-02 is shifted back by the offset at that point, good
  // to well under a metre in China).
  unproject(x, y) {
    const p = this.map.unproject([x, y]);
    if (!this.tf) return [p.lat, p.lng];
    const [la, ln] = this.tf(p.lat, p.lng);
    return [2 * p.lat - la, 2 * p.lng - ln];
  }

  // addLayers adds MapLibre layer specs of one group (traffic, flood,
  // cameras, alerts, tools) above the groups below it and under those
  // above it, in their order.
  addLayers(group, specs) {
    const rank = GROUPS.indexOf(group);
    const above = this.map.getStyle().layers.find((l) => {
      const g = l.metadata && l.metadata['citywall:group'];
      return g && GROUPS.indexOf(g) > rank;
    });
    for (const spec of specs) {
      this.map.addLayer({ ...spec, metadata: { 'citywall:group': group } }, above ? above.id : undefined);
    }
  }

  // image adds a picture drawn by draw(ctx2d, px) on a square canvas of
  // size CSS pixels (px device pixels per CSS pixel) as the style image
  // name, once.
  image(name, size, draw) {
    if (this.map.hasImage(name)) return;
    const px = this.map.getPixelRatio();
    const n = Math.max(1, Math.ceil(size * px));
    const c = document.createElement('canvas');
    c.width = n;
    c.height = n;
    const g = c.getContext('2d');
    draw(g, n);
    this.map.addImage(name, g.getImageData(0, 0, n, n), { pixelRatio: px });
  }

  // toLngLat is the basemap's position of a WGS84 point, [lng, lat].
  toLngLat(lat, lng) {
    if (this.tf) [lat, lng] = this.tf(lat, lng);
    return [lng, lat];
  }

  // fit shows the configured view, else the tile's bounds or district,
  // else the city's districts, fitted to the map's size.
  fit() {
    const o = this.opts;
    const m = (o.pub && o.pub.map) || {};
    let center = Array.isArray(o.center) && o.center.length === 2 ? o.center : null;
    let zoom = Number.isFinite(o.zoom) ? o.zoom : null;
    if (!center && !zoom && !o.bounds && !o.district && Number(m.zoom) > 0) {
      center = m.center;
      zoom = Number(m.zoom);
    }
    if (center && zoom) {
      this.map.jumpTo({ center: this.toLngLat(center[0], center[1]), zoom });
      return;
    }
    let box = null;
    if (Array.isArray(o.bounds) && o.bounds.length === 2) {
      box = [this.toLngLat(o.bounds[0][0], o.bounds[0][1]), this.toLngLat(o.bounds[1][0], o.bounds[1][1])];
    } else {
      const ds = o.district ? this.districts.filter((d) => d.name === o.district || d.name_en === o.district) : [];
      const b = bboxOf(ds.length ? ds : this.districts);
      if (b) box = [this.toLngLat(b[0][1], b[0][0]), this.toLngLat(b[1][1], b[1][0])];
    }
    if (!box) return;
    const c = this.map.getContainer();
    const pad = Math.round(Math.min(c.clientWidth, c.clientHeight) * 0.03);
    this.map.fitBounds(box, { padding: pad, animate: false });
    this.fitted = [c.clientWidth, c.clientHeight];
  }

  _resized() {
    const pr = pixelRatio(this.container);
    if (Math.abs(pr - this.map.getPixelRatio()) > 0.01) this.map.setPixelRatio(pr);
    this.map.resize();
    // A map nobody moves keeps its view fitted to its size.
    if (!this.opts.interactive || !this.moved) this.fit();
    this.dispatchEvent(new Event('view'));
  }


  destroy() {
    this._ro.disconnect();
    this.map.remove();
  }
}
