// Ticker widget: the latest tickets, newest on top (ticker.js). opts: {max}.

import { TicketTicker } from '../ticker.js';
import { Categories } from '../i18n.js';
import { frame, StateBadge } from './common.js';
import { el } from '../kit.js';

export function mount(root, ctx) {
  const { hub, lang, t, pub, clock } = ctx;
  const opts = ctx.opts || {};
  const f = frame(root, t('ticker.title'));
  f.head.insertBefore(el('span', 'live-dot'), f.badge);
  const badge = new StateBadge(f.badge, hub, lang, 30 * 60 * 1000);
  const ticker = new TicketTicker(f.body, hub, {
    t, categories: new Categories(pub.categories || []), clock, max: Number(opts.max) || 8,
    onTicket: () => badge.touch(),
  });
  const seen = hub.subscribe('tickets', () => badge.touch(), { kind: 'events', maxEvents: 50 });
  return {
    update() {},
    destroy() {
      seen.close();
      ticker.destroy();
      badge.destroy();
      root.replaceChildren();
    },
  };
}
