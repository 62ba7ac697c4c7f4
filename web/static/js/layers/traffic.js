// Map layer: road segments coloured by congestion (1 smooth green – 4
// jammed dark red; grey when stale or without data, dashed when stale) on a
// dark casing, jams on top, and incident markers (accidents red, road works
// and closures amber). Drawn by MapLibre: a GeoJSON source replaced on
// every change of the hub state topic feeds/traffic.
// ctx: {hub, redraw?}; redraw() is called after each change.

import { COLORS, stateLayer } from '../feeds/common.js';

const SOURCE = 'traffic';
const INCIDENT = 1.3; // rem, the incident picture's side

function features(state, cm) {
  const out = [];
  for (const [k, v] of state) {
    if (v.kind === 'road' && Array.isArray(v.polyline) && v.polyline.length > 1) {
      out.push({ type: 'Feature', geometry: { type: 'LineString', coordinates: v.polyline.map(([la, ln]) => cm.toLngLat(la, ln)) },
        properties: { id: v.id, road: true, key: !!v.key, stale: !!v.stale, level: v.level || 0,
          color: v.stale ? COLORS.stale : COLORS.level[v.level] || COLORS.nodata } });
    } else if (k.startsWith('incident:') && Number.isFinite(v.lat) && Number.isFinite(v.lng)) {
      out.push({ type: 'Feature', geometry: { type: 'Point', coordinates: cm.toLngLat(v.lat, v.lng) },
        properties: { id: k, road: false, icon: v.type === 'accident' ? 'traffic-incident-danger' : 'traffic-incident-warning' } });
    }
  }
  return { type: 'FeatureCollection', features: out };
}

function addImages(cm) {
  const rem = cm.rem || 16;
  for (const tone of ['danger', 'warning']) {
    cm.image('traffic-incident-' + tone, INCIDENT * rem, (g, n) => {
      const x = n / 2;
      const r = n * 0.42;
      const y = n * 0.55;
      g.fillStyle = COLORS[tone];
      g.strokeStyle = '#03070d';
      g.lineWidth = n * 0.06;
      g.lineJoin = 'round';
      g.beginPath();
      g.moveTo(x, y - r); g.lineTo(x + r, y + r * 0.8); g.lineTo(x - r, y + r * 0.8); g.closePath();
      g.fill();
      g.stroke();
      g.fillStyle = '#03070d';
      g.fillRect(x - n * 0.045, y - r * 0.45, n * 0.09, r * 0.75);
      g.fillRect(x - n * 0.045, y + r * 0.42, n * 0.09, n * 0.09);
    });
  }
}

// styleLayers are the layer's MapLibre style layers, sized in rem.
function styleLayers(cm) {
  const rem = cm.rem || 16;
  const road = ['get', 'road'];
  const width = (key, other) => ['case', ['get', 'key'], key * rem, other * rem];
  const lineLayout = { 'line-cap': 'round', 'line-join': 'round', 'line-sort-key': ['get', 'level'] };
  return [
    { id: 'traffic-casing', type: 'line', source: SOURCE, filter: road, layout: lineLayout,
      paint: { 'line-color': 'rgba(0,0,0,0.65)', 'line-width': width(0.56, 0.44) } },
    { id: 'traffic-road', type: 'line', source: SOURCE, filter: ['all', road, ['!', ['get', 'stale']]], layout: lineLayout,
      paint: { 'line-color': ['get', 'color'], 'line-width': width(0.34, 0.25) } },
    // A stale road is dashed: its colour is no longer news.
    { id: 'traffic-road-stale', type: 'line', source: SOURCE, filter: ['all', road, ['get', 'stale']],
      layout: { ...lineLayout, 'line-cap': 'butt' },
      paint: { 'line-color': ['get', 'color'], 'line-width': width(0.34, 0.25), 'line-dasharray': [1.5, 1.5] } },
    { id: 'traffic-incident', type: 'symbol', source: SOURCE, filter: ['!', road],
      layout: { 'icon-image': ['get', 'icon'], 'icon-allow-overlap': true, 'icon-ignore-placement': true } },
  ];
}

export function layer(ctx) {
  return stateLayer(ctx, {
    topic: 'feeds/traffic', name: SOURCE, features, images: addImages, layers: styleLayers,
    points: (state) => [...state.values()].flatMap((v) => (v.kind === 'road' && Array.isArray(v.polyline) ? v.polyline : [])),
  });
}
