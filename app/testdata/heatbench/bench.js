// The page side of BenchmarkWallHeatDelta. setup(renderer, n) builds one
// heat renderer over the whole viewport at a fixed view with n cells;
// delta(msg) applies one hub delta message the way the wall does and
// resolves with how long it took to reach the screen.
//
// renderer 'maplibre' is today's wall: CityMap (the builtin basemap) with
// HeatLayer, a delta applied as widgets/map.js applies it. renderer
// 'canvas' is the canvas HeatMap of commit ac859f6 (./canvas/, copied
// unchanged with its geo.js), a delta applied as that commit's map widget
// applied it (the state changed in place, then invalidate()). Both read
// outlines from today's CellStore, filled before anything is timed.

import { CellStore } from '/static/js/cells.js';
import { CityMap } from '/static/js/citymap.js';
import { HeatLayer } from '/static/js/heatlayer.js';
import { HeatMap } from './canvas/heatmap.js';

const B = { ready: false, error: '' };
window.heatbench = B;

const CENTER = [20.03, 110.33];
const ZOOM = 10.6; // MapLibre's zoom (512 px tiles); the canvas gets the same scale

const raf = () => new Promise((resolve) => requestAnimationFrame(resolve));

async function getJSON(url) {
  const r = await fetch(url, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r.json();
}

// preload asks the server for every outline and waits until the store has
// them all.
function preload(cells, ids) {
  return new Promise((resolve, reject) => {
    const done = () => ids.every((id) => cells.outlines.has(id));
    const check = () => {
      if (!done()) return;
      cells.removeEventListener('loaded', check);
      const missing = ids.filter((id) => !cells.outlines.get(id));
      if (missing.length) reject(new Error(missing.length + ' outlines unknown to the server, e.g. ' + missing[0]));
      else resolve();
    };
    cells.addEventListener('loaded', check);
    for (const id of ids) cells.want(id);
  });
}

// idleAfterContent resolves at the map's first 'idle' after the heat
// source has taken new data in its worker ('sourcedata' of type content)
// and rendered at least once since: the frame that shows the delta. It
// notes in B.last when the content came and how many frames the map
// rendered until then.
function idleAfterContent(map) {
  return new Promise((resolve) => {
    let content = 0;
    let renders = 0;
    const onData = (e) => { if (!content && e.sourceId === 'heat' && e.sourceDataType === 'content') content = performance.now(); };
    const onRender = () => { if (content) renders++; };
    const onIdle = () => {
      if (!content || !renders) return;
      map.off('sourcedata', onData);
      map.off('render', onRender);
      map.off('idle', onIdle);
      B.last = { content, renders };
      resolve(performance.now());
    };
    map.on('sourcedata', onData);
    map.on('render', onRender);
    map.on('idle', onIdle);
  });
}

B.setup = async (renderer, n) => {
  try {
    const [pub, all] = await Promise.all([getJSON('/api/v1/public'), getJSON('/bench/cells.json?n=' + n)]);
    const box = document.getElementById('map');
    const cells = new CellStore({ capacity: all.ids.length + 1000 });
    await preload(cells, all.ids);
    const state = new Map();
    all.ids.slice(0, n).forEach((id, i) => state.set(id, all.counts[i]));
    B.state = state;
    B.renderer = renderer;
    if (renderer === 'maplibre') {
      const cm = await CityMap.create(box, { pub, lang: 'zh', center: CENTER, zoom: ZOOM });
      await cm.ready;
      const heat = new HeatLayer(cm, cells, 'district-border');
      const shown = idleAfterContent(cm.map);
      heat.setData(state);
      await shown;
      B.cm = cm;
      B.heat = heat;
      B.apply = (set, del) => heat.applyDelta(set, del);
      B.drawn = () => idleAfterContent(cm.map);
      B.drawnCells = () => heat.present.size;
      B.redraw = () => {
        const done = new Promise((resolve) => cm.map.once('render', () => resolve(performance.now())));
        cm.map.triggerRepaint();
        return done;
      };
    } else if (renderer === 'canvas') {
      const short = Math.min(box.clientWidth, box.clientHeight);
      // The canvas's zoom is for a 1024 px short side and 256 px tiles.
      const heat = new HeatMap(box, cells, {
        center: CENTER, zoom: ZOOM + 1 - Math.log2(short / 1024),
        tileUrl: (pub.map && pub.map.tile_url) || '', tileCrs: (pub.map && pub.map.tile_crs) || 'wgs84',
        areas: Array.isArray(pub.districts) ? pub.districts : [],
      });
      let stats = null;
      heat.addEventListener('stats', (e) => { stats = e.detail; });
      heat.setData(state);
      while (!stats || heat._raf) await raf(); // drawn, and the colour scale settled
      B.heat = heat;
      B.apply = () => heat.invalidate();
      // The next animation frame after the delta runs after the HeatMap's
      // own (queued first by invalidate): it has drawn by then.
      B.drawn = () => raf().then(() => performance.now());
      B.drawnCells = () => stats.drawn;
      B.redraw = () => {
        heat.invalidate();
        return raf().then(() => performance.now());
      };
    } else {
      throw new Error('unknown renderer ' + renderer);
    }
    for (let i = 0; i < 3; i++) await raf();
    B.ready = true;
    return { cells: state.size, drawn: B.drawnCells(), w: box.clientWidth, h: box.clientHeight };
  } catch (err) {
    B.error = String(err && err.stack || err);
    throw err;
  }
};

// redraw has the renderer draw the unchanged map once, three times, and
// resolves with the ms from the request to the drawn frame and to the
// next animation frame, each the median of the three: what a frame of
// this map costs whatever changed.
B.redraws = async () => {
  const drawn = [];
  const frame = [];
  for (let i = 0; i < 3; i++) {
    await raf();
    const t0 = performance.now();
    const t1 = await B.redraw();
    await raf();
    drawn.push(t1 - t0);
    frame.push(performance.now() - t0);
  }
  const mid = (v) => v.sort((a, b) => a - b)[1];
  return { drawn: mid(drawn), frame: mid(frame) };
};

// delta applies one hub message (its JSON text, as it comes off the
// WebSocket): parse, the hub topic's state update (hub.js Topic.applyDelta),
// the renderer's apply. It resolves with ms from the message's arrival to
// the end of the synchronous apply, to the drawn frame, and to the next
// animation frame after it (by then the drawn frame has been handed to the
// compositor).
B.delta = async (text) => {
  const t0 = performance.now();
  const m = JSON.parse(text);
  const set = m.data.set;
  const del = m.data.del;
  for (const k of del) B.state.delete(k);
  for (const k in set) B.state.set(k, set[k]);
  B.apply(set, del);
  const t1 = performance.now();
  // After the apply: the canvas's frame must be queued before ours, and
  // MapLibre reports the worker's new data only asynchronously.
  const drawn = B.drawn();
  const t2 = await drawn;
  await raf();
  const t3 = performance.now();
  const r = { apply: t1 - t0, drawn: t2 - t0, frame: t3 - t0, cells: B.state.size, shown: B.drawnCells(), content: 0, renders: 1 };
  if (B.last) {
    r.content = B.last.content - t0;
    r.renders = B.last.renders;
    B.last = null;
  }
  return r;
};
