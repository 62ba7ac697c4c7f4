// HotTopics lists the categories with the most tickets in one window, from
// the hub topic hot/{window}: rank, name in both languages, count, a bar,
// and the trend against the previous window.

import { Categories } from './i18n.js';
import { el } from './kit.js';

// setText touches the DOM only when the text changes; the list is updated
// several times a second for weeks.
function setText(e, s) {
  if (e.textContent !== s) e.textContent = s;
}

// trendOf returns {dir: 'up'|'down'|'flat'|'new', text}.
export function trendOf(v, t) {
  const count = Number(v.count) || 0;
  const prev = Number(v.prev) || 0;
  let trend = typeof v.trend === 'number' && Number.isFinite(v.trend) ? v.trend : null;
  if (trend === null) {
    if (prev > 0) trend = (count - prev) / prev;
    else if (count > 0) return { dir: 'new', text: t('hot.new') };
    else return { dir: 'flat', text: '' };
  }
  if (prev === 0 && count > 0 && trend === 0) return { dir: 'new', text: t('hot.new') };
  const pct = Math.round(Math.abs(trend) * 100);
  const text = pct > 999 ? '>999%' : pct + '%';
  if (pct === 0) return { dir: 'flat', text: '→ 0%' };
  return trend > 0 ? { dir: 'up', text: '↑ ' + text } : { dir: 'down', text: '↓ ' + text };
}

export class HotTopics {
  // el: an element to fill; hub: a Hub; opts: {window, t, categories, limit}.
  constructor(el, hub, opts = {}) {
    this.el = el;
    this.hub = hub;
    this.t = opts.t;
    this.cats = opts.categories || new Categories();
    this.limit = opts.limit || 10;
    this.rows = [];
    this.sub = null;
    this.state = null;
    this._raf = 0;
    el.classList.add('hot');
    this.list = document.createElement('ol');
    this.list.className = 'hot-list';
    this.empty = document.createElement('div');
    this.empty.className = 'hot-empty';
    this.empty.textContent = this.t('hot.empty');
    el.replaceChildren(this.list, this.empty);
    this.setWindow(opts.window || '1h');
  }

  setWindow(w) {
    if (this.sub && this.window === w) return;
    this.window = w;
    if (this.sub) this.sub.close();
    this.state = null;
    this._render();
    this.sub = this.hub.subscribe('hot/' + w, (u, topic) => {
      this.state = topic.state;
      this._schedule();
    });
  }

  destroy() {
    if (this.sub) this.sub.close();
    this.sub = null;
    cancelAnimationFrame(this._raf);
    this.el.replaceChildren();
  }

  _schedule() {
    if (!this._raf) this._raf = requestAnimationFrame(() => { this._raf = 0; this._render(); });
  }

  _row() {
    const li = el('li', 'hot-row');
    const r = {
      li,
      rank: el('span', 'hot-rank'),
      names: el('div', 'hot-names'),
      primary: el('span', 'hot-primary'),
      secondary: el('span', 'hot-secondary'),
      bar: el('div', 'hot-bar'),
      fill: el('i', 'hot-bar-fill'),
      count: el('span', 'hot-count'),
      trend: el('span', 'hot-trend'),
      dir: '',
    };
    r.names.append(r.primary, r.secondary);
    r.bar.append(r.fill);
    li.append(r.rank, r.names, r.count, r.trend, r.bar);
    return r;
  }

  _render() {
    const items = [];
    if (this.state) {
      for (const [name, v] of this.state) {
        if (!v || typeof v !== 'object') continue;
        const count = Number(v.count) || 0;
        if (count <= 0) continue;
        this.cats.learn(name, v.en);
        items.push({ name, v, count });
      }
    }
    items.sort((a, b) => b.count - a.count || a.name.localeCompare(b.name, 'zh-CN'));
    const shown = items.slice(0, this.limit);
    const top = shown.length ? shown[0].count : 1;
    const { t } = this;
    while (this.rows.length < shown.length) {
      const r = this._row();
      this.rows.push(r);
      this.list.append(r.li);
    }
    while (this.rows.length > shown.length) this.rows.pop().li.remove();
    shown.forEach((it, i) => {
      const r = this.rows[i];
      const lab = this.cats.label(it.name, t.lang);
      setText(r.rank, String(i + 1));
      r.li.classList.toggle('hot-row-top', i < 3);
      setText(r.primary, lab.primary);
      setText(r.secondary, lab.secondary);
      r.li.title = it.name;
      setText(r.count, t.num(it.count));
      const tr = trendOf(it.v, t);
      setText(r.trend, tr.text);
      if (r.dir !== tr.dir) {
        r.trend.className = 'hot-trend hot-trend-' + tr.dir;
        r.dir = tr.dir;
      }
      r.fill.style.width = (100 * it.count / top).toFixed(1) + '%';
    });
    this.empty.hidden = shown.length > 0 || !this.state;
  }
}
