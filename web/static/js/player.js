// Live camera player: GET /ws/video/{camera} (docs/protocol.md) into a
// <video> through Media Source Extensions.
//
// The server sends a text {"type":"codec"} message, then the init segment,
// then one binary fMP4 fragment per frame, and {"type":"state"} messages
// when the camera's state changes. The player queues appends (one
// SourceBuffer update at a time, everything waiting appended together),
// keeps only a few seconds behind the playhead, catches up when it falls
// behind the live edge (a little faster playback, or a jump when far
// behind), reconnects with backoff and jitter, stops while it cannot be
// seen, and tells the server when its picture stops moving although the
// stream is connected (a frozen tile).

const DEFAULTS = {
  backoffMin: 500, // ms, first retry
  backoffMax: 15000, // ms
  keepBehind: 3, // s of played video kept in the buffer
  trimEvery: 2, // s: trim once this much more has been played
  catchUpAt: 1.0, // s behind the live edge: play faster
  jumpAt: 3.0, // s behind: jump to the live edge
  liveDelay: 0.3, // s behind the edge to aim for
  fastRate: 1.15,
  frozenAfter: 5000, // ms of currentTime standing still while live
  checkEvery: 1000, // ms between health checks
};

// States a player reports in its 'status' events: detail {state, reason,
// codec, video, code}. Camera states come from the server (connecting,
// live, stalled, offline, unsupported, idle); the player adds its own:
// 'connecting' (socket opening), 'paused' (not visible), 'frozen',
// 'nosupport' (this browser cannot play the codec), 'error', 'closed'.
export class Player extends EventTarget {
  constructor(video, opts = {}) {
    super();
    this.video = video;
    this.opts = { ...DEFAULTS, ...opts };
    this.url = '';
    this.ws = null;
    this.ms = null;
    this.sb = null;
    this.objectURL = '';
    this.queue = [];
    this.queuedBytes = 0;
    this.attempt = 0;
    this.retryTimer = 0;
    this.checkTimer = 0;
    this.wanted = false; // start() called and not stopped
    this.visible = true;
    this.serverState = '';
    this.codec = null;
    this.frozen = false;
    this.lastTime = -1;
    this.stillSince = 0;
    this.frames = 0; // frames presented (requestVideoFrameCallback)
    this.firstFrameAt = 0; // ms from connect to the first presented frame
    this.connectedAt = 0;
    this.status = { state: 'closed' };
    this.destroyed = false;
    this.noSupport = false;
    this.marks = {};
    this.started = false; // the current MediaSource has had data
    this.jumpToLive = false;

    video.muted = true; // walls are silent; muted video may autoplay
    video.playsInline = true;
    video.autoplay = true;
    video.disablePictureInPicture = true;

    this._onVisibility = () => this._visibilityChanged();
    document.addEventListener('visibilitychange', this._onVisibility);
    if ('IntersectionObserver' in window) {
      this.observer = new IntersectionObserver((entries) => {
        for (const e of entries) this._setVisible(e.isIntersecting);
      });
      this.observer.observe(video);
    }
    this._countFrames();
  }

  // start plays url (ws:// or wss://). Calling it again with another URL
  // switches in place.
  start(url) {
    if (this.destroyed) return;
    this.url = url;
    this.wanted = true;
    this.noSupport = false;
    this.attempt = 0;
    this._teardown();
    this._connect();
    if (!this.checkTimer) this.checkTimer = setInterval(() => this._check(), this.opts.checkEvery);
  }

  // stop closes the stream; the last picture stays.
  stop() {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = 0;
    this._teardown();
    this._emit({ state: 'closed' });
  }

  // destroy frees everything: socket, MediaSource, timers, observers.
  destroy() {
    if (this.destroyed) return;
    this.stop();
    this.destroyed = true;
    clearInterval(this.checkTimer);
    this.checkTimer = 0;
    document.removeEventListener('visibilitychange', this._onVisibility);
    if (this.observer) this.observer.disconnect();
    this.video.removeAttribute('src');
    this.video.load();
  }

  _emit(st) {
    this.status = st;
    this.dispatchEvent(new CustomEvent('status', { detail: st }));
  }

  _shouldRun() {
    return this.wanted && !this.destroyed && this.visible && !document.hidden && !this.noSupport;
  }

  _connect() {
    if (!this._shouldRun() || this.ws) return;
    this._emit({ state: 'connecting' });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this._emit({ state: 'error', reason: String(err) });
      this._retry();
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.connectedAt = performance.now();
    this.firstFrameAt = 0;
    this.marks = {}; // ms from connecting to each step of the first start, for tests and the console
    ws.onopen = () => this._mark('open');
    this.mime = '';
    this._openMedia();
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      if (typeof ev.data === 'string') this._text(ev.data);
      else this._binary(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this._teardownMedia();
      if (!this.wanted || this.destroyed) return;
      if (this.noSupport) return;
      this._emit({ state: 'error', reason: ev.reason || 'connection closed', code: ev.code });
      this._retry();
    };
  }

  _retry() {
    clearTimeout(this.retryTimer);
    if (!this._shouldRun()) return;
    const o = this.opts;
    const base = Math.min(o.backoffMax, o.backoffMin * 2 ** Math.min(this.attempt, 10));
    this.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = 0;
      this._connect();
    }, delay);
  }

  _text(data) {
    let m;
    try {
      m = JSON.parse(data);
    } catch {
      return;
    }
    if (m.type === 'codec') {
      this._codec(m);
    } else if (m.type === 'state') {
      this.serverState = m.state;
      if (m.state === 'live' && this.frozen) return; // frozen stays shown until frames move
      this._emit({ state: m.state, reason: m.reason || '', codec: this.codec && this.codec.codec, video: this.codec && this.codec.video });
    }
  }

  // _openMedia attaches a fresh MediaSource to the video. It is done while
  // the socket connects: opening takes a while, and the codec string
  // needed for the SourceBuffer arrives only later.
  _openMedia() {
    this._teardownMedia();
    if (!('MediaSource' in window)) return;
    const ms = new MediaSource();
    this.ms = ms;
    this.objectURL = URL.createObjectURL(ms);
    this.video.src = this.objectURL;
    ms.addEventListener('sourceopen', () => {
      if (ms !== this.ms) return;
      URL.revokeObjectURL(this.objectURL);
      this.objectURL = '';
      this._mark('sourceopen');
      this._addSourceBuffer();
    }, { once: true });
  }

  // _codec starts (or restarts) the media pipeline for a new stream.
  _codec(m) {
    this.codec = m;
    this._mark('codec');
    const mime = m.mime || `video/mp4; codecs="${m.codec}"`;
    if (!('MediaSource' in window) || !MediaSource.isTypeSupported(mime)) {
      this.noSupport = true;
      this._emit({ state: 'nosupport', codec: m.codec, video: m.video });
      const ws = this.ws;
      this.ws = null;
      if (ws) ws.close(1000, 'codec not supported');
      this._teardownMedia();
      return;
    }
    this.mime = mime;
    if (!this.ms || this.sb || this.ms.readyState === 'ended') this._openMedia(); // a new stream mid-way
    if (this.ms && this.ms.readyState === 'open') this._addSourceBuffer();
  }

  _addSourceBuffer() {
    const ms = this.ms;
    if (!ms || this.sb || !this.mime || ms.readyState !== 'open') return;
    try {
      this.sb = ms.addSourceBuffer(this.mime);
      this.sb.mode = 'segments';
    } catch (err) {
      this._emit({ state: 'error', reason: String(err) });
      this._reconnectNow();
      return;
    }
    this.sb.addEventListener('updateend', () => this._updated());
    this.sb.addEventListener('error', () => this._reconnectNow());
    this._pump();
  }

  _binary(buf) {
    if (!this.ms || !this.mime) return; // nothing before a codec message
    this.queue.push(new Uint8Array(buf));
    this.queuedBytes += buf.byteLength;
    // A player that cannot keep up (a starved tab) drops what waits and
    // lets the stream start over at the next connection.
    if (this.queuedBytes > 32 << 20) {
      this._reconnectNow();
      return;
    }
    this._pump();
  }

  _pump() {
    const sb = this.sb;
    if (!sb || sb.updating || this.queue.length === 0 || !this.ms || this.ms.readyState !== 'open') return;
    let chunk;
    if (this.queue.length === 1) {
      chunk = this.queue[0];
    } else {
      chunk = new Uint8Array(this.queuedBytes);
      let off = 0;
      for (const q of this.queue) {
        chunk.set(q, off);
        off += q.byteLength;
      }
    }
    this.queue = [];
    this.queuedBytes = 0;
    try {
      sb.appendBuffer(chunk);
    } catch (err) {
      if (err && err.name === 'QuotaExceededError') {
        // The buffer is full: keep the newest data and trim hard.
        this.queue = [chunk];
        this.queuedBytes = chunk.byteLength;
        this._trim(true);
        return;
      }
      this._emit({ state: 'error', reason: String(err) });
      this._reconnectNow();
    }
  }

  _updated() {
    const v = this.video;
    const b = this.sb && this.sb.buffered;
    if (b && b.length) {
      const end = b.end(b.length - 1);
      const start = b.start(b.length - 1);
      if (!this.started) {
        this._mark('appended');
        this.attempt = 0; // media flows: the next failure retries quickly again
        // First data of a stream: show its keyframe at once (decoding
        // one frame), then jump to the live edge once it is on screen.
        this.started = true;
        this.jumpToLive = true;
        v.currentTime = start;
      } else if (v.currentTime < start || v.currentTime > end) {
        // The playhead outside the newest range (a gap): go live.
        v.currentTime = Math.max(start, end - this.opts.liveDelay);
      }
      if (v.paused) {
        const p = v.play();
        if (p && p.catch) p.catch(() => {});
      }
      this._catchUp(end);
    }
    if (!this._trim(false)) this._pump();
  }

  // _catchUp keeps the playhead near the live edge.
  _catchUp(end) {
    const v = this.video;
    const lag = end - v.currentTime;
    const o = this.opts;
    if (lag > o.jumpAt) {
      v.currentTime = end - o.liveDelay;
      v.playbackRate = 1;
    } else if (lag > o.catchUpAt) {
      if (v.playbackRate !== o.fastRate) v.playbackRate = o.fastRate;
    } else if (lag < o.liveDelay + 0.2 && v.playbackRate !== 1) {
      v.playbackRate = 1;
    }
  }

  // _trim removes what was played more than keepBehind seconds ago; it
  // reports whether it started a removal (the next pump waits for it).
  _trim(hard) {
    const sb = this.sb;
    if (!sb || sb.updating) return false;
    const b = sb.buffered;
    if (!b.length) return false;
    const t = this.video.currentTime;
    const keep = hard ? 1 : this.opts.keepBehind;
    const start = b.start(0);
    if (t - start < keep + (hard ? 0 : this.opts.trimEvery)) return false;
    try {
      sb.remove(start, t - keep);
      return true;
    } catch {
      return false;
    }
  }

  _reconnectNow() {
    const ws = this.ws;
    this.ws = null;
    this._teardownMedia();
    if (ws) ws.close(1000, 'restart');
    this._retry();
  }

  _teardownMedia() {
    this.queue = [];
    this.queuedBytes = 0;
    if (this.ms) {
      const ms = this.ms;
      this.ms = null;
      this.sb = null;
      try {
        if (ms.readyState === 'open') ms.endOfStream();
      } catch { /* already ended */ }
    }
    if (this.objectURL) {
      URL.revokeObjectURL(this.objectURL);
      this.objectURL = '';
    }
    this.frozen = false;
    this.lastTime = -1;
    this.started = false;
    this.jumpToLive = false;
  }

  _teardown() {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = null;
      ws.close(1000, 'bye');
    }
    this._teardownMedia();
  }

  _setVisible(vis) {
    if (this.visible === vis) return;
    this.visible = vis;
    this._visibilityChanged();
  }

  // Hidden players close their stream (the camera's upstream may then
  // close too); they reconnect when seen again.
  _visibilityChanged() {
    if (!this.wanted || this.destroyed) return;
    if (this._shouldRun()) {
      if (!this.ws && !this.retryTimer) {
        this.attempt = 0;
        this._connect();
      }
    } else if (!this.noSupport) {
      clearTimeout(this.retryTimer);
      this.retryTimer = 0;
      this._teardown();
      this._emit({ state: 'paused' });
    }
  }

  // _check runs every second: a live, visible player whose currentTime
  // has not moved for frozenAfter is frozen, and says so to the server.
  _check() {
    const v = this.video;
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.sb || this.serverState !== 'live' || !this._shouldRun()) {
      this.stillSince = 0;
      return;
    }
    const now = performance.now();
    if (v.currentTime !== this.lastTime) {
      this.lastTime = v.currentTime;
      this.stillSince = now;
      if (this.frozen) {
        this.frozen = false;
        this._send({ type: 'playing' });
        this._emit({ state: 'live', codec: this.codec && this.codec.codec, video: this.codec && this.codec.video });
      }
      return;
    }
    if (!this.stillSince) this.stillSince = now;
    if (!this.frozen && now - this.stillSince >= this.opts.frozenAfter) {
      this.frozen = true;
      this._send({ type: 'frozen' });
      this._emit({ state: 'frozen' });
      // A stuck decoder often recovers from a fresh start.
      if (this.sb && this.sb.buffered.length) {
        const b = this.sb.buffered;
        v.currentTime = b.end(b.length - 1) - this.opts.liveDelay;
      }
    }
  }

  _mark(name) {
    if (this.marks && !(name in this.marks)) this.marks[name] = Math.round(performance.now() - this.connectedAt);
  }

  _send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  // _countFrames counts presented frames, for the tile and for tests.
  _countFrames() {
    const v = this.video;
    if (!('requestVideoFrameCallback' in v)) return;
    const tick = () => {
      if (this.destroyed) return;
      this.frames++;
      if (!this.firstFrameAt && this.connectedAt) {
        this.firstFrameAt = performance.now() - this.connectedAt;
        this._mark('frame');
      }
      if (this.jumpToLive) {
        this.jumpToLive = false;
        const b = this.sb && this.sb.buffered;
        if (b && b.length) {
          const end = b.end(b.length - 1);
          if (end - v.currentTime > this.opts.liveDelay + 0.3) v.currentTime = end - this.opts.liveDelay;
        }
      }
      v.requestVideoFrameCallback(tick);
    };
    v.requestVideoFrameCallback(tick);
  }
}

// decodes lists the video families this browser plays through Media
// Source Extensions, as the video endpoint's decodes= wants them: the
// server transcodes a camera's H.265 to H.264 for a browser without H.265.
export function decodes() {
  if (!('MediaSource' in window)) return [];
  const can = (codecs) => codecs.some((c) => MediaSource.isTypeSupported(`video/mp4; codecs="${c}"`));
  const out = [];
  if (can(['avc1.42E01E', 'avc1.640028'])) out.push('h264');
  if (can(['hvc1.1.6.L93.B0', 'hev1.1.6.L93.B0'])) out.push('h265');
  return out;
}

// videoURL is the endpoint of a camera's stream on this page's server,
// saying what this browser plays.
export function videoURL(camera, stream = 'main') {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams();
  if (stream && stream !== 'main') q.set('stream', stream);
  q.set('decodes', decodes().join(','));
  return `${proto}//${location.host}/ws/video/${encodeURIComponent(camera)}?${q}`;
}
