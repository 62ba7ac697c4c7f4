// TodayStats shows today's ticket count from the `stats` topic (key
// `today`). The topic or the key may be missing; then it shows a dash.

export class TodayStats {
  constructor(el, hub, opts = {}) {
    this.el = el;
    this.t = opts.t;
    el.classList.add('today');
    const mk = (cls, text) => {
      const e = document.createElement('span');
      e.className = cls;
      if (text != null) e.textContent = text;
      return e;
    };
    this.count = mk('today-count', '—');
    this.urgent = mk('today-urgent-count', '—');
    const a = mk('today-item');
    a.append(mk('today-label', this.t('today.tickets')), this.count);
    const b = mk('today-item today-urgent');
    b.append(mk('today-label', this.t('today.urgent')), this.urgent);
    el.replaceChildren(a, b);
    this.sub = hub.subscribe('stats', (u, topic) => this._render(topic.state), { kind: 'state' });
  }

  destroy() {
    this.sub.close();
    this.el.replaceChildren();
  }

  _render(state) {
    const today = state.get('today');
    const n = (v) => (typeof v === 'number' && Number.isFinite(v) ? this.t.num(v) : '—');
    const c = n(today && today.tickets);
    const u = n(today && today.urgent);
    if (this.count.textContent !== c) this.count.textContent = c;
    if (this.urgent.textContent !== u) this.urgent.textContent = u;
    this.el.classList.toggle('today-has-urgent', !!(today && today.urgent > 0));
  }
}
