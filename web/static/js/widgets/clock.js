// Clock and duty widget: the city's time, today's tickets, who is on duty
// (opts.duty) and what the wall shows now: its camera set, tour step and
// the next switch, or who took it over by hand and until when.

import { TodayStats } from '../stats.js';
import { frame, strings } from './common.js';
import { el } from '../kit.js';

export function mount(root, ctx) {
  const { hub, lang, t, pub, clock } = ctx;
  const s = strings(lang);
  const opts = ctx.opts || {};
  const city = pub.city || {};
  const name = lang === 'en' ? city.name_en || city.name || '' : city.name || city.name_en || '';
  root.classList.add('clock-widget');
  const f = frame(root, name ? t('title', { city: name }) : t('title.short'));
  const time = el('div', 'clock-time', '--:--:--');
  const date = el('div', 'clock-date');
  const today = el('div', 'clock-today');
  const mode = el('div', 'clock-mode');
  const duty = el('div', 'clock-duty');
  const left = el('div', 'clock-left');
  left.append(time, date);
  const right = el('div', 'clock-right');
  right.append(today, mode, duty);
  f.body.classList.add('clock-body');
  f.body.append(left, right);
  if (opts.duty) duty.textContent = s('clock.duty') + ' · ' + opts.duty;
  duty.hidden = !opts.duty;
  const stats = new TodayStats(today, hub, { t });

  let wallState = null;
  const wallSub = ctx.wall ? hub.subscribe('wall/' + ctx.wall, (u, topic) => { wallState = topic.state; render(); }, { kind: 'state' }) : null;
  const label = (r) => (r ? (lang === 'en' ? r.name_en || r.name || r.id : r.name || r.id) : '');
  const render = () => {
    if (!wallState) return;
    const set = wallState.get('set');
    const tour = wallState.get('tour');
    const control = wallState.get('control') || {};
    const parts = [];
    if (set) parts.push(s('clock.set') + ' ' + label(set));
    if (tour) {
      let p = s('tour') + ' ' + label(tour) + ` ${tour.step + 1}/${(tour.steps || []).length}`;
      if (tour.paused) p += ' · ' + s('tour.paused');
      else if (tour.next) p += ' · ' + s('tour.next', { t: clock.hm(new Date(tour.next)) });
      parts.push(p);
    }
    if (control.override) parts.push(s('clock.manual', { t: clock.hm(new Date(control.override.until)) }) + ' · ' + control.override.by);
    else if (control.schedule) parts.push(s('clock.schedule') + ' · ' + label(control.schedule));
    const text = parts.join('  ·  ');
    if (mode.textContent !== text) mode.textContent = text;
    mode.classList.toggle('clock-mode-manual', !!control.override);
  };

  let timer = 0;
  const tick = () => {
    const now = new Date();
    const ts = clock.time(now);
    if (time.textContent !== ts) time.textContent = ts;
    const ds = clock.date(now) + (clock.zone ? ' · ' + clock.zone : '');
    if (date.textContent !== ds) date.textContent = ds;
    timer = setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
  };
  tick();
  return {
    update() {},
    destroy() {
      clearTimeout(timer);
      stats.destroy();
      if (wallSub) wallSub.close();
      root.replaceChildren();
    },
  };
}
