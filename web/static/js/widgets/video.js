// Video tile: one camera, live. opts = {camera, stream: 'main'|'sub'}.
//
// The tile shows the camera's name and state (from the hub's `cameras`
// topic and the stream itself) over the picture, and says in words what is
// wrong when it cannot play: camera offline or stalled, a codec this
// browser cannot decode (with the advice to show the sub stream), a frozen
// picture. update({camera, stream}) switches in place; destroy() frees the
// socket, the MediaSource, the subscription and every timer.

import { Player, videoURL } from '../player.js';
import { el, translator } from '../kit.js';

const STRINGS = {
  zh: {
    idle: '待机',
    connecting: '连接中…',
    live: '实时',
    stalled: '画面中断',
    offline: '离线',
    unsupported: '不支持的视频格式',
    paused: '已暂停（不可见）',
    frozen: '画面冻结',
    nosupport: '无法播放',
    nosupportLong: '此浏览器无法播放 {video} 视频（{codec}）',
    nosupportSub: '请改用子码流',
    error: '连接中断，正在重连…',
    closed: '未播放',
    noCamera: '未选择摄像头',
    unknown: '未知摄像头 {camera}',
    sub: '子码流',
    main: '主码流',
    retrying: '正在重试',
  },
  en: {
    idle: 'Standby',
    connecting: 'Connecting…',
    live: 'Live',
    stalled: 'Stream stalled',
    offline: 'Offline',
    unsupported: 'Unsupported video format',
    paused: 'Paused (not visible)',
    frozen: 'Picture frozen',
    nosupport: 'Cannot play',
    nosupportLong: 'This browser cannot play {video} video ({codec})',
    nosupportSub: 'Show the sub stream instead',
    error: 'Connection lost, reconnecting…',
    closed: 'Not playing',
    noCamera: 'No camera selected',
    unknown: 'Unknown camera {camera}',
    sub: 'Sub stream',
    main: 'Main stream',
    retrying: 'retrying',
  },
};

const UPSTREAM_DOWN = new Set(['offline', 'stalled', 'unsupported']);
const BAD = new Set(['stalled', 'offline', 'unsupported', 'frozen', 'nosupport', 'error']);

// styled is kit.js's el with inline style (set through the DOM, which the
// content security policy allows): the tile brings no stylesheet.
function styled(tag, style, text) {
  const e = el(tag, null, text);
  if (style) Object.assign(e.style, style);
  return e;
}

export function mount(root, ctx) {
  const lang = ctx && ctx.lang === 'en' ? 'en' : 'zh';
  const S = translator(STRINGS, lang);
  let opts = { stream: 'main', ...((ctx && ctx.opts) || {}) };

  const box = styled('div', {
    position: 'relative', width: '100%', height: '100%', overflow: 'hidden',
    background: '#000', borderRadius: 'inherit', fontFamily: 'var(--font, sans-serif)',
  });
  box.className = 'video-tile';
  const video = styled('video', { width: '100%', height: '100%', objectFit: 'contain', display: 'block', background: '#000' });
  video.muted = true;
  const caption = styled('div', {
    position: 'absolute', left: '0', right: '0', top: '0', display: 'flex', alignItems: 'center', gap: '0.6em',
    padding: '0.35em 0.6em', fontSize: 'clamp(12px, 1.6vmin, 40px)', color: 'var(--text, #eaf1fb)',
    background: 'linear-gradient(rgba(0,0,0,0.75), rgba(0,0,0,0))', pointerEvents: 'none',
  });
  const dot = styled('span', { width: '0.7em', height: '0.7em', borderRadius: '50%', background: '#7d90ab', flex: '0 0 auto' });
  const name = styled('span', { fontWeight: '600', whiteSpace: 'nowrap', overflow: 'hidden', textOverflow: 'ellipsis' });
  const badge = styled('span', { marginLeft: 'auto', whiteSpace: 'nowrap', color: 'var(--text-2, #a9bad2)' });
  caption.append(dot, name, badge);
  const message = styled('div', {
    position: 'absolute', inset: '0', display: 'none', flexDirection: 'column', alignItems: 'center', justifyContent: 'center',
    textAlign: 'center', gap: '0.4em', padding: '1em', fontSize: 'clamp(14px, 2.2vmin, 56px)', color: 'var(--text, #eaf1fb)',
    background: 'rgba(3,7,13,0.6)',
  });
  const messageMain = styled('div', { fontWeight: '600' });
  const messageDetail = styled('div', { fontSize: '0.7em', color: 'var(--text-2, #a9bad2)', maxWidth: '90%', wordBreak: 'break-word' });
  message.append(messageMain, messageDetail);
  box.append(video, caption, message);
  root.replaceChildren(box);

  const player = new Player(video);
  let cam = null; // the camera's entry on the cameras topic
  let status = { state: 'closed' };
  let sub = null;

  function cameraName() {
    if (!opts.camera) return S('noCamera');
    if (!cam) return opts.camera;
    return (lang === 'en' ? cam.name_en || cam.name : cam.name) || opts.camera;
  }

  function render() {
    // The server's word on the camera (the cameras topic) wins over the
    // player's link: a camera down upstream is down whatever was last shown.
    let st = status.state;
    if (cam && UPSTREAM_DOWN.has(cam.state) && st !== 'nosupport') st = cam.state;
    name.textContent = cameraName();
    const streamLabel = opts.stream === 'sub' ? S('sub') : '';
    badge.textContent = [S(st), streamLabel].filter(Boolean).join(' · ');
    dot.style.background = st === 'live' ? '#39d98a' : BAD.has(st) ? '#ff3b3b' : '#ffb020';
    box.dataset.state = st;
    let main = '';
    let detail = '';
    if (!opts.camera) {
      main = S('noCamera');
    } else if (st === 'nosupport') {
      main = S('nosupportLong', { video: status.video || '', codec: status.codec || '' });
      if (opts.stream !== 'sub' && (!cam || cam.sub)) detail = S('nosupportSub');
    } else if (st === 'offline' || st === 'stalled' || st === 'unsupported') {
      main = S(st);
      detail = status.reason || (cam && cam.reason) || '';
    } else if (st === 'frozen') {
      main = S('frozen');
    } else if (st === 'error') {
      main = S('error');
    } else if (st === 'connecting' && player.frames === 0) {
      main = S('connecting');
    }
    messageMain.textContent = main;
    messageDetail.textContent = detail;
    message.style.display = main ? 'flex' : 'none';
  }

  const onStatus = (ev) => {
    status = ev.detail;
    render();
  };
  player.addEventListener('status', onStatus);

  function subscribe() {
    if (!ctx || !ctx.hub || sub) return;
    sub = ctx.hub.subscribe('cameras', (_ev, topic) => {
      const v = topic && topic.state ? topic.state.get(opts.camera) : null;
      cam = v || null;
      render();
    }, { kind: 'state' });
  }

  function play() {
    cam = sub && sub.state ? sub.state.get(opts.camera) || null : null;
    if (!opts.camera) {
      player.stop();
      render();
      return;
    }
    player.start(videoURL(opts.camera, opts.stream || 'main'));
    render();
  }

  subscribe();
  play();

  return {
    player, // for tests and the console: frames, firstFrameAt, status
    update(next) {
      const merged = { ...opts, ...(next || {}) };
      const changed = merged.camera !== opts.camera || (merged.stream || 'main') !== (opts.stream || 'main');
      opts = merged;
      if (changed) play();
      else render();
    },
    destroy() {
      player.removeEventListener('status', onStatus);
      player.destroy();
      if (sub) sub.close();
      sub = null;
      root.replaceChildren();
    },
  };
}
