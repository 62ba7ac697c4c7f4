// The camera page: /camera?camera=a,b&stream=sub&lang=en shows the named
// cameras (or every camera of the cameras topic) as video tiles in a grid.

import { Hub } from './hub.js';
import { pickLang, makeT } from './i18n.js';
import { mount } from './widgets/video.js';

const lang = pickLang();
const t = makeT(lang);
const params = new URLSearchParams(location.search);
const stream = params.get('stream') === 'sub' ? 'sub' : 'main';
const grid = document.getElementById('grid');
const hub = new Hub();
hub.start();
const tiles = [];
window.citywallTiles = tiles; // for tests and the console

function layout(n) {
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  grid.style.gridTemplateColumns = `repeat(${cols}, 1fr)`;
  grid.style.gridTemplateRows = `repeat(${rows}, 1fr)`;
}

function show(ids) {
  for (const tile of tiles.splice(0)) tile.destroy();
  grid.replaceChildren();
  layout(Math.max(1, ids.length));
  for (const id of ids) {
    const cell = document.createElement('div');
    cell.className = 'camera-cell';
    grid.append(cell);
    tiles.push(mount(cell, { hub, lang, t, opts: { camera: id, stream } }));
  }
}

const named = (params.get('camera') || '').split(',').map((s) => s.trim()).filter(Boolean);
if (named.length) {
  show(named);
} else {
  // Every camera, once the topic has them.
  let shown = '';
  const sub = hub.subscribe('cameras', (_ev, topic) => {
    const ids = [...topic.state.keys()].sort();
    if (ids.join(',') !== shown) {
      shown = ids.join(',');
      show(ids);
    }
  }, { kind: 'state' });
  window.addEventListener('pagehide', () => sub.close());
}
