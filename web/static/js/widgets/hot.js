// Hot-topics widget: the top request categories of a window with their
// trend (hottopics.js). opts: {window, limit}.

import { HotTopics } from '../hottopics.js';
import { Categories } from '../i18n.js';
import { frame, StateBadge } from './common.js';

export function mount(root, ctx) {
  const { hub, lang, t, pub } = ctx;
  const opts = ctx.opts || {};
  const windows = (pub.geo && pub.geo.windows) || ['15m', '1h', '24h'];
  const win = windows.includes(opts.window) ? opts.window : (windows.includes('1h') ? '1h' : windows[0]);
  const f = frame(root, t('hot.title'));
  f.meta.textContent = t('window.' + win);
  const badge = new StateBadge(f.badge, hub, lang);
  const hot = new HotTopics(f.body, hub, { window: win, t, categories: new Categories(pub.categories || []), limit: Number(opts.limit) || 10 });
  const fresh = hub.subscribe('hot/' + win, () => badge.touch(), { kind: 'state' });
  return {
    update() {},
    destroy() {
      fresh.close();
      hot.destroy();
      badge.destroy();
      root.replaceChildren();
    },
  };
}
