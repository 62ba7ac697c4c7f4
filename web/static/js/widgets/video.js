// Stand-in for the video slot until the live player is in: it shows the
// camera's name and its state from the `cameras` topic (live, connecting,
// stalled, offline…), so a slot's camera and its trouble are visible on the
// wall. Same contract as the player: mount(el, {opts: {camera, stream}}),
// update({camera}) switches camera in place.

import { strings, el, cameraInfo } from './common.js';

const STATES = ['idle', 'connecting', 'live', 'stalled', 'offline', 'unsupported'];

export function mount(root, ctx) {
  const { hub, lang } = ctx;
  const s = strings(lang);
  let camera = (ctx.opts && ctx.opts.camera) || '';
  root.classList.add('video-standin');
  const screen = el('div', 'video-screen');
  const icon = el('div', 'video-icon', '◉');
  const name = el('div', 'video-name');
  const sub = el('div', 'video-sub');
  const state = el('div', 'video-state');
  const reason = el('div', 'video-reason');
  screen.append(icon, name, sub);
  root.replaceChildren(screen, state, reason);
  let cams = null;
  const topic = hub.subscribe('cameras', (u, tp) => { cams = tp.state; render(); }, { kind: 'state' });

  const render = () => {
    const tile = root.closest('.tile') || root;
    if (!camera) {
      name.textContent = s('cam.none');
      sub.textContent = '';
      state.textContent = '';
      reason.textContent = '';
      tile.dataset.camState = 'none';
      setClass(tile, 'none');
      return;
    }
    const c = cameraInfo(camera, cams, ctx.catalog);
    const primary = lang === 'en' ? c.name_en || c.name || camera : c.name || c.name_en || camera;
    const secondary = lang === 'en' ? (c.name && c.name !== primary ? c.name : camera) : (c.name_en || camera);
    if (name.textContent !== primary) name.textContent = primary;
    if (sub.textContent !== secondary) sub.textContent = secondary;
    const st = STATES.includes(c.state) ? c.state : 'unknown';
    const text = s('cam.' + st);
    if (state.textContent !== text) state.textContent = text;
    const why = c.reason ? String(c.reason) : '';
    if (reason.textContent !== why) reason.textContent = why;
    tile.dataset.camState = st;
    setClass(tile, st);
  };
  const setClass = (tile, st) => {
    for (const x of [...STATES, 'unknown', 'none']) tile.classList.toggle('cam-' + x, x === st);
  };
  render();
  return {
    update(o) {
      if (o && typeof o.camera === 'string' && o.camera !== camera) {
        camera = o.camera;
        render();
      }
    },
    destroy() {
      topic.close();
      const tile = root.closest('.tile');
      if (tile) setClass(tile, '');
      root.replaceChildren();
    },
  };
}
