// Wall widget `alerts`: the open alerts, unacknowledged first, with who
// acknowledged each and when. Options: {team: "<id>"} shows one team's
// alerts instead of all; {max: n} bounds the rows (default 8); {group: n}
// folds n or more alerts of one kind in one state into a row (default 3;
// 0 never), so a storm's waterlogging points or a morning's overdue
// tickets leave room for the rest.
import { tr, title, since, hhmm, order, cameraNames, groups, groupLabel, groupPlaces } from '../alertview.js';
import { el } from '../kit.js';


// The page's CSP allows only style sheets from the server itself.
let styled = false;
function style() {
  if (styled) return;
  styled = true;
  const l = document.createElement('link');
  l.rel = 'stylesheet';
  l.href = new URL('../../css/alerts-widget.css', import.meta.url).href;
  document.head.append(l);
}

export function mount(root, ctx) {
  style();
  const lang = ctx.lang === 'en' ? 'en' : 'zh';
  const t = tr(lang);
  let opts = { ...(ctx.opts || {}) };
  const box = el('div', 'aw');
  const head = el('div', 'aw-head');
  const name = el('span', 'aw-title', t('widget.title'));
  const count = el('span', 'aw-count');
  const state = el('span', 'aw-state');
  head.append(name, state, count);
  const list = el('div', 'aw-list');
  box.append(head, list);
  root.replaceChildren(box);

  let sub = null;
  let data = new Map();
  let connected = true;

  const render = () => {
    const at = opts.group == null ? 3 : Number(opts.group);
    const rows = groups(order([...data.values()]), at).slice(0, Number(opts.max) > 0 ? Number(opts.max) : 8);
    const firing = [...data.values()].filter((a) => a.state === 'firing').length;
    count.textContent = t('widget.open', { n: data.size });
    count.classList.toggle('is-hot', firing > 0);
    state.textContent = connected ? '' : t('stale');
    if (!rows.length) {
      list.replaceChildren(el('div', 'aw-empty', t('empty')));
      return;
    }
    list.replaceChildren(...rows.map(({ alert: a, group }) => {
      if (group) return groupRow(group);
      const r = el('div', `aw-row sev-${a.severity} state-${a.state}`);
      const l1 = el('div', 'aw-line1');
      l1.append(el('span', 'aw-name', title(a, lang)), el('span', 'aw-time', `${hhmm(a.starts_at)} · ${since(a.starts_at, t)}`));
      const l2 = el('div', 'aw-line2');
      if (a.state === 'acknowledged' && a.acked_by) {
        l2.append(el('span', 'aw-ack', '✔ ' + t('acked.by', { who: a.acked_by, time: hhmm(a.acked_at) })));
      } else {
        l2.append(el('span', 'aw-firing', t('state.firing') + (a.level > 0 ? ' · ' + t('escalated') : '')));
      }
      const cams = cameraNames(a, lang);
      if (cams.length) l2.append(` · ${t('cameras')}: ${cams.join('、')}`);
      r.append(l1, l2);
      return r;
    }));
  };

  const groupRow = (members) => {
    const a = members[0];
    const critical = members.some((x) => x.severity === 'critical');
    const first = members.reduce((m, x) => (String(x.starts_at) < String(m.starts_at) ? x : m), a);
    const r = el('div', `aw-row aw-group sev-${critical ? 'critical' : a.severity} state-${a.state}`);
    r.dataset.count = String(members.length);
    const l1 = el('div', 'aw-line1');
    l1.append(el('span', 'aw-name', t('group.count', { label: groupLabel(members, t, lang), n: members.length })),
      el('span', 'aw-time', `${hhmm(first.starts_at)} · ${since(first.starts_at, t)}`));
    const l2 = el('div', 'aw-line2');
    if (a.state === 'acknowledged') l2.append(el('span', 'aw-ack', '✔ ' + t('group.acked', { n: members.length })));
    else l2.append(el('span', 'aw-firing', t('state.firing') + (members.some((x) => x.level > 0) ? ' · ' + t('escalated') : '')));
    l2.append(' · ' + groupPlaces(members, lang));
    r.append(l1, l2);
    return r;
  };

  const subscribe = () => {
    if (sub) sub.close();
    data = new Map();
    const topic = opts.team ? `alerts/team/${opts.team}` : 'alerts';
    sub = ctx.hub.subscribe(topic, (u, tp) => {
      data = tp.state;
      render();
    }, { kind: 'state' });
    render();
  };
  const onStatus = (e) => {
    connected = e.detail.state === 'open';
    render();
  };
  ctx.hub.addEventListener('status', onStatus);
  const tick = setInterval(render, 30000);
  subscribe();

  return {
    update(next) {
      const team = opts.team;
      opts = { ...opts, ...(next || {}) };
      if (opts.team !== team) subscribe();
      else render();
    },
    destroy() {
      clearInterval(tick);
      ctx.hub.removeEventListener('status', onStatus);
      if (sub) sub.close();
      sub = null;
      root.replaceChildren();
    },
  };
}
