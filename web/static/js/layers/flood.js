// Map layer: reservoirs (water drops), waterlogging points (squares with
// the depth) and rain gauges (circles sized by intensity), coloured by
// state: normal green, warning amber, danger red, grey when stale; a ring
// around a reservoir or point above its warning level. Drawn by MapLibre:
// a GeoJSON source replaced on every change of the hub state topic
// feeds/flood, symbols from pictures drawn once per colour.
// ctx: {hub, redraw?}; redraw() is called after each change.

import { COLORS, stateLayer } from '../feeds/common.js';
import { FONT } from '../citymap.js';

const SOURCE = 'flood';
const TONES = ['normal', 'warning', 'danger', 'stale', 'nodata'];
const DROP = 1.9; // rem, the drop picture's side
const SQUARE = 1.1; // rem

// features turns the topic's state into points with what the style needs.
function features(state, cm) {
  const out = [];
  const order = { rain: 0, reservoir: 1, waterlogging: 2 };
  for (const v of state.values()) {
    if (!(v.kind in order) || !Number.isFinite(v.lat) || !Number.isFinite(v.lng) || (v.lat === 0 && v.lng === 0)) continue;
    const tone = v.stale ? 'stale' : TONES.includes(v.state) ? v.state : 'nodata';
    const value = Number(v.value) || 0;
    out.push({ type: 'Feature', geometry: { type: 'Point', coordinates: cm.toLngLat(v.lat, v.lng) },
      properties: {
        id: v.id, kind: v.kind, tone, color: COLORS[tone], rain: Math.min(Math.max(value, 0), 100),
        wet: value > 0, ring: v.level > 0 && !v.stale, sort: order[v.kind] * 10 + (v.level || 0),
        label: v.kind === 'waterlogging' && value > 0 ? Math.round(value) + 'cm' : '',
      } });
  }
  return { type: 'FeatureCollection', features: out };
}

// The symbols' pictures: a drop and a square of each colour, dark edged.
function addImages(cm) {
  const rem = cm.rem || 16;
  for (const tone of TONES) {
    cm.image('flood-drop-' + tone, DROP * rem, (g, n) => {
      const r = n * 0.27;
      const x = n / 2;
      const y = n * 0.6;
      g.fillStyle = COLORS[tone];
      g.strokeStyle = '#03070d';
      g.lineWidth = n * 0.05;
      g.beginPath();
      g.moveTo(x, y - r * 1.6);
      g.bezierCurveTo(x + r * 1.1, y - r * 0.3, x + r, y + r, x, y + r);
      g.bezierCurveTo(x - r, y + r, x - r * 1.1, y - r * 0.3, x, y - r * 1.6);
      g.fill();
      g.stroke();
    });
    cm.image('flood-square-' + tone, SQUARE * rem, (g, n) => {
      const w = n * 0.09;
      g.fillStyle = '#03070d';
      g.fillRect(0, 0, n, n);
      g.fillStyle = COLORS[tone];
      g.fillRect(w, w, n - 2 * w, n - 2 * w);
    });
  }
}

// styleLayers are the layer's MapLibre style layers, sized in rem.
function styleLayers(cm) {
  const rem = cm.rem || 16;
  const kind = (k) => ['==', ['get', 'kind'], k];
  return [
    { id: 'flood-rain', type: 'circle', source: SOURCE, filter: kind('rain'),
      paint: {
        'circle-radius': ['+', 0.35 * rem, ['*', ['get', 'rain'], 0.02 * rem]],
        'circle-color': ['case', ['get', 'wet'], 'rgba(79,195,255,0.28)', 'rgba(79,195,255,0.10)'],
        'circle-stroke-color': ['get', 'color'], 'circle-stroke-width': 0.1 * rem,
      } },
    { id: 'flood-ring', type: 'circle', source: SOURCE, filter: ['all', ['get', 'ring'], ['!=', ['get', 'kind'], 'rain']],
      paint: {
        'circle-radius': ['case', kind('reservoir'), 1.2 * rem, rem], 'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-color': ['get', 'color'], 'circle-stroke-width': 0.18 * rem, 'circle-stroke-opacity': 0.55,
      } },
    { id: 'flood-station', type: 'symbol', source: SOURCE, filter: ['!=', ['get', 'kind'], 'rain'],
      layout: {
        'icon-image': ['concat', ['case', kind('reservoir'), 'flood-drop-', 'flood-square-'], ['get', 'tone']],
        'icon-allow-overlap': true, 'icon-ignore-placement': true, 'symbol-sort-key': ['get', 'sort'],
        'text-field': ['get', 'label'], 'text-font': FONT, 'text-size': 0.8 * rem, 'text-anchor': 'bottom',
        'text-offset': [0, -0.9], 'text-allow-overlap': true, 'text-ignore-placement': true,
      },
      paint: { 'text-color': '#eaf1fb', 'text-halo-color': '#03070d', 'text-halo-width': 0.15 * rem } },
  ];
}

export function layer(ctx) {
  return stateLayer(ctx, {
    topic: 'feeds/flood', name: SOURCE, features, images: addImages, layers: styleLayers,
    points: (state) => [...state.values()].filter((v) => Number.isFinite(v.lat) && v.kind !== undefined).map((v) => [v.lat, v.lng]),
  });
}
