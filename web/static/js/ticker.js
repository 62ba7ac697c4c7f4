// TicketTicker shows the latest tickets from the `tickets` event topic,
// newest on top, at most `max` rows.

import { Categories } from './i18n.js';
import { el } from './kit.js';

// clip shortens text by characters (not UTF-16 units) so CJK and emoji are
// never cut in half; CSS adds the ellipsis for what still does not fit.
function clip(s, n) {
  const chars = Array.from(String(s || ''));
  return chars.length > n ? chars.slice(0, n).join('') + '…' : chars.join('');
}

export class TicketTicker {
  // opts: {t, categories, clock (makeClock), max, onTicket(ticket)}.
  // onTicket is called for each new ticket, not for the snapshot.
  constructor(el, hub, opts = {}) {
    this.el = el;
    this.t = opts.t;
    this.cats = opts.categories || new Categories();
    this.clock = opts.clock;
    this.max = opts.max || 8;
    this.onTicket = opts.onTicket || null;
    el.classList.add('ticker');
    this.list = document.createElement('ul');
    this.list.className = 'ticker-list';
    this.empty = document.createElement('div');
    this.empty.className = 'ticker-empty';
    this.empty.textContent = this.t('ticker.empty');
    el.replaceChildren(this.list, this.empty);
    this.sub = hub.subscribe('tickets', (u, topic) => this._update(u, topic), { kind: 'events', maxEvents: Math.max(50, this.max) });
  }

  destroy() {
    this.sub.close();
    this.el.replaceChildren();
  }

  _update(u, topic) {
    if (u.type === 'snapshot') {
      const evs = topic.events;
      const rows = [];
      for (let i = evs.length - 1; i >= 0 && rows.length < this.max; i--) rows.push(this._row(evs[i]));
      this.list.replaceChildren(...rows);
    } else if (u.type === 'delta') {
      const row = this._row(u.event);
      row.classList.add('ticker-enter');
      this.list.prepend(row);
      while (this.list.children.length > this.max) this.list.lastElementChild.remove();
      if (this.onTicket) this.onTicket(u.event);
    }
    this.empty.hidden = this.list.children.length > 0;
  }

  _row(tk) {
    const { t } = this;
    tk = tk && typeof tk === 'object' ? tk : {};
    const li = el('li', 'ticker-row');
    if (tk.urgent) li.classList.add('ticker-urgent');
    const created = tk.created ? new Date(tk.created) : null;
    const time = created && !isNaN(created) ? this.clock.hm(created) : '--:--';
    const head = el('div', 'ticker-head');
    head.append(el('span', 'ticker-time', time));
    if (tk.urgent) head.append(el('span', 'ticker-badge', t('urgent')));
    const district = t.district(tk.district);
    if (district) head.append(el('span', 'ticker-district', district));
    const lab = this.cats.label(tk.category || '', t.lang);
    const cat = el('span', 'ticker-category', lab.primary);
    head.append(cat);
    if (tk.subcategory && t.lang !== 'en') head.append(el('span', 'ticker-sub', tk.subcategory));
    const summary = el('div', 'ticker-summary', clip(tk.summary || tk.subcategory || '', 60));
    li.append(head, summary);
    if (tk.id) li.title = String(tk.id);
    return li;
  }
}
