// CellStore fetches H3 cell outlines from /api/v1/cells in batches and keeps
// them in a bounded map: an outline never changes, and a wall that runs for
// weeks must not collect every cell it ever saw.

import { api, ApiError } from './kit.js';

const DEFAULTS = {
  url: '/api/v1/cells',
  capacity: 60000, // outlines kept (about 10 MB)
  batch: 500, // ids per request, the server's limit
  concurrency: 2, // requests in flight
  delay: 40, // ms to gather ids before a request
  retryMin: 2000, // ms after a failed request
  retryMax: 60000,
};

// Events: 'loaded' (new outlines are available).
export class CellStore extends EventTarget {
  constructor(opts = {}) {
    super();
    this.opts = { ...DEFAULTS, ...opts };
    // id -> Float64Array [lat0, lng0, lat1, lng1, ...], or null for an id the
    // server does not know (so it is not asked for again and again).
    this.outlines = new Map();
    this.queue = new Set();
    this.split = []; // batches the server refused, halved, sent before the queue
    this.inflight = new Set();
    this.requests = 0;
    this.failures = 0;
    this._timer = 0;
    this._closed = false;
  }

  // get returns the outline, null for an unknown cell, or undefined when it
  // is not here yet; then it is queued, and 'loaded' fires when it arrives.
  get(id) {
    const o = this.outlines.get(id);
    if (o !== undefined) return o;
    this.want(id);
    return undefined;
  }

  want(id) {
    if (this.inflight.has(id) || this.queue.has(id) || this.outlines.has(id)) return;
    if (this.queue.size >= this.opts.capacity) return; // asked again on the next draw
    this.queue.add(id);
    this._schedule(this.opts.delay);
  }

  close() {
    this._closed = true;
    clearTimeout(this._timer);
    this.queue.clear();
    this.split.length = 0;
  }

  _schedule(ms) {
    if (this._timer || this._closed) return;
    this._timer = setTimeout(() => {
      this._timer = 0;
      this._pump();
    }, ms);
  }

  _pump() {
    while (this.requests < this.opts.concurrency && this.split.length > 0) this._fetch(this.split.pop());
    while (this.requests < this.opts.concurrency && this.queue.size > 0) {
      const ids = [];
      for (const id of this.queue) {
        ids.push(id);
        this.queue.delete(id);
        if (ids.length >= this.opts.batch) break;
      }
      this._fetch(ids);
    }
  }

  async _fetch(ids) {
    this.requests++;
    for (const id of ids) this.inflight.add(id);
    let retry = false;
    try {
      // A 401 is the wall's to act on (it checks its session): retry.
      this._store(ids, await api(this.opts.url + '?ids=' + ids.map(encodeURIComponent).join(','), { unauthorized: 'throw' }));
      this.failures = 0;
    } catch (err) {
      const refused = err instanceof ApiError && err.status >= 400 && err.status < 500 && err.status !== 401 && err.status !== 429;
      if (refused) {
        // The server refused the batch, perhaps for one bad id: halve it
        // until the bad one is alone, then remember it as unknown.
        if (ids.length === 1) this._put(ids[0], null);
        else {
          const half = ids.length >> 1;
          this.split.push(ids.slice(0, half), ids.slice(half));
        }
      } else {
        retry = true;
      }
    } finally {
      for (const id of ids) this.inflight.delete(id);
      this.requests--;
    }
    if (this._closed) return;
    if (retry) {
      this.failures++;
      for (const id of ids) if (!this.outlines.has(id) && this.queue.size < this.opts.capacity) this.queue.add(id);
      const wait = Math.min(this.opts.retryMax, this.opts.retryMin * 2 ** Math.min(this.failures - 1, 8));
      this._schedule(wait * (0.75 + Math.random() * 0.5));
    } else {
      this.dispatchEvent(new Event('loaded'));
      if (this.queue.size > 0 || this.split.length > 0) this._schedule(0);
    }
  }

  _store(ids, body) {
    for (const id of ids) {
      const pts = body && body[id];
      if (!Array.isArray(pts) || pts.length < 3) {
        this._put(id, null);
        continue;
      }
      const a = new Float64Array(pts.length * 2);
      let ok = true;
      for (let i = 0; i < pts.length; i++) {
        const p = pts[i];
        if (!Array.isArray(p) || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) { ok = false; break; }
        a[2 * i] = p[0];
        a[2 * i + 1] = p[1];
      }
      this._put(id, ok ? a : null);
    }
  }

  _put(id, outline) {
    this.outlines.set(id, outline);
    if (this.outlines.size > this.opts.capacity) {
      // Oldest first; a cell still on screen is simply fetched again.
      let drop = Math.ceil(this.opts.capacity / 10);
      for (const k of this.outlines.keys()) {
        this.outlines.delete(k);
        if (--drop <= 0) break;
      }
    }
  }
}
