// Client side of the citywall WebSocket protocol (docs/protocol.md).
//
// One Hub per page holds one connection and any number of topic
// subscriptions; widgets that want the same topic share one server-side
// subscription. The hub reconnects by itself with backoff, resumes every
// topic from its last {epoch, seq}, resynchronises on a sequence gap, and
// reloads the page when the server's build changes, since walls run
// unattended for weeks.

const STATE_TOPICS = /^(heat\/|hot\/|stats$|wall\/|cameras$|alerts$|alerts\/team\/|feeds\/|kpi$)/;
const EVENT_TOPICS = /^(tickets$)/;

// kindOf guesses a topic's kind from its name (the protocol's topic table);
// subscribe's `kind` option overrides it for topics added later.
export function kindOf(topic) {
  if (EVENT_TOPICS.test(topic)) return 'events';
  if (STATE_TOPICS.test(topic)) return 'state';
  return '';
}

export function defaultURL() {
  return (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/ws';
}

const DEFAULTS = {
  backoffMin: 500, // ms, first retry
  backoffMax: 15000, // ms, cap
  stableAfter: 10000, // ms a connection must live before the backoff resets
  pingEvery: 25000, // ms between application pings
  pongWait: 10000, // ms to wait for the pong before calling the link dead
  maxEvents: 100, // default cap of an event topic's list
  freshAfterGap: 30000, // ms: a second gap within this asks for a snapshot, not a resume
  reloadOnNewBuild: true,
  reloadDelayMax: 8000, // ms; spread reloads so a whole wall does not hit the server at once
};

// STEADY topics carry a flow while the centre works (heat, tickets, KPIs,
// feeds, hot topics): their data is what keeps a page fresh (lastDataAt).
// The others change when something happens — a wall's state, the cameras,
// the alerts — and a display of camera tiles alone may go hours without a
// delta: that is not stale data.
const STEADY = /^(heat|tickets|kpi|feeds|hot)(\/|$)/;

// Topic is one subscription shared by its listeners. Read-only for them:
// `state` (Map, state topics) or `events` (Array, oldest first, event
// topics), `epoch`, `seq`, `synced`, `error`.
class Topic {
  constructor(hub, name, kind, maxEvents) {
    this.hub = hub;
    this.steady = STEADY.test(name);
    this.name = name;
    this.kind = kind; // 'state' | 'events' | '' (decided by the first snapshot)
    this.maxEvents = maxEvents;
    this.state = new Map();
    this.events = [];
    this.epoch = null;
    this.seq = null;
    this.synced = false; // a snapshot or resumed has been applied on this connection
    this.lastGapAt = 0;
    this.subId = 0; // id of the subscribe awaiting its snapshot or resumed
    this.error = null; // last {code, reason} the server refused the subscription with
    this.listeners = new Set(); // of Subscription
  }

  // applySnapshot replaces the state with snapshot data.
  applySnapshot(m) {
    const data = m.data;
    if (!this.kind) this.kind = Array.isArray(data) ? 'events' : 'state';
    if (this.kind === 'events') {
      const list = Array.isArray(data) ? data : [];
      this.events = list.slice(Math.max(0, list.length - this.maxEvents));
    } else {
      this.state.clear();
      if (data && typeof data === 'object') for (const k in data) this.state.set(k, data[k]);
    }
    this.epoch = m.epoch;
    this.seq = m.seq;
    this.synced = true;
    this.error = null;
    this.emit({ type: 'snapshot' });
  }

  applyDelta(m) {
    const data = m.data;
    let update;
    if (this.kind === 'events') {
      this.events.push(data);
      if (this.events.length > this.maxEvents) this.events.splice(0, this.events.length - this.maxEvents);
      update = { type: 'delta', event: data };
    } else {
      const set = data && data.set && typeof data.set === 'object' ? data.set : null;
      const del = data && Array.isArray(data.del) ? data.del : null;
      if (del) for (const k of del) this.state.delete(k);
      if (set) for (const k in set) this.state.set(k, set[k]);
      update = { type: 'delta', set, del };
    }
    this.seq = m.seq;
    this.emit(update);
  }

  emit(update) {
    update.topic = this.name;
    for (const sub of this.listeners) {
      try {
        sub.fn(update, this);
      } catch (err) {
        console.error('hub: listener for', this.name, err);
      }
    }
  }
}

// Subscription is what Hub.subscribe returns to one listener.
class Subscription {
  constructor(hub, topic, fn) {
    this.hub = hub;
    this.topic = topic;
    this.fn = fn;
  }
  get name() { return this.topic.name; }
  get state() { return this.topic.state; }
  get events() { return this.topic.events; }
  get synced() { return this.topic.synced; }
  get error() { return this.topic.error; }
  // close removes the listener; the last one leaving unsubscribes.
  close() {
    if (!this.hub) return;
    this.hub._release(this);
    this.hub = null;
  }
}

// Hub events (EventTarget): 'status' {state, attempt, delay, code, reason},
// 'hello' {build, name, roles, time, first}, 'build' {old, new},
// 'topicerror' {topic, code, reason}, 'message' {type} for any server
// message (used for staleness).
export class Hub extends EventTarget {
  constructor(opts = {}) {
    super();
    this.url = opts.url || defaultURL();
    this.opts = { ...DEFAULTS, ...opts };
    this.topics = new Map(); // name -> Topic
    this.pending = new Map(); // request id -> {op, topic, topicObj}
    this.nextId = 1;
    this.ws = null;
    this.state = 'closed'; // 'connecting' | 'open' | 'closed' | 'stopped'
    this.attempt = 0;
    this.build = null;
    this.lastMessageAt = 0; // any server message
    this.lastDataAt = 0; // snapshot or delta of a steady topic (STEADY)
    this.openedAt = 0;
    this._retryTimer = 0;
    this._pingTimer = 0;
    this._pongTimer = 0;
    this._reloadTimer = 0;
    this._stopped = true;
    this._onOpen = () => this._handleOpen();
    this._onMessage = (e) => this._handleFrame(e.data);
    this._onClose = (e) => this._handleClose(e.code, e.reason);
    this._onError = () => {}; // a close always follows
  }

  // start connects and keeps the connection up until close().
  start() {
    if (!this._stopped) return this;
    this._stopped = false;
    this._connect();
    return this;
  }

  // close stops for good: no reconnect, timers cleared.
  close() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    clearTimeout(this._reloadTimer);
    this._stopPing();
    this._dropSocket(1000, 'page closing');
    this._setState('closed', {});
  }

  // subscribe adds fn(update, topic) as a listener of a topic. update.type is
  // 'snapshot' (replace everything), or 'delta' with {set, del} (state
  // topics) or {event} (event topics). A listener joining a topic that is
  // already synced gets a 'snapshot' at once. Options: kind ('state' |
  // 'events'), maxEvents.
  subscribe(name, fn, opts = {}) {
    let t = this.topics.get(name);
    if (!t) {
      t = new Topic(this, name, opts.kind || kindOf(name), opts.maxEvents || this.opts.maxEvents);
      this.topics.set(name, t);
      if (this.state === 'open') this._sendSubscribe(t);
    } else if (opts.maxEvents && opts.maxEvents > t.maxEvents) {
      t.maxEvents = opts.maxEvents;
    }
    const sub = new Subscription(this, t, fn);
    t.listeners.add(sub);
    if (t.synced) {
      queueMicrotask(() => {
        if (sub.hub && t.listeners.has(sub)) {
          try { fn({ type: 'snapshot', topic: name }, t); } catch (err) { console.error(err); }
        }
      });
    }
    return sub;
  }

  // ping sends an application-level ping; the pong counts as a message.
  ping() {
    this._send({ op: 'ping', id: this._id('ping', '') });
  }

  _release(sub) {
    const t = sub.topic;
    t.listeners.delete(sub);
    if (t.listeners.size > 0 || this.topics.get(t.name) !== t) return;
    this.topics.delete(t.name);
    if (this.state === 'open') this._send({ op: 'unsubscribe', id: this._id('unsubscribe', t.name), topic: t.name });
  }

  _id(op, topic, topicObj) {
    const id = this.nextId++;
    if (this.nextId > 2 ** 31) this.nextId = 1;
    this.pending.set(id, { op, topic, topicObj });
    // A server that never answers must not grow this map without bound.
    if (this.pending.size > 1000) this.pending.delete(this.pending.keys().next().value);
    return id;
  }

  _sendSubscribe(t) {
    t.synced = false;
    if (t.subId) this.pending.delete(t.subId);
    t.subId = this._id('subscribe', t.name, t);
    const m = { op: 'subscribe', id: t.subId, topic: t.name };
    if (t.epoch != null && t.seq != null) {
      m.epoch = t.epoch;
      m.seq = t.seq;
    }
    this._send(m);
  }

  // _resync recovers from a sequence gap on a live connection by subscribing
  // again from the last seq applied; the server restarts a topic the client
  // already holds in place. Deltas arriving meanwhile are ignored (not
  // synced) and the resume sends them again. A second gap soon after the
  // first means resuming does not help (the server's history has a hole):
  // then ask for a fresh snapshot instead, so the client cannot loop.
  _resync(t, why) {
    const now = Date.now();
    const again = now - t.lastGapAt < this.opts.freshAfterGap;
    t.lastGapAt = now;
    console.warn('hub: resync', t.name, why, again ? '(fresh snapshot)' : '(resume)');
    if (again) {
      t.epoch = null;
      t.seq = null;
    }
    if (this.state !== 'open') return;
    this._sendSubscribe(t);
  }

  _send(m) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    try {
      this.ws.send(JSON.stringify(m));
      return true;
    } catch (err) {
      return false;
    }
  }

  _connect() {
    clearTimeout(this._retryTimer);
    if (this._stopped) return;
    this._setState('connecting', { attempt: this.attempt });
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this._handleClose(1006, String(err));
      return;
    }
    this.ws = ws;
    ws.addEventListener('open', this._onOpen);
    ws.addEventListener('message', this._onMessage);
    ws.addEventListener('close', this._onClose);
    ws.addEventListener('error', this._onError);
  }

  // _dropSocket detaches from the socket before closing it, so a dead link
  // does not wait for the browser's closing handshake to time out.
  _dropSocket(code, reason) {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    ws.removeEventListener('open', this._onOpen);
    ws.removeEventListener('message', this._onMessage);
    ws.removeEventListener('close', this._onClose);
    ws.removeEventListener('error', this._onError);
    try { ws.close(code, reason); } catch (err) { /* already closed */ }
  }

  _handleOpen() {
    this.openedAt = Date.now();
    this.lastMessageAt = this.openedAt;
    this.pending.clear();
    this._setState('open', {});
    for (const t of this.topics.values()) this._sendSubscribe(t);
    this._startPing();
  }

  _handleClose(code, reason) {
    this._dropSocket(1000, '');
    this._stopPing();
    this.pending.clear();
    for (const t of this.topics.values()) t.synced = false;
    if (this._stopped) return;
    if (code === 1008) {
      // Authentication withdrawn: retrying cannot help; say why and stop.
      this._stopped = true;
      this._setState('stopped', { code, reason: reason || 'policy' });
      return;
    }
    if (this.openedAt && Date.now() - this.openedAt >= this.opts.stableAfter) this.attempt = 0;
    this.openedAt = 0;
    const delay = this._backoff(this.attempt);
    this.attempt++;
    this._setState('closed', { code, reason, attempt: this.attempt, delay, retryAt: Date.now() + delay });
    this._retryTimer = setTimeout(() => this._connect(), delay);
  }

  // _backoff is exponential with "equal jitter": half fixed, half random,
  // so a room of walls does not reconnect in lockstep.
  _backoff(n) {
    const { backoffMin, backoffMax } = this.opts;
    const base = Math.min(backoffMax, backoffMin * 2 ** Math.min(n, 16));
    return Math.round(base / 2 + Math.random() * base / 2);
  }

  // The server's WebSocket pings are invisible to page code, so a silently
  // dead link (a switch reboot, a sleeping NAT) is found by our own ping.
  _startPing() {
    this._stopPing();
    this._pingTimer = setInterval(() => {
      if (Date.now() - this.lastMessageAt < this.opts.pingEvery) return;
      this.ping();
      clearTimeout(this._pongTimer);
      const sent = Date.now();
      this._pongTimer = setTimeout(() => {
        if (this.lastMessageAt < sent) this._handleClose(4000, 'no pong');
      }, this.opts.pongWait);
    }, Math.max(1000, Math.floor(this.opts.pingEvery / 2)));
  }

  _stopPing() {
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._pingTimer = 0;
    this._pongTimer = 0;
  }

  _setState(state, detail) {
    this.state = state;
    this.dispatchEvent(new CustomEvent('status', { detail: { state, ...detail } }));
  }

  _handleFrame(data) {
    if (typeof data !== 'string') return;
    this.lastMessageAt = Date.now();
    // One frame may batch several messages, one per line.
    let start = 0;
    while (start < data.length) {
      let end = data.indexOf('\n', start);
      if (end < 0) end = data.length;
      if (end > start) {
        const line = data.slice(start, end);
        let m;
        try {
          m = JSON.parse(line);
        } catch (err) {
          console.warn('hub: bad message', line.slice(0, 200));
          m = null;
        }
        if (m && typeof m === 'object') this._handleMessage(m);
        if (!this.ws) return; // the message closed the connection (e.g. a reload)
      }
      start = end + 1;
    }
  }

  _handleMessage(m) {
    switch (m.type) {
      case 'hello':
        this._hello(m);
        break;
      case 'snapshot': {
        this._answered(m.id);
        const t = this.topics.get(m.topic);
        if (!t) break; // left meanwhile
        this._answered(t.subId); // the server may share one snapshot, without an id, among clients
        t.subId = 0;
        if (t.steady) this.lastDataAt = Date.now();
        t.applySnapshot(m);
        break;
      }
      case 'resumed': {
        this._answered(m.id);
        const t = this.topics.get(m.topic);
        if (!t) break;
        t.subId = 0;
        if (m.epoch !== t.epoch || typeof m.seq !== 'number' || m.seq < t.seq) {
          // Resumed at a point we do not hold: start over from a snapshot.
          t.epoch = null;
          t.seq = null;
          this._resync(t, 'resumed at ' + m.epoch + '/' + m.seq);
          break;
        }
        t.synced = true;
        t.error = null;
        t.emit({ type: 'resumed' });
        break;
      }
      case 'delta': {
        const t = this.topics.get(m.topic);
        if (!t || !t.synced) break; // a snapshot or resume will cover it
        if (m.epoch !== t.epoch) {
          this._resync(t, 'epoch ' + t.epoch + ' -> ' + m.epoch);
          break;
        }
        if (typeof m.seq !== 'number' || m.seq <= t.seq) break; // duplicate
        if (m.seq !== t.seq + 1) {
          this._resync(t, 'gap ' + t.seq + ' -> ' + m.seq);
          break;
        }
        if (t.steady) this.lastDataAt = Date.now();
        t.applyDelta(m);
        break;
      }
      case 'unsubscribed':
      case 'pong':
        this._answered(m.id);
        break;
      case 'error': {
        const p = this.pending.get(m.id);
        this._answered(m.id);
        const topic = p ? p.topic : '';
        if (p && p.op === 'subscribe' && p.topicObj && this.topics.get(topic) === p.topicObj) {
          p.topicObj.error = { code: m.code, reason: m.reason };
        }
        console.warn('hub: error', m.code, m.reason, topic);
        this.dispatchEvent(new CustomEvent('topicerror', { detail: { topic, op: p ? p.op : '', code: m.code, reason: m.reason } }));
        break;
      }
      default:
        break; // a newer server's message type: ignore
    }
    this.dispatchEvent(new CustomEvent('message', { detail: { type: m.type } }));
  }

  _answered(id) {
    if (id != null) this.pending.delete(id);
  }

  _hello(m) {
    const first = this.build == null;
    const changed = !first && m.build && m.build !== this.build;
    this.dispatchEvent(new CustomEvent('hello', { detail: { ...m, first } }));
    if (first && m.build) this.build = m.build;
    if (!changed) return;
    this.dispatchEvent(new CustomEvent('build', { detail: { old: this.build, new: m.build } }));
    if (!this.opts.reloadOnNewBuild || this._reloadTimer) return;
    const delay = Math.random() * this.opts.reloadDelayMax;
    this._reloadTimer = setTimeout(() => location.reload(), delay);
  }
}
