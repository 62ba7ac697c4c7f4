// Map layer `alerts`: a ring at each open alert, red (amber when not
// critical) while unacknowledged, blue once acknowledged, with the count of
// a cluster. Drawn by MapLibre; the ring is wide and still, readable from
// the back of the room without redrawing a 4K map sixty times a second.

export function layer(ctx) {
  let data = new Map();
  let cm = null;
  const features = () => {
    const out = [];
    for (const a of data.values()) {
      if (!Number.isFinite(a.lat) || !Number.isFinite(a.lng) || (a.lat === 0 && a.lng === 0)) continue;
      const firing = a.state === 'firing';
      const color = firing ? (a.severity === 'critical' ? '#ff3b3b' : '#ffb020') : '#4fc3ff';
      out.push({ type: 'Feature', geometry: { type: 'Point', coordinates: cm.toLngLat(a.lat, a.lng) },
        properties: { color, big: a.source === 'cluster', count: a.cluster && a.cluster.count ? String(a.cluster.count) : '' } });
    }
    return { type: 'FeatureCollection', features: out };
  };
  const redraw = () => {
    const src = cm && cm.map.getSource('alerts');
    if (src) src.setData(features());
  };
  const sub = ctx.hub.subscribe('alerts', (u, tp) => {
    data = tp.state;
    redraw();
  }, { kind: 'state' });

  return {
    add(map) {
      cm = map;
      const rem = cm.rem || 16;
      const size = (small, big) => ['case', ['get', 'big'], big * rem, small * rem];
      cm.map.addSource('alerts', { type: 'geojson', data: features() });
      cm.addLayers('alerts', [
        { id: 'alerts-ring', type: 'circle', source: 'alerts',
          paint: { 'circle-radius': size(0.9, 1.3), 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': ['get', 'color'], 'circle-stroke-width': 0.16 * rem } },
        { id: 'alerts-core', type: 'circle', source: 'alerts',
          paint: { 'circle-radius': size(0.35, 0.55), 'circle-color': ['get', 'color'], 'circle-opacity': 0.9 } },
        { id: 'alerts-count', type: 'symbol', source: 'alerts', filter: ['!=', ['get', 'count'], ''],
          layout: { 'text-field': ['get', 'count'], 'text-font': ['Noto Sans CJK SC Bold'], 'text-size': 0.7 * rem, 'text-allow-overlap': true },
          paint: { 'text-color': '#ffffff' } },
      ]);
    },
    destroy() {
      sub.close();
      data = new Map();
      cm = null;
    },
  };
}
