// Map layer of the cameras: a marker per camera of the hub's `cameras`
// topic (positions from ctx.catalog, the wall's camera list, until the
// topic has them), coloured by its state (live green, down red, connecting
// amber, idle grey), with a red ring when a tile reports its picture
// frozen. Drawn by MapLibre.
//
// ctx: {hub, catalog (Map of id -> camera), count(n)?, size (marker size,
// 1 by default), mark(id)?}. mark returns how a camera stands out on a
// page that picks cameras: {selected, dim}; a selected marker is white and
// larger and on top, a dimmed one faint. refresh() asks mark again.

const COLORS = {
  live: '#39d98a',
  connecting: '#ffb020',
  stalled: '#ff3b3b',
  offline: '#ff3b3b',
  unsupported: '#ff8a3b',
  idle: '#7d90ab',
};

export function layer(ctx = {}) {
  let cams = new Map();
  let sub = null;
  let cm = null;
  const source = () => cm && cm.map.getSource('cameras');
  const data = () => {
    const features = [];
    const seen = new Set();
    const add = (c) => {
      const lat = Number(c.lat);
      const lng = Number(c.lng);
      if (!c.id || seen.has(c.id) || !Number.isFinite(lat) || !Number.isFinite(lng) || (lat === 0 && lng === 0)) return;
      seen.add(c.id);
      const m = (ctx.mark && ctx.mark(c.id)) || {};
      features.push({ type: 'Feature', properties: { id: c.id, color: COLORS[c.state] || COLORS.idle, frozen: c.frozen > 0,
        selected: !!m.selected, dim: !!m.dim, sort: m.selected ? 2 : m.dim ? 0 : 1 },
        geometry: { type: 'Point', coordinates: cm.toLngLat(lat, lng) } });
    };
    const cat = ctx.catalog;
    for (const [id, c] of cams) add({ id, ...(cat && cat.get(id)), ...c });
    if (cat) for (const c of cat.values()) add(c);
    return { type: 'FeatureCollection', features };
  };
  const redraw = () => {
    const src = source();
    if (!src) return;
    const fc = data();
    src.setData(fc);
    if (typeof ctx.count === 'function') ctx.count(fc.features.length);
  };
  if (ctx.hub) {
    sub = ctx.hub.subscribe('cameras', (_ev, topic) => {
      cams = topic.state;
      redraw();
    }, { kind: 'state' });
  }
  return {
    // add puts the layer on cm, a CityMap whose style has loaded.
    add(map) {
      cm = map;
      const rem = (cm.rem || 16) * (Number(ctx.size) > 0 ? Number(ctx.size) : 1);
      const big = (r) => ['case', ['get', 'selected'], 1.5 * r, r];
      cm.map.addSource('cameras', { type: 'geojson', data: data() });
      cm.addLayers('cameras', [
        { id: 'cameras-frozen', type: 'circle', source: 'cameras', filter: ['get', 'frozen'],
          paint: { 'circle-radius': 0.6 * rem, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#ff3b3b', 'circle-stroke-width': 0.12 * rem } },
        { id: 'cameras', type: 'circle', source: 'cameras', layout: { 'circle-sort-key': ['get', 'sort'] },
          // Small at the city-wide zoom, where forty markers in the old town
          // would hide the heat under them; full size from street level.
          paint: {
            'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, big(0.16 * rem), 14, big(0.32 * rem)],
            'circle-color': ['case', ['get', 'selected'], '#ffffff', ['get', 'color']],
            'circle-opacity': ['case', ['get', 'dim'], 0.35, 1],
            'circle-stroke-color': 'rgba(3,7,13,0.9)', 'circle-stroke-width': 0.06 * rem,
          } },
      ]);
      redraw();
    },
    refresh: () => redraw(),
    destroy() {
      if (sub) sub.close();
      sub = null;
      cams = new Map();
      cm = null;
    },
  };
}
